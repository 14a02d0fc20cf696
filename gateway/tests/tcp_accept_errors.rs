//! A gateway out of file descriptors: accepting SIP over TCP fails, is counted and retried
//! with a backoff (not a spin), UDP keeps answering, and once descriptors are free again the
//! waiting connection is accepted and served. Alone in its test binary: it exhausts the
//! process's descriptors, which would break any test running beside it.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::{eventually, read_sip, recv_one, request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_accepts_back_off_and_recover() {
    let (_gw, running) = gateway::runtime::start(gateway::runtime::Config::loopback())
        .await
        .expect("gateway starts");
    let m = running.metrics.clone();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_local = udp.local_addr().unwrap().to_string();
    // Take every descriptor but one, which the client's connection then takes.
    let mut hoard = Vec::new();
    while hoard.len() < 200_000 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hoard.push(f),
            Err(_) => break,
        }
    }
    assert!(hoard.len() < 200_000, "the descriptor limit was reached");
    hoard.pop();
    // The kernel completes the handshake from the listen backlog; the gateway cannot accept.
    let mut tcp = TcpStream::connect(running.sip_tcp).await.expect("connects via the backlog");
    assert!(
        eventually(WAIT, || m.transport().tcp_accept_errors() >= 2).await,
        "failed accepts are counted and retried"
    );
    // UDP needs no new descriptor: it keeps answering meanwhile.
    udp.send_to(
        request("OPTIONS", "UDP", &udp_local, "z9hG4bKemfile", "").as_bytes(),
        running.sip_udp,
    )
    .unwrap();
    let answer = recv_one(&udp, WAIT).expect("UDP answers while TCP cannot accept");
    assert!(answer.starts_with(b"SIP/2.0 200 "));
    // No busy spin: the waits double from 10 ms, so even a slow machine sees a handful of
    // retries in this time, where a spinning loop would fail thousands of times.
    let errors = m.transport().tcp_accept_errors();
    assert!(errors < 50, "{errors} failed accepts: the loop spins");
    // Free the descriptors: the backoff retries (at most a second apart) and takes the
    // waiting connection, which is then served.
    drop(hoard);
    let local = tcp.local_addr().unwrap().to_string();
    tcp.write_all(request("OPTIONS", "TCP", &local, "z9hG4bKafter", "").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let reply = read_sip(&mut tcp, &mut buf, WAIT).await.expect("answered once accepted");
    assert!(reply.starts_with("SIP/2.0 200 "), "{reply}");
    assert_eq!(m.transport().tcp_connections(), 1);
}
