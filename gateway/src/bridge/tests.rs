//! The bridge in virtual time.

use std::time::{Duration, Instant};

use super::*;

const CALL: CallId = CallId(1);
const CALL2: CallId = CallId(2);
const LEG: AgentLegId = AgentLegId(9);

fn trunk(codec: Codec) -> TrunkMedia {
    TrunkMedia {
        codec,
        payload_type: codec.payload_type(),
        telephone_event: Some(101),
        remote: "127.0.0.1:6000".parse().unwrap(),
    }
}

fn agent(codec: Codec) -> AgentMedia {
    AgentMedia { codec, payload_type: codec.payload_type(), telephone_event: Some(126) }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header { marker: false, payload_type: pt, sequence: seq, timestamp: ts, ssrc }
        .write(payload, &mut out);
    out
}

struct Rig {
    bridge: Bridge,
    t0: Instant,
    now: Instant,
    out: Vec<Output>,
}

impl Rig {
    fn new() -> Self {
        let t0 = Instant::now();
        let mut bridge = Bridge::default();
        bridge.add_leg(t0, LEG, agent(Codec::Pcmu), 0xa6e7, 100, 1000);
        bridge.add_call(t0, CALL, trunk(Codec::Pcmu), 0xc0de, 500, 9000);
        Self { bridge, t0, now: t0, out: Vec::new() }
    }

    fn drain(&mut self) {
        while let Some(o) = self.bridge.poll_output() {
            self.out.push(o);
        }
    }

    fn run(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        while let Some(t) = self.bridge.poll_timeout().filter(|t| *t <= until) {
            self.now = t;
            self.bridge.handle(t, Input::Tick);
            self.drain();
        }
        self.now = until;
    }

    fn trunk_sends(&mut self, call: CallId, data: &[u8]) {
        self.bridge.handle(self.now, Input::TrunkRtp { call, data });
        self.drain();
    }

    fn agent_sends(&mut self, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        let header =
            Header { marker: false, payload_type: pt, sequence: seq, timestamp: ts, ssrc: 0xb0b };
        self.bridge.handle(self.now, Input::AgentRtp { leg: LEG, header, payload });
        self.drain();
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn agent_heard(&mut self) -> Vec<(Header, Vec<u8>)> {
        self.take()
            .into_iter()
            .filter_map(|o| match o {
                Output::ToAgent { header, payload, .. } => Some((header, payload)),
                _ => None,
            })
            .collect()
    }
}

fn to_trunk(out: &[Output]) -> Vec<Packet<'_>> {
    out.iter()
        .filter_map(|o| match o {
            Output::ToTrunk { packet, .. } => Some(Packet::parse(packet).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn unbridged_agent_hears_continuous_silence() {
    let mut rig = Rig::new();
    rig.run(100);
    let frames = rig.agent_heard();
    assert_eq!(frames.len(), 5, "one frame per 20 ms");
    for (i, (h, p)) in frames.iter().enumerate() {
        assert_eq!(
            (h.ssrc, h.sequence, h.timestamp),
            (0xa6e7, 100 + i as u16, 1000 + 160 * i as u32)
        );
        assert_eq!(p, &vec![0xff; 160]);
    }
}

#[test]
fn bridged_audio_flows_both_ways_and_a_second_call_continues_the_stream() {
    let mut rig = Rig::new();
    rig.run(40);
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.run(20);
    let silence = rig.agent_heard();
    assert_eq!(silence.len(), 3, "silence goes on until the customer speaks");
    let (last_seq, last_ts) = (silence[2].0.sequence, silence[2].0.timestamp);
    rig.trunk_sends(CALL, &rtp(0, 7, 77_000, 0x5555, &[0x11; 160]));
    let relayed = rig.agent_heard();
    assert_eq!(relayed.len(), 1);
    let (h, p) = &relayed[0];
    assert_eq!(h.ssrc, 0xa6e7, "the agent always sees the leg's SSRC");
    assert_eq!(h.sequence, last_seq + 1);
    assert_eq!(h.timestamp, last_ts + 160, "timestamps follow the clock across sources");
    assert_eq!(p, &vec![0x11; 160], "G.711 passes through untouched");
    // Agent → customer, with the call's own SSRC.
    rig.agent_sends(0, 3, 3_000, &[0x22; 160]);
    let out = rig.take();
    let sent = to_trunk(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].header.ssrc, sent[0].header.payload_type), (0xc0de, 0));
    assert_eq!(sent[0].payload, [0x22; 160]);

    // The customer hangs up; the agent hears silence, then a second call is bridged.
    rig.bridge.remove_call(CALL);
    rig.run(60);
    let gap = rig.agent_heard();
    assert_eq!(gap.len(), 3);
    assert_eq!(gap[0].0.sequence, h.sequence + 1);
    rig.bridge.add_call(rig.now, CALL2, trunk(Codec::Pcmu), 0xc0df, 1, 1);
    rig.bridge.bridge(CALL2, LEG).unwrap();
    rig.run(20);
    let waiting = rig.agent_heard();
    assert_eq!(waiting[0].0.sequence, gap[2].0.sequence + 1);
    rig.trunk_sends(CALL2, &rtp(0, 60_000, 5, 0x7777, &[0x33; 160]));
    let second = rig.agent_heard();
    assert_eq!(second[0].0.ssrc, 0xa6e7);
    assert_eq!(second[0].0.sequence, waiting[0].0.sequence + 1, "one continuous stream");
    assert!(second[0].0.timestamp > waiting[0].0.timestamp);
    assert_eq!(rig.bridge.stats().relayed, 3);
}

#[test]
fn a_busy_leg_is_refused_and_a_call_can_move() {
    let mut rig = Rig::new();
    rig.bridge.add_call(rig.now, CALL2, trunk(Codec::Pcmu), 1, 1, 1);
    rig.bridge.bridge(CALL, LEG).unwrap();
    assert_eq!(rig.bridge.bridge(CALL2, LEG), Err(BridgeError::LegBusy { leg: LEG, call: CALL }));
    let leg2 = AgentLegId(10);
    rig.bridge.add_leg(rig.now, leg2, agent(Codec::Pcmu), 2, 2, 2);
    rig.bridge.bridge(CALL, leg2).unwrap();
    assert_eq!(rig.bridge.bridged_leg(CALL), Some(leg2));
    rig.bridge.bridge(CALL2, LEG).unwrap();
    assert_eq!(rig.bridge.bridge(CallId(99), LEG), Err(BridgeError::UnknownCall(CallId(99))));
    assert_eq!(
        rig.bridge.bridge(CALL, AgentLegId(99)),
        Err(BridgeError::UnknownLeg(AgentLegId(99)))
    );
}

#[test]
fn hold_plays_the_tone_to_the_customer_and_silence_to_the_agent() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.bridge.set_held(CALL, true).unwrap();
    rig.agent_sends(0, 1, 160, &[0x22; 160]);
    rig.trunk_sends(CALL, &rtp(0, 1, 160, 5, &[0x11; 160]));
    assert!(rig.take().is_empty(), "neither side's audio passes while held");
    rig.run(100);
    let out = rig.take();
    let tone = to_trunk(&out);
    assert_eq!(tone.len(), 5);
    assert!(tone.iter().any(|p| p.payload.iter().any(|&b| b != 0xff)), "a tone, not silence");
    let agent: Vec<_> = out.iter().filter(|o| matches!(o, Output::ToAgent { .. })).collect();
    assert_eq!(agent.len(), 5);
    assert!(
        agent
            .iter()
            .all(|o| matches!(o, Output::ToAgent { payload, .. } if payload == &vec![0xff; 160]))
    );
    rig.bridge.set_held(CALL, false).unwrap();
    rig.run(40);
    let out = rig.take();
    assert_eq!(out.len(), 4, "bridged again, nobody speaking yet: a frame each way per tick");
    assert!(
        out.iter().all(|o| match o {
            Output::ToAgent { payload, .. } => payload == &vec![0xff; 160],
            Output::ToTrunk { packet, .. } => Packet::parse(packet).unwrap().payload == [0xff; 160],
            _ => false,
        }),
        "silence, the tone gone: {out:?}"
    );
}

#[test]
fn a_side_that_falls_silent_is_filled_with_silence_until_it_speaks_again() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    // Both talk every 20 ms: everything heard is relayed, nothing generated in between.
    for i in 0..10u16 {
        rig.trunk_sends(CALL, &rtp(0, i, u32::from(i) * 160, 5, &[0x11; 160]));
        rig.agent_sends(0, 100 + i, u32::from(i) * 160, &[0x22; 160]);
        rig.run(20);
    }
    let out = rig.take();
    let silence = |o: &&Output| match o {
        Output::ToAgent { payload, .. } => payload[0] == 0xff,
        Output::ToTrunk { packet, .. } => Packet::parse(packet).unwrap().payload[0] == 0xff,
        _ => false,
    };
    let generated: Vec<_> = out.iter().filter(silence).collect();
    assert!(generated.is_empty(), "{generated:?}");
    assert_eq!(rig.bridge.stats().relayed, 20);

    // The customer stops (silence suppression, a stalled carrier): the agent hears nothing
    // for a while, then silence every tick, in one continuous stream.
    for i in 10..30u16 {
        rig.agent_sends(0, 100 + i, u32::from(i) * 160, &[0x22; 160]);
        rig.run(20);
    }
    let heard = rig.agent_heard();
    // The customer's last packet came at 180 ms; the ticks from 180 ms + QUIET_FILL to the
    // loop's end at 600 ms are filled.
    let first_filled = 180 + QUIET_FILL.as_millis() as u64;
    let expected = ((600 - first_filled) / 20 + 1) as usize;
    assert_eq!(heard.len(), expected, "filled from the first tick past the gap");
    assert!(heard.iter().all(|(_, p)| p == &vec![0xff; 160]));
    for pair in heard.windows(2) {
        assert_eq!(pair[1].0.sequence, pair[0].0.sequence.wrapping_add(1));
        assert_eq!(pair[1].0.timestamp, pair[0].0.timestamp.wrapping_add(160));
    }
    // The customer speaks again: relayed, right after the silence.
    rig.trunk_sends(CALL, &rtp(0, 30, 30 * 160, 5, &[0x11; 160]));
    let back = rig.agent_heard();
    assert_eq!(back[0].1, vec![0x11; 160]);
    assert_eq!(back[0].0.sequence, heard.last().unwrap().0.sequence.wrapping_add(1));
    rig.run(20);
    assert!(rig.agent_heard().is_empty(), "relaying again: no silence in between");

    // The same towards the customer when the agent's leg falls silent.
    rig.run(QUIET_FILL.as_millis() as u64 + 40);
    let out = rig.take();
    let to_customer = to_trunk(&out);
    assert!(to_customer.len() >= 2, "the customer is sent silence: {out:?}");
    assert!(to_customer.iter().all(|p| p.payload == [0xff; 160] && p.header.ssrc == 0xc0de));
}

#[test]
fn mute_drops_the_agent_and_keeps_rtp_flowing_to_the_customer() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.bridge.set_muted(CALL, true).unwrap();
    rig.agent_sends(0, 1, 160, &[0x22; 160]);
    assert!(rig.take().is_empty());
    rig.run(20);
    let out = rig.take();
    let sent = to_trunk(&out);
    assert_eq!(sent[0].payload, [0xff; 160]);
    rig.trunk_sends(CALL, &rtp(0, 1, 160, 5, &[0x11; 160]));
    assert_eq!(rig.agent_heard().len(), 1, "the agent still hears the customer");
}

#[test]
fn dtmf_both_ways_is_relayed_and_reported_once() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    let end = dtmf::Event { event: 5, end: true, volume: 10, duration: 800 }.to_bytes();
    for seq in 0..3 {
        rig.trunk_sends(CALL, &rtp(101, seq, 4000, 5, &end));
    }
    let out = rig.take();
    let digits: Vec<_> = out.iter().filter(|o| matches!(o, Output::Dtmf { .. })).collect();
    assert_eq!(digits, [&Output::Dtmf { source: DtmfSource::Call(CALL), digit: '5' }]);
    let forwarded: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::ToAgent { header, .. } => Some(header.payload_type),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded, [126, 126, 126], "mapped to the agent's telephone-event type");
    let hash = dtmf::Event { event: 11, end: true, volume: 10, duration: 800 }.to_bytes();
    rig.agent_sends(126, 9, 7000, &hash);
    let out = rig.take();
    assert!(out.contains(&Output::Dtmf { source: DtmfSource::Leg(LEG), digit: '#' }));
    assert_eq!(to_trunk(&out)[0].header.payload_type, 101);
}

#[test]
fn dtmf_command_sends_rfc4733_events() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.bridge.send_dtmf(CALL, "1#").unwrap();
    assert!(matches!(rig.bridge.send_dtmf(CALL, "1x"), Err(BridgeError::Digit(_))));
    rig.run(400);
    let out = rig.take();
    let events: Vec<_> =
        to_trunk(&out).into_iter().filter(|p| p.header.payload_type == 101).collect();
    assert_eq!(events.len(), 14, "two digits of 4 updates and 3 ends");
    assert!(events[0].header.marker && !events[1].header.marker);
    assert!(events[..7].iter().all(|p| p.header.timestamp == events[0].header.timestamp));
    assert_ne!(events[7].header.timestamp, events[0].header.timestamp);
    let seqs: Vec<u16> = to_trunk(&out).iter().map(|p| p.header.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "no sequence gaps");
    assert_eq!(dtmf::Event::parse(events[13].payload).unwrap().event, 11);
}

#[test]
fn playback_runs_to_the_end_and_is_reported() {
    let mut rig = Rig::new();
    rig.bridge.play(CALL, Sound::new(vec![4000; 400])).unwrap();
    rig.run(100);
    let out = rig.take();
    let frames = to_trunk(&out);
    assert!(frames[0].payload.iter().all(|&b| b == Codec::Pcmu.encode(4000)));
    assert!(out.contains(&Output::PlayDone { call: CALL }));
    let done_at = out.iter().position(|o| o == &Output::PlayDone { call: CALL }).unwrap();
    assert_eq!(to_trunk(&out[..done_at]).len(), 3, "400 samples: three frames");
}

#[test]
fn a_waiting_caller_hears_the_music_looped_between_messages_until_an_agent_takes_the_call() {
    let mut rig = Rig::new();
    let music = Codec::Pcmu.encode(2000);
    rig.bridge.set_music(CALL, Some(Sound::new(vec![2000; 240]))).unwrap();
    rig.run(100);
    let out = rig.take();
    let frames = to_trunk(&out);
    assert_eq!(frames.len(), 5, "one frame per 20 ms, the 30 ms sound looped");
    assert!(frames.iter().all(|p| p.payload.iter().all(|&b| b == music)), "music, never silence");
    assert!(!out.contains(&Output::PlayDone { call: CALL }), "music never ends by itself");

    // A message (the caller's position, say) has the line; the music comes back after it.
    rig.bridge.play(CALL, Sound::new(vec![4000; 320])).unwrap();
    rig.run(80);
    let out = rig.take();
    let frames = to_trunk(&out);
    assert!(frames[..2].iter().all(|p| p.payload.iter().all(|&b| b == Codec::Pcmu.encode(4000))));
    assert!(out.contains(&Output::PlayDone { call: CALL }));
    assert!(frames[2..].iter().all(|p| p.payload.iter().all(|&b| b == music)), "music again");

    // Bridged: the agent and the caller talk, no music.
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.take();
    rig.agent_sends(0, 1, 160, &[0x22; 160]);
    let heard = to_trunk(&rig.take()).iter().map(|p| p.payload.to_vec()).collect::<Vec<_>>();
    assert_eq!(heard, [vec![0x22; 160]], "the agent's voice relayed");
    rig.run(100);
    assert!(to_trunk(&rig.take()).iter().all(|p| p.payload.iter().all(|&b| b != music)));
    // Music asked for after the agent came (the two crossed): nothing changes.
    rig.bridge.set_music(CALL, Some(Sound::new(vec![2000; 240]))).unwrap();
    rig.run(100);
    assert!(to_trunk(&rig.take()).iter().all(|p| p.payload.iter().all(|&b| b != music)));
}

#[test]
fn the_hold_tone_is_the_music_without_a_file() {
    let mut rig = Rig::new();
    rig.bridge.set_music(CALL, None).unwrap();
    rig.run(100);
    let tone = to_trunk(&rig.take()).into_iter().map(|p| p.payload.to_vec()).collect::<Vec<_>>();
    assert_eq!(tone.len(), 5);
    assert!(tone.iter().any(|p| p.iter().any(|&b| b != 0xff)), "a tone, not silence");
    assert!(rig.bridge.set_music(CallId(999), None).is_err(), "an unknown call is refused");
}

#[test]
fn music_stopped_leaves_a_greeting_alone_and_then_silence() {
    let mut rig = Rig::new();
    let music = Codec::Pcmu.encode(2000);
    rig.bridge.set_music(CALL, Some(Sound::new(vec![2000; 240]))).unwrap();
    rig.run(40);
    rig.take();
    // A voicemail greeting: the music stops, the greeting plays, then nothing comes back.
    rig.bridge.stop_music(CALL).unwrap();
    rig.bridge.play(CALL, Sound::new(vec![4000; 320])).unwrap();
    rig.run(100);
    let out = rig.take();
    assert!(out.contains(&Output::PlayDone { call: CALL }));
    let frames = to_trunk(&out);
    assert!(frames[..2].iter().all(|p| p.payload.iter().all(|&b| b == Codec::Pcmu.encode(4000))));
    assert!(frames.iter().all(|p| p.payload.iter().all(|&b| b != music)), "no music after it");
    assert!(rig.bridge.stop_music(CallId(999)).is_err(), "an unknown call is refused");
}

#[test]
fn a_stopped_message_gives_the_line_to_the_music_or_the_agent_and_reports_nothing() {
    let mut rig = Rig::new();
    let message = Codec::Pcmu.encode(4000);
    let music = Codec::Pcmu.encode(2000);
    // A broadcast's message; the customer presses a key: the message stops, the hold music
    // plays while an agent frees up.
    rig.bridge.play(CALL, Sound::new(vec![4000; 8000])).unwrap();
    rig.run(40);
    rig.take();
    rig.bridge.stop_playback(CALL).unwrap();
    rig.bridge.set_music(CALL, Some(Sound::new(vec![2000; 240]))).unwrap();
    rig.run(100);
    let out = rig.take();
    assert!(!out.contains(&Output::PlayDone { call: CALL }), "stopped, not finished");
    let frames = to_trunk(&out);
    assert!(!frames.is_empty());
    assert!(frames.iter().all(|p| p.payload.iter().all(|&b| b == music)), "music, no message");
    // The agent takes the call: their voice, nothing else.
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.take();
    rig.agent_sends(0, 1, 160, &[0x22; 160]);
    let heard = to_trunk(&rig.take()).iter().map(|p| p.payload.to_vec()).collect::<Vec<_>>();
    assert_eq!(heard, [vec![0x22; 160]], "the agent's voice relayed");
    // A message still playing when the agent comes would have the line: stopped, it does not.
    rig.bridge.play(CALL, Sound::new(vec![4000; 8000])).unwrap();
    rig.bridge.stop_playback(CALL).unwrap();
    rig.agent_sends(0, 2, 320, &[0x23; 160]);
    rig.run(60);
    let out = rig.take();
    assert!(to_trunk(&out).iter().all(|p| p.payload.iter().all(|&b| b != message)));
    assert!(rig.bridge.stop_playback(CallId(999)).is_err(), "an unknown call is refused");
}

#[test]
fn recording_captures_both_directions() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.bridge.set_recording(CALL, true).unwrap();
    let loud = Codec::Pcmu.encode(10_000);
    rig.trunk_sends(CALL, &rtp(0, 1, 160, 5, &[loud; 160]));
    rig.agent_sends(0, 1, 160, &[Codec::Pcmu.encode(-5000); 160]);
    rig.run(20);
    let chunks: Vec<Vec<i16>> = rig
        .take()
        .into_iter()
        .filter_map(|o| match o {
            Output::Record { samples, .. } => Some(samples),
            _ => None,
        })
        .collect();
    assert_eq!(chunks.len(), 1);
    let s = &chunks[0];
    assert_eq!(s.len(), 320);
    assert!((s[0] - 10_000).abs() < 400, "left: customer");
    assert!((s[1] + 5_000).abs() < 200, "right: agent");
    rig.bridge.set_recording(CALL, false).unwrap();
    rig.run(40);
    assert!(!rig.take().iter().any(|o| matches!(o, Output::Record { .. })));
}

#[test]
fn mismatched_codecs_are_converted() {
    let mut rig = Rig::new();
    rig.bridge.remove_leg(LEG);
    rig.bridge.add_leg(rig.now, LEG, agent(Codec::Pcma), 1, 1, 1);
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.trunk_sends(CALL, &rtp(0, 1, 160, 5, &[Codec::Pcmu.encode(8000); 160]));
    let (h, p) = rig.agent_heard().remove(0);
    assert_eq!(h.payload_type, 8);
    assert!((Codec::Pcma.decode(p[0]) - 8000).abs() < 300);
}

#[test]
fn garbage_and_strangers_are_dropped() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.trunk_sends(CALL, b"not rtp at all");
    rig.trunk_sends(CALL, &[0u8; 3]);
    rig.trunk_sends(CallId(42), &rtp(0, 1, 1, 1, &[0; 160]));
    rig.trunk_sends(CALL, &rtp(96, 1, 1, 1, &[0; 160]));
    rig.bridge.handle(
        rig.now,
        Input::AgentRtp {
            leg: AgentLegId(77),
            header: Header { marker: false, payload_type: 0, sequence: 0, timestamp: 0, ssrc: 0 },
            payload: &[],
        },
    );
    assert!(rig.take().is_empty());
    assert_eq!(rig.bridge.stats().dropped, 5);
}

#[test]
fn an_agent_leg_that_goes_away_leaves_the_call_up_and_unbridged() {
    let mut rig = Rig::new();
    rig.bridge.bridge(CALL, LEG).unwrap();
    rig.bridge.remove_leg(LEG);
    assert_eq!(rig.bridge.bridged_leg(CALL), None);
    rig.run(20);
    let out = rig.take();
    assert_eq!(to_trunk(&out)[0].payload, [0xff; 160], "the customer hears silence");
    rig.bridge.remove_call(CALL);
    rig.run(20);
    assert_eq!(rig.bridge.poll_timeout(), None, "nothing left to tick");
    let _ = rig.t0;
}

// ----- supervisors on a call: listen, whisper, barge -----

const SUP: AgentLegId = AgentLegId(20);
const SUP2: AgentLegId = AgentLegId(21);

/// 20 ms of μ-law at a constant level.
fn level_frame(level: i16) -> Vec<u8> {
    vec![Codec::Pcmu.encode(level); FRAME as usize]
}

/// The level of a μ-law frame (its first sample, decoded).
fn level_of(payload: &[u8]) -> i16 {
    Codec::Pcmu.decode(payload[0])
}

/// Within μ-law's quantisation of `want` (its steps are under 1/16 of the level).
fn near(got: i16, want: i16) -> bool {
    (i32::from(got) - i32::from(want)).abs() <= i32::from(want.unsigned_abs()) / 16 + 8
}

impl Rig {
    fn with_supervisor(mode: MonitorMode) -> Rig {
        let mut rig = Rig::new();
        rig.bridge.add_leg(rig.now, SUP, agent(Codec::Pcmu), 0x5e, 1, 1);
        rig.bridge.bridge(CALL, LEG).unwrap();
        rig.bridge.monitor(CALL, SUP, mode).unwrap();
        rig
    }

    fn leg_sends(&mut self, leg: AgentLegId, payload: &[u8]) {
        let header =
            Header { marker: false, payload_type: 0, sequence: 7, timestamp: 160, ssrc: 0x51 };
        self.bridge.handle(self.now, Input::AgentRtp { leg, header, payload });
        self.drain();
    }

    /// One 20 ms round: the customer speaks at 1000, the agent at 2000, each supervisor at
    /// 4000; then a tick. Returns the levels heard by the agent, each supervisor and the
    /// customer.
    fn round(
        &mut self,
        supervisors: &[AgentLegId],
    ) -> (Vec<i16>, Vec<(AgentLegId, i16)>, Vec<i16>) {
        self.take();
        self.trunk_sends(CALL, &rtp(0, 1, 0, 0x77, &level_frame(1000)));
        self.agent_sends(0, 1, 0, &level_frame(2000));
        for s in supervisors {
            self.leg_sends(*s, &level_frame(4000));
        }
        self.run(20);
        let out = self.take();
        let agent = out
            .iter()
            .filter_map(|o| match o {
                Output::ToAgent { leg, payload, .. } if *leg == LEG => Some(level_of(payload)),
                _ => None,
            })
            .collect();
        let sups = out
            .iter()
            .filter_map(|o| match o {
                Output::ToAgent { leg, payload, .. } if *leg != LEG => {
                    Some((*leg, level_of(payload)))
                }
                _ => None,
            })
            .collect();
        let customer = to_trunk(&out).iter().map(|p| level_of(p.payload)).collect();
        (agent, sups, customer)
    }
}

#[test]
fn a_listening_supervisor_hears_both_sides_and_nobody_hears_them() {
    let mut rig = Rig::with_supervisor(MonitorMode::Listen);
    let (agent, sups, customer) = rig.round(&[SUP]);
    assert!(matches!(agent[..], [l] if near(l, 1000)), "the agent hears the customer: {agent:?}");
    assert!(matches!(sups[..], [(SUP, l)] if near(l, 3000)), "both: {sups:?}");
    assert!(matches!(customer[..], [l] if near(l, 2000)), "the agent only: {customer:?}");
    assert_eq!(rig.bridge.monitors(CALL), [(SUP, MonitorMode::Listen)]);
}

#[test]
fn a_whisper_reaches_the_agent_only_and_a_barge_reaches_both() {
    let mut rig = Rig::with_supervisor(MonitorMode::Whisper);
    let (agent, sups, customer) = rig.round(&[SUP]);
    assert!(matches!(agent[..], [l] if near(l, 5000)), "customer + supervisor: {agent:?}");
    assert!(matches!(sups[..], [(SUP, l)] if near(l, 3000)), "{sups:?}");
    assert!(matches!(customer[..], [l] if near(l, 2000)), "not the whisper: {customer:?}");
    // The same leg asked again: the mode changes, nothing else.
    rig.bridge.monitor(CALL, SUP, MonitorMode::Barge).unwrap();
    let (agent, sups, customer) = rig.round(&[SUP]);
    assert!(matches!(agent[..], [l] if near(l, 5000)), "{agent:?}");
    assert!(matches!(sups[..], [(SUP, l)] if near(l, 3000)), "{sups:?}");
    assert!(matches!(customer[..], [l] if near(l, 6000)), "agent + supervisor: {customer:?}");
    assert_eq!(rig.bridge.monitors(CALL), [(SUP, MonitorMode::Barge)]);
}

#[test]
fn a_colleague_consulted_on_a_held_call_talks_with_the_agent_while_the_customer_hears_hold() {
    let mut rig = Rig::with_supervisor(MonitorMode::Whisper);
    rig.bridge.set_held(CALL, true).unwrap();
    let (agent, sups, customer) = rig.round(&[SUP]);
    assert!(matches!(agent[..], [l] if near(l, 4000)), "the colleague only: {agent:?}");
    assert!(matches!(sups[..], [(SUP, l)] if near(l, 2000)), "the agent only: {sups:?}");
    assert!(
        customer.iter().all(|l| !near(*l, 2000) && !near(*l, 4000) && !near(*l, 6000)),
        "the customer hears neither of them: {customer:?}"
    );
    rig.bridge.set_held(CALL, false).unwrap();
    let (_, sups, _) = rig.round(&[SUP]);
    assert!(matches!(sups[..], [(SUP, l)] if near(l, 3000)), "both again: {sups:?}");
}

#[test]
fn two_supervisors_on_one_call_and_the_call_back_to_relaying_when_they_leave() {
    let mut rig = Rig::with_supervisor(MonitorMode::Listen);
    rig.bridge.add_leg(rig.now, SUP2, agent(Codec::Pcmu), 0x5f, 1, 1);
    rig.bridge.monitor(CALL, SUP2, MonitorMode::Barge).unwrap();
    let (agent, sups, customer) = rig.round(&[SUP, SUP2]);
    assert_eq!(sups.len(), 2, "each supervisor gets a frame: {sups:?}");
    assert!(sups.iter().all(|(_, l)| near(*l, 3000)), "{sups:?}");
    assert!(matches!(agent[..], [l] if near(l, 5000)), "the barging one only: {agent:?}");
    assert!(matches!(customer[..], [l] if near(l, 6000)), "{customer:?}");
    rig.bridge.stop_monitoring(SUP2);
    rig.bridge.stop_monitoring(SUP);
    rig.bridge.stop_monitoring(SUP);
    assert!(rig.bridge.monitors(CALL).is_empty());
    // Plain relaying again: the customer's packet reaches the agent at once, untouched.
    rig.take();
    rig.trunk_sends(CALL, &rtp(0, 2, 160, 0x77, &level_frame(1000)));
    let heard = rig.agent_heard();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].1, level_frame(1000));
    // A supervisor off every call hears silence on each tick.
    rig.run(20);
    let silence = rig
        .take()
        .into_iter()
        .filter(|o| matches!(o, Output::ToAgent { leg: SUP, payload, .. } if payload == &vec![0xff; 160]))
        .count();
    assert_eq!(silence, 1);
}

#[test]
fn a_monitored_call_that_ends_leaves_its_supervisor_in_silence() {
    let mut rig = Rig::with_supervisor(MonitorMode::Barge);
    rig.bridge.remove_call(CALL);
    assert!(rig.bridge.monitors(CALL).is_empty());
    rig.take();
    rig.leg_sends(SUP, &level_frame(4000));
    assert_eq!(rig.bridge.stats().dropped, 1, "a voice for no call is dropped");
    rig.run(20);
    let frames: Vec<Vec<u8>> = rig
        .take()
        .into_iter()
        .filter_map(|o| match o {
            Output::ToAgent { leg: SUP, payload, .. } => Some(payload),
            _ => None,
        })
        .collect();
    assert_eq!(frames, [vec![0xff; 160]]);
    // On to another call.
    rig.bridge.add_call(rig.now, CALL2, trunk(Codec::Pcmu), 1, 1, 1);
    rig.bridge.monitor(CALL2, SUP, MonitorMode::Listen).unwrap();
    assert_eq!(rig.bridge.monitors(CALL2), [(SUP, MonitorMode::Listen)]);
}

#[test]
fn monitoring_refuses_what_cannot_be() {
    let mut rig = Rig::with_supervisor(MonitorMode::Listen);
    assert_eq!(
        rig.bridge.monitor(CALL2, SUP, MonitorMode::Listen),
        Err(BridgeError::UnknownCall(CALL2))
    );
    assert_eq!(
        rig.bridge.monitor(CALL, AgentLegId(99), MonitorMode::Listen),
        Err(BridgeError::UnknownLeg(AgentLegId(99)))
    );
    assert_eq!(
        rig.bridge.monitor(CALL, LEG, MonitorMode::Barge),
        Err(BridgeError::LegBusy { leg: LEG, call: CALL }),
        "the call's own agent"
    );
    rig.bridge.add_call(rig.now, CALL2, trunk(Codec::Pcmu), 1, 1, 1);
    assert_eq!(
        rig.bridge.bridge(CALL2, SUP),
        Err(BridgeError::LegBusy { leg: SUP, call: CALL }),
        "a supervisor on a call takes no call of their own"
    );
    // A supervisor whose leg goes away leaves the call.
    rig.bridge.remove_leg(SUP);
    assert!(rig.bridge.monitors(CALL).is_empty());
}

const CALL3: CallId = CallId(3);

/// Levels heard in one round on joined calls.
#[derive(Debug)]
struct Heard {
    agent: Vec<i16>,
    /// By the customer of [`CALL`] (the call the agent talks on).
    host: Vec<i16>,
    /// By the customer of [`CALL2`] (joined to it).
    guest: Vec<i16>,
    supervisor: Vec<i16>,
}

impl Rig {
    /// The agent talks on `CALL`, and `CALL2` (on hold before, now back) is joined to it.
    fn joined() -> Rig {
        let mut rig = Rig::new();
        rig.bridge.add_call(rig.now, CALL2, trunk(Codec::Pcmu), 0x2222, 1, 1);
        rig.bridge.bridge(CALL, LEG).unwrap();
        rig.bridge.join(CALL2, CALL).unwrap();
        rig
    }

    /// One 20 ms round: `CALL`'s customer speaks at 1000, the agent at 2000, `CALL2`'s
    /// customer at 8000; then a tick.
    fn joined_round(&mut self) -> Heard {
        self.take();
        self.trunk_sends(CALL, &rtp(0, 1, 0, 0x77, &level_frame(1000)));
        self.agent_sends(0, 1, 0, &level_frame(2000));
        self.trunk_sends(CALL2, &rtp(0, 1, 0, 0x78, &level_frame(8000)));
        self.run(20);
        let out = self.take();
        let mut heard = Heard { agent: vec![], host: vec![], guest: vec![], supervisor: vec![] };
        for o in &out {
            match o {
                Output::ToAgent { leg: LEG, payload, .. } => heard.agent.push(level_of(payload)),
                Output::ToAgent { payload, .. } => heard.supervisor.push(level_of(payload)),
                Output::ToTrunk { call, packet, .. } => {
                    let level = level_of(Packet::parse(packet).unwrap().payload);
                    if *call == CALL { heard.host.push(level) } else { heard.guest.push(level) }
                }
                _ => {}
            }
        }
        heard
    }
}

#[test]
fn joined_customers_and_the_agent_hear_each_other() {
    let mut rig = Rig::joined();
    assert_eq!(rig.bridge.joined_to(CALL2), Some(CALL));
    let h = rig.joined_round();
    assert!(matches!(h.agent[..], [l] if near(l, 9000)), "both customers: {h:?}");
    assert!(matches!(h.host[..], [l] if near(l, 10000)), "the agent and the other: {h:?}");
    assert!(matches!(h.guest[..], [l] if near(l, 3000)), "the agent and the other: {h:?}");
    // Mute: neither customer hears the agent; the agent still hears both.
    rig.bridge.set_muted(CALL, true).unwrap();
    let h = rig.joined_round();
    assert!(matches!(h.agent[..], [l] if near(l, 9000)), "{h:?}");
    assert!(matches!(h.host[..], [l] if near(l, 8000)), "the other customer only: {h:?}");
    assert!(matches!(h.guest[..], [l] if near(l, 1000)), "the other customer only: {h:?}");
}

#[test]
fn a_held_joined_customer_hears_the_hold_sound_and_is_heard_by_nobody() {
    let mut rig = Rig::joined();
    rig.bridge.set_held(CALL2, true).unwrap();
    let h = rig.joined_round();
    assert!(matches!(h.agent[..], [l] if near(l, 1000)), "their own customer: {h:?}");
    assert!(matches!(h.host[..], [l] if near(l, 2000)), "the agent: {h:?}");
    assert!(
        matches!(h.guest[..], [l] if !near(l, 3000) && !near(l, 2000)),
        "the hold sound, not the conversation: {h:?}"
    );
    rig.bridge.set_held(CALL2, false).unwrap();
    let h = rig.joined_round();
    assert!(matches!(h.guest[..], [l] if near(l, 3000)), "back in it: {h:?}");
}

#[test]
fn a_supervisor_on_joined_calls_hears_everyone() {
    let mut rig = Rig::joined();
    rig.bridge.add_leg(rig.now, SUP, agent(Codec::Pcmu), 0x5e, 1, 1);
    rig.bridge.monitor(CALL, SUP, MonitorMode::Listen).unwrap();
    let h = rig.joined_round();
    assert!(matches!(h.supervisor[..], [l] if near(l, 11000)), "{h:?}");
    // The supervisor leaving keeps the calls joined.
    rig.bridge.stop_monitoring(SUP);
    let h = rig.joined_round();
    assert!(matches!(h.guest[..], [l] if near(l, 3000)), "{h:?}");
}

#[test]
fn when_the_call_talked_on_ends_the_joined_one_is_on_its_own_and_can_be_bridged() {
    let mut rig = Rig::joined();
    rig.bridge.remove_call(CALL);
    assert_eq!(rig.bridge.joined_to(CALL2), None);
    let h = rig.joined_round();
    assert!(matches!(h.guest[..], [0]), "silence, nobody is on it: {h:?}");
    rig.bridge.bridge(CALL2, LEG).unwrap();
    rig.take();
    rig.trunk_sends(CALL2, &rtp(0, 2, 160, 0x78, &level_frame(8000)));
    let heard = rig.agent_heard();
    assert_eq!(heard.len(), 1, "plain relaying: {heard:?}");
    assert_eq!(heard[0].1, level_frame(8000));
}

#[test]
fn a_joined_call_leaves_when_unbridged_and_the_other_goes_back_to_relaying() {
    let mut rig = Rig::joined();
    rig.bridge.unbridge(CALL2).unwrap();
    assert_eq!(rig.bridge.joined_to(CALL2), None);
    rig.take();
    rig.trunk_sends(CALL, &rtp(0, 2, 160, 0x77, &level_frame(1000)));
    let heard = rig.agent_heard();
    assert_eq!(heard.len(), 1, "relayed at once, not mixed: {heard:?}");
    assert_eq!(heard[0].1, level_frame(1000));
    // Joined again, and then it ends: the call talked on is back to relaying.
    rig.bridge.join(CALL2, CALL).unwrap();
    rig.bridge.remove_call(CALL2);
    rig.take();
    rig.trunk_sends(CALL, &rtp(0, 3, 320, 0x77, &level_frame(1000)));
    assert_eq!(rig.agent_heard().len(), 1);
}

#[test]
fn joining_refuses_what_cannot_be() {
    let mut rig = Rig::joined();
    let not_joinable =
        |r: Result<(), BridgeError>| matches!(r, Err(BridgeError::NotJoinable { .. }));
    assert_eq!(rig.bridge.join(CALL3, CALL), Err(BridgeError::UnknownCall(CALL3)));
    assert_eq!(rig.bridge.join(CALL2, CALL3), Err(BridgeError::UnknownCall(CALL3)));
    assert!(not_joinable(rig.bridge.join(CALL2, CALL2)), "itself");
    assert!(not_joinable(rig.bridge.join(CALL, CALL2)), "the call on the agent's audio");
    rig.bridge.add_call(rig.now, CALL3, trunk(Codec::Pcmu), 3, 1, 1);
    assert!(not_joinable(rig.bridge.join(CALL3, CALL2)), "into a call that is joined itself");
    // A third call may join the same conversation; nothing refused changed anything.
    rig.bridge.join(CALL3, CALL).unwrap();
    assert_eq!(rig.bridge.joined_to(CALL2), Some(CALL));
    assert_eq!(rig.bridge.joined_to(CALL3), Some(CALL));
    assert_eq!(rig.bridge.bridged_leg(CALL), Some(LEG));
}
