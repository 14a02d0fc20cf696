//! The dialer's link to an embedded gateway with one trunk to a test's own carrier on
//! loopback (a UDP socket the test answers), and the little SIP such a carrier needs.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::model::{CallerId, CampaignId, PhoneNumber, TrunkId};
use gateway::control::Trunk;
use gateway::events::Reader;
use gateway::sip::message::Transport;
use server::engine::{CallId, Originate};
use server::runtime::carrier::CarrierEvent;
use server::runtime::gateway_link::GatewayLink;
use tokio::sync::mpsc;

/// A gateway keeping `journal` events, with a trunk to `carrier` under the dialer's id 1; the
/// link to it, whose call events go into a channel of `calls` places; and a reader of the
/// gateway's journal from the start (what the gateway said).
pub async fn gateway(
    journal: usize,
    calls: usize,
    carrier: u16,
) -> (GatewayLink, gateway::runtime::Running, mpsc::Receiver<CarrierEvent>, Reader) {
    let (gw, running) = gateway::runtime::start(gateway::runtime::Config {
        event_capacity: journal,
        ..gateway::runtime::Config::loopback()
    })
    .await
    .expect("gateway starts");
    let mut trunk = Trunk::new(TrunkId(1), "127.0.0.1", carrier, Transport::Udp);
    trunk.keepalive_secs = 0;
    gw.add_trunk(trunk).await.expect("trunk");
    let (calls_tx, calls_rx) = mpsc::channel(calls);
    let (legs_tx, _legs_rx) = mpsc::unbounded_channel();
    let journal = gw.events();
    (GatewayLink::start(gw, calls_tx, legs_tx, None), running, calls_rx, journal)
}

/// Call `n` of campaign 1 through trunk 1, to a number of its own (modulo 10,000).
pub fn originate(n: u64) -> Originate {
    Originate {
        call: CallId(n),
        call_ref: format!("test-{n}"),
        campaign: CampaignId(1),
        trunk: Some(TrunkId(1)),
        phone: PhoneNumber::parse(&format!("+1202555{:04}", n % 10_000)).expect("number"),
        caller_id: Some(CallerId::parse("+12025550100").expect("caller ID")),
        // Long: on a machine busy enough to drop datagrams, a refusal may take a while to
        // arrive, and must not become a ring timeout.
        ring_seconds: 300,
        agent: None,
        amd: false,
    }
}

/// The value of header `name` in `message` (empty when it has none).
pub fn header(message: &str, name: &str) -> String {
    message
        .split("\r\n")
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            (n.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// A response `status` to `request`, with its Via, From, To (tagged), Call-ID and CSeq.
pub fn reply(request: &str, status: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in request.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => out.push_str(&format!("{line}\r\n")),
            "to" => out.push_str(&format!("{line};tag=carrier\r\n")),
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A test's carrier: a UDP socket on loopback served on a thread of its own until dropped
/// (each wait is bounded, so the thread ends by itself). `serve` is given the socket and each
/// datagram's text and sender, or `None` after 50 ms without one (for timers).
pub struct TestCarrier {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl TestCarrier {
    pub fn start(
        mut serve: impl FnMut(&UdpSocket, Option<(&str, SocketAddr)>) + Send + 'static,
    ) -> TestCarrier {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !flag.load(Ordering::Relaxed) {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        serve(&socket, Some((&text, from)));
                    }
                    Err(_) => serve(&socket, None),
                }
            }
        });
        TestCarrier { port, stop }
    }
}

impl Drop for TestCarrier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
