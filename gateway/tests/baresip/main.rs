//! The gateway against a real SIP user agent written elsewhere: baresip (Debian's
//! `baresip`) as the carrier's far end, auto-answering on loopback. Outbound calls over UDP
//! and TCP with audio both ways, the far end hanging up over TCP, hold and resume from each
//! side with RFC 3264 directions, DTMF both ways (RFC 4733), the far end killed and
//! restarted between calls over TCP (a call placed while it is down fails at once as
//! congestion, RFC 3261 §8.1.3.1), a call whose far end was killed ended by the media
//! timeout, and a call from the carrier over TCP answered on its own connection.
//!
//! What baresip saw is read from its own reports: its SIP trace (the SDP directions), its
//! `audio_debug` (packets received, the direction it negotiated) and its log (DTMF received).

#[path = "../support/mod.rs"]
mod support;

mod peer;

use std::time::Duration;

use gateway::control::{CallId, CallOutcome, CallerId, Event, HangupBy, Originate, PhoneNumber};
use gateway::events::Reader;
use gateway::sip::message::Transport;
use peer::{Baresip, Traced};
use support::wait_for;

const WAIT: Duration = Duration::from_secs(15);

async fn gateway_to(
    far: &Baresip,
    transport: Transport,
) -> (gateway::Gateway, gateway::runtime::Running) {
    gateway_with(far, transport, gateway::runtime::Config::loopback()).await
}

async fn gateway_with(
    far: &Baresip,
    transport: Transport,
    config: gateway::runtime::Config,
) -> (gateway::Gateway, gateway::runtime::Running) {
    let (gw, running) = gateway::runtime::start(config).await.expect("gateway starts");
    let mut trunk = gateway::control::Trunk::new(
        gateway::control::TrunkId(1),
        "127.0.0.1",
        far.addr().port(),
        transport,
    );
    // baresip, like a carrier, calls over TCP on a connection of its own from an ephemeral
    // port: a TCP trunk is told by its address (as the server configures TCP trunks).
    trunk.any_port = transport == Transport::Tcp;
    gw.add_trunk(trunk).await.expect("trunk added");
    (gw, running)
}

fn originate() -> Originate {
    Originate {
        call: support::fresh_call(),
        trunk: gateway::control::TrunkId(1),
        to: PhoneNumber::parse(Baresip::NUMBER).unwrap(),
        caller_id: CallerId::parse("+15550001000").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 20,
        amd: false,
    }
}

/// Places a call to baresip and waits until both sides say it is up.
async fn answered_call(gw: &gateway::Gateway, events: &mut Reader, far: &mut Baresip) -> CallId {
    let call = support::place(gw, originate()).await;
    wait_for(events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    far.wait_event("CALL_ESTABLISHED", WAIT).await;
    call
}

async fn ended(events: &mut Reader, call: CallId) -> gateway::control::CallEnd {
    wait_for(events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await
}

/// Mean absolute amplitude of one channel of a stereo recording.
fn loudness(path: &std::path::Path, channel: usize) -> f64 {
    let reader = hound::WavReader::open(path).expect("recording exists");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.unwrap()).collect();
    let channel: Vec<i16> = samples.chunks(2).map(|f| f[channel]).collect();
    let middle = &channel[channel.len() / 4..channel.len() * 3 / 4];
    middle.iter().map(|s| f64::from(*s).abs()).sum::<f64>() / middle.len().max(1) as f64
}

/// Waits (bounded) until baresip's trace holds a message `pick` accepts; returns it.
async fn traced(far: &Baresip, what: &str, pick: impl Fn(&Traced) -> bool) -> Traced {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(m) = far.trace().into_iter().find(|m| pick(m)) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "baresip's trace shows no {what}: {}",
            far.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The re-INVITE exchanges in baresip's trace, in order: (offer direction, answer
/// direction, whether baresip made the offer).
fn reinvites(far: &Baresip) -> Vec<(String, String, bool)> {
    let trace = far.trace();
    let mut out = Vec::new();
    for (i, m) in trace.iter().enumerate() {
        if !m.is_request("INVITE") {
            continue;
        }
        let Some(offer) = m.direction() else { continue };
        let cseq = m.header("CSeq");
        let answer = trace[i + 1..]
            .iter()
            .find(|r| r.is_response(200, "INVITE") && r.header("CSeq") == cseq)
            .and_then(|r| r.direction());
        if let Some(answer) = answer {
            out.push((offer.to_owned(), answer.to_owned(), m.sent));
        }
    }
    // The first exchange is the call itself.
    out.into_iter().skip(1).collect()
}

async fn outbound_call_carries_audio_both_ways(transport: Transport) {
    let mut far = Baresip::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::runtime::Config {
        recordings_dir: dir.path().to_path_buf(),
        ..gateway::runtime::Config::loopback()
    };
    let (gw, _running) = gateway_with(&far, transport, config).await;
    let mut events = gw.events();
    let tone = dir.path().join("tone.wav");
    support::tone_wav(&tone, 1.5);
    let recording = dir.path().join("call.wav");
    let name = gateway::recording::RecordingName::parse("call.wav").unwrap();

    let call = answered_call(&gw, &mut events, &mut far).await;
    let invite = traced(&far, "INVITE", |m| m.is_request("INVITE") && !m.sent).await;
    let wire = if transport == Transport::Tcp { "TCP" } else { "UDP" };
    assert_eq!(invite.transport, wire, "the INVITE reached baresip over {wire}");
    gw.record(call, name).await.expect("record");
    gw.play(call, tone).await.expect("play");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::PlaybackFinished { call: c } if *c == call).then_some(())
    })
    .await;
    // 1.5 s of tone is 75 packets of 20 ms; baresip counts what reached it.
    let (audio, ok) = far.audio_until(WAIT, |a| a.received >= 60).await;
    assert!(ok, "baresip received the gateway's RTP: {audio:?}");
    assert_eq!(audio.direction, "sendrecv");
    assert!(audio.sent >= 60, "baresip sent RTP: {audio:?}");
    gw.stop_recording(call).await.expect("stop recording");
    gw.hangup(call).await.expect("hangup");
    let end = ended(&mut events, call).await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::System));
    far.wait_event("CALL_CLOSED", WAIT).await;
    traced(&far, "200 OK to the gateway's BYE", |m| m.sent && m.is_response(200, "BYE")).await;

    // Left channel: what came from baresip (its 440 Hz sine); right: our tone.
    let heard = loudness(&recording, 0);
    let sent = loudness(&recording, 1);
    assert!(heard > 1000.0, "baresip's audio reached the gateway (mean amplitude {heard})");
    assert!(sent > 3000.0, "the tone was sent (mean amplitude {sent})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_over_udp_carries_audio_both_ways() {
    outbound_call_carries_audio_both_ways(Transport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_over_tcp_carries_audio_both_ways() {
    outbound_call_carries_audio_both_ways(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_end_hangs_up_over_tcp_and_its_bye_is_answered_on_its_connection() {
    let mut far = Baresip::start().await;
    let (gw, running) = gateway_to(&far, Transport::Tcp).await;
    let mut events = gw.events();
    let call = answered_call(&gw, &mut events, &mut far).await;

    far.command("hangup", "").await;
    let end = ended(&mut events, call).await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::Customer));
    let bye = traced(&far, "BYE sent", |m| m.sent && m.is_request("BYE")).await;
    assert_eq!(bye.transport, "TCP");
    let ok = traced(&far, "200 OK to its BYE", |m| !m.sent && m.is_response(200, "BYE")).await;
    assert_eq!(ok.transport, "TCP");
    // baresip opened a connection to the gateway's Contact for its BYE (the trace names its
    // local end); the 200 OK arrived at that same end, RFC 3261 §18.2.2.
    assert_eq!(
        (ok.from.as_str(), ok.to.as_str()),
        (bye.to.as_str(), bye.from.as_str()),
        "the 200 OK came back over the BYE's connection"
    );
    // The gateway's connection to baresip and baresip's to the gateway: a response sent
    // over a connection of its own would be a third.
    let open = running.metrics.transport().tcp_connections();
    assert!(open <= 2, "no connection of its own for the response ({open} open)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_from_each_side_use_rfc_3264_directions() {
    let mut far = Baresip::start().await;
    let (gw, _running) = gateway_to(&far, Transport::Tcp).await;
    let mut events = gw.events();
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    support::tone_wav(&tone, 30.0);
    let call = answered_call(&gw, &mut events, &mut far).await;
    // The gateway sends all along (a long tone), so a stop shows in baresip's counters.
    gw.play(call, tone).await.expect("play");
    let (audio, ok) = far.audio_until(WAIT, |a| a.received >= 10).await;
    assert!(ok, "audio flows before any hold: {audio:?}");

    // The gateway holds: baresip is offered sendonly and answers recvonly (RFC 3264 §6.1).
    gw.hold(call).await.expect("hold");
    let (audio, ok) = far.audio_until(WAIT, |a| a.direction == "recvonly").await;
    assert!(ok, "baresip took the gateway's hold: {audio:?}");
    gw.unhold(call).await.expect("unhold");
    let (audio, ok) = far.audio_until(WAIT, |a| a.direction == "sendrecv").await;
    assert!(ok, "baresip took the gateway's resume: {audio:?}");
    assert_eq!(
        reinvites(&far),
        [
            ("sendonly".into(), "recvonly".into(), false),
            ("sendrecv".into(), "sendrecv".into(), false)
        ],
        "{}",
        far.log()
    );

    // baresip holds: the gateway answers recvonly and stops sending to the held party.
    far.command("hold", "").await;
    // The gateway stops sending before it answers: count from its answer's arrival.
    traced(&far, "the gateway's answer to baresip's hold", |m| {
        !m.sent && m.is_response(200, "INVITE") && m.direction() == Some("recvonly")
    })
    .await;
    let (held, ok) = far.audio_until(WAIT, |a| a.direction == "sendonly").await;
    assert!(ok, "baresip's hold was answered: {held:?}");
    // A packet already on its way may still land; a stream would bring ~50 a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = far.audio().await;
    assert!(
        later.received <= held.received + 5,
        "the gateway kept sending to the party that held it: {held:?} then {later:?}"
    );
    far.command("resume", "").await;
    let (resumed, ok) = far
        .audio_until(WAIT, |a| a.direction == "sendrecv" && a.received >= later.received + 10)
        .await;
    assert!(ok, "media flows again after baresip's resume: {later:?} then {resumed:?}");
    assert_eq!(
        reinvites(&far)[2..],
        [
            ("sendonly".into(), "recvonly".into(), true),
            ("sendrecv".into(), "sendrecv".into(), true)
        ],
        "{}",
        far.log()
    );

    gw.hangup(call).await.expect("hangup");
    let end = ended(&mut events, call).await;
    assert_eq!(end.outcome, CallOutcome::Answered);
    far.wait_event("CALL_CLOSED", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_travels_both_ways() {
    let mut far = Baresip::start().await;
    let (gw, _running) = gateway_to(&far, Transport::Udp).await;
    let mut events = gw.events();
    let call = answered_call(&gw, &mut events, &mut far).await;

    // The customer's keys: each press arrives once, in order, as the call's digit event
    // (what the server's link turns into the engine's digit).
    for digit in ['1', '#', '5', '*'] {
        far.command("sndcode", &digit.to_string()).await;
        let got = wait_for(&mut events, WAIT, |e| match e {
            Event::DtmfReceived { call: Some(c), leg: None, digit } if *c == call => Some(*digit),
            _ => None,
        })
        .await;
        assert_eq!(got, digit, "the gateway reported baresip's key press");
    }

    // The agent's keys reach baresip.
    gw.send_dtmf(call, "4*9").await.expect("send digits");
    assert!(
        support::eventually(WAIT, || far.digits_received() == "4*9").await,
        "baresip received the digits: {:?}; log: {}",
        far.digits_received(),
        far.log()
    );

    gw.hangup(call).await.expect("hangup");
    ended(&mut events, call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_end_killed_and_restarted_over_tcp_takes_the_next_call() {
    let mut far = Baresip::start().await;
    let (gw, _running) = gateway_to(&far, Transport::Tcp).await;
    let mut events = gw.events();

    // Killed between two calls: the connection the first call used is dead.
    let first = answered_call(&gw, &mut events, &mut far).await;
    gw.hangup(first).await.expect("hangup");
    assert_eq!(ended(&mut events, first).await.outcome, CallOutcome::Answered);
    far.wait_event("CALL_CLOSED", WAIT).await;
    far.kill();
    far.restart().await;
    let second = answered_call(&gw, &mut events, &mut far).await;
    let (audio, ok) = far.audio_until(WAIT, |a| a.sent >= 10).await;
    assert!(ok, "the second call carries audio: {audio:?}");

    // Killed in the middle of a call: our BYE finds no one, the call still ends, and the
    // restarted far end takes the next call.
    far.kill();
    gw.hangup(second).await.expect("hangup");
    assert_eq!(ended(&mut events, second).await.outcome, CallOutcome::Answered);
    far.restart().await;
    let third = answered_call(&gw, &mut events, &mut far).await;
    gw.hangup(third).await.expect("hangup");
    let end = ended(&mut events, third).await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::System));
    far.wait_event("CALL_CLOSED", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_far_end_was_killed_ends_by_the_media_timeout() {
    let mut far = Baresip::start().await;
    let config = gateway::runtime::Config {
        media_timeout: Some(Duration::from_secs(2)),
        ..gateway::runtime::Config::loopback()
    };
    let (gw, _running) = gateway_with(&far, Transport::Udp, config).await;
    let mut events = gw.events();
    let call = answered_call(&gw, &mut events, &mut far).await;
    // Longer than the timeout with both sides sending: still up (the gateway's stream
    // reaching baresip all along says so).
    let (audio, ok) = far.audio_until(WAIT, |a| a.received >= 150).await;
    assert!(ok, "the call stays up while baresip sends: {audio:?}");

    // Killed: no BYE, no more RTP. The gateway ends the call itself.
    far.kill();
    let end = ended(&mut events, call).await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::System));
    assert_eq!(end.reason, "media timeout: no RTP or RTCP from the carrier for 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_ends_rtcp_reports_reach_the_figures_of_the_call() {
    let mut far = Baresip::start().await;
    let (gw, running) = gateway_to(&far, Transport::Udp).await;
    let mut events = gw.events();
    let call = answered_call(&gw, &mut events, &mut far).await;
    // baresip reports about every 5 s (and so do we): let two intervals pass with audio
    // flowing both ways (the gateway sends silence to an unbridged customer).
    let (audio, ok) = far.audio_until(WAIT, |a| a.received >= 50 && a.sent >= 50).await;
    assert!(ok, "audio flows both ways: {audio:?}");
    let reported = support::eventually(Duration::from_secs(20), || {
        running.metrics.snapshot().rtcp_received >= 2
    })
    .await;
    assert!(reported, "baresip's RTCP reached the gateway: {:?}", running.metrics.snapshot());
    gw.hangup(call).await.expect("hangup");
    let quality = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, quality, .. } if *c == call => Some(*quality),
        _ => None,
    })
    .await
    .expect("figures with the end");
    far.wait_event("CALL_CLOSED", WAIT).await;
    assert!(quality.packets_received >= 250, "baresip's audio was counted: {quality:?}");
    assert!(quality.octets_received >= 250 * 160, "{quality:?}");
    assert!(quality.packets_sent >= 250, "ours was counted: {quality:?}");
    assert!(quality.rtcp_received >= 2, "{quality:?}");
    assert_eq!(quality.rtcp_dropped, 0, "baresip's compounds all parse: {quality:?}");
    assert!(quality.rtcp_sent >= 1, "{quality:?}");
    // Loopback: nothing lost, little jitter, a round trip of well under a second.
    assert_eq!(quality.packets_lost, 0, "{quality:?}");
    assert!(quality.jitter_us < 20_000, "{quality:?}");
    let remote = quality.remote.expect("baresip reported on the gateway's stream");
    assert!(remote.packets_lost <= 1, "{remote:?}");
    // The metrics snapshot is refreshed once a second.
    let counted = support::eventually(WAIT, || {
        running.metrics.render().contains("gateway_call_jitter_seconds_count 1")
    })
    .await;
    let metrics = running.metrics.render();
    assert!(counted, "{metrics}");
    assert!(!metrics.contains("gateway_rtcp_received_total 0\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_far_end_that_is_down_fails_as_congestion_until_it_is_back() {
    let mut far = Baresip::start().await;
    let (gw, _running) = gateway_to(&far, Transport::Tcp).await;
    let mut events = gw.events();
    let first = answered_call(&gw, &mut events, &mut far).await;
    gw.hangup(first).await.expect("hangup");
    ended(&mut events, first).await;
    far.wait_event("CALL_CLOSED", WAIT).await;

    // Down: the connection is refused, so the INVITE fails as 503 (a transport error), not
    // as a 408 no-answer once timer B runs out 32 s later.
    far.kill();
    let down = support::place(&gw, originate()).await;
    let end = ended(&mut events, down).await;
    assert_eq!((end.outcome, end.code), (CallOutcome::Congestion, Some(503)), "{end:?}");

    far.restart().await;
    let back = answered_call(&gw, &mut events, &mut far).await;
    gw.hangup(back).await.expect("hangup");
    assert_eq!(ended(&mut events, back).await.outcome, CallOutcome::Answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_call_over_tcp_is_answered_on_the_carriers_connection() {
    let mut far = Baresip::start().await;
    let (gw, running) = gateway_to(&far, Transport::Tcp).await;
    let mut events = gw.events();
    let target = format!("sip:2000@{};transport=tcp", running.sip_tcp);
    far.command("dial", &target).await;
    let (call, to) = wait_for(&mut events, WAIT, |e| match e {
        Event::InboundCall { call, trunk, to, .. } if *trunk == gateway::control::TrunkId(1) => {
            Some((*call, to.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(to, "2000");
    gw.accept(call).await.expect("accept");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    far.wait_event("CALL_ESTABLISHED", WAIT).await;
    let invite = traced(&far, "INVITE sent", |m| m.sent && m.is_request("INVITE")).await;
    let ok =
        traced(&far, "200 OK to its INVITE", |m| !m.sent && m.is_response(200, "INVITE")).await;
    assert_eq!((invite.transport.as_str(), ok.transport.as_str()), ("TCP", "TCP"));
    assert_eq!(
        (ok.from.as_str(), ok.to.as_str()),
        (invite.to.as_str(), invite.from.as_str()),
        "the 200 OK came back over the INVITE's connection"
    );
    let (audio, ok) = far.audio_until(WAIT, |a| a.received >= 10 && a.sent >= 10).await;
    assert!(ok, "audio flows both ways: {audio:?}");

    far.command("hangup", "").await;
    let end = ended(&mut events, call).await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::Customer));
    traced(&far, "200 OK to its BYE", |m| !m.sent && m.is_response(200, "BYE")).await;
}
