//! SIP dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE creates, and the
//! state every in-dialog request (ACK for 2xx, BYE, re-INVITE, REFER) is built from.
//!
//! Invariants: the dialog id (Call-ID, local tag, remote tag) never changes; the local CSeq
//! only grows (§12.2.1.1); remote requests with a CSeq below the last one are refused
//! (§12.2.2); the route set is fixed when the dialog is created and recomputed only when an
//! early dialog is confirmed by a 2xx (§13.2.2.4).

use super::message::{
    CoreHeaders, HeaderAccess, Method, NameAddr, Request, Response, Via, make_header, uri_scheme,
};

/// Why a dialog operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A response without a `To` tag cannot create a dialog (§12.1.2).
    #[error("response has no To tag")]
    NoRemoteTag,
    /// The remote CSeq went backwards (§12.2.2: answer 500).
    #[error("CSeq {got} is below the last remote CSeq {last}")]
    CSeqOutOfOrder {
        /// Received.
        got: u32,
        /// Last seen.
        last: u32,
    },
}

/// Dialog states (§12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response with a To tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Identifies a dialog: Call-ID and both tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog a received request belongs to (from the UAS point of view: To is ours).
    pub fn of_request(core: &CoreHeaders) -> Option<Self> {
        Some(Self {
            call_id: core.call_id.clone(),
            local_tag: core.to.tag()?.to_owned(),
            remote_tag: core.from.tag().unwrap_or_default().to_owned(),
        })
    }

    /// The dialog a received response belongs to (From is ours).
    pub fn of_response(core: &CoreHeaders) -> Option<Self> {
        Some(Self {
            call_id: core.call_id.clone(),
            local_tag: core.from.tag()?.to_owned(),
            remote_tag: core.to.tag()?.to_owned(),
        })
    }
}

/// One dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    local_seq: u32,
    remote_seq: Option<u32>,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    remote_target: String,
    route_set: Vec<String>,
}

/// A `Contact`'s URI when it can be the Request-URI of our in-dialog requests: a SIP or
/// SIPS URI (RFC 3261 §8.1.1.8, §12.1.1). Any other is ignored and the target stays what it
/// was, so our ACK and BYE are never requests the peer must refuse (416).
fn target(contact: Option<NameAddr>) -> Option<String> {
    let contact = contact?;
    matches!(uri_scheme(&contact.uri).as_deref(), Some("sip" | "sips")).then_some(contact.uri)
}

impl Dialog {
    /// The UAC side, from a response to our INVITE carrying a To tag (§12.1.2): the route set
    /// is the `Record-Route` list reversed, the remote target the `Contact`.
    pub fn uac(invite: &Request, response: &Response) -> Result<Self, DialogError> {
        let id = DialogId::of_response(&response.core).ok_or(DialogError::NoRemoteTag)?;
        let mut route_set: Vec<String> =
            response.header_values("Record-Route").into_iter().map(str::to_owned).collect();
        route_set.reverse();
        Ok(Self {
            id,
            state: if response.status.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: invite.core.cseq_seq,
            remote_seq: None,
            local_uri: invite.core.from.clone(),
            // What we write back in our requests never carries a control character, even an
            // escaped one the peer sent (RFC 3261 §25.1 allows it; we never send one).
            remote_uri: response.core.to.without_controls(),
            remote_target: target(response.contact()).unwrap_or_else(|| invite.uri.clone()),
            route_set,
        })
    }

    /// The UAS side, for an INVITE we answer with `local_tag` (§12.1.1): the route set is the
    /// `Record-Route` list in order, the remote target the INVITE's `Contact`.
    pub fn uas(invite: &Request, local_tag: &str) -> Self {
        Self {
            id: DialogId {
                call_id: invite.core.call_id.clone(),
                local_tag: local_tag.to_owned(),
                remote_tag: invite.core.from.tag().unwrap_or_default().to_owned(),
            },
            state: DialogState::Confirmed,
            // §12.1.1: the local sequence number starts empty; §8.1.1.5 lets us pick any
            // start below 2^31 for our first request.
            local_seq: 1,
            remote_seq: Some(invite.core.cseq_seq),
            local_uri: invite.core.to.with_tag(local_tag),
            // As in `uac`: no control character goes back out, escaped or not.
            remote_uri: invite.core.from.without_controls(),
            remote_target: target(invite.contact()).unwrap_or_else(|| invite.uri.clone()),
            route_set: invite
                .header_values("Record-Route")
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Dialog id.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The peer's current target URI.
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// A 2xx to our INVITE confirms the dialog: target and route set are taken from it
    /// (§12.2.1.2, §13.2.2.4).
    pub fn confirm(&mut self, response: &Response) {
        self.state = DialogState::Confirmed;
        if let Some(uri) = target(response.contact()) {
            self.remote_target = uri;
        }
        let mut route_set: Vec<String> =
            response.header_values("Record-Route").into_iter().map(str::to_owned).collect();
        route_set.reverse();
        self.route_set = route_set;
    }

    /// Checks and records the CSeq of a request from the peer (§12.2.2).
    pub fn accept_remote(&mut self, request: &Request) -> Result<(), DialogError> {
        let got = request.core.cseq_seq;
        // ACK and CANCEL repeat the CSeq of the INVITE they belong to.
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        match self.remote_seq {
            Some(last) if got < last => Err(DialogError::CSeqOutOfOrder { got, last }),
            _ => {
                self.remote_seq = Some(got);
                Ok(())
            }
        }
    }

    /// A new in-dialog request (§12.2.1.1) with the next local CSeq, the given top `Via`
    /// and Contact. Loose routing (`;lr`) keeps the remote target as Request-URI; a strict
    /// router becomes the Request-URI and the target goes last in `Route`.
    pub fn request(&mut self, method: Method, via: Via, contact: &str) -> Request {
        self.local_seq += 1;
        self.build(method, self.local_seq, via, Some(contact))
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): its own
    /// transaction (a new branch), the INVITE's CSeq number.
    pub fn ack(&self, invite_seq: u32, via: Via) -> Request {
        self.build(Method::Ack, invite_seq, via, None)
    }

    fn build(&self, method: Method, seq: u32, via: Via, contact: Option<&str>) -> Request {
        let mut headers = rsip::Headers::default();
        let loose = self
            .route_set
            .first()
            .is_none_or(|r| NameAddr::parse(r).is_ok_and(|r| r.uri.contains(";lr")));
        let uri = if loose {
            for route in &self.route_set {
                headers.push(make_header("Route", route.clone()));
            }
            self.remote_target.clone()
        } else {
            for route in &self.route_set[1..] {
                headers.push(make_header("Route", route.clone()));
            }
            headers.push(make_header("Route", format!("<{}>", self.remote_target)));
            NameAddr::parse(&self.route_set[0]).map(|r| r.uri).unwrap_or_default()
        };
        if let Some(contact) = contact {
            headers.push(make_header("Contact", format!("<{contact}>")));
        }
        Request {
            method,
            uri,
            core: CoreHeaders {
                via: vec![via],
                from: self.local_uri.clone(),
                to: self.remote_uri.clone(),
                call_id: self.id.call_id.clone(),
                cseq_seq: seq,
                cseq_method: method,
            },
            max_forwards: 70,
            headers,
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Message, StatusCode, parse};

    fn invite() -> Request {
        let text = "INVITE sip:5551234@trunk.example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv\r\n\
            From: \"Acme\" <sip:1000@trunk.example.com>;tag=ours\r\n\
            To: <sip:5551234@trunk.example.com>\r\nCall-ID: d1\r\nCSeq: 1 INVITE\r\n\
            Contact: <sip:gw@10.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse(text.as_bytes()) else { panic!() };
        r
    }

    fn via(branch: &str) -> Via {
        Via::parse(&format!("SIP/2.0/UDP 10.0.0.1:5060;branch={branch}")).unwrap()
    }

    fn ok(invite: &Request, record_route: &[&str]) -> Response {
        let mut r = invite
            .response(StatusCode::OK, Some("theirs"))
            .with_header("Contact", "<sip:callee@192.0.2.9:5080>");
        for rr in record_route {
            r = r.with_header("Record-Route", *rr);
        }
        r
    }

    #[test]
    fn uac_dialog_from_2xx_builds_ack_and_bye() {
        let inv = invite();
        let resp = ok(&inv, &["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]);
        let mut d = Dialog::uac(&inv, &resp).unwrap();
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.id().remote_tag, "theirs");
        let ack = d.ack(1, via("z9hG4bKack"));
        assert_eq!(ack.uri, "sip:callee@192.0.2.9:5080", "remote target from Contact");
        assert_eq!(ack.core.cseq_seq, 1);
        assert_eq!(ack.core.cseq_method, Method::Ack);
        assert_eq!(
            ack.header_values("Route"),
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        let bye = d.request(Method::Bye, via("z9hG4bKbye"), "sip:gw@10.0.0.1:5060");
        assert_eq!(bye.core.cseq_seq, 2, "CSeq grows");
        assert_eq!(bye.core.from.tag(), Some("ours"));
        assert_eq!(bye.core.to.tag(), Some("theirs"));
        let reinvite = d.request(Method::Invite, via("z9hG4bKre"), "sip:gw@10.0.0.1:5060");
        assert_eq!(reinvite.core.cseq_seq, 3);
    }

    #[test]
    fn a_contact_that_is_no_sip_uri_is_never_our_request_uri() {
        let inv = invite();
        let odd = inv
            .response(StatusCode::OK, Some("theirs"))
            .with_header("Contact", "<gip:far@192.0.2.9:5080>");
        let mut d = Dialog::uac(&inv, &odd).unwrap();
        assert_eq!(d.remote_target(), inv.uri, "the INVITE's Request-URI stays the target");
        assert_eq!(d.ack(1, via("z9hG4bKack")).uri, inv.uri);
        d.confirm(&odd);
        assert_eq!(d.remote_target(), inv.uri);
        d.confirm(&ok(&inv, &[]));
        assert_eq!(d.remote_target(), "sip:callee@192.0.2.9:5080");
    }

    #[test]
    fn strict_router_becomes_request_uri() {
        let inv = invite();
        let resp = ok(&inv, &["<sip:strict.example.com>"]);
        let mut d = Dialog::uac(&inv, &resp).unwrap();
        let bye = d.request(Method::Bye, via("z9hG4bKb"), "sip:gw@10.0.0.1");
        assert_eq!(bye.uri, "sip:strict.example.com");
        assert_eq!(bye.header_values("Route"), ["<sip:callee@192.0.2.9:5080>"]);
    }

    #[test]
    fn early_dialog_is_confirmed_by_2xx() {
        let inv = invite();
        let ringing = inv.response(StatusCode::RINGING, Some("theirs"));
        let mut d = Dialog::uac(&inv, &ringing).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        d.confirm(&ok(&inv, &[]));
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.remote_target(), "sip:callee@192.0.2.9:5080");
        let no_tag = inv.response(StatusCode::RINGING, None);
        assert_eq!(Dialog::uac(&inv, &no_tag).unwrap_err(), DialogError::NoRemoteTag);
    }

    #[test]
    fn uas_dialog_refuses_cseq_going_back() {
        let inv = invite();
        let mut d = Dialog::uas(&inv, "mine");
        assert_eq!(d.id().local_tag, "mine");
        assert_eq!(d.id().remote_tag, "ours");
        let mut bye = inv.clone();
        bye.method = Method::Bye;
        bye.core.cseq_seq = 2;
        assert!(d.accept_remote(&bye).is_ok());
        bye.core.cseq_seq = 1;
        assert!(matches!(d.accept_remote(&bye), Err(DialogError::CSeqOutOfOrder { .. })));
        let out = d.request(Method::Bye, via("z9hG4bKx"), "sip:gw@10.0.0.1");
        assert_eq!(out.core.from.tag(), Some("mine"));
        assert_eq!(out.core.to.tag(), Some("ours"));
        assert_eq!(out.uri, "sip:gw@10.0.0.1:5060");
    }
}
