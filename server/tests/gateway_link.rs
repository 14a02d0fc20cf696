//! The link between the dialer and a real media gateway carries every call event exactly
//! once: 10,000 events in a burst — thousands of calls to a carrier that rings and refuses each
//! at once — while the dialer reads slowly (the gateway never waits; its journal holds what the dialer has not read yet). And
//! when the journal is too small to hold the backlog, the link says so and settles each call
//! it lost track of with a clear reason — still exactly one end per call.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::CallOutcome;
use gateway::events::Read;
use server::engine::{CallEvent, CallId};
use server::runtime::carrier::{Carrier, CarrierEvent};
use server::runtime::gateway_link::{GatewayLink, LOST_CALL, carrier_event};
use support::link::{TestCarrier, gateway, header, originate, reply};
use tokio::sync::mpsc;

/// A 486 waiting for its ACK: the response, where to, when to send it again, the wait after
/// that, and when to give up.
type Unacked = (String, std::net::SocketAddr, std::time::Instant, Duration, std::time::Instant);

/// A carrier that answers every INVITE with 180 Ringing and then 486 Busy Here. Like a real
/// user agent it sends the 486 again until the ACK comes, after 0.5, 1, 2, 4, 4… seconds for up
/// to 32 (RFC 3261 Timers G and H): in a burst of thousands of calls, datagrams are dropped by
/// full socket buffers.
fn busy_carrier() -> TestCarrier {
    let mut unacked: HashMap<String, Unacked> = HashMap::new();
    let again = Duration::from_millis(500);
    // The repeats are swept every 50 ms, not after each datagram: with thousands waiting, a
    // sweep per datagram made the carrier fall behind the burst until its socket's buffer
    // dropped calls' INVITEs (a call then timed out unanswered).
    let sweep = Duration::from_millis(50);
    let mut next_sweep = std::time::Instant::now() + sweep;
    TestCarrier::start(move |socket, datagram| {
        if let Some((text, from)) = datagram {
            let call_id = header(text, "call-id");
            if text.starts_with("INVITE ") {
                let busy = reply(text, "486 Busy Here");
                let _ = socket.send_to(reply(text, "180 Ringing").as_bytes(), from);
                let _ = socket.send_to(busy.as_bytes(), from);
                let now = std::time::Instant::now();
                let until = now + Duration::from_secs(32);
                unacked.entry(call_id).or_insert((busy, from, now + again, again, until));
            } else if text.starts_with("ACK ") {
                unacked.remove(&call_id);
            }
        }
        let now = std::time::Instant::now();
        if now < next_sweep {
            return;
        }
        next_sweep = now + sweep;
        unacked.retain(|_, (busy, to, next, wait, until)| {
            if *next <= now {
                let _ = socket.send_to(busy.as_bytes(), *to);
                *wait = (*wait * 2).min(Duration::from_secs(4));
                *next = now + *wait;
            }
            now < *until
        });
    })
}

/// Places `calls` calls (a few dozen at a time) and reads the dialer's side slowly until each
/// has ended; returns every call's events.
async fn flood(
    link: &GatewayLink,
    calls_rx: &mut mpsc::Receiver<CarrierEvent>,
    calls: u64,
) -> HashMap<CallId, Vec<CallEvent>> {
    let placing = {
        let link = link.clone();
        tokio::spawn(async move {
            let gate = Arc::new(tokio::sync::Semaphore::new(50));
            let mut tasks = Vec::new();
            for n in 1..=calls {
                let permit = gate.clone().acquire_owned().await.expect("semaphore");
                let link = link.clone();
                tasks.push(tokio::spawn(async move {
                    link.originate(&originate(n)).await.expect("originate");
                    drop(permit);
                }));
            }
            for t in tasks {
                t.await.expect("originate task");
            }
        })
    };
    let mut seen: HashMap<CallId, Vec<CallEvent>> = HashMap::new();
    let mut ended = 0;
    let mut read = 0u64;
    while ended < calls {
        let e = tokio::time::timeout(Duration::from_secs(60), calls_rx.recv())
            .await
            .unwrap_or_else(|_| panic!("stuck: {ended} of {calls} calls ended"))
            .expect("the link is up");
        if matches!(e.event, CallEvent::Ended { .. }) {
            ended += 1;
        }
        seen.entry(e.call).or_default().push(e.event);
        read += 1;
        // A slow dialer: a pause every few events.
        if read.is_multiple_of(16) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    placing.await.expect("placing");
    // Nothing more comes for calls that have ended.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(e) = calls_rx.try_recv() {
        seen.entry(e.call).or_default().push(e.event);
    }
    seen
}

fn ends(events: &[CallEvent]) -> Vec<(CallOutcome, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::Ended { outcome, reason, .. } => Some((*outcome, reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_to_a_slow_dialer_lose_none() {
    let carrier = busy_carrier();
    // (`journal`: what the gateway said, to compare with what reached the dialer.)
    let (link, _running, mut calls_rx, mut journal) =
        gateway(gateway::events::DEFAULT_CAPACITY, 8, carrier.port).await;
    // Two events a call (ringing, busy): up to 10,000 in all. (A 180 lost in a full socket
    // buffer is not sent again; then the gateway says only "busy", and so must the link.)
    let calls = 5_000;
    let seen = flood(&link, &mut calls_rx, calls).await;
    let mut said: HashMap<CallId, Vec<CallEvent>> = HashMap::new();
    while let Ok(read) = tokio::time::timeout(Duration::from_millis(300), journal.next()).await {
        match read {
            Read::Event(e) => {
                if let Some(c) = carrier_event(e.event) {
                    said.entry(c.call).or_default().push(c.event);
                }
            }
            Read::Lost { missed } => panic!("the test's own reader fell behind: {missed:?}"),
            Read::Closed => break,
        }
    }
    assert_eq!(seen.len(), calls as usize, "every call reported");
    let mut total = 0;
    for (call, events) in &seen {
        total += events.len();
        assert!(
            matches!(
                events.as_slice(),
                [CallEvent::Ringing, CallEvent::Ended { outcome: CallOutcome::Busy, .. }]
                    | [CallEvent::Ended { outcome: CallOutcome::Busy, .. }]
            ),
            "{call:?}: ringing, then busy, once each and in order: {events:?}"
        );
        assert_eq!(Some(events), said.get(call), "{call:?}: what the gateway said, exactly");
    }
    assert_eq!(said.len(), seen.len(), "no call the dialer did not hear of");
    // (Usually 10,000; on a loaded machine fewer 180s survive the burst.)
    assert!(total > calls as usize, "a burst of thousands of events: {total}");
    eprintln!("{total} events for {calls} calls reached the slow dialer, each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_overflow_is_said_and_every_call_still_ends_once() {
    let carrier = busy_carrier();
    // Room for a handful of events only: a slow dialer falls off its end.
    let (link, _running, mut calls_rx, _) = gateway(16, 8, carrier.port).await;
    let calls = 600;
    let seen = flood(&link, &mut calls_rx, calls).await;
    assert_eq!(seen.len(), calls as usize, "every call reported");
    let mut lost = 0;
    for (call, events) in &seen {
        let ends = ends(events);
        assert_eq!(ends.len(), 1, "{call:?} ends once: {events:?}");
        match &ends[0] {
            (CallOutcome::Busy, _) => {}
            (CallOutcome::Failed, Some(reason)) if reason == LOST_CALL => lost += 1,
            other => panic!("{call:?} ended as {other:?}"),
        }
    }
    assert!(lost > 0, "the overflow happened and was settled with its reason");
}
