#!/usr/bin/env bash
# README command 2: every test — unit, integration on SQLite and PostgreSQL, and the browser
# suite (Playwright driving Debian's Chromium). Installs what is missing; a missing
# PostgreSQL, Chromium, Xvfb, sipp, baresip or nginx is an error, never a skip.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$(date +%s)
ensure_rust
ensure_wasm_bindgen
ensure_wasm_split
ensure_node_modules
ensure_chromium
ensure_xvfb
ensure_sipp
ensure_baresip
ensure_postgres
ensure_nginx
build_site

say "unit and integration tests (SQLite and PostgreSQL at ${DIALER_TEST_POSTGRES_URL%%@*}@…)"
cargo test --workspace --all-targets >&2

say "benchmark smokes (every benchmark for a few seconds, so none can rot)"
"$ROOT/scripts/bench.sh" --smoke >&2

say "cluster smoke (PostgreSQL, two servers, two gateways, the demo trunk, nginx)"
"$ROOT/scripts/cluster.sh" --smoke >&2

say "answering-machine detection smoke (a few synthetic and spoken greetings)"
"$ROOT/scripts/amd.sh" --smoke >&2

say "pacing simulation smoke (an hour of progressive and predictive, one seed)"
"$TARGET/debug/simulate" --hours 1 --seeds 1 >&2

say "browser tests (Chromium; the background-tab test for ${DIALER_HIDDEN_MINUTES:-2} minutes)"
cargo build -p server -p gateway >&2
(
    cd end2end
    DIALER_SERVER_BIN="$TARGET/debug/server" DIALER_SITE_ROOT="$SITE" \
        DIALER_GATEWAY_BIN="$TARGET/debug/gateway" \
        node --test --test-concurrency=1 tests/
)

"$ROOT/scripts/wasm-size.sh"
say "all tests passed in $(( $(date +%s) - started )) s"
