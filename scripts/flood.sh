#!/usr/bin/env bash
# SIP flood benchmark on loopback: starts the gateway binary, floods it with OPTIONS over UDP
# and TCP at rising rates (each step bounded in time) and prints, per step, probe latency,
# the gateway's memory and CPU, responses and its rate-limited counter (see
# gateway/examples/sip_flood.rs).
#
#   scripts/flood.sh                 release build; 500, 1000, 2000, 4000 req/s, 3 s a step
#   scripts/flood.sh --sources 200   the same flood spread over 200 loopback addresses
#   scripts/flood.sh --smoke         CI: debug build, one short low step per transport and
#                                    1,500 idle TCP connections; fails unless the probes are
#                                    answered and the gateway survives
#
# After the steps, 10,000 idle TCP connections are held while /healthz and UDP SIP are timed.
# Other arguments go to the program (--rates, --seconds, --sources, --transports, --idle-tcp). The whole
# run is bounded: the program is stopped by its process id after the time its steps need.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust

profile=release
args=()
for a in "$@"; do
    if [ "$a" = --smoke ]; then
        profile=debug
        args+=(--smoke --rates 200 --seconds 1 --idle-tcp 1500)
    else
        args+=("$a")
    fi
done
if [ "$profile" = release ]; then
    say "building the gateway and the flood program (release)"
    cargo build --release -p gateway --bin gateway --example sip-flood >&2
else
    cargo build -p gateway --bin gateway --example sip-flood >&2
fi
# A bound on the whole run (the steps bound themselves; this is the safety net). If it is
# reached, the gateway the program started is stopped by the process id it printed.
limit="${FLOOD_LIMIT_SECONDS:-300}"
out=$(mktemp)
set +e
timeout --signal=TERM "$limit" "$TARGET/$profile/examples/sip-flood" \
    --gateway "$TARGET/$profile/gateway" "${args[@]}" | tee "$out"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ]; then
    pid=$(sed -n 's/^gateway pid \([0-9]*\) .*/\1/p' "$out" | head -n 1)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -f "$out"
    die "the flood run passed its ${limit} s bound"
fi
rm -f "$out"
exit "$rc"
