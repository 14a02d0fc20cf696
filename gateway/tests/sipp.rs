//! The gateway against sipp (Debian's sip-tester): real SIP and RTP over loopback.

mod support;

use std::time::Duration;

use gateway::control::{
    CallOutcome, CallerId, CallerName, Event, HangupBy, Originate, PhoneNumber, TrunkId,
};
use support::{Sipp, gateway_with_trunk, scenario, tone_wav, wait_for};

const WAIT: Duration = Duration::from_secs(15);

fn originate(to: &str, ring_secs: u32) -> Originate {
    Originate {
        call: support::fresh_call(),
        trunk: TrunkId(1),
        to: PhoneNumber::parse(to).unwrap(),
        caller_id: CallerId::parse("+15550001000").unwrap(),
        caller_name: Some(CallerName::parse("Acme Sales").unwrap()),
        asserted_identity: None,
        ring_timeout_secs: ring_secs,
        amd: false,
    }
}

/// Mean absolute amplitude of one channel of a stereo recording, over its middle part.
fn loudness(path: &std::path::Path, channel: usize) -> f64 {
    let reader = hound::WavReader::open(path).expect("recording exists");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.unwrap()).collect();
    let channel: Vec<i16> = samples.chunks(2).map(|f| f[channel]).collect();
    let middle = &channel[channel.len() / 4..channel.len() * 3 / 4];
    middle.iter().map(|s| f64::from(*s).abs()).sum::<f64>() / middle.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_to_echo_uas_is_answered_echoes_audio_and_bye_tears_it_down() {
    let mut sipp = Sipp::echo_uas();
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::runtime::Config {
        recordings_dir: dir.path().to_path_buf(),
        ..gateway::runtime::Config::loopback()
    };
    let (gw, running) = support::gateway_with_trunk_and(sipp.addr(), config).await;
    let mut events = gw.events();
    let tone = dir.path().join("tone.wav");
    tone_wav(&tone, 1.5);
    let recording = dir.path().join("call.wav");
    let name = gateway::recording::RecordingName::parse("call.wav").unwrap();

    let call = support::place(&gw, originate("+15551234", 20)).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    gw.record(call, name).await.expect("record");
    gw.play(call, tone).await.expect("play");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::PlaybackFinished { call: c } if *c == call).then_some(())
    })
    .await;
    // Let the last echoed packets come back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.stop_recording(call).await.expect("stop recording");
    gw.hangup(call).await.expect("hangup");
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::System));
    // sipp ends its one call only when our BYE arrived and was answered; exit 0 = success.
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp saw a complete call ending with our BYE");

    // Left channel: what came back from sipp — our tone, echoed. Right: what we sent.
    let sent = loudness(&recording, 1);
    let echoed = loudness(&recording, 0);
    assert!(sent > 3000.0, "the tone was sent (mean amplitude {sent})");
    assert!(echoed > 3000.0, "the tone came back through the bridge (mean amplitude {echoed})");
    let m = running.metrics.snapshot();
    assert_eq!((m.calls_answered, m.calls_calling), (0, 0), "no call left: {m:?}");
}

async fn refused_call(code: u16) -> gateway::control::CallEnd {
    let dir = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(scenario("reject.xml")).unwrap();
    let sf = dir.path().join(format!("reject{code}.xml"));
    std::fs::write(&sf, template.replace("[code]", &code.to_string())).unwrap();
    let mut sipp = Sipp::start(&["-sf", sf.to_str().unwrap()]);
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15550000", 20)).await;
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp got its ACK for {code}");
    end
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_congestion_and_invalid_number_outcomes() {
    for (code, outcome) in [
        (486, CallOutcome::Busy),
        (503, CallOutcome::Congestion),
        (404, CallOutcome::InvalidNumber),
    ] {
        let end = refused_call(code).await;
        assert_eq!(
            (end.outcome, end.code, end.by),
            (outcome, Some(code), HangupBy::Customer),
            "{code}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_never_answers_gives_no_answer() {
    let sf = scenario("ring_forever.xml");
    let mut sipp = Sipp::start(&["-sf", sf.to_str().unwrap()]);
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15550001", 2)).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallRinging { call: c } if *c == call).then_some(())
    })
    .await;
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.code), (CallOutcome::NoAnswer, Some(487)));
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp saw CANCEL, sent 487 and got its ACK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_call_from_sipp_reaches_the_control_api() {
    // The gateway first, so that sipp has somewhere to call; the trunk is sipp's address.
    let (gw, running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    let sipp_port = support::free_udp_port();
    let trunk = gateway::control::Trunk::new(
        TrunkId(1),
        "127.0.0.1",
        sipp_port,
        gateway::sip::message::Transport::Udp,
    );
    gw.add_trunk(trunk).await.unwrap();
    let mut events = gw.events();
    let target = running.sip_udp.to_string();
    let media = support::free_udp_port().to_string();
    let mut sipp = Sipp::start_uac(&target, sipp_port, &media);
    let (call, from, to) = wait_for(&mut events, WAIT, |e| match e {
        Event::InboundCall { call, trunk, from, to } if *trunk == TrunkId(1) => {
            Some((*call, from.clone(), to.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(to, "2000");
    assert!(!from.is_empty());
    gw.accept(call).await.expect("accept");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    // sipp's uac hangs up after its pause.
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp's call completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_unhold_are_reinvites_sendonly_then_sendrecv() {
    let sf = scenario("hold.xml");
    let mut sipp = Sipp::start(&["-sf", sf.to_str().unwrap()]);
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15552000", 20)).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    gw.hold(call).await.expect("hold");
    gw.mute(call).await.expect("mute");
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.unmute(call).await.expect("unmute");
    gw.unhold(call).await.expect("unhold");
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.hangup(call).await.expect("hangup");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallEnded { call: c, .. } if *c == call).then_some(())
    })
    .await;
    assert_eq!(
        sipp.wait_exit(WAIT),
        Some(0),
        "sipp saw sendonly, then sendrecv, then BYE: {}",
        sipp.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_holds_the_call_gets_recvonly_then_sendrecv() {
    let sf = scenario("remote_hold.xml");
    let mut sipp = Sipp::start(&["-sf", sf.to_str().unwrap()]);
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15552001", 20)).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    // sipp holds and resumes at once after its ACK; give those exchanges time on loopback.
    tokio::time::sleep(Duration::from_secs(2)).await;
    gw.hangup(call).await.expect("hangup");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallEnded { call: c, .. } if *c == call).then_some(())
    })
    .await;
    assert_eq!(
        sipp.wait_exit(WAIT),
        Some(0),
        "sipp got recvonly to its hold, sendrecv to its resume, then the BYE: {}",
        sipp.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_over_tcp() {
    let mut sipp = Sipp::start(&["-sn", "uas", "-t", "t1"]);
    let (gw, _running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    let trunk = gateway::control::Trunk::new(
        TrunkId(1),
        "127.0.0.1",
        sipp.port,
        gateway::sip::message::Transport::Tcp,
    );
    gw.add_trunk(trunk).await.unwrap();
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15553000", 20)).await;
    support::answer_then_hang_up(&gw, &mut events, call, WAIT).await;
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp's TCP call completed: {}", sipp.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_shows_the_trunks_answer_to_options() {
    // `-aa` makes sipp answer OPTIONS (and INFO, NOTIFY, UPDATE) with 200 OK.
    let sipp = Sipp::start(&["-sn", "uas", "-aa"]);
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let result = gw.probe(TrunkId(1), WAIT).await.expect("probe sent");
    match result {
        gateway::control::ProbeResult::Answered { code, .. } => assert_eq!(code, 200),
        other => panic!("expected an answer, got {other:?}: {}", sipp.stderr()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_to_a_silent_trunk_times_out_and_an_unknown_trunk_is_refused() {
    // A bound socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (gw, _running) = gateway_with_trunk(silent.local_addr().unwrap()).await;
    let result = gw.probe(TrunkId(1), Duration::from_secs(2)).await.expect("sent");
    assert_eq!(result, gateway::control::ProbeResult::TimedOut);
    let unknown = gw.probe(TrunkId(99), Duration::from_secs(2)).await;
    assert!(matches!(unknown, Err(gateway::control::ControlError::UnknownTrunk(_))), "{unknown:?}");
}

/// Everything the gateway has reported so far, without waiting.
fn events_so_far(events: &mut gateway::events::Reader) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(gateway::events::Read::Event(e)) = events.try_next() {
        out.push(e.event);
    }
    out
}

/// `inbound_refused.xml` expecting `code`, written to a file in `dir`.
fn refused_scenario(dir: &tempfile::TempDir, code: u16) -> std::path::PathBuf {
    let template = std::fs::read_to_string(scenario("inbound_refused.xml")).unwrap();
    let sf = dir.path().join(format!("inbound_refused{code}.xml"));
    std::fs::write(&sf, template.replace("[code]", &code.to_string())).unwrap();
    sf
}

/// A gateway with one UDP trunk at 127.0.0.1:`trunk_port`, set up by `configure`.
async fn gateway_with_inbound_trunk(
    trunk_port: u16,
    configure: impl FnOnce(&mut gateway::control::Trunk),
) -> (gateway::Gateway, gateway::runtime::Running) {
    let (gw, running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    let mut trunk = gateway::control::Trunk::new(
        TrunkId(1),
        "127.0.0.1",
        trunk_port,
        gateway::sip::message::Transport::Udp,
    );
    configure(&mut trunk);
    gw.add_trunk(trunk).await.unwrap();
    (gw, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_from_the_trunks_host_but_another_port_is_refused() {
    let trunk_port = support::free_udp_port();
    let (gw, running) = gateway_with_inbound_trunk(trunk_port, |_| {}).await;
    let mut events = gw.events();
    let target = running.sip_udp.to_string();
    // Another process on the trunk's host: same address, another port.
    let dir = tempfile::tempdir().unwrap();
    let sf = refused_scenario(&dir, 403);
    let other_port = support::free_udp_port();
    let media = support::free_udp_port().to_string();
    let mut sipp =
        Sipp::spawn_args(other_port, &media, &["-sf", sf.to_str().unwrap(), &target, "-s", "2000"]);
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp got 403 and ACKed it: {}", sipp.stderr());
    let seen = events_so_far(&mut events);
    assert!(!seen.iter().any(|e| matches!(e, Event::InboundCall { .. })), "{seen:?}");
    // The trunk itself, from its own port, gets through.
    let mut sipp = Sipp::start_uac(&target, trunk_port, &media);
    let call = wait_for(&mut events, WAIT, |e| match e {
        Event::InboundCall { call, trunk: TrunkId(1), .. } => Some(*call),
        _ => None,
    })
    .await;
    gw.accept(call).await.expect("accept");
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp's call completed: {}", sipp.stderr());
}

/// Credentials of the digest trunk in these tests.
fn digest_trunk(trunk: &mut gateway::control::Trunk) {
    trunk.username = Some("carrier".into());
    trunk.password = Some("s3cret".into());
    trunk.inbound_digest = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_trunk_without_credentials_gets_401_and_nothing_else() {
    let trunk_port = support::free_udp_port();
    let (gw, running) = gateway_with_inbound_trunk(trunk_port, digest_trunk).await;
    let mut events = gw.events();
    let dir = tempfile::tempdir().unwrap();
    let sf = refused_scenario(&dir, 401);
    let media = support::free_udp_port().to_string();
    let target = running.sip_udp.to_string();
    let mut sipp =
        Sipp::spawn_args(trunk_port, &media, &["-sf", sf.to_str().unwrap(), &target, "-s", "2000"]);
    // sipp's final pause fails its call if anything but a repeat of the 401 comes after its
    // ACK: the INVITE server transaction absorbed the ACK.
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "401, ACK, then quiet: {}", sipp.stderr());
    let seen = events_so_far(&mut events);
    assert!(seen.is_empty(), "no call offered, no failure counted for a challenge: {seen:?}");
}

/// sipp calling a digest trunk's gateway with `password`.
fn digest_caller(trunk_port: u16, target: &str, password: &str) -> Sipp {
    let media = support::free_udp_port().to_string();
    let sf = scenario("inbound_digest.xml");
    // sipp computes its digest over `sip:<remote ip>:<port>` unless told the Request-URI; the
    // gateway holds it to RFC 2617 §3.2.2.5 (the digest-uri is the Request-URI).
    let auth_uri = format!("2000@{target}");
    Sipp::spawn_args(
        trunk_port,
        &media,
        &[
            "-sf",
            sf.to_str().unwrap(),
            target,
            "-s",
            "2000",
            "-au",
            "carrier",
            "-ap",
            password,
            "-auth_uri",
            &auth_uri,
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_trunk_with_the_right_credentials_gets_its_call_through() {
    let trunk_port = support::free_udp_port();
    let (gw, running) = gateway_with_inbound_trunk(trunk_port, digest_trunk).await;
    let mut events = gw.events();
    let mut sipp = digest_caller(trunk_port, &running.sip_udp.to_string(), "s3cret");
    let call = wait_for(&mut events, WAIT, |e| match e {
        Event::InboundCall { call, trunk: TrunkId(1), .. } => Some(*call),
        Event::TrunkAuthFailed { .. } => panic!("refused: {e:?}"),
        _ => None,
    })
    .await;
    gw.accept(call).await.expect("accept");
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp's call completed: {}", sipp.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_trunk_with_a_wrong_password_is_forbidden_and_reported() {
    let trunk_port = support::free_udp_port();
    let (gw, running) = gateway_with_inbound_trunk(trunk_port, digest_trunk).await;
    let mut events = gw.events();
    let mut sipp = digest_caller(trunk_port, &running.sip_udp.to_string(), "guess");
    let failure = wait_for(&mut events, WAIT, |e| match e {
        Event::TrunkAuthFailed { trunk, direction, code, .. } => Some((*trunk, *direction, *code)),
        Event::InboundCall { .. } => panic!("a wrong password got a call through"),
        _ => None,
    })
    .await;
    assert_eq!(failure, (TrunkId(1), gateway::control::AuthDirection::Inbound, 403));
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp got 403 and ACKed it: {}", sipp.stderr());
    let seen = events_so_far(&mut events);
    assert!(!seen.iter().any(|e| matches!(e, Event::InboundCall { .. })), "{seen:?}");
    let counted = support::eventually(WAIT, || {
        running.metrics.render().contains("gateway_trunk_auth_failures_total{trunk=\"1\"} 1")
    })
    .await;
    assert!(counted, "{}", running.metrics.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_end_that_answers_and_sends_nothing_is_hung_up_by_the_media_timeout() {
    // sipp's built-in UAS answers with SDP and never sends RTP or RTCP.
    let mut sipp = Sipp::start(&["-sn", "uas"]);
    let config = gateway::runtime::Config {
        media_timeout: Some(Duration::from_secs(2)),
        ..gateway::runtime::Config::loopback()
    };
    let (gw, running) = gateway::runtime::start(config).await.expect("gateway starts");
    let trunk = gateway::control::Trunk::new(
        TrunkId(1),
        "127.0.0.1",
        sipp.addr().port(),
        gateway::sip::message::Transport::Udp,
    );
    gw.add_trunk(trunk).await.expect("trunk added");
    let mut events = gw.events();
    let call = support::place(&gw, originate("+15551234", 20)).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    let (end, quality) = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, quality } if *c == call => Some((end.clone(), *quality)),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::System));
    assert_eq!(end.reason, "media timeout: no RTP or RTCP from the carrier for 2 s");
    let quality = quality.expect("the call had media: its figures come with its end");
    assert_eq!((quality.packets_received, quality.rtcp_received), (0, 0));
    assert!(quality.packets_sent > 0, "the gateway sent all along: {quality:?}");
    // sipp took the gateway's BYE and finished its scenario.
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "{}", sipp.stderr());
    // The metrics snapshot is refreshed once a second.
    let counted = support::eventually(WAIT, || {
        running.metrics.render().contains("gateway_call_loss_ratio_count 1")
    })
    .await;
    assert!(counted, "{}", running.metrics.render());
}

/// Places a call with answering-machine detection to sipp's echo; after the answer the
/// gateway plays `greeting` (if any) to sipp, which sends it back as the customer's audio.
/// Returns the verdict and its time after the answer.
async fn detect_through_echo(greeting: Option<&[i16]>) -> (gateway::control::Verdict, u64) {
    let mut sipp = Sipp::echo_uas();
    let (gw, _running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("greeting.wav");
    if let Some(samples) = greeting {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }
    let call = support::place(&gw, Originate { amd: true, ..originate("+15551234", 20) }).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    if greeting.is_some() {
        gw.play(call, wav).await.expect("play");
    }
    let found = wait_for(&mut events, WAIT, |e| match e {
        Event::MachineDetection { call: c, verdict, after_ms, .. } if *c == call => {
            Some((*verdict, *after_ms))
        }
        _ => None,
    })
    .await;
    // Nothing else was done to the call: it is up until we hang up.
    gw.hangup(call).await.expect("the call is still up");
    let mut detections = 0;
    wait_for(&mut events, WAIT, |e| match e {
        Event::MachineDetection { call: c, .. } if *c == call => {
            detections += 1;
            None
        }
        Event::CallEnded { call: c, .. } if *c == call => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(detections, 0, "one detection per call");
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp saw a complete call ending with our BYE");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_greeting_heard_over_rtp_is_reported_as_a_machine() {
    use gateway::amd::synth::{Kind, clip};
    let greeting = clip(Kind::Machine, 21, Some(25.0), 5.0);
    let (verdict, after_ms) = detect_through_echo(Some(&greeting.samples)).await;
    assert_eq!(verdict, gateway::control::Verdict::Machine, "after {after_ms} ms");
    assert!(after_ms <= 3000, "{after_ms} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_line_is_reported_unsure_three_seconds_after_the_answer() {
    let (verdict, after_ms) = detect_through_echo(None).await;
    assert_eq!((verdict, after_ms), (gateway::control::Verdict::Unsure, 3000));
}
