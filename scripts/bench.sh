#!/usr/bin/env bash
# Every benchmark, one after another in one run, on loopback: each prints its own figures (see
# the program named in its heading for what it measures and how), and at the end one table
# puts ours beside the peer's or the database's own (each program's `summary:` lines).
#
#   scripts/bench.sh           release builds at full size (about 65 minutes on 2 cores, 45 of
#                              them the floor benchmark; PostgreSQL figures too, on
#                              DIALER_TEST_POSTGRES_URL)
#   scripts/bench.sh --smoke   CI: debug builds, a few seconds each; fails if any of them
#                              fails, so the benchmarks cannot rot
#
# Pages and server functions (page_latency), lead claims (claim_bench), calls placed by 1, 2
# and 4 instances on one PostgreSQL database (pace_bench), lead import against the database's
# own bulk load (import_bench), answer to agent audio (answer_latency), bridged calls through
# the gateway and, for the ratio, through rtpengine (gateway-bench), the whole node's cost by
# floor size (floor_bench: 50 to 400 agents), the supervisor's floor push (push.sh, on SQLite
# and across two instances on PostgreSQL) and the SIP flood (flood.sh). Each program stops by
# itself; `timeout` is the safety net, and every process a program starts is stopped by that
# program.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_sipp
ensure_postgres
ensure_sqlite3
ensure_rtpengine

smoke=false
[ "${1:-}" = --smoke ] && smoke=true
pg="${DIALER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if $smoke; then
    profile=debug
    cargo build -p server -p gateway --bins --examples >&2
else
    profile=release
    say "building the server, the gateway and the benchmark programs (release)"
    cargo build --release -p server -p gateway --bins --examples >&2
fi
bin="$TARGET/$profile"
limit="${BENCH_LIMIT_SECONDS:-1200}"

# Every program's output, for the table at the end.
outputs=$(mktemp)
trap 'rm -f "$outputs"' EXIT

# run TITLE PROGRAM ARGS…: the program under its heading, bounded by $limit seconds.
run() {
    local title=$1
    shift
    say "$title"
    timeout --signal=TERM "$limit" "$@" | tee -a "$outputs"
}

# The programs' `summary: WHAT | ours|reference | FIGURES` lines as one table, in the order
# they came: ours beside the peer's or the database's own figures.
table() {
    awk -F' [|] ' '
        /^summary: / {
            sub(/^summary: /, "")
            if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
            cell[$1, $2] = $3
        }
        END {
            print "| benchmark | ours | the peer or the database'"'"'s own |"
            print "| --- | --- | --- |"
            for (i = 1; i <= n; i++) {
                k = order[i]
                printf "| %s | %s | %s |\n", k, cell[k, "ours"], cell[k, "reference"]
            }
        }' "$outputs"
}

export DIALER_TEST_POSTGRES_URL="$pg"
if $smoke; then
    run "pages and server functions (page_latency, 2 requests each)" \
        "$bin/examples/page_latency" --server "$bin/server" --requests 2
    run "lead claims (claim_bench, 2,000 leads)" \
        "$bin/claim_bench" --leads 2000 --claims 1000 --batch 100 --instances 2
    run "calls placed by 1 and 2 instances (pace_bench, 2 s each)" \
        "$bin/pace_bench" --instances 1,2 --agents 4 --seconds 2 --leads 5000
    run "lead import (import_bench, 2,000 rows)" \
        "$bin/import_bench" --rows 2000
    run "answer to agent audio (answer_latency, 3 calls)" "$bin/examples/answer_latency" --calls 3
    run "answer to agent audio through a relay between two gateways (answer_latency, 3 calls)" \
        "$bin/examples/answer_latency" --calls 3 --gateway "$bin/gateway" --placement relay
    run "bridged calls through the gateway (gateway-bench, 4 calls for 2 s)" \
        "$bin/examples/gateway-bench" --calls 4 --seconds 2 --gateway "$bin/gateway"
    run "the same through rtpengine, the peer (gateway-bench --peer rtpengine, 4 calls for 2 s)" \
        "$bin/examples/gateway-bench" --calls 4 --seconds 2 --peer rtpengine
    run "the node by floor size (floor_bench, 3 agents for 4 s)" \
        "$bin/examples/floor_bench" --agents 3 --seconds 4 --warmup 2 \
        --server "$bin/server" --gateway "$bin/gateway"
    "$ROOT/scripts/push.sh" --smoke
    "$ROOT/scripts/push.sh" --smoke --postgres "$pg"
    "$ROOT/scripts/flood.sh" --smoke
else
    run "pages and server functions (page_latency, 200 requests each)" \
        "$bin/examples/page_latency" --server "$bin/server" --requests 200
    run "lead claims (claim_bench)" "$bin/claim_bench"
    run "calls placed by 1, 2 and 4 instances (pace_bench)" "$bin/pace_bench"
    run "lead import (import_bench, 1,000,000 rows)" \
        "$bin/import_bench" --rows 1000000
    run "answer to agent audio (answer_latency, 100 calls)" "$bin/examples/answer_latency" --calls 100
    for placement in direct relay; do
        run "answer to agent audio, two gateways, $placement (answer_latency, 100 calls)" \
            "$bin/examples/answer_latency" --calls 100 --gateway "$bin/gateway" --placement "$placement"
    done
    for calls in 250 500; do
        run "bridged calls through the gateway (gateway-bench, $calls calls)" \
            "$bin/examples/gateway-bench" --calls "$calls" --seconds 20 --gateway "$bin/gateway"
        run "the same through rtpengine, the peer (gateway-bench --peer rtpengine, $calls calls)" \
            "$bin/examples/gateway-bench" --calls "$calls" --seconds 20 --peer rtpengine
    done
    limit=$((limit * 3)) run "the node by floor size (floor_bench, 50 to 400 agents, 10 minutes each)" \
        "$bin/examples/floor_bench" --agents 50,100,200,400 --seconds 600 \
        --server "$bin/server" --gateway "$bin/gateway"
    "$ROOT/scripts/push.sh"
    "$ROOT/scripts/push.sh" --postgres "$pg"
    "$ROOT/scripts/flood.sh"
fi
say "every benchmark ran; ours beside the peers' and the databases' own ($(date -u +%Y-%m-%d)):"
table
