//! A delivery's body: the event, its campaign, the call and the lead, as JSON.
//!
//! ```json
//! {"event": "call.ended", "delivery": 7, "occurred_at": 1764950000000,
//!  "campaign": {"id": 2, "name": "Spring"},
//!  "call": {"attempt_id": 31, "call_ref": "…", "direction": "outbound", "phone": "+12025550101",
//!           "agent": "ann", "dialed_at": …, "answered_at": …, "ended_at": …,
//!           "outcome": "answered", "disposition": "SALE MADE", "notes": "…", "disposed_at": …},
//!  "lead": {"id": 5, "phone": "+12025550101", "status": "SALE MADE", "first_name": "Ada", …,
//!           "custom": {"plan": "Gold"}}}
//! ```
//!
//! Times are Unix milliseconds. A `call.answered` body tells the call up to its answer (no
//! end, outcome, disposition or notes, even when composed later); `call.ended` tells it all.
//! The lead is as stored when the body was composed (at the first try); `lead` is null when
//! the lead was deleted. Keys are in a fixed order, so the same facts give the same bytes.

use app::model::Lead;
use app::model::crm::WebhookEvent;
use serde_json::{Value, json};

use crate::db::crm::CallFacts;

/// The body of delivery `id` of `event`, which happened at `occurred_at`.
pub fn compose(
    id: i64,
    event: WebhookEvent,
    occurred_at: i64,
    facts: &CallFacts,
    lead: Option<&Lead>,
) -> String {
    let ended = event == WebhookEvent::CallEnded;
    let only_ended = |v: Value| if ended { v } else { Value::Null };
    let call = json!({
        "attempt_id": facts.attempt_id,
        "call_ref": facts.call_ref,
        "direction": if facts.inbound { "inbound" } else { "outbound" },
        "phone": facts.phone,
        "agent": facts.agent,
        "dialed_at": facts.dialed_at,
        "answered_at": facts.answered_at,
        "bridged_at": facts.bridged_at,
        "ended_at": only_ended(json!(facts.ended_at)),
        "outcome": only_ended(json!(facts.outcome)),
        "disposition": only_ended(json!(facts.disposition)),
        "notes": only_ended(json!(facts.notes)),
        "disposed_at": only_ended(json!(facts.disposed_at)),
    });
    let lead = lead.map(|l| {
        let mut fields = serde_json::Map::new();
        fields.insert("id".into(), json!(l.id.0));
        fields.insert("phone".into(), json!(l.phone.as_str()));
        fields.insert("status".into(), json!(l.status.as_str()));
        for f in app::model::Contact::FIELDS {
            fields.insert(f.into(), json!(l.contact.get(f).unwrap_or("")));
        }
        fields.insert("timezone".into(), json!(l.timezone));
        fields.insert("custom".into(), json!(l.custom));
        Value::Object(fields)
    });
    let body = json!({
        "event": event.as_str(),
        "delivery": id,
        "occurred_at": occurred_at,
        "campaign": {"id": facts.campaign_id, "name": facts.campaign_name},
        "call": call,
        "lead": lead,
    });
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::script::sample_lead;

    fn facts() -> CallFacts {
        CallFacts {
            attempt_id: 31,
            call_ref: "c-1".into(),
            campaign_id: Some(2),
            campaign_name: Some("Spring".into()),
            lead_id: Some(0),
            phone: "+442079460958".into(),
            inbound: false,
            agent: Some("ann".into()),
            dialed_at: 1_000,
            answered_at: Some(2_000),
            bridged_at: Some(2_100),
            ended_at: Some(9_000),
            outcome: Some("answered".into()),
            disposition: Some("SALE MADE".into()),
            notes: "Wants gold".into(),
            disposed_at: Some(12_000),
        }
    }

    #[test]
    fn an_ended_call_tells_everything() {
        let lead = sample_lead();
        let body = compose(7, WebhookEvent::CallEnded, 12_000, &facts(), Some(&lead));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["event"], "call.ended");
        assert_eq!(v["delivery"], 7);
        assert_eq!(v["occurred_at"], 12_000);
        assert_eq!(v["campaign"], json!({"id": 2, "name": "Spring"}));
        assert_eq!(v["call"]["attempt_id"], 31);
        assert_eq!(v["call"]["disposition"], "SALE MADE");
        assert_eq!(v["call"]["notes"], "Wants gold");
        assert_eq!(v["call"]["direction"], "outbound");
        assert_eq!(v["lead"]["first_name"], "Ada");
        assert_eq!(v["lead"]["phone"], "+442079460958");
        assert_eq!(v["lead"]["custom"], json!({"plan": "Gold"}));
        // The same facts, the same bytes.
        assert_eq!(body, compose(7, WebhookEvent::CallEnded, 12_000, &facts(), Some(&lead)));
    }

    #[test]
    fn an_answered_call_tells_nothing_of_its_end() {
        let body = compose(8, WebhookEvent::CallAnswered, 2_100, &facts(), None);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["event"], "call.answered");
        assert_eq!(v["call"]["answered_at"], 2_000);
        for k in ["ended_at", "outcome", "disposition", "notes", "disposed_at"] {
            assert!(v["call"][k].is_null(), "{k}");
        }
        assert!(v["lead"].is_null());
    }
}
