#!/usr/bin/env bash
# Where the gateway's time goes under load: the release gateway bridging N calls for
# gateway-bench (its clients and sipp in processes of their own), `perf record` of the gateway
# process alone while the calls are up, then its profile by symbol and grouped by what the
# time is spent on (the kernel's UDP send and delivery paths, wake-ups, syscalls; str0m's
# sessions, SRTP crypto, the gateway's own code, allocation).
#
#   scripts/profile-gateway.sh [CALLS] [SECONDS]    500 calls and 20 s of samples unless given
#
# The gateway's code has no frame pointers, so the profile is flat (by symbol, no call graph).
# The recording is left in $TMPDIR/gateway.perf for `perf report -i`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_sipp
ensure_perf

calls="${1:-500}"
seconds="${2:-20}"
say "building the gateway and its benchmark (release)"
cargo build --release -p gateway --bin gateway --example gateway-bench >&2
bin="$TARGET/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
record="${TMPDIR:-/tmp}/gateway.perf"

say "bridging $calls calls (gateway-bench), then recording the gateway for $seconds s"
"$bin/examples/gateway-bench" --calls "$calls" --seconds $((seconds + 10)) \
    --gateway "$bin/gateway" >"$work/bench.log" 2>&1 &
bench=$!
# The gateway is the bench's child; its calls are up once the bench says so.
for _ in $(seq 120); do
    grep -q '^setup:' "$work/bench.log" && break
    kill -0 "$bench" 2>/dev/null || break
    sleep 1
done
gateway=$(pgrep -P "$bench" -x gateway | sed -n 1p)
if [ -z "$gateway" ] || ! grep -q '^setup:' "$work/bench.log"; then
    cat "$work/bench.log" >&2
    kill "$bench" 2>/dev/null
    echo "the benchmark did not bridge its calls" >&2
    exit 1
fi
sleep 3
perf record -F 997 -p "$gateway" -o "$record" -- sleep "$seconds" 2>&1 | tail -n 1 >&2
wait "$bench"
cat "$work/bench.log"

echo
echo "the gateway's time by symbol (top 40):"
perf report -i "$record" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -n '1,40p'

echo
echo "the gateway's time by what it is spent on:"
perf report -i "$record" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | awk '
{
    pct = $1; sub(/%/, "", pct); dso = $2; sym = ""
    for (i = 4; i <= NF; i++) sym = sym " " $i
    if (dso ~ /kernel/) {
        if (sym ~ /udp_sendmsg|ip_make_skb|ip_append|__ip_|ip_route|fib_|udp_send_skb|ip_finish|dev_queue|__dev|loopback|ip_output|ip_local_out|sock_alloc_send|alloc_skb|kmem_cache|slab|_copy_from_iter|__sys_sendto|ip_generic|neigh|dst_|xfrm|validate_xmit|sock_wfree|inet_send/)
            c = "kernel: sending (the UDP/IP stack)"
        else if (sym ~ /net_rx|softirq|netif|ip_rcv|ip_local_deliver|udp_rcv|udp_unicast|__udp4_lib|udp_queue|__udp_enqueue|sock_def_readable|process_backlog|ip_protocol|ip_sublist|ip_list|udp4_lib_lookup/)
            c = "kernel: delivering each packet to its receiver (loopback softirq)"
        else if (sym ~ /recv|_copy_to_iter|skb_|consume_skb|move_addr_to_user|_copy_to_user/)
            c = "kernel: receiving"
        else if (sym ~ /spin_unlock_irq|try_to_wake|wake_up|finish_task_switch|schedule|ttwu|enqueue_task|dequeue|update_curr|pick_next|select_task|psi_|futex|epoll|ep_poll/)
            c = "kernel: wake-ups, scheduling, epoll"
        else if (sym ~ /syscall|entry_|fdget|fget|check_object|virt_addr_valid|vmalloc_addr|fput|security_|apparmor|bpf_prog|exit_to_user|irqentry|_copy_from_user|rcu_read/)
            c = "kernel: syscall entry, exit and checks"
        else
            c = "kernel: other"
    } else if (sym ~ /aws_lc|AwsLc|aead|aes_|gcm|EVP_/)
        c = "user: SRTP and DTLS crypto (aws-lc)"
    else if (sym ~ /str0m|IceAgent|is::agent|dimpl|Dtls/)
        c = "user: WebRTC sessions (str0m: RTP/RTCP state, timeouts, ICE and DTLS polls)"
    else if (sym ~ /gateway::/)
        c = "user: the gateway (bridge, core, legs, SIP)"
    else if (sym ~ /tokio|mio/)
        c = "user: tokio and mio"
    else if (dso ~ /libc/ || sym ~ /malloc|free|memmove|memcpy|memset|alloc::/)
        c = "user: libc and alloc (copies, allocation)"
    else
        c = "other"
    sum[c] += pct
}
END { for (k in sum) printf "%5.1f %%  %s\n", sum[k], k }' | sort -rn
