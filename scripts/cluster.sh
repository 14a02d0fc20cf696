#!/usr/bin/env bash
# README command 3: the dialer as a cluster on this one machine — PostgreSQL, two servers
# (east and west), two standalone media gateways (one driven by each server), the demo trunk
# answering both gateways, and nginx in front as the load balancer on http://127.0.0.1:3000.
# What runs where and why: docs/DEPLOY.md. Installs what is missing; safe to run twice (the
# database `dialer_cluster` is kept between runs). Ctrl-C stops every process it started.
#
#   scripts/cluster.sh           release build; runs until Ctrl-C
#   scripts/cluster.sh --smoke   CI: debug build, other ports, a fresh database; checks the
#                                cluster (below), then stops it and drops the database
#
# The smoke checks, through the load balancer and on each server: both servers healthy and
# beating in the database; an admin logged in through nginx is logged in on both servers;
# sessions spread over both servers (nginx hashes the session cookie); each server drives its
# own gateway, which was given the demo trunk (a trunk test: the server asks its gateway to
# send the trunk a SIP OPTIONS, answered 200). That the demo trunk answers calls from both
# gateways, and only theirs, is the server's own test (`demo::tests`).
#
# Settings: CLUSTER_DATABASE_URL (default: database dialer_cluster on the PostgreSQL that
# scripts/test.sh uses), CLUSTER_LISTEN (the load balancer's address, default 127.0.0.1:3000).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

smoke=
case "${1:-}" in
    --smoke) smoke=1 ;;
    "") ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (usage: scripts/cluster.sh [--smoke])" ;;
esac

ensure_rust
ensure_postgres
ensure_nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -n "$smoke" ]; then
    # The tests' build, on ports of its own.
    profile=debug
    base=190
    lb=127.0.0.1:3190
    dbname=dialer_cluster_smoke
else
    ensure_wasm_bindgen
    ensure_wasm_split
    ensure_node_modules
    build_site
    profile=release
    base=100
    lb=${CLUSTER_LISTEN:-127.0.0.1:3000}
    dbname=dialer_cluster
fi
[ -f "$SITE/pkg/dialer.js" ] || die "the browser bundle is not built (run scripts/run.sh or scripts/test.sh once)"
say "building the server and the gateway ($profile)"
if [ "$profile" = release ]; then
    cargo build --release -p server -p gateway >&2
else
    cargo build -p server -p gateway >&2
fi
bin="$TARGET/$profile"
export PGOPTIONS="-c client_min_messages=warning"

# The database: next to the tests' on the same PostgreSQL unless told otherwise.
admin_url="$DIALER_TEST_POSTGRES_URL"
db_url="${CLUSTER_DATABASE_URL:-${admin_url%/*}/$dbname}"
if [ -z "${CLUSTER_DATABASE_URL:-}" ]; then
    [ -n "$smoke" ] && psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
    if [ -z "$(psql "$admin_url" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" ]; then
        say "creating the database $dbname"
        psql "$admin_url" -qAtc "CREATE DATABASE $dbname" >/dev/null
    fi
fi

run="$ROOT/target/cluster"
[ -n "$smoke" ] && run="$ROOT/target/cluster-smoke"
mkdir -p "$run/nginx-temp"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=()
names=()

stop_all() {
    local i pid
    trap - EXIT INT TERM
    # Servers first (they stop dialling and let calls end), then their gateways, the demo
    # trunk and the load balancer.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ -n "$smoke" ] && [ -z "${CLUSTER_DATABASE_URL:-}" ]; then
        psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null || true
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Starts NAME in the background with its output in $run/NAME.log.
start() {
    local name=$1
    shift
    "$@" >"$run/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

# Waits until URL answers 200, or fails with NAME's log.
wait_http() {
    local name=$1 url=$2
    for _ in $(seq 1 120); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$run/$name.log" >&2
    die "$name did not come up at $url (its log: $run/$name.log)"
}

# Waits until NAME's log holds a line matching PATTERN and prints it.
wait_line() {
    local name=$1 pattern=$2
    for _ in $(seq 1 120); do
        grep -m1 "$pattern" "$run/$name.log" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$run/$name.log" >&2
    die "$name did not start (its log: $run/$name.log)"
}

# Ports: east and west side by side (3101/3102 servers, 8101/8102 gateways' HTTP, 5101/5102
# their SIP, 40101/40102 their WebRTC), the demo trunk on 5100. The smoke: 31xx → 319x.
gateway_sip=()
for side in 1 2; do
    name=$([ $side = 1 ] && echo east || echo west)
    mkdir -p "$run/gateway-$name"
    say "starting gateway-$name (SIP 127.0.0.1:5$((base + side)))"
    gateway_sip+=("127.0.0.1:5$((base + side))")
    start "gateway-$name" env \
        DIALER_GATEWAY_HTTP="127.0.0.1:8$((base + side))" \
        DIALER_GATEWAY_SIP="127.0.0.1:5$((base + side))" \
        DIALER_GATEWAY_WEBRTC="127.0.0.1:40$((base + side))" \
        DIALER_GATEWAY_TOKEN="$token" \
        DIALER_GATEWAY_RECORDINGS="$run/gateway-$name/recordings" \
        "$bin/gateway"
    wait_http "gateway-$name" "http://127.0.0.1:8$((base + side))/healthz"
done

say "starting the demo trunk (SIP 127.0.0.1:5$base)"
start demo-trunk env DATABASE_URL="$db_url" DIALER_DEMO_SIP_LISTEN="127.0.0.1:5$base" \
    "$bin/server" demo-trunk "${gateway_sip[@]}"
wait_line demo-trunk "^Demo trunk answering" >/dev/null

admin_password=()
[ -n "$smoke" ] && admin_password=(DIALER_ADMIN_PASSWORD=cluster-smoke-pass)
banner=
for side in 1 2; do
    name=$([ $side = 1 ] && echo east || echo west)
    say "starting server $name (http://127.0.0.1:3$((base + side)), driving gateway-$name)"
    start "server-$name" env DATABASE_URL="$db_url" \
        DIALER_INSTANCE="$name" \
        DIALER_LISTEN="127.0.0.1:3$((base + side))" \
        DIALER_SITE_ROOT="$SITE" \
        DIALER_GATEWAY_URL="ws://127.0.0.1:8$((base + side))" \
        DIALER_GATEWAY_TOKEN="$token" \
        DIALER_TRUST_PROXY=true \
        DIALER_STOP_GRACE_SECONDS=5 \
        "${admin_password[@]}" \
        "$bin/server"
    line=$(wait_line "server-$name" "^Dialer is running")
    [ $side = 1 ] && banner=$line
done

say "starting nginx on http://$lb (the session cookie picks the server)"
cat >"$run/nginx.conf" <<EOF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log $run/nginx-access.log;
    client_body_temp_path $run/nginx-temp/body;
    proxy_temp_path $run/nginx-temp/proxy;
    fastcgi_temp_path $run/nginx-temp/fastcgi;
    uwsgi_temp_path $run/nginx-temp/uwsgi;
    scgi_temp_path $run/nginx-temp/scgi;
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        '' close;
    }
    upstream dialer {
        # A browser stays on one server: its agent's calls live in that server's engine.
        # (On one machine every browser has the same address, so ip_hash would send all to
        # one server: the session cookie spreads them instead.)
        hash \$cookie_dialer_session consistent;
        # A server that does not answer is skipped at once, and tried again after 3 s.
        server 127.0.0.1:3$((base + 1)) max_fails=1 fail_timeout=3s;
        server 127.0.0.1:3$((base + 2)) max_fails=1 fail_timeout=3s;
    }
    server {
        listen $lb;
        location / {
            proxy_pass http://dialer;
            proxy_http_version 1.1;
            # The port too: the phone socket checks the page's origin against it.
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_read_timeout 1h;
            proxy_buffering off;
            # Which server answered: for people trying the cluster out.
            add_header X-Dialer-Server \$upstream_addr always;
        }
    }
}
EOF
start nginx "$NGINX" -p "$run" -c "$run/nginx.conf" -g 'daemon off;'
wait_http nginx "http://$lb/healthz"

if [ -z "$smoke" ]; then
    echo "${banner/http:\/\/127.0.0.1:3$((base + 1))/http://$lb}"
    cat <<EOF
The cluster is up: nginx on http://$lb in front of server east (127.0.0.1:3$((base + 1)))
and server west (127.0.0.1:3$((base + 2))), each driving its own gateway; the demo trunk answers
both; the database is $db_url. Logs: $run/. Stop everything with Ctrl-C.
EOF
    # Until Ctrl-C, or until one of the processes stops.
    wait -n || true
    for i in "${!pids[@]}"; do
        kill -0 "${pids[$i]}" 2>/dev/null || say "${names[$i]} stopped (its log: $run/${names[$i]}.log)"
    done
    exit 1
fi

# ---- the smoke's checks ----
fail() {
    say "cluster smoke failed: $*"
    for n in "${names[@]}"; do
        echo "--- $n (last lines)" >&2
        tail -n 15 "$run/$n.log" >&2
    done
    exit 1
}
east="http://127.0.0.1:3$((base + 1))"
west="http://127.0.0.1:3$((base + 2))"

beating=$(psql "$db_url" -qAtc "SELECT string_agg(name, ',' ORDER BY name) FROM instances")
[ "$beating" = "east,west" ] || fail "the instances beating in the database are '$beating', not east and west"

# Logs in through the load balancer; prints the session cookie's value.
login() {
    curl -sS -o /dev/null -D - -X POST "http://$lb/auth/login" \
        --data-urlencode username=admin --data-urlencode password=cluster-smoke-pass |
        tr -d '\r' | sed -n 's/^set-cookie: dialer_session=\([^;]*\).*/\1/Ip' | head -n 1
}
cookie=$(login)
[ -n "$cookie" ] || fail "logging in as admin through nginx gave no session"
for server in "$east" "$west"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -b "dialer_session=$cookie" "$server/admin")
    [ "$code" = 200 ] || fail "the admin session from nginx is not honoured by $server (HTTP $code)"
done

# Sessions spread over both servers (16 logins: all on one server has odds of 1 in 32768).
seen=""
for _ in $(seq 1 16); do
    c=$(login)
    upstream=$(curl -sS -o /dev/null -D - -b "dialer_session=$c" "http://$lb/admin" |
        tr -d '\r' | sed -n 's/^x-dialer-server: //Ip')
    case " $seen " in *" $upstream "*) ;; *) seen="$seen $upstream" ;; esac
done
for server in "${east#http://}" "${west#http://}"; do
    case " $seen " in *" $server "*) ;; *) fail "no session reached $server through nginx (seen:$seen)" ;; esac
done

# Each server drives its own gateway, which knows the demo trunk.
trunk=$(psql "$db_url" -qAtc "SELECT id FROM trunks WHERE demo")
[ -n "$trunk" ] || fail "the demo trunk's row is missing"
for server in "$east" "$west"; do
    answer=$(curl -sS -b "dialer_session=$cookie" -X POST "$server/api/admin/trunks/test" --data "id=$trunk")
    case "$answer" in
        *'"code":200'*) ;;
        *) fail "$server's gateway did not test the demo trunk: $answer" ;;
    esac
done
say "cluster smoke passed: two servers, two gateways, the demo trunk and nginx on $lb"
