//! The demo trunk: a pretend carrier built into the server, so that a newcomer can place a real
//! call without one. It is a second media gateway instance on its own SIP port that answers
//! the dialer's calls by a fixed rule on the number's last digit:
//!
//! | last digit | the "customer" |
//! | --- | --- |
//! | 4 | is busy (486) |
//! | 9 | never answers |
//! | 0 | does not exist (404) |
//! | anything else | answers after two seconds and plays a two-tone chime until hung up |
//!
//! It exists only while the trunks table has the demo row (created on a database without
//! trunks), and is labelled "demo" wherever trunks are shown. It is not a carrier: nothing
//! leaves this machine.
//!
//! A server with the embedded gateway runs its own demo trunk, answering that gateway only, and
//! gives its gateway the demo row with its own demo trunk's address (so servers sharing one
//! database each reach their own). Servers driving standalone gateways run none: `server
//! demo-trunk GATEWAY_SIP…` runs one for all of them as a process of its own (the one-machine
//! cluster does), and the row holds its address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gateway::Gateway;
use gateway::control::{Event, Trunk, TrunkId};
use gateway::events::Read;
use gateway::sip::message::Transport;

use crate::db::{self, Db, with_pool};

/// The demo trunk's name in the trunks table.
pub const NAME: &str = "Demo trunk (built-in)";

/// A running demo trunk.
pub struct DemoTrunk {
    /// Its SIP address.
    pub sip: SocketAddr,
    _gateway: gateway::runtime::Running,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoTrunk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the demo trunk could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo trunk's row: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the demo trunk's gateway: {0}")]
    Gateway(#[from] gateway::runtime::StartError),
    #[error("cannot write the demo chime: {0}")]
    Chime(#[from] std::io::Error),
}

/// On a database without trunks, adds the demo trunk; whenever the demo trunk exists, starts
/// it on `listen`, answering calls from the dialer's gateways at `gateways` (their SIP
/// addresses), and records where it listens. Returns `None` when there is no demo trunk.
pub async fn start(
    db: &Db,
    listen: SocketAddr,
    gateways: &[SocketAddr],
) -> Result<Option<DemoTrunk>, DemoError> {
    let now = db::now_ms();
    let has_trunks: i64 = with_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM trunks").fetch_one(pool).await)?;
    if has_trunks == 0 {
        with_pool!(db, pool => sqlx::query(
                "INSERT INTO trunks (name, host, port, transport, max_channels, max_cps, demo, created_at, updated_at) \
                 VALUES ($1, '127.0.0.1', $2, 'udp', 30, 10, TRUE, $3, $3)")
            .bind(NAME)
            .bind(i64::from(listen.port()))
            .bind(now)
            .execute(pool)
            .await
            .map(drop))?;
        tracing::info!("no trunk configured: added the built-in demo trunk");
    }
    let demo: i64 = with_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM trunks WHERE demo").fetch_one(pool).await)?;
    if demo == 0 {
        return Ok(None);
    }
    let chime = std::env::temp_dir().join(format!("dialer-demo-chime-{}.wav", std::process::id()));
    std::fs::write(&chime, chime_wav())?;
    // Each of the dialer's gateways is a "trunk" of the pretend carrier: the calls it accepts.
    let trunks = (1..)
        .zip(gateways)
        .map(|(id, sip)| {
            let mut trunk =
                Trunk::new(TrunkId(id), &sip.ip().to_string(), sip.port(), Transport::Udp);
            trunk.keepalive_secs = 0;
            trunk
        })
        .collect();
    let (gateway, running) = gateway::runtime::start(gateway::runtime::Config {
        sip_listen: listen,
        webrtc_listen: SocketAddr::new(listen.ip(), 0),
        advertise: listen.ip(),
        trunks,
        user_agent: "dialer-demo-trunk".into(),
        hold_music: None,
        ..gateway::runtime::Config::default()
    })
    .await?;
    // Its events followed from now, before anyone is told its address: a call that comes the
    // moment it is up is answered too (a reader started later would not see it offered).
    let events = gateway.events();
    let sip = running.sip_udp;
    with_pool!(db, pool => sqlx::query("UPDATE trunks SET host = $1, port = $2, updated_at = $3 WHERE demo")
        .bind(sip.ip().to_string())
        .bind(i64::from(sip.port()))
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
    let task = tokio::spawn(answer(gateway, events, chime));
    tracing::info!(%sip, "demo trunk ready (numbers ending in 4 are busy, 9 never answer, 0 do not exist)");
    Ok(Some(DemoTrunk { sip, _gateway: running, task }))
}

/// What the demo does with a call to `to`.
#[derive(Debug, PartialEq, Eq)]
enum Behaviour {
    Busy,
    NoAnswer,
    NoSuchNumber,
    Answer,
}

fn behaviour(to: &str) -> Behaviour {
    match to.chars().rev().find(char::is_ascii_digit) {
        Some('4') => Behaviour::Busy,
        Some('9') => Behaviour::NoAnswer,
        Some('0') => Behaviour::NoSuchNumber,
        _ => Behaviour::Answer,
    }
}

async fn answer(gateway: Gateway, mut events: gateway::events::Reader, chime: PathBuf) {
    loop {
        let event = match events.next().await {
            Read::Event(e) => e.event,
            // A pretend carrier has nothing to resynchronise: calls it missed time out.
            Read::Lost { .. } => continue,
            Read::Closed => return,
        };
        match event {
            Event::InboundCall { call, to, .. } => {
                let gateway = gateway.clone();
                let chime = chime.clone();
                tokio::spawn(async move {
                    match behaviour(&to) {
                        Behaviour::Busy => drop(gateway.reject(call, 486).await),
                        Behaviour::NoSuchNumber => drop(gateway.reject(call, 404).await),
                        // Left ringing: the dialer gives up after its ring time.
                        Behaviour::NoAnswer => {}
                        Behaviour::Answer => {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                            if gateway.accept(call).await.is_ok() {
                                let _ = gateway.play(call, chime).await;
                            }
                        }
                    }
                });
            }
            // The chime plays again until the call ends.
            Event::PlaybackFinished { call } => {
                let _ = gateway.play(call, chime.clone()).await;
            }
            _ => {}
        }
    }
}

/// Two seconds of 8 kHz mono 16-bit PCM: a soft two-tone chime, then a pause.
fn chime_wav() -> Vec<u8> {
    const RATE: u32 = 8000;
    let tone = |freq: f64, ms: u32| -> Vec<i16> {
        let n = RATE * ms / 1000;
        (0..n)
            .map(|i| {
                let t = f64::from(i) / f64::from(RATE);
                // A short fade in and out avoids clicks.
                let edge = (f64::from(i.min(n - i)) / 80.0).min(1.0);
                ((2.0 * std::f64::consts::PI * freq * t).sin() * 9000.0 * edge) as i16
            })
            .collect()
    };
    let silence = |ms: u32| vec![0i16; (RATE * ms / 1000) as usize];
    let samples: Vec<i16> =
        [tone(660.0, 350), silence(100), tone(880.0, 350), silence(1200)].concat();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_digit_decides() {
        assert_eq!(behaviour("+15551234"), Behaviour::Busy);
        assert_eq!(behaviour("+15551239"), Behaviour::NoAnswer);
        assert_eq!(behaviour("+15551230"), Behaviour::NoSuchNumber);
        assert_eq!(behaviour("+15551231"), Behaviour::Answer);
        assert_eq!(behaviour("sip-user"), Behaviour::Answer);
    }

    /// What `gateway` hears of a call to the demo trunk at `demo`: answered, or ended first.
    async fn answered(gateway: &Gateway, demo: SocketAddr) -> bool {
        use gateway::control::{CallId, CallerId, Originate, PhoneNumber};
        gateway
            .add_trunk(Trunk::new(TrunkId(7), &demo.ip().to_string(), demo.port(), Transport::Udp))
            .await
            .unwrap();
        let mut events = gateway.events();
        let call = CallId(1);
        let originate = Originate {
            call,
            trunk: TrunkId(7),
            to: PhoneNumber::parse("+12025550101").unwrap(),
            caller_id: CallerId::parse("+12025550100").unwrap(),
            caller_name: None,
            asserted_identity: None,
            ring_timeout_secs: 10,
            amd: false,
        };
        gateway.originate(originate).await.unwrap();
        loop {
            // (Bounded: the call rings for 10 s at most; the demo answers after two.)
            let read = tokio::time::timeout(Duration::from_secs(20), events.next()).await;
            match read.expect("the call neither answered nor ended") {
                Read::Event(e) => match e.event {
                    Event::CallAnswered { call: c } if c == call => return true,
                    Event::CallEnded { call: c, .. } if c == call => return false,
                    _ => {}
                },
                Read::Lost { .. } => {}
                Read::Closed => panic!("the gateway stopped"),
            }
        }
    }

    #[tokio::test]
    async fn one_demo_trunk_answers_every_gateway_it_serves_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("demo.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut gateways = Vec::new();
        for _ in 0..3 {
            let started = gateway::runtime::start(gateway::runtime::Config {
                sip_listen: loopback,
                webrtc_listen: loopback,
                advertise: loopback.ip(),
                ..gateway::runtime::Config::default()
            })
            .await
            .unwrap();
            gateways.push(started);
        }
        // Two servers' gateways are served; the third is a stranger.
        let served: Vec<SocketAddr> = gateways[..2].iter().map(|(_, r)| r.sip_udp).collect();
        let demo = start(&db, loopback, &served).await.unwrap().expect("a database without trunks");
        for (i, (gateway, _)) in gateways.iter().enumerate() {
            assert_eq!(answered(gateway, demo.sip).await, i < 2, "gateway {i}");
        }
    }

    #[test]
    fn the_chime_is_a_valid_wav() {
        let wav = chime_wav();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 8000);
        assert_eq!(wav.len(), 44 + 2 * 8000 * 2);
    }
}
