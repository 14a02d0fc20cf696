#!/usr/bin/env bash
# Prints the size of the built browser bundle (raw and gzip), as the README reports it: what
# every page loads first (the main module, its JS glue, the chunk loader, the stylesheet),
# then each chunk loaded on demand (the lazy pages and the code they share).
# Run after scripts/run.sh or scripts/test.sh has built target/site.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pkg="$ROOT/target/site/pkg"
[ -f "$pkg/dialer_bg.wasm" ] || { echo "no build in $pkg: run scripts/run.sh or scripts/test.sh first" >&2; exit 1; }

line() { # label raw-bytes gzip-bytes
    awk -v f="$1" -v r="$2" -v g="$3" 'BEGIN { printf "%-56s raw %8.1f KB   gzip %7.1f KB\n", f, r / 1024, g / 1024 }'
}
size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }

raw_total=0 gz_total=0
echo "loaded by every page:"
for f in dialer_bg.wasm dialer.js __wasm_split.js dialer.css; do
    [ -f "$pkg/$f" ] || continue
    r=$(size "$pkg/$f") g=$(gz "$pkg/$f")
    line "  $f" "$r" "$g"
    raw_total=$((raw_total + r)) gz_total=$((gz_total + g))
done
line "  together" "$raw_total" "$gz_total"
echo "loaded on demand:"
for f in "$pkg"/*.wasm; do
    name=$(basename "$f")
    [ "$name" = dialer_bg.wasm ] && continue
    line "  $name" "$(size "$f")" "$(gz "$f")"
done
# What opening each lazy page downloads in all: the files every page loads, the page's own
# chunk and the shared chunks it needs (the chunk loader lists them, `[__chunk_N, …]`, after
# the page's file name).
echo "a lazy page in all (every page's files + its chunk + the shared chunks it needs):"
first=0
for f in dialer_bg.wasm dialer.js __wasm_split.js dialer.css; do
    [ -f "$pkg/$f" ] && first=$((first + $(gz "$pkg/$f")))
done
grep -o 'split___[A-Za-z0-9_]*\.wasm[^]]*\]' "$pkg/__wasm_split.js" | while read -r entry; do
    name=${entry%%.wasm*}
    total=$((first + $(gz "$pkg/$name.wasm")))
    for chunk in $(grep -o '__chunk_[0-9]*' <<<"$entry"); do
        total=$((total + $(gz "$pkg/${chunk#__}.wasm")))
    done
    page=${name#split___}
    awk -v f="  ${page%_route_view_*}" -v g="$total" 'BEGIN { printf "%-56s              gzip %7.1f KB\n", f, g / 1024 }'
done
