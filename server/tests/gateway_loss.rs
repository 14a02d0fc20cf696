//! A gateway given up for lost (its control connection down): the link ends each of its calls
//! once, as failed by the system with the reason said, and when the gateway answers again the
//! calls it kept are hung up there, their ends never reaching the dialer twice. (A test binary
//! of its own: beside the link's 5,000-call flood in one process, its gateway was seen to
//! leave one flooded call unanswered.)

mod support;

use std::collections::HashMap;
use std::time::Duration;

use app::model::{CallOutcome, HangupBy};
use gateway::events::DEFAULT_CAPACITY;
use server::engine::{CallEvent, CallId};
use server::runtime::carrier::Carrier;
use server::runtime::gateway_link::GATEWAY_DOWN;
use support::link::{TestCarrier, gateway, header, originate, reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_given_up_ends_its_calls_once_and_what_it_kept_is_hung_up_when_it_is_back() {
    // A carrier that rings and never answers: the calls stay up on the gateway.
    let ringing = ringing_carrier();
    let (link, _running, mut calls_rx, _) = gateway(DEFAULT_CAPACITY, 64, ringing.port).await;
    for n in [1, 2] {
        link.originate(&originate(n)).await.expect("originate");
    }
    let (up, _) = link.gateway().snapshot().await.expect("snapshot");
    assert_eq!(up.len(), 2, "both calls up on the gateway");

    link.lost().await;
    let mut ended = HashMap::new();
    while ended.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(10), calls_rx.recv())
            .await
            .expect("each call ends")
            .expect("the link is up");
        if let CallEvent::Ended { outcome, reason, by, .. } = e.event {
            assert_eq!((outcome, by), (CallOutcome::Failed, HangupBy::System));
            assert_eq!(reason.as_deref(), Some(GATEWAY_DOWN));
            assert!(ended.insert(e.call, ()).is_none(), "{:?} ends once", e.call);
        }
    }

    // Back: the two calls it still has are nobody's now, and are hung up there; once.
    assert_eq!(link.settle_after_loss().await.expect("settled"), 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (up, legs) = link.gateway().snapshot().await.expect("snapshot");
        if up.is_empty() && legs.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still up on the gateway: {up:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(link.settle_after_loss().await.expect("settled"), 0, "only after a loss");
    // Their ends on the gateway are not news to the dialer: each ended once already.
    link.originate(&originate(3)).await.expect("a new call");
    link.hangup(CallId(3)).await;
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), calls_rx.recv())
            .await
            .expect("the new call ends")
            .expect("the link is up");
        assert_eq!(e.call, CallId(3), "nothing more of the calls given up: {e:?}");
        if matches!(e.event, CallEvent::Ended { .. }) {
            break;
        }
    }
    drop(ringing);
}

/// A carrier that answers every INVITE with 180 Ringing and nothing more, until it is
/// cancelled (200 to the CANCEL, 487 to the INVITE).
fn ringing_carrier() -> TestCarrier {
    let mut invites: HashMap<String, String> = HashMap::new();
    TestCarrier::start(move |socket, datagram| {
        let Some((text, from)) = datagram else { return };
        let call_id = header(text, "call-id");
        if text.starts_with("INVITE ") {
            let _ = socket.send_to(reply(text, "180 Ringing").as_bytes(), from);
            invites.insert(call_id, text.to_string());
        } else if text.starts_with("CANCEL ") {
            let _ = socket.send_to(reply(text, "200 OK").as_bytes(), from);
            if let Some(invite) = invites.get(&call_id) {
                let end = reply(invite, "487 Request Terminated");
                let _ = socket.send_to(end.as_bytes(), from);
            }
        }
    })
}
