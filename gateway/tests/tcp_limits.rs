//! SIP over TCP within limits: connections in total and per peer, idle and slow connections
//! closed, the connection table pruned, and UDP answering whatever TCP clients do.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use gateway::runtime::{Config, Running, TcpLimits, start};
use support::{eventually, read_sip, recv_one, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

async fn gateway(tcp: TcpLimits) -> (gateway::Gateway, Running) {
    start(Config { tcp, ..Config::loopback() }).await.expect("gateway starts")
}

/// A connection to the gateway from `from` (any loopback address).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.expect("connects")
}

/// True when the gateway answers an OPTIONS on this connection.
async fn answers(stream: &mut TcpStream, branch: &str) -> bool {
    let local = stream.local_addr().unwrap().to_string();
    if stream.write_all(request("OPTIONS", "TCP", &local, branch, "").as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    read_sip(stream, &mut buf, WAIT).await.is_some_and(|r| r.starts_with("SIP/2.0 200 "))
}

/// True when the gateway closes this connection (within the bounded wait).
async fn closed_by_gateway(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(WAIT, stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

fn udp_answers(running: &Running, branch: &str) -> bool {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = peer.local_addr().unwrap().to_string();
    peer.send_to(request("OPTIONS", "UDP", &local, branch, "").as_bytes(), running.sip_udp)
        .unwrap();
    recv_one(&peer, WAIT).is_some_and(|d| d.starts_with(b"SIP/2.0 200 "))
}

/// The soft limit on open files, from /proc (no libc call needed).
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            let line = l.lines().find(|l| l.starts_with("Max open files"))?.to_owned();
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_leave_udp_answering_and_the_table_shrinks() {
    let (_gw, running) = gateway(TcpLimits::default()).await;
    let count = flood_size();
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        match TcpStream::connect(running.sip_tcp).await {
            Ok(s) => clients.push(s),
            Err(e) => panic!("connect {} failed: {e}", clients.len()),
        }
    }
    assert!(udp_answers(&running, "z9hG4bKudp1"), "UDP answers during the flood");
    let m = running.metrics.clone();
    let per_peer = TcpLimits::default().max_per_peer as u64;
    assert!(
        eventually(WAIT, || m.transport().tcp_refused() >= count as u64 - per_peer).await,
        "all but {per_peer} of {count} from one address refused: {}",
        m.transport().tcp_refused()
    );
    assert_eq!(m.transport().tcp_connections(), per_peer, "the admitted ones stay");
    // The admitted ones still work.
    let mut admitted = 0;
    for (i, client) in clients.iter_mut().enumerate() {
        let mut probe = [0u8; 1];
        // Refused connections read EOF at once; admitted ones have nothing to read.
        if tokio::time::timeout(Duration::from_millis(1), client.peek(&mut probe)).await.is_err() {
            assert!(answers(client, &format!("z9hG4bKok{i}")).await);
            admitted += 1;
        }
    }
    assert_eq!(admitted, per_peer);
    drop(clients);
    assert!(
        eventually(WAIT, || m.transport().tcp_connections() == 0).await,
        "closed connections leave the table"
    );
    assert!(udp_answers(&running, "z9hG4bKudp2"), "UDP answers after the flood");
}

/// How many connections a flood test opens: 2,000, or fewer where the descriptor limit is
/// low. Each costs this process two descriptors when admitted (both ends live here), and
/// two flood tests may run at once.
fn flood_size() -> usize {
    2000.min(open_file_limit().saturating_sub(200) / 4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_table_of_idle_connections_leaves_udp_answering() {
    // No per-peer limit to speak of: the total one holds.
    let limits = TcpLimits { max_per_peer: 100_000, ..TcpLimits::default() };
    let (_gw, running) = gateway(limits).await;
    let count = flood_size();
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        match TcpStream::connect(running.sip_tcp).await {
            Ok(s) => clients.push(s),
            Err(e) => panic!("connect {} failed: {e}", clients.len()),
        }
    }
    let m = running.metrics.clone();
    let held = count.min(limits.max_connections) as u64;
    assert!(
        eventually(WAIT, || m.transport().tcp_refused() == count as u64 - held).await,
        "beyond the total limit, connections are refused: {}",
        m.transport().tcp_refused()
    );
    assert_eq!(m.transport().tcp_connections(), held, "a full table of idle connections");
    assert!(udp_answers(&running, "z9hG4bKfull1"), "UDP answers with the table full");
    // A few of the held ones are served (not all: this address is rate-limited too).
    let mut served = 0;
    for (i, client) in clients.iter_mut().enumerate() {
        let mut probe = [0u8; 1];
        if served < 5
            && tokio::time::timeout(Duration::from_millis(1), client.peek(&mut probe))
                .await
                .is_err()
        {
            assert!(answers(client, &format!("z9hG4bKfull{i}")).await);
            served += 1;
        }
    }
    assert_eq!(served, 5);
    drop(clients);
    assert!(
        eventually(WAIT, || m.transport().tcp_connections() == 0).await,
        "closed connections leave the table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_peer_or_total_limit_are_closed() {
    let limits = TcpLimits { max_connections: 3, max_per_peer: 2, ..TcpLimits::default() };
    let (_gw, running) = gateway(limits).await;
    let mut a1 = connect_from("127.0.0.1", running.sip_tcp).await;
    let mut a2 = connect_from("127.0.0.1", running.sip_tcp).await;
    assert!(answers(&mut a1, "z9hG4bKa1").await && answers(&mut a2, "z9hG4bKa2").await);
    let mut a3 = connect_from("127.0.0.1", running.sip_tcp).await;
    assert!(closed_by_gateway(&mut a3).await, "a third from one address is over its limit");
    let mut b1 = connect_from("127.0.0.2", running.sip_tcp).await;
    assert!(answers(&mut b1, "z9hG4bKb1").await, "another address still gets in");
    let mut b2 = connect_from("127.0.0.2", running.sip_tcp).await;
    assert!(closed_by_gateway(&mut b2).await, "a fourth is over the total");
    assert_eq!(running.metrics.transport().tcp_refused(), 2);
    // A slot freed is a slot reused.
    drop(a1);
    let m = running.metrics.clone();
    assert!(eventually(WAIT, || m.transport().tcp_connections() == 2).await);
    let mut a4 = connect_from("127.0.0.1", running.sip_tcp).await;
    assert!(answers(&mut a4, "z9hG4bKa4").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(200),
        ..TcpLimits::default()
    };
    let (_gw, running) = gateway(limits).await;
    let mut idle = TcpStream::connect(running.sip_tcp).await.unwrap();
    assert!(answers(&mut idle, "z9hG4bKidle").await, "a working connection first");
    assert!(closed_by_gateway(&mut idle).await, "then closed once idle");
    let mut slow = TcpStream::connect(running.sip_tcp).await.unwrap();
    slow.write_all(b"OPTIONS sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP ").await.unwrap();
    assert!(closed_by_gateway(&mut slow).await, "a message that never completes is cut off");
    let m = running.metrics.clone();
    assert!(eventually(WAIT, || m.transport().tcp_connections() == 0).await);
    assert_eq!(m.transport().tcp_timed_out(), 2);
}
