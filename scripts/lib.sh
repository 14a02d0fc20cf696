# Shared by run.sh and test.sh: find or install what the build needs, and build the site.
# Everything here is safe to run twice: each step checks before it installs or builds.
# shellcheck shell=bash

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Two cores: one cargo at a time, all of its jobs.
export CARGO_TERM_PROGRESS_WHEN=never

# Build output: cargo's target directory. One shared directory outside the checkout (unless
# CARGO_TARGET_DIR says otherwise), so a fresh clone on the same machine reuses the compiled
# dependencies instead of spending twenty minutes on them again. The site always lives in this
# checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dialer/target}"
TARGET="$CARGO_TARGET_DIR"
SITE="$ROOT/target/site"
WASM_TARGET=wasm32-unknown-unknown

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

APT_UPDATED=
# Installs Debian packages as root; otherwise stops with the command to run.
apt_install() {
    if ! is_root; then
        die "missing $*: install with 'sudo apt-get install -y $*' and run this again"
    fi
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    say "installing $* (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_rust() {
    command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs"
    if ! rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
        say "adding the $WASM_TARGET Rust target"
        rustup target add "$WASM_TARGET" >&2
    fi
}

# wasm-bindgen's CLI must match the wasm-bindgen library in Cargo.lock exactly.
ensure_wasm_bindgen() {
    local want have src tmp
    want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
    have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
    [ "$have" = "$want" ] && return
    say "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
    # Its published lockfile pins a webpki-roots release that is no longer in the registry, so
    # install from a copy of the source with that one pin moved back.
    cargo info "wasm-bindgen-cli@$want" >/dev/null 2>&1 || die "cannot fetch wasm-bindgen-cli $want from crates.io"
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"wasm-bindgen-cli-$want" 2>/dev/null | head -n 1)
    [ -n "$src" ] || die "wasm-bindgen-cli $want source not found in the cargo registry"
    tmp=$(mktemp -d)
    cp -r "$src" "$tmp/cli"
    (
        cd "$tmp/cli"
        cargo update -p webpki-roots --precise 1.0.10 >/dev/null 2>&1 || true
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            cargo install --path . --locked --bin wasm-bindgen --force >&2
    )
    rm -rf "$tmp"
}

# The splitter that cuts the browser bundle into lazily loaded chunks (one per `#[lazy_route]`
# page), at the version that matches the `wasm_split_helpers` Leptos uses.
WASM_SPLIT_VERSION=0.2.4
ensure_wasm_split() {
    local have
    have=$(cat "${CARGO_HOME:-$HOME/.cargo}/.wasm-split-cli-version" 2>/dev/null || true)
    if command -v wasm-split-cli >/dev/null && [ "$have" = "$WASM_SPLIT_VERSION" ]; then
        return
    fi
    say "installing wasm-split-cli $WASM_SPLIT_VERSION (a few minutes, once per machine)"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked wasm_split_cli_support --version "$WASM_SPLIT_VERSION" \
        --features build-binary --force >&2
    echo "$WASM_SPLIT_VERSION" > "${CARGO_HOME:-$HOME/.cargo}/.wasm-split-cli-version"
}

# npm packages: wasm-opt (binaryen; never Debian's old one, whose output does not hydrate),
# esbuild (minifies the JS glue and the stylesheet) and playwright-core for the browser tests.
ensure_node_modules() {
    command -v npm >/dev/null || apt_install nodejs npm
    local stamp="$ROOT/end2end/node_modules/.installed"
    if [ ! -f "$stamp" ] || [ "$ROOT/end2end/package-lock.json" -nt "$stamp" ]; then
        say "installing npm packages in end2end/"
        (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error >&2)
        touch "$stamp"
    fi
    export PATH="$ROOT/end2end/node_modules/.bin:$PATH"
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] || apt_install chromium
}

# Xvfb: a display for the browser test that needs Chromium in a window (a background tab
# exists only there; headless Chromium shows every page as visible). The test starts its own.
ensure_xvfb() {
    command -v Xvfb >/dev/null || apt_install xvfb
}

ensure_sipp() {
    command -v sipp >/dev/null || apt_install sip-tester
}

# baresip: a real SIP user agent as the carrier's far end in the gateway's interop tests.
ensure_baresip() {
    command -v baresip >/dev/null || apt_install baresip
}

# espeak-ng and sox: the answering-machine detector's benchmark speaks its greetings with them.
ensure_espeak() {
    command -v espeak-ng >/dev/null || apt_install espeak-ng
    command -v sox >/dev/null || apt_install sox
}

# The sqlite3 shell: SQLite's own bulk load, the reference import_bench measures against.
ensure_sqlite3() {
    command -v sqlite3 >/dev/null || apt_install sqlite3
}

# rtpengine: the peer gateway-bench measures ours against (it runs in userspace, started by
# the bench on loopback ports of its own; the package's service is not used).
ensure_rtpengine() {
    command -v rtpengine >/dev/null || apt_install --no-install-recommends rtpengine-daemon
}

# perf: the gateway's profile under load (scripts/profile-gateway.sh).
ensure_perf() {
    command -v perf >/dev/null || apt_install linux-perf
}

# nginx: the load balancer in front of the one-machine cluster (scripts/cluster.sh).
ensure_nginx() {
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
}

# Makes sure a PostgreSQL server answers and exports DIALER_TEST_POSTGRES_URL for the tests
# (each test creates and drops a database of its own there).
ensure_postgres() {
    local url="${DIALER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    if ! pg_ready; then
        if ! command -v pg_ctlcluster >/dev/null; then
            apt_install postgresql
        fi
        is_root || die "PostgreSQL is not running: start it (pg_ctlcluster <version> main start) and run this again"
        say "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start >&2 || true
        for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
        pg_ready || die "PostgreSQL did not start"
    fi
    if ! psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
        # A stock Debian install asks TCP clients for a password: give the postgres role one
        # (only when the URL is the default and we are root on this machine).
        if [ -z "${DIALER_TEST_POSTGRES_URL:-}" ] && is_root; then
            su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
            url="postgres://postgres:postgres@127.0.0.1:5432/postgres"
        fi
        psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1 || die "cannot connect to PostgreSQL at $url"
    fi
    export DIALER_TEST_POSTGRES_URL="$url"
}

pg_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

# Builds the browser bundle into target/site: wasm (release, size-optimised), its JS glue,
# the stylesheet and the static files. The same layout cargo-leptos produces.
build_site() {
    say "building the browser bundle"
    # .cargo/config.toml links it with --emit-relocs, which the splitter needs.
    cargo build -p app --lib --target "$WASM_TARGET" --profile wasm-release \
        --no-default-features --features hydrate >&2
    local split="$TARGET/wasm-split" pkg="$SITE/pkg" chunk
    local features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
        --enable-mutable-globals --enable-reference-types --enable-multivalue)
    rm -rf "$split"
    mkdir -p "$split" "$pkg"
    rm -f "$pkg/"*
    # The main module (everything but the lazy pages) and one chunk per lazy page, plus the
    # loader the main module imports them through.
    wasm-split-cli "$TARGET/$WASM_TARGET/wasm-release/app.wasm" "$split" --target web \
        --out-name dialer >&2
    # The chunks reach into the main module through the exports the linker made: keep them.
    wasm-bindgen --target web --no-typescript --keep-lld-exports --out-dir "$pkg" \
        --out-name dialer "$split/dialer.wasm"
    wasm-opt -Oz "${features[@]}" "$pkg/dialer_bg.wasm" -o "$pkg/dialer_bg.wasm"
    for chunk in "$split"/*.wasm; do
        [ "$(basename "$chunk")" = dialer.wasm ] && continue
        # (binaryen does not know the splitter's extra name subsection; harmless.)
        wasm-opt -Oz "${features[@]}" "$chunk" -o "$pkg/$(basename "$chunk")" \
            2> >(grep -v 'unknown name subsection' >&2)
    done
    # The JS glue, the chunk loader and the stylesheet, minified: every page loads them
    # (about 2 KB less gzip). Only white space and syntax: renaming the glue's identifiers
    # breaks the agent phone. (wasm-bindgen lists the chunk loader twice among the imports,
    # as the same module: the duplicate key is harmless.)
    local js_min=(--minify-whitespace --minify-syntax --format=esm --log-level=warning)
    esbuild "$pkg/dialer.js" "${js_min[@]}" --allow-overwrite --outfile="$pkg/dialer.js" \
        --log-override:duplicate-object-key=silent >&2
    esbuild "$split/__wasm_split.js" "${js_min[@]}" --outfile="$pkg/__wasm_split.js" >&2
    esbuild style/main.css --minify --outfile="$pkg/dialer.css" --log-level=warning >&2
    cp -r public/. "$SITE/"
    # Served pre-compressed when the browser accepts gzip.
    for f in "$pkg"/*.wasm "$pkg"/*.js "$pkg"/*.css; do
        gzip -9 -k -f "$f"
    done
}
