//! A relay between two running gateways ([`gateway::control::Command::CallPeer`]): the one
//! with a customer's call calls a user at the other over SIP; the other, which has a trunk
//! naming the first, offers it as an inbound call; answered there, the relay is an agent leg
//! of the first. Either side ending it ends it on both.

mod support;

use std::time::Duration;

use gateway::control::{AgentLegId, CallId, Event, SipUser, TrunkId};
use support::{gateway_with_trunk, wait_for};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_reaches_the_other_gateway_as_an_inbound_call_and_ends_on_both() {
    let (near, near_running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    // The far gateway takes calls from the near one's SIP address (its trunk 1).
    let (far, far_running) = gateway_with_trunk(near_running.sip_udp).await;
    let far_sip = far_running.sip_udp;
    let (mut near_events, mut far_events) = (near.events(), far.events());
    let user = SipUser::parse("relay-41").unwrap();

    for round in 0..2 {
        let leg = near.call_peer(far_sip, user.clone()).await.expect("relay placed");
        let (call, to) = wait_for(&mut far_events, WAIT, |e| match e {
            Event::InboundCall { call, trunk, to, .. } if *trunk == TrunkId(1) => {
                Some((*call, to.clone()))
            }
            _ => None,
        })
        .await;
        assert_eq!(to, "relay-41", "the far side sees who the relay is for");
        far.accept(call).await.expect("accepted");
        wait_for(&mut near_events, WAIT, |e| {
            matches!(e, Event::AgentLegConnected { leg: l } if *l == leg).then_some(())
        })
        .await;
        if round == 0 {
            // Closed on the near side: the far side's call ends.
            near.close_agent_leg(leg).await.unwrap();
            ended(&mut far_events, call).await;
        } else {
            // Hung up on the far side: the near side's leg closes.
            far.hangup(call).await.unwrap();
            closed(&mut near_events, leg).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_to_a_gateway_that_does_not_know_this_one_fails() {
    let (near, _near_running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    // No trunk for the near gateway there: its INVITE is refused (403).
    let (_far, far_running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    let mut events = near.events();
    let leg = near.call_peer(far_running.sip_udp, SipUser::parse("relay-42").unwrap()).await;
    let leg = leg.expect("placed: the refusal comes as an event");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::AgentLegFailed { leg: l, .. } | Event::AgentLegClosed { leg: l, .. } if *l == leg)
            .then_some(())
    })
    .await;
}

async fn ended(events: &mut gateway::events::Reader, call: CallId) {
    wait_for(events, WAIT, |e| {
        matches!(e, Event::CallEnded { call: c, .. } if *c == call).then_some(())
    })
    .await;
}

async fn closed(events: &mut gateway::events::Reader, leg: AgentLegId) {
    wait_for(events, WAIT, |e| {
        matches!(e, Event::AgentLegClosed { leg: l, .. } if *l == leg).then_some(())
    })
    .await;
}
