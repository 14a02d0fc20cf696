#!/usr/bin/env bash
# Prints the size of the built browser bundle (raw and gzip), as the README reports it.
# Run after scripts/run.sh or scripts/test.sh has built target/site.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pkg="$ROOT/target/site/pkg"
[ -f "$pkg/dialer_bg.wasm" ] || { echo "no build in $pkg: run scripts/run.sh or scripts/test.sh first" >&2; exit 1; }
for f in dialer_bg.wasm dialer.js dialer.css; do
    raw=$(stat -c %s "$pkg/$f")
    gz=$(gzip -9 -c "$pkg/$f" | wc -c)
    awk -v f="$f" -v r="$raw" -v g="$gz" 'BEGIN { printf "%-16s raw %8.1f KB   gzip %7.1f KB\n", f, r / 1024, g / 1024 }'
done
