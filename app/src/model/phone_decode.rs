//! The phone page reads the server's [`PhoneEvent`]s with this hand-written decoder rather
//! than serde's derived one: the same JSON, for a fraction of the browser bundle (see
//! [`super::json_decode`]). The server still writes them with serde.
//!
//! Adding to the protocol: a new field is one line in its type's `decode` (`f.req` for a
//! field that is always sent, `f.opt` for a `#[serde(default)]` or `Option` one); a new
//! variant is one arm. Each type is built as a whole struct literal, so a field left out here
//! does not compile; the test below writes one of every variant with serde and reads it back,
//! so a misspelt name fails it.

use super::agent::{AgentStatus, PauseReason};
use super::call::{CallOutcome, HangupBy};
use super::campaign::CampaignKind;
use super::chat::ChatMessage;
use super::disposition::DispositionKind;
use super::ids::{CampaignId, LeadId, LeadsetId};
use super::json_decode::{Decode, DecodeError, Reader};
use super::lead::{Contact, Lead};
use super::notice::{Notice, NoticeKind};
use super::phone::{
    AudioState, Colleague, LineState, PhoneCampaign, PhoneEvent, PhoneLine, TransferNotice,
};
use super::recording::RecordingMode;
use super::script::{ScriptBody, ScriptForm};
use super::text::{LeadStatus, Name, PhoneNumber};
use super::user::UserId;

type Result<T> = std::result::Result<T, DecodeError>;

impl PhoneEvent {
    /// Reads an event as the server's socket sends it (`serde_json`'s form).
    pub fn from_json(text: &str) -> Result<PhoneEvent> {
        super::json_decode::from_json(text)
    }
}

impl Decode for PhoneEvent {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let v = r.variant()?;
        if v.is_unit() {
            return Ok(match v.name.as_str() {
                "no_leads" => PhoneEvent::NoLeads,
                "stopping" => PhoneEvent::Stopping,
                "wrap_up_timeout" => PhoneEvent::WrapUpTimeout,
                "taken_over" => PhoneEvent::TakenOver,
                "logged_out" => PhoneEvent::LoggedOut,
                _ => return Err(v.unknown()),
            });
        }
        Ok(match v.name.as_str() {
            "transfer" => PhoneEvent::Transfer(v.value()?),
            "notice" => PhoneEvent::Notice(v.value()?),
            "welcome" => {
                let f = v.fields()?;
                PhoneEvent::Welcome { campaign: f.req("campaign")?, status: f.req("status")? }
            }
            "answer" => PhoneEvent::Answer { sdp: v.fields()?.req("sdp")? },
            "audio" => PhoneEvent::Audio { state: v.fields()?.req("state")? },
            "state" => PhoneEvent::State { status: v.fields()?.req("status")? },
            "preview" => PhoneEvent::Preview { lead: v.fields()?.req("lead")? },
            "ringing" => PhoneEvent::Ringing { call: v.fields()?.req("call")? },
            "dialling" => PhoneEvent::Dialling { number: v.fields()?.req("number")? },
            "connected" => {
                let f = v.fields()?;
                PhoneEvent::Connected {
                    call: f.req("call")?,
                    call_ref: f.req("call_ref")?,
                    lead: f.req("lead")?,
                    script: f.req("script")?,
                    form: f.opt("form")?,
                    values: f.opt("values")?,
                    crm: f.opt("crm")?,
                }
            }
            "ended" => {
                let f = v.fields()?;
                PhoneEvent::Ended {
                    call: f.req("call")?,
                    outcome: f.req("outcome")?,
                    by: f.req("by")?,
                }
            }
            "digit" => {
                let f = v.fields()?;
                PhoneEvent::Digit { call: f.req("call")?, digit: f.req("digit")? }
            }
            "wrap_up" => {
                let f = v.fields()?;
                PhoneEvent::WrapUp {
                    call: f.req("call")?,
                    seconds_left: f.req("seconds_left")?,
                    notes: f.req("notes")?,
                }
            }
            "error" => PhoneEvent::Error { message: v.fields()?.req("message")? },
            "colleagues" => PhoneEvent::Colleagues { agents: v.fields()?.req("agents")? },
            "campaign_active" => PhoneEvent::CampaignActive { active: v.fields()?.req("active")? },
            "recording" => {
                let f = v.fields()?;
                PhoneEvent::Recording { call: f.req("call")?, on: f.req("on")? }
            }
            "chat" => PhoneEvent::Chat { message: v.fields()?.req("message")? },
            "lines" => PhoneEvent::Lines { lines: v.fields()?.req("lines")? },
            "disposed" => PhoneEvent::Disposed { call: v.fields()?.req("call")? },
            _ => return Err(v.unknown()),
        })
    }
}

impl Decode for PhoneLine {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(PhoneLine {
            call: f.req("call")?,
            lead: f.req("lead")?,
            state: f.req("state")?,
            seconds: f.req("seconds")?,
        })
    }
}

impl Decode for TransferNotice {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut v = r.variant()?;
        let name = std::mem::take(&mut v.name);
        let f = v.fields()?;
        Ok(match name.as_str() {
            "offered" => TransferNotice::Offered {
                call: f.req("call")?,
                from: f.req("from")?,
                lead: f.req("lead")?,
            },
            "consulting" => {
                TransferNotice::Consulting { call: f.req("call")?, with: f.req("with")? }
            }
            "cancelled" => TransferNotice::Cancelled { call: f.req("call")? },
            "done" => TransferNotice::Done { call: f.req("call")?, to: f.req("to")? },
            "failed" => TransferNotice::Failed { call: f.req("call")? },
            "referring" => TransferNotice::Referring { call: f.req("call")?, to: f.req("to")? },
            "referred" => TransferNotice::Referred { call: f.req("call")?, to: f.req("to")? },
            _ => return Err(DecodeError::Variant),
        })
    }
}

impl Decode for AgentStatus {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let v = r.variant()?;
        if v.name == "paused" {
            return Ok(AgentStatus::Paused { reason: v.fields()?.req("reason")? });
        }
        if !v.is_unit() {
            return Err(v.unknown());
        }
        Ok(match v.name.as_str() {
            "logged_out" => AgentStatus::LoggedOut,
            "ready" => AgentStatus::Ready,
            "reserved" => AgentStatus::Reserved,
            "in_call" => AgentStatus::InCall,
            "wrap_up" => AgentStatus::WrapUp,
            _ => return Err(v.unknown()),
        })
    }
}

impl Decode for PhoneCampaign {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(PhoneCampaign {
            id: f.req("id")?,
            name: f.req("name")?,
            kind: f.req("kind")?,
            dispositions: f.req("dispositions")?,
            wrapup_seconds: f.req("wrapup_seconds")?,
            pause_reasons: f.req("pause_reasons")?,
            departments: f.opt("departments")?,
            recording: f.opt("recording")?,
        })
    }
}

impl Decode for Lead {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(Lead {
            id: f.req("id")?,
            leadset_id: f.req("leadset_id")?,
            phone: f.req("phone")?,
            status: f.req("status")?,
            attempts: f.req("attempts")?,
            timezone: f.req("timezone")?,
            contact: f.req("contact")?,
            custom: f.req("custom")?,
            invalid_details: f.req("invalid_details")?,
        })
    }
}

impl Decode for Contact {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(Contact {
            first_name: f.req("first_name")?,
            last_name: f.req("last_name")?,
            address: f.req("address")?,
            city: f.req("city")?,
            state: f.req("state")?,
            postcode: f.req("postcode")?,
            email: f.req("email")?,
            gender: f.req("gender")?,
            comments: f.req("comments")?,
        })
    }
}

impl Decode for Colleague {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(Colleague {
            id: f.req("id")?,
            name: f.req("name")?,
            status: f.req("status")?,
            supervisor: f.opt("supervisor")?,
        })
    }
}

impl Decode for Notice {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(Notice {
            id: f.req("id")?,
            kind: f.req("kind")?,
            text: f.req("text")?,
            at: f.req("at")?,
        })
    }
}

impl Decode for ChatMessage {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let f = r.fields()?;
        Ok(ChatMessage {
            id: f.req("id")?,
            at: f.req("at")?,
            from: f.req("from")?,
            author: f.req("author")?,
            room: f.req("room")?,
            to: f.req("to")?,
            text: f.req("text")?,
            broadcast: f.req("broadcast")?,
        })
    }
}

/// Ids: their number.
macro_rules! decode_id {
    ($($name:ident),*) => {$(
        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                r.i64().map($name)
            }
        }
    )*};
}
decode_id!(CampaignId, LeadId, LeadsetId, UserId);

/// Checked texts: a string their `parse` accepts.
macro_rules! decode_text {
    ($($name:ident),*) => {$(
        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                let at = r.invalid();
                $name::parse(&r.string()?).map_err(|_| at)
            }
        }
    )*};
}
decode_text!(Name, LeadStatus, PhoneNumber, PauseReason);

/// A script and its form as stored: their text, parsed again.
macro_rules! decode_stored {
    ($($name:ident => $parse:path),*) => {$(
        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                let at = r.invalid();
                $parse(&r.string()?).map_err(|_| at)
            }
        }
    )*};
}
decode_stored!(ScriptBody => ScriptBody::stored, ScriptForm => ScriptForm::parse);

/// Enums without fields: their name, as serde writes it.
macro_rules! decode_names {
    ($name:ident { $($text:literal => $variant:ident),* $(,)? }) => {
        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                let at = r.invalid();
                Ok(match r.string()?.as_str() {
                    $($text => $name::$variant,)*
                    _ => return Err(at),
                })
            }
        }
    };
}
decode_names!(AudioState {
    "connecting" => Connecting, "connected" => Connected, "failed" => Failed, "closed" => Closed,
});
decode_names!(CampaignKind {
    "auto" => Auto, "predictive" => Predictive, "preview" => Preview, "broadcast" => Broadcast,
});
decode_names!(DispositionKind {
    "final" => Final, "recyclable" => Recyclable, "callback" => Callback, "dnc" => Dnc,
});
decode_names!(LineState {
    "dialling" => Dialling, "talking" => Talking, "held" => Held, "joined" => Joined,
    "ended" => Ended,
});
decode_names!(RecordingMode { "off" => Off, "all" => All, "on_demand" => OnDemand });
decode_names!(CallOutcome {
    "answered" => Answered, "busy" => Busy, "no_answer" => NoAnswer, "rejected" => Rejected,
    "invalid_number" => InvalidNumber, "congestion" => Congestion, "failed" => Failed,
    "dropped" => Dropped, "machine" => Machine,
});
decode_names!(HangupBy { "agent" => Agent, "customer" => Customer, "system" => System });
decode_names!(NoticeKind { "info" => Info, "system" => System, "campaign" => Campaign, "error" => Error });

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn lead(id: i64) -> Lead {
        Lead {
            id: LeadId(id),
            leadset_id: LeadsetId(id + 1),
            phone: PhoneNumber::parse("+442079460958").unwrap(),
            status: LeadStatus::parse("CALL BACK").unwrap(),
            attempts: 3,
            timezone: "Europe/London".into(),
            contact: Contact {
                first_name: "Zoë".into(),
                last_name: "O\"Brien".into(),
                address: "1 High St\nFlat 2".into(),
                city: "London".into(),
                state: "Greater London".into(),
                postcode: "SW1A 1AA".into(),
                email: "zoe@example.org".into(),
                gender: "f".into(),
                comments: "calls after 6 😀".into(),
            },
            custom: BTreeMap::from([("plan".into(), "gold".into()), ("ref".into(), "A\\7".into())]),
            invalid_details: true,
        }
    }

    fn campaign() -> PhoneCampaign {
        PhoneCampaign {
            id: CampaignId(7),
            name: Name::parse("Spring offer").unwrap(),
            kind: CampaignKind::Preview,
            dispositions: DispositionKind::ALL
                .iter()
                .enumerate()
                .map(|(i, k)| (LeadStatus::parse(&format!("CODE {i}")).unwrap(), *k))
                .collect(),
            wrapup_seconds: 45,
            pause_reasons: vec!["Break".into(), "Lunch".into()],
            departments: vec!["Billing".into()],
            recording: RecordingMode::OnDemand,
        }
    }

    /// One of every event (every variant of what they hold, too), every field set to something
    /// other than its default.
    fn every_event() -> Vec<PhoneEvent> {
        let mut events = vec![
            PhoneEvent::Welcome { campaign: campaign(), status: AgentStatus::Ready },
            PhoneEvent::Answer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() },
            PhoneEvent::Preview { lead: lead(11) },
            PhoneEvent::NoLeads,
            PhoneEvent::Stopping,
            PhoneEvent::Ringing { call: 5 },
            PhoneEvent::Dialling { number: PhoneNumber::parse("+12025550101").unwrap() },
            PhoneEvent::Connected {
                call: u64::MAX,
                call_ref: "c-9".into(),
                lead: lead(12),
                script: Some(ScriptBody::stored("# a: A\nHello {first_name}\n> Yes -> a").unwrap()),
                form: ScriptForm::parse("x | X | choice: A, B | required").unwrap(),
                values: [("x".to_string(), "A \"b\"".to_string())].into(),
                crm: Some("https://crm.example/c?phone=%2B1".into()),
            },
            PhoneEvent::WrapUpTimeout,
            PhoneEvent::Digit { call: 6, digit: '#' },
            PhoneEvent::WrapUp { call: 8, seconds_left: 12, notes: "spoke to \"her\"".into() },
            PhoneEvent::Error { message: "No.".into() },
            PhoneEvent::Colleagues {
                agents: vec![
                    Colleague {
                        id: UserId(4),
                        name: "Bea".into(),
                        status: AgentStatus::InCall,
                        supervisor: true,
                    },
                    Colleague {
                        id: UserId(5),
                        name: "Cy".into(),
                        status: AgentStatus::Ready,
                        supervisor: false,
                    },
                ],
            },
            PhoneEvent::CampaignActive { active: true },
            PhoneEvent::Recording { call: 9, on: true },
            PhoneEvent::Chat {
                message: ChatMessage {
                    id: 3,
                    at: 1_700_000_000_000,
                    from: UserId(4),
                    author: "Bea \"B\" <b>".into(),
                    room: None,
                    to: Some(UserId(5)),
                    text: "line one\nline two".into(),
                    broadcast: false,
                },
            },
            PhoneEvent::Chat {
                message: ChatMessage {
                    id: 4,
                    at: 1,
                    from: UserId(6),
                    author: "Sue".into(),
                    room: Some(CampaignId(2)),
                    to: None,
                    text: "Everyone: lunch at 1".into(),
                    broadcast: true,
                },
            },
            PhoneEvent::Lines {
                lines: vec![
                    PhoneLine { call: 1, lead: lead(3), state: LineState::Held, seconds: 61 },
                    PhoneLine { call: 2, lead: lead(4), state: LineState::Talking, seconds: 5 },
                    PhoneLine { call: 3, lead: lead(5), state: LineState::Dialling, seconds: 0 },
                    PhoneLine { call: 4, lead: lead(6), state: LineState::Ended, seconds: 0 },
                    PhoneLine { call: 5, lead: lead(7), state: LineState::Joined, seconds: 9 },
                ],
            },
            PhoneEvent::Lines { lines: vec![] },
            PhoneEvent::Disposed { call: 12 },
            PhoneEvent::TakenOver,
            PhoneEvent::LoggedOut,
        ];
        let statuses = [
            AgentStatus::LoggedOut,
            AgentStatus::Paused { reason: PauseReason::parse("Lunch").unwrap() },
            AgentStatus::Ready,
            AgentStatus::Reserved,
            AgentStatus::InCall,
            AgentStatus::WrapUp,
        ];
        events.extend(statuses.map(|status| PhoneEvent::State { status }));
        let audio =
            [AudioState::Connecting, AudioState::Connected, AudioState::Failed, AudioState::Closed];
        events.extend(audio.map(|state| PhoneEvent::Audio { state }));
        let mut outcomes = vec![CallOutcome::Answered];
        outcomes.extend(CallOutcome::RETRYABLE);
        let bys = [HangupBy::Agent, HangupBy::Customer, HangupBy::System];
        for (i, outcome) in outcomes.into_iter().enumerate() {
            events.push(PhoneEvent::Ended { call: i as u64 + 1, outcome, by: bys[i % 3] });
        }
        let transfers = [
            TransferNotice::Offered { call: 1, from: "Ann".into(), lead: Box::new(lead(13)) },
            TransferNotice::Consulting { call: 2, with: "Bea".into() },
            TransferNotice::Cancelled { call: 3 },
            TransferNotice::Done { call: 4, to: "Cy".into() },
            TransferNotice::Failed { call: 5 },
            TransferNotice::Referring { call: 6, to: "Billing".into() },
            TransferNotice::Referred { call: 7, to: "Sales".into() },
        ];
        events.extend(transfers.map(PhoneEvent::Transfer));
        let kinds = [NoticeKind::Info, NoticeKind::System, NoticeKind::Campaign, NoticeKind::Error];
        events.extend(kinds.map(|kind| {
            PhoneEvent::Notice(Notice {
                id: 4,
                kind,
                text: "Team meeting at 3".into(),
                at: 1_700_000_000_000,
            })
        }));
        for kind in CampaignKind::ALL {
            events.push(PhoneEvent::Welcome {
                campaign: PhoneCampaign { kind, recording: RecordingMode::All, ..campaign() },
                status: AgentStatus::Paused { reason: PauseReason::parse("Break").unwrap() },
            });
        }
        events
    }

    /// Which variant an event is: this match has no catch-all, so a new variant does not
    /// compile until it is added here and to [`every_event`].
    fn variant(e: &PhoneEvent) -> &'static str {
        match e {
            PhoneEvent::Welcome { .. } => "welcome",
            PhoneEvent::Answer { .. } => "answer",
            PhoneEvent::Audio { .. } => "audio",
            PhoneEvent::State { .. } => "state",
            PhoneEvent::Preview { .. } => "preview",
            PhoneEvent::NoLeads => "no_leads",
            PhoneEvent::Stopping => "stopping",
            PhoneEvent::Ringing { .. } => "ringing",
            PhoneEvent::Dialling { .. } => "dialling",
            PhoneEvent::Connected { .. } => "connected",
            PhoneEvent::Ended { .. } => "ended",
            PhoneEvent::WrapUpTimeout => "wrap_up_timeout",
            PhoneEvent::Digit { .. } => "digit",
            PhoneEvent::WrapUp { .. } => "wrap_up",
            PhoneEvent::Error { .. } => "error",
            PhoneEvent::Colleagues { .. } => "colleagues",
            PhoneEvent::Transfer(_) => "transfer",
            PhoneEvent::Notice(_) => "notice",
            PhoneEvent::CampaignActive { .. } => "campaign_active",
            PhoneEvent::Recording { .. } => "recording",
            PhoneEvent::Chat { .. } => "chat",
            PhoneEvent::Lines { .. } => "lines",
            PhoneEvent::Disposed { .. } => "disposed",
            PhoneEvent::TakenOver => "taken_over",
            PhoneEvent::LoggedOut => "logged_out",
        }
    }

    #[test]
    fn every_event_the_server_writes_reads_back_the_same() {
        let events = every_event();
        for event in &events {
            let json = serde_json::to_string(event).unwrap();
            assert_eq!(PhoneEvent::from_json(&json).as_ref(), Ok(event), "{json}");
            // serde's name for the variant is the one matched above.
            assert!(
                json.starts_with(&format!("\"{}\"", variant(event)))
                    || json.starts_with(&format!("{{\"{}\":", variant(event))),
                "{json}"
            );
            // Pretty-printed (white space everywhere JSON allows it) reads the same.
            let pretty = serde_json::to_string_pretty(event).unwrap();
            assert_eq!(PhoneEvent::from_json(&pretty).as_ref(), Ok(event), "{pretty}");
        }
        // Every variant is there: `variant` names all of them.
        let mut seen: Vec<_> = events.iter().map(variant).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 25, "{seen:?}");
    }

    #[test]
    fn defaulted_fields_may_be_missing_and_unknown_ones_are_skipped() {
        let json = r#"{"welcome":{"extra":[1,{"a":"}"}],"campaign":{"id":1,"name":"C","kind":"auto",
            "dispositions":[["SALE",  "final"]],"wrapup_seconds":30,"pause_reasons":[]},"status":"ready"}}"#;
        let PhoneEvent::Welcome { campaign, status } = PhoneEvent::from_json(json).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!(status, AgentStatus::Ready);
        assert_eq!(campaign.departments, Vec::<String>::new());
        assert_eq!(campaign.recording, RecordingMode::Off);
        assert_eq!(
            campaign.dispositions,
            vec![(LeadStatus::parse("SALE").unwrap(), DispositionKind::Final)]
        );
        let c: Colleague =
            super::super::json_decode::from_json(r#"{"id":2,"name":"B","status":"ready"}"#)
                .unwrap();
        assert!(!c.supervisor);
    }

    #[test]
    fn what_serde_refuses_this_refuses() {
        for bad in [
            r#"{"explode":{}}"#,
            r#""ready""#,
            r#"{"type":"no_leads"}"#,
            r#"{"ringing":{}}"#,
            r#"{"ringing":{"call":-1}}"#,
            r#"{"ringing":{"call":"1"}}"#,
            r#"{"ringing":{"call":1}"#,
            r#"{"ringing":{"call":1}} x"#,
            r#"{"ringing":{"call":1},"stopping":{}}"#,
            r#"{"no_leads":{}}"#,
            r#"{"digit":{"call":1,"digit":"12"}}"#,
            r#"{"dialling":{"number":"12345"}}"#,
            r#"{"state":{"status":"asleep"}}"#,
            r#"{"audio":{"state":"Connected"}}"#,
            r#"{"transfer":{"done":{"call":1}}}"#,
            r#"{"notice":{"id":1,"kind":"loud","text":"","at":0}}"#,
            "",
            "null",
        ] {
            assert!(PhoneEvent::from_json(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<PhoneEvent>(bad).is_err(), "serde reads {bad}");
        }
    }
}
