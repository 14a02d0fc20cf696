//! The RTCP parser against hand-built and hostile input, and the session's figures and
//! report schedule in virtual time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::session::{Config, NtpClock, REPORT_INTERVAL, Session};
use super::*;
use crate::rtp::Header;

const OURS: u32 = 0x1111_1111;
const THEIRS: u32 = 0x2222_2222;

fn session(now: Instant) -> Session {
    Session::new(
        now,
        Config {
            ssrc: OURS,
            cname: "gw@127.0.0.1".into(),
            clock: NtpClock::new(now, UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            audio_payload_type: 0,
            seed: 7,
        },
    )
}

fn rtp(seq: u16, ts: u32) -> Header {
    Header { marker: false, payload_type: 0, sequence: seq, timestamp: ts, ssrc: THEIRS }
}

/// Every report the session sends until `until`, with when it went out.
fn reports_until(s: &mut Session, mut now: Instant, until: Instant) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    while s.poll_timeout() <= until {
        now = now.max(s.poll_timeout());
        s.handle_timeout(now);
        while let Some(p) = s.poll_transmit() {
            out.push((now, p));
        }
    }
    out
}

fn first_block(packet: &[u8]) -> (bool, Option<ReportBlock>) {
    match &parse(packet).expect("our report parses")[0] {
        Packet::SenderReport { blocks, .. } => (true, blocks.first().copied()),
        Packet::ReceiverReport { blocks, .. } => (false, blocks.first().copied()),
        other => panic!("not a report: {other:?}"),
    }
}

#[test]
fn our_compound_round_trips() {
    let mut out = Vec::new();
    let info =
        SenderInfo { ntp: 0x0102_0304_0506_0708, rtp_timestamp: 9, packets: 10, octets: 1600 };
    let block = ReportBlock {
        ssrc: THEIRS,
        fraction_lost: 51,
        cumulative_lost: -3,
        highest_seq: 0x0001_0005,
        jitter: 40,
        lsr: 0xabcd_ef01,
        dlsr: 65_536,
    };
    write_report(&mut out, OURS, Some(info), &[block]);
    write_sdes(&mut out, OURS, "gateway-7@192.0.2.1");
    write_bye(&mut out, OURS);
    assert_eq!(out.len() % 4, 0);
    assert_eq!(
        parse(&out).unwrap(),
        [
            Packet::SenderReport { ssrc: OURS, info, blocks: vec![block] },
            Packet::SourceDescription(vec![(OURS, Some("gateway-7@192.0.2.1".into()))]),
            Packet::Goodbye(vec![OURS]),
        ]
    );
    assert!(is_rtcp(&out));
}

#[test]
fn a_hand_built_receiver_report_reads_as_the_rfc_says() {
    // RR, one block; cumulative lost 0xfffffe is -2 in 24-bit two's complement.
    let rr = [
        0x81, 201, 0, 7, // V=2, RC=1, RR, 7 words follow
        0x22, 0x22, 0x22, 0x22, // sender
        0x11, 0x11, 0x11, 0x11, // about our SSRC
        0x40, 0xff, 0xff, 0xfe, // fraction 64/256, lost -2
        0x00, 0x02, 0x00, 0x10, // two cycles, highest 16
        0x00, 0x00, 0x00, 0x50, // jitter 80
        0x12, 0x34, 0x56, 0x78, // LSR
        0x00, 0x00, 0x80, 0x00, // DLSR: half a second
    ];
    let [Packet::ReceiverReport { ssrc, blocks }] = &parse(&rr).unwrap()[..] else { panic!() };
    assert_eq!(*ssrc, THEIRS);
    assert_eq!(
        blocks[..],
        [ReportBlock {
            ssrc: OURS,
            fraction_lost: 64,
            cumulative_lost: -2,
            highest_seq: 0x0002_0010,
            jitter: 80,
            lsr: 0x1234_5678,
            dlsr: 0x8000,
        }]
    );
}

#[test]
fn bad_input_is_refused_whole_and_never_panics() {
    let mut good = Vec::new();
    write_report(&mut good, OURS, None, &[ReportBlock { ssrc: THEIRS, ..ReportBlock::default() }]);
    write_sdes(&mut good, OURS, "x");
    assert!(parse(&good).is_ok());

    assert_eq!(parse(&[]), Err(RtcpError::Truncated));
    assert_eq!(parse(&good[..3]), Err(RtcpError::Truncated));
    // Cut inside the SDES: its length says more than there is.
    assert_eq!(parse(&good[..good.len() - 4]), Err(RtcpError::Truncated));
    // Version 1.
    let mut v1 = good.clone();
    v1[0] = 0x41;
    assert_eq!(parse(&v1), Err(RtcpError::Version));
    // Trailing octets that are no packet.
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0x80, 0]);
    assert_eq!(parse(&trailing), Err(RtcpError::Truncated));
    // A report count claiming more blocks than the length holds.
    let mut count = good.clone();
    count[0] = 0x80 | 5;
    assert_eq!(parse(&count), Err(RtcpError::Truncated));
    // Padding on a packet that is not the last one.
    let mut padded = good.clone();
    padded[0] |= 0x20;
    assert_eq!(parse(&padded), Err(RtcpError::Length));
    // Padding larger than the packet; padding of zero.
    let mut sdes_pad = good.clone();
    let last = good.len() - 12;
    sdes_pad[last] |= 0x20;
    *sdes_pad.last_mut().unwrap() = 200;
    assert_eq!(parse(&sdes_pad), Err(RtcpError::Length));
    *sdes_pad.last_mut().unwrap() = 0;
    assert_eq!(parse(&sdes_pad), Err(RtcpError::Length));
    // A compound starting with SDES.
    let mut sdes_first = Vec::new();
    write_sdes(&mut sdes_first, OURS, "x");
    assert_eq!(parse(&sdes_first), Err(RtcpError::First));
    // An SDES item running past its packet.
    let mut item = Vec::new();
    write_report(&mut item, OURS, None, &[]);
    item.extend_from_slice(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 200, b'a', b'b']);
    assert_eq!(parse(&item), Err(RtcpError::Truncated));
    // Every truncation and every single-octet corruption of a real compound, and noise.
    for cut in 0..good.len() {
        let _ = parse(&good[..cut]);
    }
    for i in 0..good.len() {
        for v in [0u8, 0x1f, 0x20, 0x7f, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] = v;
            let _ = parse(&bad);
        }
    }
    let mut x: u32 = 1;
    for len in 0..200 {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = parse(&noise);
        let mut framed = vec![0x80, 201, 0, (len / 4) as u8];
        framed.extend_from_slice(&noise);
        let _ = parse(&framed);
    }
}

#[test]
fn a_malformed_datagram_is_counted_and_changes_nothing() {
    let t0 = Instant::now();
    let mut s = session(t0);
    assert_eq!(s.rtcp_received(t0, &[0x80, 201, 0, 9, 1, 2]), Err(RtcpError::Truncated));
    assert_eq!(s.rtcp_received(t0, b"hello, world"), Err(RtcpError::Version));
    let q = s.quality();
    assert_eq!((q.rtcp_dropped, q.rtcp_received), (2, 0));
    assert_eq!(s.last_heard(), None, "garbage is no sign of life");
}

#[test]
fn losses_come_from_sequence_numbers_across_a_wrap() {
    let t0 = Instant::now();
    let mut s = session(t0);
    // 65530 … 5 is 12 packets; 65533 and 2 are lost, 65535 arrives twice, 0 late.
    let mut t = t0;
    for seq in [65530u16, 65531, 65532, 65534, 65535, 65535, 1, 0, 3, 4, 5] {
        t += Duration::from_millis(20);
        s.rtp_received(t, &rtp(seq, 0), 160);
    }
    let q = s.quality();
    assert_eq!(q.packets_received, 11);
    assert_eq!(q.octets_received, 11 * 160);
    // Expected 12, received 11 (one duplicate): 1 (A.3 counts duplicates against losses).
    assert_eq!(q.packets_lost, 1);
    // The report: extended highest is one cycle plus 5; fraction 1/12 of 256 = 21.
    let reports = reports_until(&mut s, t, t + REPORT_INTERVAL * 2);
    let (sr, block) = first_block(&reports[0].1);
    assert!(!sr, "nothing sent: a receiver report");
    let block = block.expect("a block about the far end");
    assert_eq!((block.ssrc, block.highest_seq, block.cumulative_lost), (THEIRS, 65_536 + 5, 1));
    assert_eq!(block.fraction_lost, 21);
    // The next interval lost nothing new.
    let (_, block) = first_block(&reports[1].1);
    assert_eq!(block.unwrap().fraction_lost, 0);
}

#[test]
fn fraction_lost_in_an_interval_is_hand_computed() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let mut t = t0;
    // 1..=10 with 3 and 7 missing: expected 10, received 8, 2 lost → 2·256/10 = 51.
    for seq in (1u16..=10).filter(|q| *q != 3 && *q != 7) {
        t += Duration::from_millis(20);
        s.rtp_received(t, &rtp(seq, u32::from(seq) * 160), 160);
    }
    let due = s.poll_timeout();
    let reports = reports_until(&mut s, t, due);
    assert_eq!(reports.len(), 1);
    let (_, block) = first_block(&reports[0].1);
    let block = block.unwrap();
    assert_eq!((block.fraction_lost, block.cumulative_lost), (51, 2));
    assert_eq!(s.quality().fraction_lost, 51);
    assert_eq!(s.quality().packets_lost, 2);
}

#[test]
fn jitter_follows_rfc_3550_a8() {
    let t0 = Instant::now();
    let mut s = session(t0);
    // 20 ms packets (160 ticks); the third arrives 5 ms late (40 ticks), the fourth on time.
    for (i, late_ms) in [(0u32, 0u64), (1, 0), (2, 5), (3, 0)] {
        let at = t0 + Duration::from_millis(u64::from(i) * 20 + late_ms);
        s.rtp_received(at, &rtp(i as u16 + 100, 1000 + i * 160), 160);
    }
    // J = 0 → 0 → 40/16 = 2.5 → 2.5 + (40 − 2.5)/16 = 4.84375 ticks = 605.47 µs.
    assert_eq!(s.quality().jitter_us, 605);
    // Telephone-event packets (one timestamp per event) are not audio: no jitter from them.
    let mut dtmf = rtp(104, 1000);
    dtmf.payload_type = 101;
    s.rtp_received(t0 + Duration::from_millis(200), &dtmf, 4);
    assert_eq!(s.quality().jitter_us, 605);
    assert_eq!(s.quality().packets_received, 5);
}

#[test]
fn round_trip_time_comes_from_lsr_and_dlsr() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let sent = Header { marker: false, payload_type: 0, sequence: 1, timestamp: 0, ssrc: OURS };
    s.rtp_sent(t0, &sent, 160);
    let reports = reports_until(&mut s, t0, t0 + REPORT_INTERVAL);
    let (at, ours) = &reports[0];
    let [Packet::SenderReport { info, .. }, ..] = &parse(ours).unwrap()[..] else {
        panic!("we sent RTP: an SR")
    };
    assert_eq!((info.packets, info.octets), (1, 160));
    // The far end held our SR for 100 ms and its report took 150 ms each way: RTT 300 ms.
    let lsr = (info.ntp >> 16) as u32;
    let mut rr = Vec::new();
    let block = ReportBlock {
        ssrc: OURS,
        fraction_lost: 3,
        cumulative_lost: 4,
        jitter: 16,
        lsr,
        dlsr: 6554, // 100 ms in 1/65536 s
        ..ReportBlock::default()
    };
    write_report(&mut rr, THEIRS, None, &[block]);
    write_sdes(&mut rr, THEIRS, "far@end");
    s.rtcp_received(*at + Duration::from_millis(400), &rr).unwrap();
    let q = s.quality();
    let rtt = q.rtt_us.expect("a round trip");
    assert!((299_000..=301_000).contains(&rtt), "{rtt} µs");
    let remote = q.remote.expect("the far end's view of us");
    assert_eq!((remote.packets_lost, remote.fraction_lost, remote.jitter_us), (4, 3, 2000));
    assert_eq!(s.remote_cname(), Some("far@end"));
    assert_eq!(q.rtcp_received, 1);
    // A block echoing no SR (LSR 0) gives no round trip; one about another SSRC is ignored.
    let mut s2 = session(t0);
    let mut rr = Vec::new();
    write_report(&mut rr, THEIRS, None, &[ReportBlock { ssrc: OURS, ..block }]);
    let mut zero = rr.clone();
    zero[24..28].copy_from_slice(&[0; 4]);
    s2.rtcp_received(t0, &zero).unwrap();
    assert_eq!(s2.quality().rtt_us, None);
    let mut other = Vec::new();
    write_report(&mut other, THEIRS, None, &[ReportBlock { ssrc: 99, ..block }]);
    let mut s3 = session(t0);
    s3.rtcp_received(t0, &other).unwrap();
    assert_eq!(s3.quality().remote, None);
}

#[test]
fn our_reports_echo_the_far_ends_sender_report() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.rtp_received(t0, &rtp(1, 0), 160);
    let mut sr = Vec::new();
    let ntp = 0x1234_5678_9abc_def0;
    write_report(&mut sr, THEIRS, Some(SenderInfo { ntp, ..SenderInfo::default() }), &[]);
    s.rtcp_received(t0, &sr).unwrap();
    let reports = reports_until(&mut s, t0, t0 + REPORT_INTERVAL);
    let (at, packet) = &reports[0];
    let block = first_block(packet).1.unwrap();
    assert_eq!(block.lsr, 0x5678_9abc, "the middle 32 bits of its NTP time");
    let held = at.duration_since(t0).as_secs_f64();
    assert!((f64::from(block.dlsr) / 65_536.0 - held).abs() < 0.001, "DLSR is the time held");
}

#[test]
fn reports_go_out_every_randomised_interval_in_virtual_time() {
    let t0 = Instant::now();
    let mut s = session(t0);
    assert!(s.poll_transmit().is_none());
    // Nothing before the deadline.
    s.handle_timeout(s.poll_timeout() - Duration::from_millis(1));
    assert!(s.poll_transmit().is_none());
    let reports = reports_until(&mut s, t0, t0 + Duration::from_secs(600));
    let first = reports[0].0 - t0;
    assert!(
        (REPORT_INTERVAL / 4..=REPORT_INTERVAL * 3 / 4).contains(&first),
        "the first after half an interval: {first:?}"
    );
    let mut gaps: Vec<Duration> = reports.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps.iter().all(|g| (REPORT_INTERVAL / 2..=REPORT_INTERVAL * 3 / 2).contains(g)));
    gaps.sort();
    assert!(gaps[0] != gaps[gaps.len() - 1], "intervals are randomised");
    // About one every 5 s.
    assert!((100..=140).contains(&reports.len()), "{} reports in 10 minutes", reports.len());
    // Each is a report with our CNAME after it.
    for (_, p) in &reports {
        let packets = parse(p).unwrap();
        assert!(matches!(packets[0], Packet::ReceiverReport { ssrc: OURS, .. }));
        assert_eq!(
            packets[1],
            Packet::SourceDescription(vec![(OURS, Some("gw@127.0.0.1".into()))])
        );
    }
    assert_eq!(s.quality().rtcp_sent, reports.len() as u64);
}

#[test]
fn a_sender_report_only_while_we_send_and_a_bye_at_the_end() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let mut h = Header { marker: false, payload_type: 0, sequence: 0, timestamp: 0, ssrc: OURS };
    for i in 0..50u16 {
        h.sequence = i;
        h.timestamp = u32::from(i) * 160;
        s.rtp_sent(t0 + Duration::from_millis(u64::from(i) * 20), &h, 160);
    }
    let reports = reports_until(&mut s, t0, t0 + REPORT_INTERVAL * 3);
    assert!(first_block(&reports[0].1).0, "sent since the last report: SR");
    assert!(!first_block(&reports[1].1).0, "silent since: RR");
    let q = s.quality();
    assert_eq!((q.packets_sent, q.octets_sent), (50, 8000));
    let bye = s.goodbye(t0 + Duration::from_secs(20));
    assert_eq!(parse(&bye).unwrap().last(), Some(&Packet::Goodbye(vec![OURS])));
}

#[test]
fn a_far_end_changing_ssrc_keeps_its_earlier_losses() {
    let t0 = Instant::now();
    let mut s = session(t0);
    for seq in [1u16, 2, 4] {
        s.rtp_received(t0, &rtp(seq, 0), 160);
    }
    let mut other = rtp(500, 0);
    other.ssrc = 0x3333_3333;
    s.rtp_received(t0, &other, 160);
    other.sequence = 502;
    s.rtp_received(t0, &other, 160);
    assert_eq!(s.quality().packets_lost, 2);
    assert_eq!(s.quality().packets_received, 5);
}

#[test]
fn rtcp_on_the_rtp_port_is_told_apart() {
    let mut rr = Vec::new();
    write_report(&mut rr, OURS, None, &[]);
    assert!(is_rtcp(&rr));
    let mut media = Vec::new();
    rtp(1, 0).write(&[0xff; 160], &mut media);
    assert!(!is_rtcp(&media));
    let mut dtmf = Vec::new();
    Header { marker: true, payload_type: 101, ..rtp(2, 0) }.write(&[1, 0x80, 0, 160], &mut dtmf);
    assert!(!is_rtcp(&dtmf));
    assert!(!is_rtcp(&[0x80]));
}

#[test]
fn the_ntp_clock_counts_from_1900() {
    let t0 = Instant::now();
    let clock = NtpClock::new(t0, UNIX_EPOCH);
    assert_eq!(clock.ntp(t0) >> 32, 2_208_988_800);
    let later = clock.ntp(t0 + Duration::from_millis(1500));
    assert_eq!(later >> 32, 2_208_988_801);
    assert_eq!(later as u32, 1 << 31, "half a second in the fraction");
    let _ = SystemTime::now();
}
