#!/usr/bin/env bash
# README command 1: build and start the whole dialer on http://127.0.0.1:3000 with SQLite in
# ./data/ (created on first start). Installs what is missing. Stop it with Ctrl-C.
# Arguments go to the server: `scripts/run.sh reset-password admin` prints a new password.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "Dialer: building, then serving on http://${DIALER_LISTEN:-127.0.0.1:3000} — log in as admin; a first start prints the admin password."
ensure_rust
ensure_wasm_bindgen
ensure_wasm_split
ensure_node_modules
build_site
say "building the server"
cargo build -p server --release >&2
exec "$TARGET/release/server" "$@"
