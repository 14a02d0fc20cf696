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
mapfile -t binaries < <(
    cargo test -p gateway -p server --test generative --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
)
[ "${#binaries[@]}" = 2 ] || die "expected 2 generative test binaries, found ${#binaries[@]}"

started=$(date +%s)
deadline=$((started + seconds))
round=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    round=$((round + 1))
    for bin in "${binaries[@]}"; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 0 ] || break
        n="$cases"
        case "$bin" in */server-*) n=$((cases / 10 > 2 ? cases / 10 : 2)) ;; esac
        say "round $round: $(basename "$bin") with $n cases per property (${left} s left)"
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
    done
done
say "fuzzed for $(( $(date +%s) - started )) s: $round round(s), no failure"
