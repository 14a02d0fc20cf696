//! A customer who answers: sipp (`tests/sipp/broadcast_customer.xml`) takes each call and
//! puts its media at the test's own UDP socket, a [`Line`], which hears what the gateway sends
//! and talks back (PCMU frames of one octet, RFC 4733 keys). sipp waits for the dialer's BYE.

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

/// The sipp process, killed (by its id) when dropped, whatever the test did.
pub struct Customer {
    child: Child,
    /// The SIP port it answers on.
    pub port: u16,
}

impl Drop for Customer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// sipp answering the calls on a free port (and the gateway's keep-alives), their media at
/// `rtp` (the test's socket).
pub fn customer(rtp: u16) -> Customer {
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/broadcast_customer.xml");
    let (child, port) = super::spawn_sipp(|port, media| {
        let mut cmd = Command::new("sipp");
        cmd.args(["-sf", scenario.to_str().unwrap(), "-key", "customer_rtp", &rtp.to_string()])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mp", &media.to_string()])
            .args(["-timeout", "90s", "-nostdin", "-aa"]);
        cmd
    });
    Customer { child, port }
}

/// The customer's end of the audio: the test's socket, sending from where the SDP says.
pub struct Line {
    pub socket: UdpSocket,
    seq: u16,
    ts: u32,
}

impl Line {
    pub async fn bind() -> Line {
        Line { socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(), seq: 1, ts: 160 }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    /// Waits (at most `limit`) for a packet whose payload holds `octet` (any packet: `None`);
    /// where it came from, or `None` when none came.
    pub async fn heard_from(&self, octet: Option<u8>, limit: Duration) -> Option<SocketAddr> {
        let mut buf = [0u8; 2000];
        let deadline = Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if n > 12 && octet.is_none_or(|o| buf[12..n].contains(&o)) => {
                    return Some(from);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Drops what arrived so far (the end of a call's audio).
    pub fn drain(&self) {
        let mut buf = [0u8; 2000];
        while self.socket.try_recv_from(&mut buf).is_ok() {}
    }

    async fn send(&mut self, to: SocketAddr, pt: u8, marker: bool, payload: &[u8]) {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.socket.send_to(&p, to).await.unwrap();
    }

    /// Presses `key` (RFC 4733 §2.5: one event, growing durations, the end sent three times).
    pub async fn press(&mut self, to: SocketAddr, key: u8) {
        for (i, (end, duration)) in
            [(false, 160u16), (false, 320), (false, 480), (true, 640), (true, 640), (true, 640)]
                .into_iter()
                .enumerate()
        {
            let flags = if end { 0x80 | 10 } else { 10 };
            let d = duration.to_be_bytes();
            self.send(to, 101, i == 0, &[key, flags, d[0], d[1]]).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.ts = self.ts.wrapping_add(640);
    }

    /// Talks to `to` (20 ms PCMU frames of `says`, one every 20 ms whatever arrives) until
    /// `done`, at most 15 s; returns how many frames carrying `hears` came back, and the first
    /// octet of every frame by count.
    pub async fn talk(
        &mut self,
        to: SocketAddr,
        says: u8,
        hears: u8,
        done: impl Fn(u64) -> bool,
    ) -> (u64, std::collections::BTreeMap<u8, u32>) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut heard = 0;
        let mut what = std::collections::BTreeMap::new();
        let mut buf = [0u8; 2000];
        let mut frames = tokio::time::interval(Duration::from_millis(20));
        while Instant::now() < deadline && !done(heard) {
            tokio::select! {
                _ = frames.tick() => {
                    self.send(to, 0, false, &[says; 160]).await;
                    self.ts = self.ts.wrapping_add(160);
                }
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((n, _)) = received else { continue };
                    heard += u64::from(n > 12 && buf[1] & 0x7f == 0 && buf[12..n].contains(&hears));
                    if n > 12 {
                        *what.entry(buf[12]).or_insert(0) += 1;
                    }
                }
            }
        }
        (heard, what)
    }
}
