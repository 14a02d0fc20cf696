//! Calls: an outbound INVITE from originate to hang-up (RFC 3261 §13.2, §9 CANCEL, §15 BYE,
//! §22 digest retry), an inbound INVITE from offer to answer or reject (§13.3), and the
//! in-dialog requests of an established call (re-INVITE for hold, BYE, REFER, OPTIONS).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use tracing::{debug, warn};

use super::{Event, Originate, Owner, Refusal, TxEntry, UaError, UserAgent};
use crate::call::{CallEnd, CallId, CallOutcome, HangupBy, PhoneNumber, TrunkId};
use crate::sdp::{Direction, direction_of, version_of, with_direction, with_version_above};
use crate::sip::auth::{Challenge, Verdict};
use crate::sip::dialog::Dialog;
use crate::sip::message::{
    self, CoreHeaders, HeaderAccess, Message, Method, NameAddr, Request, Response, StatusCode,
    Transport, Via, make_header,
};
use crate::sip::transaction::{self, Backoff, Key, ServerInvite, cancel_for};
use crate::trunk::{AuthDirection, CallerIdMode};
use telephony::sip_phone::SipUser;

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Outbound: INVITE sent, no provisional response yet.
    Calling,
    /// Outbound: a provisional response arrived (ringing, early media).
    Proceeding,
    /// Inbound: offered to the control API, not yet answered or rejected.
    Offered,
    /// Answered: the dialog is confirmed.
    Confirmed,
}

/// What a transaction does for its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Our initial INVITE (and its authenticated retries).
    Invite,
    /// Our re-INVITE (hold, unhold).
    Reinvite,
    /// Our CANCEL.
    Cancel,
    /// Our BYE.
    Bye,
    /// Our REFER.
    Refer,
    /// The peer's initial INVITE.
    InboundInvite,
    /// The peer's re-INVITE.
    RemoteReinvite,
}

/// Why we are cancelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelReason {
    /// The ring timeout ran out.
    RingTimeout,
    /// A command asked.
    Command,
}

impl CancelReason {
    /// Cancelled before an answer, by the timer or by a command: nobody answered.
    fn outcome(self) -> CallOutcome {
        CallOutcome::NoAnswer
    }
}

#[derive(Debug, Clone)]
struct Cancelling {
    reason: CancelReason,
    /// False until a provisional response allows the CANCEL out (RFC 3261 §9.1).
    sent: bool,
    /// 64·T1 after the CANCEL: give up waiting for the INVITE's final response (§9.1).
    give_up: Option<Instant>,
}

/// A 2xx we sent that awaits its ACK (RFC 3261 §13.3.1.4).
#[derive(Debug, Clone)]
struct Unacked {
    response: Response,
    key: Key,
    resend: Backoff,
    give_up: Instant,
}

/// One call's state.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) id: CallId,
    pub(super) state: CallState,
    /// The trunk it goes through; none for a call to an agent's SIP phone.
    trunk: Option<TrunkId>,
    peer: SocketAddr,
    transport: Transport,
    /// Outbound: the latest initial INVITE we sent. Inbound: the INVITE received.
    invite: Request,
    dialog: Option<Dialog>,
    local_tag: String,
    local_sdp: Vec<u8>,
    ring_deadline: Option<Instant>,
    cancelling: Option<Cancelling>,
    auth_attempts: u32,
    /// Whether the trunk's verdict on our credentials was reported (once per call).
    auth_reported: bool,
    ringing_reported: bool,
    early_media_reported: bool,
    ack: Option<Vec<u8>>,
    unacked: Option<Unacked>,
    /// Our re-INVITE's transaction is in flight.
    reinvite_pending: bool,
    /// Our re-INVITE met 491 Request Pending: when to send it again (RFC 3261 §14.1).
    reinvite_retry: Option<Instant>,
    /// 491s our current re-INVITE has met.
    reinvite_tries: u32,
    /// The direction we want (`sendonly` while we hold the peer): answers to the peer's
    /// offers never go beyond it (RFC 3264 §6.1).
    intent: Direction,
}

impl Call {
    fn new(
        id: CallId,
        state: CallState,
        trunk: Option<TrunkId>,
        peer: SocketAddr,
        transport: Transport,
        invite: Request,
    ) -> Self {
        Self {
            id,
            state,
            trunk,
            peer,
            transport,
            invite,
            dialog: None,
            local_tag: String::new(),
            local_sdp: Vec::new(),
            ring_deadline: None,
            cancelling: None,
            auth_attempts: 0,
            auth_reported: false,
            ringing_reported: false,
            early_media_reported: false,
            ack: None,
            unacked: None,
            reinvite_pending: false,
            reinvite_retry: None,
            reinvite_tries: 0,
            intent: Direction::SendRecv,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ring_deadline,
            self.cancelling.as_ref().and_then(|c| c.give_up),
            self.unacked.as_ref().and_then(|u| u.resend.due),
            self.unacked.as_ref().map(|u| u.give_up),
            self.reinvite_retry,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// How long an inbound call waits for the control API to accept or reject it.
pub const OFFER_TIMEOUT: Duration = Duration::from_secs(60);

/// Authentication attempts per INVITE before a 401/407 is final.
const MAX_AUTH_ATTEMPTS: u32 = 2;

/// 491 Request Pending answers our re-INVITE may meet before it is given up.
const MAX_491_RETRIES: u32 = 5;

impl UserAgent {
    /// Places outbound call `req.call`: sends the INVITE through `trunk` (RFC 3261 §13.2.1).
    /// Progress arrives as events.
    pub fn originate(&mut self, now: Instant, req: Originate) -> Result<CallId, UaError> {
        if !req.call.is_callers() || self.calls.contains_key(&req.call) {
            return Err(UaError::IdInUse(req.call));
        }
        let trunk_state =
            self.trunks.get_mut(&req.trunk).ok_or(UaError::UnknownTrunk(req.trunk))?;
        let trunk = trunk_state.trunk.clone();
        let peer = trunk_state.addr;
        if trunk.max_calls_per_second > 0 {
            while trunk_state
                .recent_originates
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                trunk_state.recent_originates.pop_front();
            }
            if trunk_state.recent_originates.len() >= trunk.max_calls_per_second as usize {
                return Err(UaError::RateLimited(trunk.id));
            }
        }
        if trunk.max_channels > 0 {
            let active = self.calls.values().filter(|c| c.trunk == Some(trunk.id)).count();
            if active >= trunk.max_channels as usize {
                return Err(UaError::TrunkFull(trunk.id));
            }
        }
        let transport = trunk.transport;
        let via = self.new_via(transport)?;
        let contact = self.contact_uri(transport)?;
        let local_tag = self.token();
        let call_id = format!("{}@gateway", self.token());
        let uri_params = if transport == Transport::Tcp { ";transport=tcp" } else { "" };
        let host = format!("{}:{}", trunk.host, trunk.port);
        let caller_uri = format!("sip:{}@{}", req.caller_id.as_str(), trunk.host);
        let bad = |_| UaError::UnknownTrunk(trunk.id);
        let from =
            NameAddr::with_display(req.caller_name.as_ref().map(|n| n.as_str()), &caller_uri)
                .map_err(bad)?
                .with_tag(&local_tag);
        let to =
            NameAddr::from_uri(&format!("sip:{}@{}", req.to.as_str(), trunk.host)).map_err(bad)?;
        let mut headers = rsip::Headers::default();
        headers.push(make_header("Contact", format!("<{contact}>")));
        headers.push(make_header("Allow", message::ALLOW));
        headers.push(make_header("User-Agent", self.config.user_agent.clone()));
        let asserted = match (&req.asserted_identity, trunk.caller_id_mode) {
            (Some(number), _) => Some(format!("sip:{}@{}", number.as_str(), trunk.host)),
            (None, CallerIdMode::Pai) => Some(caller_uri.clone()),
            (None, CallerIdMode::From) => None,
        };
        if let Some(uri) = asserted {
            // RFC 3325 §9.1.
            headers.push(make_header("P-Asserted-Identity", format!("<{uri}>")));
        }
        let uri = format!("sip:{}@{host}{uri_params}", req.to.as_str());
        let invite = initial_invite(uri, via, from, to, call_id, headers, req.sdp);
        if let Some(t) = self.trunks.get_mut(&req.trunk) {
            t.recent_originates.push_back(now);
        }
        let id = req.call;
        debug!(%id, to = %req.to, trunk = %trunk.id, "originate");
        let call = Call::new(id, CallState::Calling, Some(trunk.id), peer, transport, invite);
        self.start_outbound(now, call, local_tag, req.ring_timeout);
        Ok(id)
    }

    /// Keeps outbound call `call` (its INVITE just built) with our tag and its ring deadline,
    /// and sends the INVITE.
    fn start_outbound(&mut self, now: Instant, mut call: Call, tag: String, ring: Duration) {
        call.local_tag = tag;
        call.local_sdp = call.invite.body.clone();
        call.ring_deadline = Some(now + ring);
        let (id, invite, peer, transport) =
            (call.id, call.invite.clone(), call.peer, call.transport);
        self.calls.insert(id, call);
        self.start_client(now, invite, peer, transport, Owner::Call(id, Purpose::Invite));
    }

    /// A fresh id from the gateway's own range, for a call the gateway places itself (to an
    /// agent's SIP phone: [`UserAgent::call_phone`]).
    pub fn reserve_call_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        id
    }

    /// Calls the registered SIP phone of `user` (an agent's audio leg) as call `id` (from
    /// [`UserAgent::reserve_call_id`]): an INVITE with our `sdp` to the phone's `Contact`, sent
    /// to the address its REGISTER came from (the phone may sit behind a NAT that only lets
    /// that address in), over the transport of its account.
    pub fn call_phone(
        &mut self,
        now: Instant,
        id: CallId,
        user: &SipUser,
        sdp: Vec<u8>,
        ring_timeout: Duration,
    ) -> Result<(), UaError> {
        let not_registered = || UaError::PhoneNotRegistered(user.clone());
        let (account, peer, contact) = self.registrar.binding(user).ok_or_else(not_registered)?;
        let (transport, contact) = (account.transport, contact.to_owned());
        let target = LegTarget { transport, uri: contact, peer, user };
        debug!(%id, %user, %peer, "calling an agent's SIP phone");
        self.call_leg(now, id, target, sdp, ring_timeout)
    }

    /// Calls `user` at another gateway, `peer`, over UDP (a relay carrying an agent's audio
    /// between gateways) as call `id` (from [`UserAgent::reserve_call_id`]): an INVITE with
    /// our `sdp` to `sip:user@peer`.
    pub fn call_peer(
        &mut self,
        now: Instant,
        id: CallId,
        peer: SocketAddr,
        user: &SipUser,
        sdp: Vec<u8>,
        ring_timeout: Duration,
    ) -> Result<(), UaError> {
        let uri = format!("sip:{user}@{peer}");
        let target = LegTarget { transport: Transport::Udp, uri, peer, user };
        debug!(%id, %user, %peer, "calling another gateway");
        self.call_leg(now, id, target, sdp, ring_timeout)
    }

    /// Starts call `id` to `target`, a call the gateway places for an agent leg.
    fn call_leg(
        &mut self,
        now: Instant,
        id: CallId,
        target: LegTarget<'_>,
        sdp: Vec<u8>,
        ring_timeout: Duration,
    ) -> Result<(), UaError> {
        if id.is_callers() || self.calls.contains_key(&id) {
            return Err(UaError::IdInUse(id));
        }
        let LegTarget { transport, uri, peer, user } = target;
        let bad_uri = || UaError::BadUri(uri.clone());
        let via = self.new_via(transport)?;
        let our_contact = self.contact_uri(transport)?;
        let local_tag = self.token();
        let call_id = format!("{}@gateway", self.token());
        let local = self.local_addr(transport)?;
        let from = NameAddr::with_display(Some("Dialer"), &format!("sip:dialer@{local}"))
            .map_err(|_| bad_uri())?
            .with_tag(&local_tag);
        let to = NameAddr::from_uri(&format!("sip:{user}@{local}")).map_err(|_| bad_uri())?;
        let mut headers = rsip::Headers::default();
        headers.push(make_header("Contact", format!("<{our_contact}>")));
        headers.push(make_header("Allow", message::ALLOW));
        headers.push(make_header("User-Agent", self.config.user_agent.clone()));
        let invite = initial_invite(uri.clone(), via, from, to, call_id, headers, sdp);
        let call = Call::new(id, CallState::Calling, None, peer, transport, invite);
        self.start_outbound(now, call, local_tag, ring_timeout);
        Ok(())
    }

    /// Cancels an outbound call that is not answered yet (RFC 3261 §9.1).
    pub fn cancel(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        self.start_cancel(now, call, CancelReason::Command)
    }

    fn start_cancel(
        &mut self,
        now: Instant,
        id: CallId,
        reason: CancelReason,
    ) -> Result<(), UaError> {
        let call = self.calls.get_mut(&id).ok_or(UaError::UnknownCall(id))?;
        if !matches!(call.state, CallState::Calling | CallState::Proceeding) {
            return Err(UaError::WrongState { call: id, action: "cancel", state: call.state });
        }
        call.ring_deadline = None;
        if call.cancelling.is_none() {
            call.cancelling = Some(Cancelling { reason, sent: false, give_up: None });
        }
        // Before any provisional response the CANCEL must wait (§9.1).
        if call.state == CallState::Proceeding {
            self.send_cancel(now, id);
        }
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, id: CallId) {
        let give_up = now + self.config.timers.transaction_timeout();
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(cancelling) = call.cancelling.as_mut().filter(|c| !c.sent) else { return };
        cancelling.sent = true;
        cancelling.give_up = Some(give_up);
        let cancel = cancel_for(&call.invite);
        let (peer, transport) = (call.peer, call.transport);
        self.start_client(now, cancel, peer, transport, Owner::Call(id, Purpose::Cancel));
    }

    /// Hangs up: CANCEL before an answer, BYE after, 603 Decline for an offered inbound call.
    pub fn hangup(&mut self, now: Instant, id: CallId) -> Result<(), UaError> {
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        match call.state {
            CallState::Calling | CallState::Proceeding => self.cancel(now, id),
            CallState::Offered => self.reject(now, id, 603),
            CallState::Confirmed => {
                self.send_bye(now, id);
                self.end(
                    id,
                    CallOutcome::Answered,
                    None,
                    "hung up by the gateway",
                    HangupBy::System,
                );
                Ok(())
            }
        }
    }

    fn send_bye(&mut self, now: Instant, id: CallId) {
        // Best effort: a call without a dialog has nobody to say goodbye to.
        if let Ok((bye, peer, transport)) = self.in_dialog_request(id, Method::Bye, "hang up") {
            self.start_client(now, bye, peer, transport, Owner::Call(id, Purpose::Bye));
        }
    }

    /// A new request in the call's dialog, with where to send it.
    fn in_dialog_request(
        &mut self,
        id: CallId,
        method: Method,
        action: &'static str,
    ) -> Result<(Request, SocketAddr, Transport), UaError> {
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        let transport = call.transport;
        let via = self.new_via(transport)?;
        let contact = self.contact_uri(transport)?;
        let call = self.calls.get_mut(&id).ok_or(UaError::UnknownCall(id))?;
        let state = call.state;
        let dialog = call.dialog.as_mut().ok_or(UaError::WrongState { call: id, action, state })?;
        Ok((dialog.request(method, via, &contact), call.peer, transport))
    }

    /// Sends a re-INVITE with new SDP (hold: `a=sendonly`; unhold: `a=sendrecv`). The result
    /// arrives as [`Event::ReinviteDone`], once the peer accepted or refused it: a 491 Request
    /// Pending (both sides re-INVITEd at once) is retried after the RFC 3261 §14.1 wait.
    pub fn reinvite(&mut self, now: Instant, id: CallId, sdp: Vec<u8>) -> Result<(), UaError> {
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        if call.state != CallState::Confirmed
            || call.reinvite_pending
            || call.reinvite_retry.is_some()
        {
            return Err(UaError::WrongState { call: id, action: "re-INVITE", state: call.state });
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.intent = direction_of(&sdp).unwrap_or(Direction::SendRecv);
            // Our answers to the peer's offers may have raised the version meanwhile.
            call.local_sdp = match version_of(&call.local_sdp) {
                Some(v) => with_version_above(&sdp, v),
                None => sdp,
            };
            call.reinvite_tries = 0;
        }
        self.send_reinvite(now, id)
    }

    /// Sends the call's SDP in a re-INVITE (a new transaction and CSeq each time), offering
    /// the direction we want: an answer to the peer's offer while a 491 was waited out may
    /// have changed it (and then the version grows).
    fn send_reinvite(&mut self, now: Instant, id: CallId) -> Result<(), UaError> {
        let (mut request, peer, transport) =
            self.in_dialog_request(id, Method::Invite, "re-INVITE")?;
        let Some(call) = self.calls.get_mut(&id) else { return Err(UaError::UnknownCall(id)) };
        call.local_sdp = with_direction(&call.local_sdp, call.intent);
        request.headers.push(make_header("Content-Type", "application/sdp"));
        request.body = call.local_sdp.clone();
        call.reinvite_pending = true;
        self.start_client(now, request, peer, transport, Owner::Call(id, Purpose::Reinvite));
        Ok(())
    }

    /// Asks the peer to transfer the call to `to` (RFC 3515 REFER). The answer arrives as
    /// [`Event::ReferDone`]; the peer then usually ends the call with BYE.
    pub fn refer(&mut self, now: Instant, id: CallId, to: &PhoneNumber) -> Result<(), UaError> {
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        if call.state != CallState::Confirmed {
            return Err(UaError::WrongState { call: id, action: "refer", state: call.state });
        }
        let host = (call.trunk.and_then(|t| self.trunks.get(&t)))
            .map(|t| t.trunk.host.clone())
            .unwrap_or_default();
        let (mut request, peer, transport) = self.in_dialog_request(id, Method::Refer, "refer")?;
        request.headers.push(make_header("Refer-To", format!("<sip:{}@{host}>", to.as_str())));
        self.start_client(now, request, peer, transport, Owner::Call(id, Purpose::Refer));
        Ok(())
    }

    /// Answers an offered inbound call with our SDP (200 OK, retransmitted until the ACK).
    pub fn answer(&mut self, now: Instant, id: CallId, sdp: Vec<u8>) -> Result<(), UaError> {
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        if call.state != CallState::Offered {
            return Err(UaError::WrongState { call: id, action: "answer", state: call.state });
        }
        let contact = self.contact_uri(call.transport)?;
        let timers = self.config.timers;
        let server_agent = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&id) else { return Err(UaError::UnknownCall(id)) };
        let response = call
            .invite
            .response(StatusCode::OK, Some(&call.local_tag))
            .with_header("Contact", format!("<{contact}>"))
            .with_header("Allow", message::ALLOW)
            .with_header("Server", server_agent)
            .with_body("application/sdp", sdp.clone());
        let dialog = Dialog::uas(&call.invite, &call.local_tag);
        let dialog_id = dialog.id().clone();
        call.dialog = Some(dialog);
        call.local_sdp = sdp;
        call.state = CallState::Confirmed;
        let key = Key::for_server(&call.invite);
        call.unacked = Some(Unacked {
            response: response.clone(),
            key: key.clone(),
            resend: Backoff::start(
                now,
                (!call.transport.is_reliable()).then_some(timers.t1),
                Some(timers.t2),
            ),
            give_up: now + timers.transaction_timeout(),
        });
        let offer = call.invite.body.clone();
        self.dialogs.insert(dialog_id, id);
        self.drive(now, &key, Some(transaction::Input::Respond(response)));
        self.emit(Event::Answered { call: id, sdp: offer });
        Ok(())
    }

    /// Rejects an offered inbound call with a final status (e.g. 486, 480, 488, 603).
    pub fn reject(&mut self, now: Instant, id: CallId, code: u16) -> Result<(), UaError> {
        let status =
            StatusCode::new(code).filter(|s| s.code() >= 300).ok_or(UaError::BadStatus(code))?;
        let call = self.calls.get(&id).ok_or(UaError::UnknownCall(id))?;
        if call.state != CallState::Offered {
            return Err(UaError::WrongState { call: id, action: "reject", state: call.state });
        }
        let response = call.invite.response(status, Some(&call.local_tag));
        let key = Key::for_server(&call.invite);
        self.drive(now, &key, Some(transaction::Input::Respond(response)));
        self.end(
            id,
            CallOutcome::from_status(code),
            Some(code),
            status.default_reason(),
            HangupBy::System,
        );
        Ok(())
    }

    /// Forgets a call and reports how it ended.
    fn end(
        &mut self,
        id: CallId,
        outcome: CallOutcome,
        code: Option<u16>,
        reason: &str,
        by: HangupBy,
    ) {
        let Some(call) = self.calls.remove(&id) else { return };
        if let Some(dialog) = &call.dialog {
            self.dialogs.remove(dialog.id());
        }
        debug!(%id, ?outcome, ?code, reason, "call ended");
        self.emit(Event::Ended {
            call: id,
            end: CallEnd { outcome, code, reason: reason.to_owned(), by },
        });
    }

    pub(super) fn on_call_output(
        &mut self,
        now: Instant,
        id: CallId,
        purpose: Purpose,
        output: transaction::Output,
    ) {
        use transaction::Output as O;
        match (purpose, output) {
            (Purpose::Invite, O::Deliver(Message::Response(r))) => {
                self.on_invite_response(now, id, r)
            }
            (Purpose::Invite, O::TimedOut) => {
                // §8.1.3.1: no answer at all is treated as 408.
                self.end(
                    id,
                    CallOutcome::NoAnswer,
                    Some(408),
                    "no response from the trunk",
                    HangupBy::System,
                )
            }
            (Purpose::Invite, O::TransportFailed) => {
                // §8.1.3.1: a transport failure is treated as 503.
                self.end(
                    id,
                    CallOutcome::Congestion,
                    Some(503),
                    "transport error",
                    HangupBy::System,
                )
            }
            (Purpose::Reinvite, O::Deliver(Message::Response(r))) => {
                self.on_reinvite_response(now, id, r)
            }
            (Purpose::Reinvite, O::TimedOut | O::TransportFailed) => {
                self.emit(Event::ReinviteDone { call: id, result: Err(408) });
                self.drop_after_failure(now, id);
            }
            (Purpose::Refer, O::Deliver(Message::Response(r))) if r.status.is_final() => {
                self.emit(Event::ReferDone { call: id, code: r.status.code() })
            }
            (Purpose::Refer, O::TimedOut | O::TransportFailed) => {
                self.emit(Event::ReferDone { call: id, code: 408 })
            }
            (Purpose::InboundInvite | Purpose::RemoteReinvite, O::Deliver(Message::Request(r)))
                if r.method == Method::Ack =>
            {
                self.on_ack(id)
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, id: CallId, response: Response) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let status = response.status;
        let code = status.code();
        if status.is_provisional() {
            call.state = CallState::Proceeding;
            if call.dialog.is_none()
                && let Ok(dialog) = Dialog::uac(&call.invite, &response)
            {
                self.dialogs.insert(dialog.id().clone(), id);
                call.dialog = Some(dialog);
            }
            let mut events = Vec::new();
            // 100 Trying only proves the trunk is alive; it still allows a CANCEL (§9.1).
            if (180..=182).contains(&code) && !call.ringing_reported {
                call.ringing_reported = true;
                events.push(Event::Ringing { call: id });
            }
            if is_sdp(&response) && !call.early_media_reported {
                call.early_media_reported = true;
                events.push(Event::EarlyMedia { call: id, sdp: response.body.clone() });
            }
            for event in events {
                self.emit(event);
            }
            self.send_cancel(now, id);
            return;
        }
        if status.is_success() {
            self.note_outbound_auth(id, code, &response.reason);
            self.on_invite_success(id, response);
            return;
        }
        let cancelled = call.cancelling.as_ref().map(|c| c.reason);
        if cancelled.is_none()
            && matches!(code, 401 | 407)
            && self.retry_with_auth(now, id, &response)
        {
            return;
        }
        let reason = if response.reason.is_empty() {
            status.default_reason().to_owned()
        } else {
            response.reason.clone()
        };
        self.note_outbound_auth(id, code, &reason);
        let (outcome, by) = match cancelled {
            Some(reason) if code == 487 => (reason.outcome(), HangupBy::System),
            _ => (CallOutcome::from_status(code), HangupBy::Customer),
        };
        self.end(id, outcome, Some(code), &reason, by);
    }

    /// The client transaction of a call's INVITE (`key`) has ended. A call still waiting for
    /// its answer then has nothing left that could answer it (a 2xx that made no dialog, such
    /// as one without tags, leaves it so): it ends now rather than never.
    pub(super) fn on_invite_transaction_ended(&mut self, id: CallId, key: &Key) {
        let Some(call) = self.calls.get(&id) else { return };
        let current = Key::for_client(&call.invite).is_some_and(|k| &k == key);
        if current && matches!(call.state, CallState::Calling | CallState::Proceeding) {
            self.end(
                id,
                CallOutcome::Failed,
                None,
                "no usable final response to the INVITE",
                HangupBy::System,
            );
        }
    }

    fn on_invite_success(&mut self, id: CallId, response: Response) {
        let Some(call) = self.calls.get(&id) else { return };
        let transport = call.transport;
        let same_dialog = call
            .dialog
            .as_ref()
            .is_some_and(|d| Some(d.id().remote_tag.as_str()) == response.core.to.tag());
        if call.state == CallState::Confirmed && same_dialog {
            // A retransmission of the 2xx we already ACKed: the ACK was lost.
            self.resend_ack(id);
            return;
        }
        let Ok(via) = self.new_via(transport) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        // A 2xx from another fork than the early dialog makes its own dialog (§13.2.2.4).
        let same = call
            .dialog
            .as_ref()
            .is_some_and(|d| Some(d.id().remote_tag.as_str()) == response.core.to.tag());
        if same {
            if let Some(d) = call.dialog.as_mut() {
                d.confirm(&response);
            }
        } else {
            let Ok(dialog) = Dialog::uac(&call.invite, &response) else {
                debug!(%id, "2xx without a To tag ignored");
                return;
            };
            if let Some(old) = call.dialog.replace(dialog) {
                self.dialogs.remove(old.id());
            }
        }
        let Some(dialog) = call.dialog.as_ref() else { return };
        self.dialogs.insert(dialog.id().clone(), id);
        let ack = dialog.ack(call.invite.core.cseq_seq, via).to_bytes();
        call.ack = Some(ack.clone());
        call.ring_deadline = None;
        let (peer, cancelled) = (call.peer, call.cancelling.take().is_some());
        call.state = CallState::Confirmed;
        self.send_raw(transport, peer, ack);
        if cancelled {
            // The 200 OK won the race with our CANCEL (§9.1: a CANCEL has no effect on an
            // answered INVITE). A person has picked up: the call's owner decides what happens
            // to them — an agent who is free takes the call, or it is hung up as an abandoned
            // call, counted as one — rather than the gateway cutting them off unrecorded.
            debug!(%id, "answered while cancelling");
        }
        self.emit(Event::Answered { call: id, sdp: response.body });
    }

    /// After we answered a challenge for call `id`, its final response `code` tells whether
    /// the trunk took our credentials: challenged again (401/407: no attempts left) or
    /// forbidden (403, how many carriers refuse a wrong password) is a failure, said once per
    /// call with the trunk so that an admin can fix it; anything else proves them.
    fn note_outbound_auth(&mut self, id: CallId, code: u16, reason: &str) {
        let Some(call) =
            self.calls.get_mut(&id).filter(|c| c.auth_attempts > 0 && !c.auth_reported)
        else {
            return;
        };
        // Once per call: a retransmitted 2xx must not count again.
        call.auth_reported = true;
        let Some(trunk) = call.trunk else { return };
        let direction = AuthDirection::Outbound;
        if matches!(code, 401 | 403 | 407) {
            self.auth_failed(trunk, direction, code, reason);
        } else {
            self.emit(Event::TrunkAuthenticated { trunk, direction });
        }
    }

    /// Re-sends the INVITE with credentials for a 401/407 challenge (RFC 3261 §22.2).
    /// False when there is nothing to answer with or the attempts are used up.
    fn retry_with_auth(&mut self, now: Instant, id: CallId, response: &Response) -> bool {
        let Some(call) = self.calls.get(&id) else { return false };
        let Some(trunk) = call.trunk.and_then(|t| self.trunks.get(&t)).map(|t| t.trunk.clone())
        else {
            return false;
        };
        let (Some(user), Some(password)) = (trunk.username, trunk.password) else { return false };
        if call.auth_attempts >= MAX_AUTH_ATTEMPTS {
            return false;
        }
        let (challenge_header, answer_header) = if response.status.code() == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(challenge) =
            response.header(challenge_header).and_then(|v| Challenge::parse(v).ok())
        else {
            return false;
        };
        let transport = call.transport;
        let Ok(via) = self.new_via(transport) else { return false };
        let cnonce = self.token();
        let Some(call) = self.calls.get_mut(&id) else { return false };
        call.auth_attempts += 1;
        let mut invite = call.invite.clone();
        invite.core.via = vec![via];
        invite.core.cseq_seq += 1;
        let value = challenge.answer(&user, &password, "INVITE", &invite.uri, &cnonce, 1);
        invite.headers.retain(|h| {
            !matches!(h, rsip::Header::Authorization(_) | rsip::Header::ProxyAuthorization(_))
        });
        invite.headers.push(make_header(answer_header, value));
        call.invite = invite.clone();
        let peer = call.peer;
        self.start_client(now, invite, peer, transport, Owner::Call(id, Purpose::Invite));
        true
    }

    fn on_reinvite_response(&mut self, now: Instant, id: CallId, response: Response) {
        if response.status.is_provisional() {
            return;
        }
        let Some(transport) = self.calls.get(&id).map(|c| c.transport) else { return };
        let code = response.status.code();
        if let Some(call) = self.calls.get_mut(&id) {
            call.reinvite_pending = false;
            // §14.1: both sides re-INVITEd at once. Wait 2.1–4 s if we chose the Call-ID
            // (we placed the call), 0–2 s if the peer did, in 10 ms steps, then try again:
            // the waits differ so that one side goes first.
            if code == 491 && call.reinvite_tries < MAX_491_RETRIES {
                call.reinvite_tries += 1;
                let steps = if call.id.is_callers() {
                    self.rng.random_range(210..=400)
                } else {
                    self.rng.random_range(0..=200)
                };
                call.reinvite_retry = Some(now + Duration::from_millis(steps * 10));
                debug!(%id, wait_ms = steps * 10, "re-INVITE met 491: trying again");
                return;
            }
        }
        if !response.status.is_success() {
            self.emit(Event::ReinviteDone { call: id, result: Err(code) });
            // §12.2.1.2: 481 and 408 to an in-dialog request end the dialog.
            if matches!(code, 481 | 408) {
                self.drop_after_failure(now, id);
            }
            return;
        }
        let Ok(via) = self.new_via(transport) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(dialog) = call.dialog.as_mut() else { return };
        dialog.confirm(&response);
        let ack = dialog.ack(response.core.cseq_seq, via).to_bytes();
        let peer = call.peer;
        self.send_raw(transport, peer, ack);
        self.emit(Event::ReinviteDone { call: id, result: Ok(response.body) });
    }

    /// Ends an established call whose dialog failed: BYE (best effort) and Ended.
    fn drop_after_failure(&mut self, now: Instant, id: CallId) {
        self.send_bye(now, id);
        self.end(id, CallOutcome::Answered, None, "dialog failed", HangupBy::System);
    }

    pub(super) fn resend_ack(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        if let Some(ack) = call.ack.clone() {
            let (transport, peer) = (call.transport, call.peer);
            self.send_raw(transport, peer, ack);
        }
    }

    pub(super) fn on_ack(&mut self, id: CallId) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.unacked = None;
        }
    }

    pub(super) fn on_call_timeout(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.reinvite_retry.is_some_and(|t| t <= now) {
            call.reinvite_retry = None;
            if self.send_reinvite(now, id).is_err() {
                self.emit(Event::ReinviteDone { call: id, result: Err(491) });
            }
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.ring_deadline.is_some_and(|t| t <= now) {
            call.ring_deadline = None;
            if call.state == CallState::Offered {
                // Nobody took the inbound call: the caller hears 480, nothing stays stuck.
                let _ = self.reject(now, id, 480);
            } else {
                let _ = self.start_cancel(now, id, CancelReason::RingTimeout);
            }
            return;
        }
        if let Some(c) = call.cancelling.as_ref().filter(|c| c.give_up.is_some_and(|t| t <= now)) {
            let outcome = c.reason.outcome();
            // RFC 3261 §9.1: no final response 64·T1 after the CANCEL, so the INVITE's client
            // transaction is destroyed too; in Proceeding it has no timer of its own and
            // would wait for ever.
            if let Some(key) = Key::for_client(&call.invite) {
                self.transactions.remove(&key);
            }
            self.end(id, outcome, None, "no final response after CANCEL", HangupBy::System);
            return;
        }
        let Some(unacked) = call.unacked.as_mut() else { return };
        if unacked.give_up <= now {
            // §13.3.1.4: no ACK within 64·T1 ends the dialog with BYE.
            call.unacked = None;
            self.send_bye(now, id);
            self.end(id, CallOutcome::Failed, None, "no ACK for our 200 OK", HangupBy::System);
        } else if unacked.resend.fire(now) {
            let (key, response) = (unacked.key.clone(), unacked.response.clone());
            let (transport, peer) = (call.transport, call.peer);
            if self.transactions.contains_key(&key) {
                self.drive(now, &key, Some(transaction::Input::Respond(response)));
            } else {
                self.send_raw(transport, peer, response.to_bytes());
            }
        }
    }

    pub(super) fn on_cancel(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        cancel: Request,
    ) {
        let invite_key = Key::cancelled_invite(&cancel);
        let target = self.transactions.get(&invite_key).and_then(|e| match e.owner {
            Owner::Call(id, Purpose::InboundInvite) => Some(id),
            _ => None,
        });
        let Some(id) = target else {
            // §9.2: a CANCEL that matches no transaction gets 481.
            self.refuse(now, transport, source, &cancel, Refusal::status(481));
            return;
        };
        let tag = self.token();
        let ok = cancel.response(StatusCode::OK, Some(&tag));
        self.respond_statefully(now, &cancel, ok, source, transport);
        let Some(call) = self.calls.get(&id).filter(|c| c.state == CallState::Offered) else {
            return; // already answered: the CANCEL has no effect
        };
        let terminated = call
            .invite
            .response(StatusCode::new(487).unwrap_or(StatusCode::OK), Some(&call.local_tag));
        self.drive(now, &invite_key, Some(transaction::Input::Respond(terminated)));
        self.end(id, CallOutcome::NoAnswer, Some(487), "caller cancelled", HangupBy::Customer);
    }

    pub(super) fn on_in_dialog(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        id: CallId,
        request: Request,
    ) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if let Some(dialog) = call.dialog.as_mut()
            && dialog.accept_remote(&request).is_err()
        {
            // §12.2.2: an out-of-order CSeq gets 500.
            self.refuse(now, transport, source, &request, Refusal::status(500));
            return;
        }
        match request.method {
            Method::Bye => {
                let tag = call.local_tag.clone();
                let state = call.state;
                let ok = request.response(StatusCode::OK, Some(&tag));
                self.respond_statefully(now, &request, ok, source, transport);
                let (outcome, reason) = match state {
                    CallState::Confirmed => (CallOutcome::Answered, "hung up by the remote party"),
                    _ => (CallOutcome::Failed, "BYE before answer"),
                };
                self.end(id, outcome, None, reason, HangupBy::Customer);
            }
            Method::Invite => self.on_remote_reinvite(now, transport, source, id, request),
            Method::Options | Method::Info | Method::Notify | Method::Update => {
                let tag = call.local_tag.clone();
                let ok = request.response(StatusCode::OK, Some(&tag));
                self.respond_statefully(now, &request, ok, source, transport);
            }
            _ => self.refuse(now, transport, source, &request, Refusal::status(405)),
        }
    }

    fn on_remote_reinvite(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        id: CallId,
        request: Request,
    ) {
        let Some(call) = self.calls.get(&id) else { return };
        // A re-INVITE of ours waiting out a 491 is not in progress: the peer may go first.
        if call.state != CallState::Confirmed || call.reinvite_pending || call.unacked.is_some() {
            // §14.2: a re-INVITE while one is in progress gets 491.
            self.refuse(now, transport, source, &request, Refusal::status(491));
            return;
        }
        let Ok(contact) = self.contact_uri(transport) else { return };
        let timers = self.config.timers;
        let key = self.start_server_invite(
            &request,
            source,
            transport,
            Owner::Call(id, Purpose::RemoteReinvite),
        );
        let Some(call) = self.calls.get_mut(&id) else { return };
        // Our media does not change, only its direction may (RFC 3264 §8): the offer's
        // reversed, within what we want; a hold (sendonly) is answered recvonly (§6.1). The
        // description keeps its version unless the direction changed.
        if is_sdp(&request) {
            let offered = direction_of(&request.body).unwrap_or(Direction::SendRecv);
            call.local_sdp = with_direction(&call.local_sdp, call.intent.answer_to(offered));
        }
        let response = request
            .response(StatusCode::OK, Some(&call.local_tag))
            .with_header("Contact", format!("<{contact}>"))
            .with_body("application/sdp", call.local_sdp.clone());
        call.unacked = Some(Unacked {
            response: response.clone(),
            key: key.clone(),
            resend: Backoff::start(
                now,
                (!transport.is_reliable()).then_some(timers.t1),
                Some(timers.t2),
            ),
            give_up: now + timers.transaction_timeout(),
        });
        self.drive(now, &key, None);
        self.drive(now, &key, Some(transaction::Input::Respond(response)));
        if is_sdp(&request) {
            let answer = self.calls.get(&id).map(|c| c.local_sdp.clone()).unwrap_or_default();
            self.emit(Event::RemoteUpdate { call: id, sdp: request.body, answer });
        }
    }

    /// Creates the INVITE server transaction for `invite` (its 100 Trying is queued).
    fn start_server_invite(
        &mut self,
        invite: &Request,
        source: SocketAddr,
        transport: Transport,
        owner: Owner,
    ) -> Key {
        let key = Key::for_server(invite);
        let tx = ServerInvite::new(invite, transport.is_reliable(), self.config.timers);
        let tx = super::Tx::ServerInvite(Box::new(tx));
        let peer = super::response_destination(transport, source, invite);
        self.transactions.insert(key.clone(), TxEntry { tx, owner, peer, transport });
        key
    }

    pub(super) fn on_new_invite(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        invite: Request,
    ) {
        let Some(state) = self.trunk_at(source) else {
            debug!(%source, "INVITE from an address that is no configured trunk");
            self.refuse(now, transport, source, &invite, Refusal::status(403));
            return;
        };
        let trunk = state.trunk.id;
        if let Some(credentials) = state.trunk.inbound_credentials() {
            let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
            if !self.authenticate_inbound(now, transport, source, &invite, trunk, credentials) {
                return;
            }
        }
        if !invite.body.is_empty() && !is_sdp(&invite) {
            let accept = Some(("Accept", "application/sdp".to_owned()));
            self.refuse(now, transport, source, &invite, Refusal { code: 415, header: accept });
            return;
        }
        if invite.body.is_empty() {
            // An offerless INVITE would need our offer in the 200 OK; trunks send offers.
            let warning = Some(("Warning", "399 gateway \"an SDP offer is required\"".to_owned()));
            self.refuse(now, transport, source, &invite, Refusal { code: 488, header: warning });
            return;
        }
        let id = CallId(self.next_call);
        self.next_call += 1;
        let local_tag = self.token();
        let key = self.start_server_invite(
            &invite,
            source,
            transport,
            Owner::Call(id, Purpose::InboundInvite),
        );
        let from = user_or_uri(&invite.core.from.uri);
        let to = user_or_uri(&invite.uri);
        let sdp = invite.body.clone();
        let mut call = Call::new(id, CallState::Offered, Some(trunk), source, transport, invite);
        call.local_tag = local_tag;
        call.ring_deadline = Some(now + OFFER_TIMEOUT);
        self.calls.insert(id, call);
        self.drive(now, &key, None);
        self.emit(Event::Offered { call: id, trunk, from, to, sdp });
    }
}

impl UserAgent {
    /// Checks the credentials of an INVITE from a trunk that must authenticate (RFC 3261
    /// §22.1): true when they are proven; otherwise it was answered — 401 with a challenge,
    /// 403 for wrong credentials, 400 for unreadable ones — through an INVITE server
    /// transaction, which retransmits the answer and absorbs its ACK (§17.2.1).
    fn authenticate_inbound(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        invite: &Request,
        trunk: TrunkId,
        credentials: Option<(String, String)>,
    ) -> bool {
        let direction = AuthDirection::Inbound;
        let Some((username, password)) = credentials else {
            warn!(%trunk, "the trunk must authenticate its calls but has no credentials set");
            self.refuse(now, transport, source, invite, Refusal::status(403));
            return false;
        };
        let random = self.rng.random::<u128>();
        let verdict = self.verifier.check(
            now,
            invite.header("Authorization"),
            "INVITE",
            &invite.uri,
            &username,
            &password,
            random,
        );
        match verdict {
            Verdict::Accept => {
                self.emit(Event::TrunkAuthenticated { trunk, direction });
                true
            }
            Verdict::Challenge(value) => {
                let header = Some(("WWW-Authenticate", value));
                self.refuse(now, transport, source, invite, Refusal { code: 401, header });
                false
            }
            Verdict::Refuse(why) => {
                self.auth_failed(trunk, direction, 403, &format!("Forbidden: {why}"));
                self.refuse(now, transport, source, invite, Refusal::status(403));
                false
            }
            Verdict::Malformed(why) => {
                self.auth_failed(trunk, direction, 400, &format!("Bad Request: {why}"));
                let warning = Some(("Warning", "399 gateway \"malformed Authorization\"".into()));
                self.refuse(now, transport, source, invite, Refusal { code: 400, header: warning });
                false
            }
        }
    }
}

/// An initial INVITE of ours (CSeq 1, RFC 3261 §8.1.1) to `uri` with our offer `sdp`; `headers`
/// are the ones beyond the core (`Contact`, `Allow`, …); `Content-Type` is added here.
fn initial_invite(
    uri: String,
    via: Via,
    from: NameAddr,
    to: NameAddr,
    call_id: String,
    mut headers: rsip::Headers,
    sdp: Vec<u8>,
) -> Request {
    headers.push(make_header("Content-Type", "application/sdp"));
    Request {
        method: Method::Invite,
        uri,
        core: CoreHeaders {
            via: vec![via],
            from,
            to,
            call_id,
            cseq_seq: 1,
            cseq_method: Method::Invite,
        },
        max_forwards: 70,
        headers,
        body: sdp,
    }
}

/// True when the message carries an SDP body.
fn is_sdp(message: &impl Body) -> bool {
    message.content_type().as_deref() == Some("application/sdp") && !message.body().is_empty()
}

trait Body: HeaderAccess {
    fn body(&self) -> &[u8];
}

impl Body for Request {
    fn body(&self) -> &[u8] {
        &self.body
    }
}

impl Body for Response {
    fn body(&self) -> &[u8] {
        &self.body
    }
}

/// `sip:123@host;x` → `123`; a URI with no user part stays whole.
fn user_or_uri(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    match rest.split_once('@') {
        Some((user, _)) => user.split(';').next().unwrap_or(user).to_owned(),
        None => uri.to_owned(),
    }
}

/// Where a call the gateway places for an agent leg goes: the transport, the request URI, the
/// address it is sent to, and the user it is for.
struct LegTarget<'a> {
    transport: Transport,
    uri: String,
    peer: SocketAddr,
    user: &'a SipUser,
}
