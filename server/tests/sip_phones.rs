//! Agents' SIP phones through the real server and its embedded gateway, on SQLite and
//! PostgreSQL: an admin gives an agent a phone (bad settings refused, nothing saved); sipp, as
//! the phone, registers with digest authentication and the agents list shows where, over what
//! and with which codecs; a wrong password is refused and shown, and five of them throttle the
//! address so that even the right password is refused; a removed phone is unregistered and can
//! no longer register. Then the phone carries an agent's shift: registered (sipp as the
//! phone), called by the gateway when the agent's web phone asks, it takes an auto-dialled
//! call with audio both ways (its media a socket of the test, the customer sipp echoing what
//! it hears), and the agent logging out hangs it up. And how a phone sounds reaches the agents
//! list: sipp talking through the phone is judged good by the gateway, with its figures, until
//! the agent logs out.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::model::AgentSummary;
use support::{Backend, Client, TestServer, free_udp_port, ok, sipp_exit};

on_both_backends!(
    a_sip_phone_registers_and_a_wrong_password_is_refused_and_throttled,
    a_sip_phone_takes_an_auto_dialled_call_with_audio_both_ways,
    how_a_sip_phone_sounds_reaches_the_agents_list,
);

/// sipp playing `scenario` from `tests/sipp/` with its `[name]`s replaced by `vars`, from
/// `port`; towards `gateway` when it starts by sending (none: it waits for a call).
fn sipp(scenario: &str, vars: &[(&str, &str)], gateway: Option<&str>, port: u16) -> Child {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    let mut text = std::fs::read_to_string(dir.join(format!("{scenario}.xml"))).unwrap();
    for (name, value) in vars {
        text = text.replace(&format!("[{name}]"), value);
    }
    let file = tempfile::Builder::new().suffix(".xml").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let (_, path) = file.keep().unwrap();
    Command::new("sipp")
        .args(["-sf", path.to_str().unwrap()])
        .args(gateway)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_udp_port().to_string()])
        .args(["-m", "1", "-timeout", "30s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (Debian sip-tester)")
}

/// sipp as `user`'s phone registering at `gateway` with `secret`; `scenario` is `register`
/// (challenged, then expects `code`) or `register_blocked` (refused at once).
fn register(gateway: &str, scenario: &str, user: &str, secret: &str, code: u16) -> Child {
    register_from(gateway, free_udp_port(), scenario, user, secret, code)
}

fn register_from(
    gateway: &str,
    port: u16,
    scenario: &str,
    user: &str,
    secret: &str,
    code: u16,
) -> Child {
    let code = code.to_string();
    let vars = [("user", user), ("secret", secret), ("code", code.as_str())];
    sipp(scenario, &vars, Some(gateway), port)
}

async fn agents(admin: &Client) -> Vec<AgentSummary> {
    serde_json::from_value(ok(admin, "admin/agents/list", &[]).await).expect("agents")
}

/// Ann's line of the agents list, once `done` holds for it (the gateway's word reaches the
/// database through a task of its own).
async fn ann_when(admin: &Client, done: impl Fn(&AgentSummary) -> bool) -> AgentSummary {
    for _ in 0..200 {
        let ann = agents(admin).await.into_iter().find(|a| a.username.as_str() == "ann").unwrap();
        if done(&ann) {
            return ann;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agents list never showed what was expected");
}

/// Ann's desk phone (`ann.desk`, UDP, `codecs`) set by the admin and registered from a port
/// of its own: the port, and Ann's line of the agents list once it shows the registration.
async fn desk_phone_registered(admin: &Client, gateway: &str, codecs: &str) -> (u16, AgentSummary) {
    let desk = [
        ("agent", "ann"),
        ("sip_user", "ann.desk"),
        ("sip_secret", "desk-pass-1"),
        ("sip_transport", "udp"),
        ("sip_codecs", codecs),
    ];
    ok(admin, "admin/agents/sip_phone", &desk).await;
    let port = free_udp_port();
    let registered = register_from(gateway, port, "register", "ann.desk", "desk-pass-1", 200);
    assert_eq!(sipp_exit(registered).await, Some(0));
    let ann = ann_when(admin, |a| a.sip.as_ref().is_some_and(|p| p.registration.is_some())).await;
    (port, ann)
}

async fn set_phone(
    c: &Client,
    agent: &str,
    user: &str,
    secret: &str,
    transport: &str,
) -> support::Reply {
    let args = [
        ("agent", agent),
        ("sip_user", user),
        ("sip_secret", secret),
        ("sip_transport", transport),
        ("sip_codecs", "PCMA, pcmu"),
    ];
    c.call("admin/agents/sip_phone", &args).await
}

fn field(reply: &support::Reply) -> String {
    let body = reply.json();
    body["Invalid"]["field"].as_str().map(String::from).unwrap_or_else(|| body.to_string())
}

async fn a_sip_phone_registers_and_a_wrong_password_is_refused_and_throttled(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let gateway = s.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();

    // Bad settings: each refused, naming its field, and nothing saved.
    let bad = [
        (("nobody", "ann.desk", "desk-pass-1", "udp"), "agent"),
        (("sue", "ann.desk", "desk-pass-1", "udp"), "agent"),
        (("ann", "ann desk", "desk-pass-1", "udp"), "sip_user"),
        (("ann", "ann.desk", "short", "udp"), "sip_secret"),
        (("ann", "ann.desk", "desk pass 1", "udp"), "sip_secret"),
        (("ann", "ann.desk", "desk-pass-1", "sctp"), "sip_transport"),
        // A new phone needs a password.
        (("ann", "ann.desk", "", "udp"), "sip_secret"),
    ];
    for ((agent, user, secret, transport), expected) in bad {
        let reply = set_phone(&admin, agent, user, secret, transport).await;
        assert_eq!(field(&reply), expected, "{agent} {user} {secret} {transport}: {}", reply.body);
    }
    let supervisor = s.login("sue", "sue-pass-123").await;
    let refused = set_phone(&supervisor, "ann", "ann.desk", "desk-pass-1", "udp").await;
    assert_eq!(refused.status, 403, "supervisors only read the agents list");
    assert!(agents(&admin).await.iter().all(|a| a.sip.is_none()));

    // Ann's phone, and Bob may not take its user name.
    ok(
        &admin,
        "admin/agents/sip_phone",
        &[
            ("agent", "ann"),
            ("sip_user", "ann.desk"),
            ("sip_secret", "desk-pass-1"),
            ("sip_transport", "udp"),
            ("sip_codecs", "PCMA, pcmu"),
        ],
    )
    .await;
    let taken = set_phone(&admin, "bob", "ann.desk", "bobs-pass-1", "udp").await;
    assert_eq!(field(&taken), "sip_user", "{}", taken.body);
    let ann = ann_when(&admin, |a| a.sip.is_some()).await;
    let phone = ann.sip.as_ref().unwrap();
    assert_eq!((phone.user.as_str(), phone.codecs_text().as_str()), ("ann.desk", "PCMA,PCMU"));
    assert!(phone.registration.is_none() && phone.failure.is_none());

    // The phone registers: the list says where from, over what, and until when.
    assert_eq!(
        sipp_exit(register(&gateway, "register", "ann.desk", "desk-pass-1", 200)).await,
        Some(0)
    );
    let ann = ann_when(&admin, |a| a.sip.as_ref().is_some_and(|p| p.registration.is_some())).await;
    let registration = ann.sip.unwrap().registration.unwrap();
    assert!(registration.source.starts_with("127.0.0.1:"), "{registration:?}");
    assert!(registration.contact.starts_with("sip:ann.desk@127.0.0.1:"), "{registration:?}");
    assert_eq!(registration.user_agent.as_deref(), Some("sipp desk phone"));
    let left = registration.until - server::db::now_ms();
    assert!((290_000..=300_000).contains(&left), "granted 300 s: {left} ms left");

    // A wrong password: refused, and the agents list says why; the registration stays.
    assert_eq!(
        sipp_exit(register(&gateway, "register", "ann.desk", "wrong-pass-1", 403)).await,
        Some(0)
    );
    let ann = ann_when(&admin, |a| a.sip.as_ref().is_some_and(|p| p.failure.is_some())).await;
    let phone = ann.sip.unwrap();
    assert_eq!(phone.failure.unwrap().0, "refused: wrong password");
    assert!(phone.registration.is_some());

    // Four more: the address is throttled, and even the right password is refused unchecked.
    for _ in 0..4 {
        let wrong = register(&gateway, "register", "ann.desk", "wrong-pass-1", 403);
        assert_eq!(sipp_exit(wrong).await, Some(0));
    }
    let blocked = register(&gateway, "register_blocked", "ann.desk", "desk-pass-1", 403);
    assert_eq!(sipp_exit(blocked).await, Some(0));
    let ann = ann_when(&admin, |a| {
        a.sip
            .as_ref()
            .and_then(|p| p.failure.as_ref())
            .is_some_and(|f| f.0.starts_with("throttled"))
    })
    .await;
    assert!(ann.sip.unwrap().registration.is_some(), "a refused attempt does not unregister");

    // A user name no phone has is refused the same way as a wrong password.
    assert_eq!(
        sipp_exit(register(&gateway, "register", "nobody.x", "desk-pass-1", 403)).await,
        Some(0)
    );

    // Ann's phone removed: unregistered at the gateway, and gone from the list.
    let ann_id = ann.id.0.to_string();
    ok(&admin, "admin/agents/sip_phone_remove", &[("agent", ann_id.as_str())]).await;
    assert!(agents(&admin).await.iter().all(|a| a.sip.is_none()));
    let again = admin.call("admin/agents/sip_phone_remove", &[("agent", ann_id.as_str())]).await;
    assert_eq!(again.status, 404, "{}", again.body);

    // Bob's phone takes the freed user name and registers over its own password.
    ok(
        &admin,
        "admin/agents/sip_phone",
        &[
            ("agent", "bob"),
            ("sip_user", "ann.desk"),
            ("sip_secret", "bobs-pass-1"),
            ("sip_transport", "udp"),
            ("sip_codecs", "PCMU"),
        ],
    )
    .await;

    // Agents made in bulk with a SIP phone template: each phone is named after its agent, its
    // generated password shown once, and it registers with it.
    let bad = admin
        .call("admin/agents/bulk", &[("prefix", "desk"), ("count", "2"), ("sip", "sctp")])
        .await;
    assert_eq!(field(&bad), "sip", "{}", bad.body);
    let crew = [
        ("agent", "bob"),
        ("sip_user", "crew01"),
        ("sip_secret", "bobs-pass-1"),
        ("sip_transport", "udp"),
        ("sip_codecs", "PCMU"),
    ];
    ok(&admin, "admin/agents/sip_phone", &crew).await;
    let clash = admin
        .call("admin/agents/bulk", &[("prefix", "crew"), ("count", "2"), ("sip", "udp")])
        .await;
    assert_eq!(field(&clash), "prefix", "{}", clash.body);
    assert!(clash.body.contains("crew01"), "{}", clash.body);
    assert!(
        agents(&admin).await.iter().all(|a| !a.username.as_str().starts_with("crew")),
        "nothing made"
    );
    let made =
        ok(&admin, "admin/agents/bulk", &[("prefix", "desk"), ("count", "2"), ("sip", "udp")])
            .await;
    let made: Vec<app::model::CreatedAgent> = serde_json::from_value(made).unwrap();
    assert_eq!(made.len(), 2);
    let desk01 = made.iter().find(|a| a.username.as_str() == "desk01").unwrap();
    let sip_password = desk01.sip_password.clone().expect("a phone password, shown once");
    let listed = agents(&admin).await;
    let phone = listed.iter().find(|a| a.username.as_str() == "desk02").and_then(|a| a.sip.clone());
    assert_eq!(
        phone.map(|p| (p.user.to_string(), p.codecs_text())),
        Some(("desk02".into(), "PCMU,PCMA".into()))
    );
    assert_eq!(
        sipp_exit(register(&gateway, "register", "desk01", &sip_password, 200)).await,
        Some(0)
    );
    s.stop().await;
}

async fn a_sip_phone_takes_an_auto_dialled_call_with_audio_both_ways(b: Backend) {
    use app::model::phone::{AudioState, PhoneEvent, PhoneRequest};
    use app::model::{AgentStatus, CallingWindow, CampaignKind, CampaignSettings, Name, TrunkId};
    use support::phone_socket::{logged_in, send, until};

    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = app::model::UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    let gateway = s.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    // The customer: answers, and sends back the RTP it gets.
    let carrier = support::Sipp::start();
    let trunk = support::udp_trunk(&admin, "carrier", carrier.port, 5).await;
    let db = s.database();
    let mut c = CampaignSettings::new(Name::parse("Desk phones").unwrap(), CampaignKind::Auto);
    c.active = true;
    c.trunk_id = Some(TrunkId(trunk.parse().unwrap()));
    c.caller_id = Some(app::model::CallerId::parse("+442079460000").unwrap());
    c.agents = vec![ann];
    c.window = CallingWindow::new(0, 24 * 60).unwrap();
    let campaign = server::db::campaigns::insert(db, &c, 0).await.unwrap();
    let leadset = support::add_leadset(db, "Desk list", campaign).await;
    support::add_new_leads(db, leadset, 1, |_| "+442079460100".into(), "UTC").await;
    s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();

    // Ann's desk phone registers from its port; then it waits there for the dialer's call,
    // its media a socket of this test.
    let (phone_port, _) = desk_phone_registered(&admin, &gateway, "PCMU").await;
    let media = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_port = media.local_addr().unwrap().port().to_string();
    let vars = [("user", "ann.desk"), ("media", media_port.as_str())];
    let phone = sipp("phone_answers", &vars, None, phone_port);

    // Ann's web phone knows her audio is on the desk phone, and has the gateway call it.
    let web = s.login("ann", "ann-pass-123").await;
    let home = ok(&web, "phone/home", &[]).await;
    assert_eq!(home["sip_phone"], "ann.desk", "{home}");
    let mut ws = logged_in(&s.url, web.cookie.as_deref(), campaign).await;
    send(&mut ws, &PhoneRequest::CallPhone).await;
    until(&mut ws, |e| *e == PhoneEvent::Audio { state: AudioState::Connected }).await;
    // Asked again (a reloaded page): the phone that is up stays up, nobody calls it twice.
    send(&mut ws, &PhoneRequest::CallPhone).await;
    until(&mut ws, |e| *e == PhoneEvent::Audio { state: AudioState::Connected }).await;

    // Ready: the dialer calls the lead, the customer answers, and is put through to the phone.
    send(&mut ws, &PhoneRequest::Ready).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Connected { .. })).await;
    // The phone's voice (octets 0x42) reaches the customer, who sends it back: heard by the
    // phone, through the gateway both ways.
    let mut buf = [0u8; 2048];
    let (_, gateway_rtp) = tokio::time::timeout(Duration::from_secs(5), media.recv_from(&mut buf))
        .await
        .expect("the gateway sends the phone RTP")
        .unwrap();
    let mut heard = 0;
    for seq in 0u16..100 {
        let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x0d, 0xe5, 0x40, 0x01];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        packet.extend_from_slice(&[0x42; 160]);
        media.send_to(&packet, gateway_rtp).await.unwrap();
        let wait = tokio::time::sleep(Duration::from_millis(20));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                got = media.recv_from(&mut buf) => {
                    let (n, _) = got.unwrap();
                    if n == 172 && buf[12..n].iter().all(|b| *b == 0x42) {
                        heard += 1;
                    }
                }
            }
        }
        if heard >= 10 {
            break;
        }
    }
    assert!(heard >= 10, "the phone heard {heard} frames of its own voice back from the customer");

    // The agent hangs up and logs out: the desk phone is hung up too.
    send(&mut ws, &PhoneRequest::Hangup).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Ended { .. })).await;
    send(&mut ws, &PhoneRequest::Logout).await;
    until(&mut ws, |e| {
        matches!(e, PhoneEvent::LoggedOut | PhoneEvent::State { status: AgentStatus::LoggedOut })
    })
    .await;
    assert_eq!(
        sipp_exit(phone).await,
        Some(0),
        "the phone was answered, then hung up by the dialer"
    );
    drop(carrier);
    s.stop().await;
}

async fn how_a_sip_phone_sounds_reaches_the_agents_list(b: Backend) {
    use app::model::phone::{AudioState, PhoneEvent, PhoneRequest};
    use app::model::{AgentStatus, CampaignKind, CampaignSettings, Name};
    use support::phone_socket::{logged_in, send, until};

    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = app::model::UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    let gateway = s.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    let mut c = CampaignSettings::new(Name::parse("Desk phones").unwrap(), CampaignKind::Auto);
    c.active = true;
    c.agents = vec![ann];
    let campaign = server::db::campaigns::insert(s.database(), &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();
    let (phone_port, ann_line) = desk_phone_registered(&admin, &gateway, "PCMA").await;
    assert_eq!(ann_line.quality, None, "logged out: no call quality");
    assert_eq!(ann_line.sip.unwrap().quality, None, "not carrying a shift: not judged");
    let phone = sipp("phone_streams", &[("user", "ann.desk")], None, phone_port);

    // Ann's shift on the desk phone: the gateway calls it, it answers and talks.
    let web = s.login("ann", "ann-pass-123").await;
    let mut ws = logged_in(&s.url, web.cookie.as_deref(), campaign).await;
    send(&mut ws, &PhoneRequest::CallPhone).await;
    until(&mut ws, |e| *e == PhoneEvent::Audio { state: AudioState::Connected }).await;

    // Within a second or two of its first words, the agents list says how it sounds: good,
    // from the packets the gateway counted (sipp's recording is clean: no loss, little jitter).
    let line = ann_when(&admin, |a| {
        a.sip
            .as_ref()
            .and_then(|p| p.quality.as_ref())
            .is_some_and(|q| q.figures.packets_received > 0)
    })
    .await;
    let quality = line.sip.unwrap().quality.unwrap();
    assert!(quality.warnings.is_empty(), "{quality:?}");
    assert_eq!(quality.figures.loss_permille, Some(0), "{quality:?}");
    assert!(quality.figures.jitter_ms.is_some_and(|j| j < 30), "{quality:?}");
    assert_eq!(quality.figures.rtt_ms, None, "sipp sends no RTCP: the round trip is unknown");
    assert_eq!(line.quality, Some(vec![]), "the floor's word on Ann: nothing wrong");
    let floor = ok(&admin, "admin/floor", &[]).await;
    assert_eq!(floor["agents"][0]["now"]["quality"], serde_json::json!([]), "{floor}");

    // Ann logs out: the phone is hung up, and the list no longer judges it.
    send(&mut ws, &PhoneRequest::Logout).await;
    until(&mut ws, |e| {
        matches!(e, PhoneEvent::LoggedOut | PhoneEvent::State { status: AgentStatus::LoggedOut })
    })
    .await;
    let line = ann_when(&admin, |a| a.sip.as_ref().is_some_and(|p| p.quality.is_none())).await;
    assert_eq!(line.quality, None);
    assert_eq!(sipp_exit(phone).await, Some(0), "the phone talked, then was hung up");
    s.stop().await;
}
