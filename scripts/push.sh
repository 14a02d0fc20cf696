#!/usr/bin/env bash
# Push latency benchmark on loopback: the server binary with a busy floor — agents logged in
# over the phone socket changing state at random, a broadcast campaign placing calls through
# the demo trunk — and a supervisor watching the floor as its page does (the push channel,
# then the floor fetched on each event). Prints latency from an agent's change to the
# supervisor's floor showing it (p50 / p90 / p99 / max) and the server's CPU and memory
# (see server/examples/push_latency.rs).
#
#   scripts/push.sh            release build; 500 agents, 200 calls, 60 s
#   scripts/push.sh --smoke    CI: debug build, 20 agents, 10 calls, 5 s; fails unless
#                              changes are seen
#   scripts/push.sh --postgres postgres://postgres@127.0.0.1:5432/postgres
#                              one floor across instances: two servers on a database
#                              created there, agents on one, the floor watched on the other
#
# Other arguments go to the program (--agents, --calls, --seconds, --rate). The run is bounded:
# the program stops by itself, and `timeout` stops it past PUSH_LIMIT_SECONDS (the server it
# started is killed when the program ends).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust

profile=release
args=()
for a in "$@"; do
    if [ "$a" = --smoke ]; then
        profile=debug
        args+=(--agents 20 --calls 10 --seconds 5)
    else
        args+=("$a")
    fi
done
if [ "$profile" = release ]; then
    say "building the server and the push program (release)"
    cargo build --release -p server --bin server --example push_latency >&2
else
    cargo build -p server --bin server --example push_latency >&2
fi
timeout --signal=TERM "${PUSH_LIMIT_SECONDS:-600}" \
    "$TARGET/$profile/examples/push_latency" --server "$TARGET/$profile/server" "${args[@]}"
