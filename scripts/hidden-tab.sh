#!/usr/bin/env bash
# The phone in a background tab for a whole shift: the browser test
# end2end/tests/hidden_tab.test.mjs for MINUTES minutes (30 unless given). Calls keep reaching
# the hidden phone and are worked through it; the run fails if one is missed, the phone opens
# its WebSocket or its audio leg again, or a call is not stored with its disposition. Prints
# the calls handled and how fast the hidden tab's timers ran. (scripts/test.sh runs the same
# test for 2 minutes.) The test starts its own Xvfb and Chromium and stops them by pid.
#
#   scripts/hidden-tab.sh [MINUTES]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
minutes="${1:-30}"
[[ "$minutes" =~ ^[1-9][0-9]*$ ]] || die "MINUTES must be a whole number of minutes, not '$minutes'"

ensure_rust
ensure_wasm_bindgen
ensure_wasm_split
ensure_node_modules
ensure_chromium
ensure_xvfb
ensure_sipp
build_site
cargo build -p server -p gateway >&2

say "the phone in a background tab for $minutes minutes"
cd end2end
DIALER_HIDDEN_MINUTES="$minutes" DIALER_SERVER_BIN="$TARGET/debug/server" DIALER_SITE_ROOT="$SITE" \
    DIALER_GATEWAY_BIN="$TARGET/debug/gateway" \
    node --test --test-concurrency=1 tests/hidden_tab.test.mjs
