#!/usr/bin/env bash
# The generative suites (SIP parser, SDP, the SIP user agent, lead import, every server
# function's arguments) for as long as wanted: `scripts/fuzz.sh [SECONDS]` (default 600) runs
# them round after round, each round with fresh random inputs and PROPTEST_CASES cases per
# property (default 2000; the server-function suite takes a tenth of that per function), until
# SECONDS have passed. A failing case stops it with the smallest input that fails (proptest
# shrinks it), to be kept as a regression test. CI runs the same suites with their small
# default case counts as part of scripts/test.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds="${1:-600}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "usage: scripts/fuzz.sh [SECONDS]"
cases="${PROPTEST_CASES:-2000}"
ensure_rust

# The test binaries, built once (the same debug profile scripts/test.sh uses).
say "building the generative suites"
gateway_bin= server_bin=
while IFS= read -r line; do
    # Test targets only (the gateway binary is built too, for other tests).
    case "$line" in *'"kind":["test"]'*) ;; *) continue ;; esac
    exe=$(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' <<<"$line")
    [ -n "$exe" ] || continue
    case "$line" in
        *'/server/Cargo.toml"'*) server_bin=$exe ;;
        *) gateway_bin=$exe ;;
    esac
done < <(cargo test -p gateway -p server --test generative --no-run --message-format=json)
[ -n "$gateway_bin" ] && [ -n "$server_bin" ] || die "the generative test binaries were not built"

started=$(date +%s)
deadline=$((started + seconds))
round=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    round=$((round + 1))
    for bin in "$gateway_bin" "$server_bin"; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 0 ] || break
        n="$cases"
        # The server's properties make HTTP calls and database writes: a tenth as many.
        [ "$bin" = "$server_bin" ] && n=$((cases / 10 > 2 ? cases / 10 : 2))
        suite=gateway
        [ "$bin" = "$server_bin" ] && suite=server
        say "round $round: the $suite suite with $n cases per property (${left} s left)"
        begun=$(date +%s)
        set +e
        # `timeout` stops the test process by its id when the time is up: that is the end of
        # the run, not a failure.
        PROPTEST_CASES="$n" timeout --signal=TERM "$left" "$bin" --test-threads=1 -q >&2
        rc=$?
        set -e
        if [ "$rc" = 124 ]; then
            break 2
        elif [ "$rc" != 0 ]; then
            die "a generative property failed in round $round (see above for the input)"
        fi
        say "the $suite suite passed with $n cases per property in $(( $(date +%s) - begun )) s"
    done
done
say "fuzzed for $(( $(date +%s) - started )) s: $round round(s), no failure"
