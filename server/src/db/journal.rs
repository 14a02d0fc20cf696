//! Stores what the dialer engine records: call attempts and their progress, dispositions,
//! lead results, do-not-call additions, callbacks, agent sessions and state changes.
//!
//! Records are applied in the order the engine emitted them, many per transaction (the
//! engine's throughput must not be one commit per event). A lead result only lands while
//! this server instance still holds the lead's lease (or nobody does and the lead is not
//! finished): an instance that lost a lease never overwrites the lead's new owner, nor the
//! result recovery gave a lead after declaring that instance dead.
//!
//! An attempt is the fence of write-ahead dialling: it is stored (and the lead's attempt
//! counter raised) only while this instance holds the lead's lease and its row in
//! `instances` is still this run's (not being recovered, not another process's), and the
//! call is placed only after that commit. An attempt failing either is refused — not
//! stored, and [`apply`] names it so the call is never placed. Progress and the end of an
//! attempt land only while it is open: an attempt closed by crash recovery keeps that
//! outcome.
//!
//! A call's first bridge to an agent and its disposition also queue a delivery to the
//! campaign's webhook (if it has one) in the same transaction: the event is stored exactly
//! when the record is, so a crash loses neither (`crate::webhook` delivers them).

use crate::record::{Record, TransferTo};

use super::instances::Me;
use super::{Db, DbError, with_pool};

/// Why a session left open (its instance died, or the agent's phone went on to another
/// instance) ended: the agent's next session carries the shift on.
pub const SESSION_CARRIED_ON: &str = "carried on in a new session";

/// A lead's custom fields (their JSON) with a form's values laid over them. (Unreadable
/// stored fields start afresh: the lead's page could not show them either.)
fn merge_custom(custom: &str, form: &app::model::script::FormValues) -> String {
    let mut fields: std::collections::BTreeMap<String, String> =
        serde_json::from_str(custom).unwrap_or_default();
    for (k, v) in form.iter() {
        fields.insert(k.clone(), v.clone());
    }
    serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into())
}

/// One record, inside the caller's transaction (expanded once per backend).
macro_rules! apply_one {
    ($tx:ident, $owner:ident, $ours:ident, $r:ident, $refused:ident) => {
        match $r {
            Record::AttemptStarted { call_ref, lead, at, .. } if !$ours => {
                // Not this run's name any more: nobody else will dial the lead it holds, so
                // it goes back to the queue (dialable at once) rather than wait for ever.
                sqlx::query(concat!(
                    "UPDATE leads SET dial_state = ", crate::db::leads::unleased_state!(), ", \
                     lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                     WHERE id = $2 AND lease_owner = $3 AND dial_state = 'leased'"
                ))
                .bind(at)
                .bind(lead.0)
                .bind($owner)
                .execute(&mut *$tx)
                .await?;
                $refused.push(call_ref.clone());
            }
            Record::AttemptStarted {
                call_ref, lead, campaign, agent, trunk, phone, caller_id, callback, at,
            } => {
                let leased = sqlx::query(
                    "UPDATE leads SET attempts = attempts + 1, last_called_at = $1, updated_at = $1 \
                     WHERE id = $2 AND lease_owner = $3 AND dial_state = 'leased'",
                )
                .bind(at)
                .bind(lead.0)
                .bind($owner)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
                if leased == 0 {
                    $refused.push(call_ref.clone());
                    // Applied inside the loop over records: on to the next one.
                    continue;
                }
                sqlx::query(
                    "INSERT INTO call_attempts (call_ref, lead_id, campaign_id, agent_id, trunk_id, phone, dialed_at, instance, caller_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(call_ref)
                .bind(lead.0)
                .bind(campaign.0)
                .bind(agent.map(|a| a.0))
                .bind(trunk.map(|t| t.0))
                .bind(phone.as_str())
                .bind(at)
                .bind($owner)
                .bind(caller_id.as_ref().map(|c| c.as_str()).unwrap_or(""))
                .execute(&mut *$tx)
                .await?;
                if let Some(cb) = callback {
                    sqlx::query("UPDATE callbacks SET done_at = $1 WHERE id = $2 AND done_at IS NULL")
                        .bind(at)
                        .bind(cb.0)
                        .execute(&mut *$tx)
                        .await?;
                }
            }
            Record::AttemptRinging { call_ref, at } => {
                sqlx::query("UPDATE call_attempts SET ringing_at = $1 WHERE call_ref = $2 AND ended_at IS NULL")
                    .bind(at)
                    .bind(call_ref)
                    .execute(&mut *$tx)
                    .await?;
            }
            Record::AttemptAnswered { call_ref, at } => {
                sqlx::query("UPDATE call_attempts SET answered_at = $1 WHERE call_ref = $2 AND ended_at IS NULL")
                    .bind(at)
                    .bind(call_ref)
                    .execute(&mut *$tx)
                    .await?;
            }
            Record::AttemptDetected { call_ref, verdict, after_ms } => {
                sqlx::query("UPDATE call_attempts SET amd_verdict = $1, amd_after_ms = $2 WHERE call_ref = $3 AND ended_at IS NULL")
                    .bind(verdict.as_str())
                    .bind(i64::try_from(*after_ms).unwrap_or(i64::MAX))
                    .bind(call_ref)
                    .execute(&mut *$tx)
                    .await?;
            }
            Record::AttemptBridged { call_ref, agent, campaign, at } => {
                // The campaign's webhook hears of the call once, when it first reaches an
                // agent (a transfer bridges again), in this transaction (see db::crm).
                sqlx::query(
                    "INSERT INTO webhook_deliveries (campaign_id, event, call_ref, url, occurred_at, next_try_at) \
                     SELECT w.campaign_id, 'call.answered', a.call_ref, w.webhook_url, $1, $1 \
                     FROM call_attempts a JOIN campaign_crm w ON w.campaign_id = $2 \
                     WHERE a.call_ref = $3 AND a.bridged_at IS NULL AND a.ended_at IS NULL AND w.webhook_url <> ''",
                )
                .bind(at)
                .bind(campaign.0)
                .bind(call_ref)
                .execute(&mut *$tx)
                .await?;
                // A transfer bridges again: the call is the new agent's, answered when it was.
                // (An inbound call is the campaign's of the agent who took it.)
                sqlx::query("UPDATE call_attempts SET bridged_at = COALESCE(bridged_at, $1), agent_id = $2, campaign_id = $3 WHERE call_ref = $4 AND ended_at IS NULL")
                    .bind(at)
                    .bind(agent.0)
                    .bind(campaign.0)
                    .bind(call_ref)
                    .execute(&mut *$tx)
                    .await?;
            }
            Record::InboundStarted { call_ref, lead, campaign, queue, trunk, phone, at } => {
                // Not a dial: the lead's attempts stay as they are.
                sqlx::query(
                    "INSERT INTO call_attempts (call_ref, lead_id, campaign_id, trunk_id, phone, dialed_at, instance, caller_id, inbound, queue_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, '', TRUE, $8)",
                )
                .bind(call_ref)
                .bind(lead.0)
                .bind(campaign.0)
                .bind(trunk.map(|t| t.0))
                .bind(phone.as_str())
                .bind(at)
                .bind($owner)
                .bind(queue.0)
                .execute(&mut *$tx)
                .await?;
            }
            Record::VoicemailStarted { call_ref, queue, at } => {
                sqlx::query(
                    "INSERT INTO voicemails (attempt_id, queue_id, left_at) \
                     SELECT id, $2, $3 FROM call_attempts WHERE call_ref = $1 \
                     ON CONFLICT (attempt_id) DO NOTHING",
                )
                .bind(call_ref)
                .bind(queue.0)
                .bind(at)
                .execute(&mut *$tx)
                .await?;
            }
            Record::Transferred { call_ref, from, to, warm, completed, at } => {
                let (agent, number) = match to {
                    TransferTo::Agent(a) => (Some(a.0), None),
                    TransferTo::Number(n) => (None, Some(n.as_str())),
                };
                sqlx::query(
                    "INSERT INTO call_transfers (call_ref, from_agent, to_agent, to_number, warm, completed, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(call_ref)
                .bind(from.0)
                .bind(agent)
                .bind(number)
                .bind(*warm)
                .bind(*completed)
                .bind(*at)
                .execute(&mut *$tx)
                .await?;
            }
            Record::AttemptEnded { call_ref, at, outcome, sip_code, sip_reason, by } => {
                sqlx::query(
                    "UPDATE call_attempts SET ended_at = $1, outcome = $2, sip_code = $3, sip_reason = $4, hangup_by = $5 \
                     WHERE call_ref = $6 AND ended_at IS NULL",
                )
                .bind(at)
                .bind(outcome.as_str())
                .bind(sip_code.map(i64::from))
                .bind(sip_reason.as_deref())
                .bind(by.as_str())
                .bind(call_ref)
                .execute(&mut *$tx)
                .await?;
            }
            Record::AttemptQuality { call_ref, quality } => {
                let q = quality;
                let remote = q.remote;
                // Counts past i64 cannot happen in a call; saturate rather than wrap.
                let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                sqlx::query(
                    "UPDATE call_attempts SET media_packets_sent = $1, media_octets_sent = $2, \
                     media_packets_received = $3, media_octets_received = $4, media_packets_lost = $5, \
                     media_fraction_lost = $6, media_jitter_us = $7, media_rtt_us = $8, \
                     media_rtcp_sent = $9, media_rtcp_received = $10, media_rtcp_dropped = $11, \
                     remote_packets_lost = $12, remote_fraction_lost = $13, remote_jitter_us = $14 \
                     WHERE call_ref = $15",
                )
                .bind(n(q.packets_sent))
                .bind(n(q.octets_sent))
                .bind(n(q.packets_received))
                .bind(n(q.octets_received))
                .bind(q.packets_lost)
                .bind(i64::from(q.fraction_lost))
                .bind(i64::from(q.jitter_us))
                .bind(q.rtt_us.map(i64::from))
                .bind(n(q.rtcp_sent))
                .bind(n(q.rtcp_received))
                .bind(n(q.rtcp_dropped))
                .bind(remote.map(|r| r.packets_lost))
                .bind(remote.map(|r| i64::from(r.fraction_lost)))
                .bind(remote.map(|r| i64::from(r.jitter_us)))
                .bind(call_ref)
                .execute(&mut *$tx)
                .await?;
            }
            Record::Disposed { call_ref, disposition, notes, form, at } => {
                sqlx::query("UPDATE call_attempts SET disposition = $1, notes = $2, disposed_at = $3, form = $5 WHERE call_ref = $4")
                    .bind(disposition.as_str())
                    .bind(notes)
                    .bind(at)
                    .bind(call_ref)
                    .bind(form.to_json())
                    .execute(&mut *$tx)
                    .await?;
                // The form's values become the lead's (custom fields by the same names), so
                // the next call's script and the lead's page show them.
                if !form.is_empty() {
                    let lead = sqlx::query_as::<_, (i64, String)>(
                        "SELECT l.id, l.custom FROM leads l JOIN call_attempts a ON a.lead_id = l.id WHERE a.call_ref = $1",
                    )
                    .bind(call_ref)
                    .fetch_optional(&mut *$tx)
                    .await?;
                    if let Some((id, custom)) = lead {
                        let custom = merge_custom(&custom, form);
                        sqlx::query("UPDATE leads SET custom = $1 WHERE id = $2")
                            .bind(custom)
                            .bind(id)
                            .execute(&mut *$tx)
                            .await?;
                    }
                }
                // The call's end, with its disposition, for the campaign's webhook.
                sqlx::query(
                    "INSERT INTO webhook_deliveries (campaign_id, event, call_ref, url, occurred_at, next_try_at) \
                     SELECT w.campaign_id, 'call.ended', a.call_ref, w.webhook_url, $1, $1 \
                     FROM call_attempts a JOIN campaign_crm w ON w.campaign_id = a.campaign_id \
                     WHERE a.call_ref = $2 AND w.webhook_url <> ''",
                )
                .bind(at)
                .bind(call_ref)
                .execute(&mut *$tx)
                .await?;
            }
            Record::LeadResult { lead, fate, invalid_details } => {
                let done = sqlx::query(
                    "UPDATE leads SET status = $1, dial_state = $2, next_attempt_at = $3, \
                     invalid_details = (invalid_details OR $4), lease_owner = NULL, lease_expires_at = NULL, \
                     updated_at = $3 WHERE id = $5 AND (lease_owner = $6 OR (lease_owner IS NULL AND dial_state <> 'done'))",
                )
                .bind(fate.status.as_str())
                .bind(fate.dial_state.as_str())
                .bind(fate.next_attempt_at)
                .bind(*invalid_details)
                .bind(lead.0)
                .bind($owner)
                .execute(&mut *$tx)
                .await?;
                if done.rows_affected() == 0 {
                    tracing::warn!(lead = %lead, "lead result not stored: the lease belongs to another instance");
                }
            }
            Record::DncAdd { phone, campaign, note, at } => {
                sqlx::query(
                    "INSERT INTO dnc (phone, campaign_id, note, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(phone.as_str())
                .bind(campaign.map(|c| c.0))
                .bind(*note)
                .bind(at)
                .execute(&mut *$tx)
                .await?;
            }
            Record::KeyPressed { call_ref, outcome, campaign, at: _ } => {
                sqlx::query(
                    "UPDATE call_attempts SET key_outcome = $1, campaign_id = COALESCE($2, campaign_id) \
                     WHERE call_ref = $3",
                )
                .bind(outcome.as_str())
                .bind(campaign.map(|c| c.0))
                .bind(call_ref)
                .execute(&mut *$tx)
                .await?;
            }
            Record::CallbackAdd { lead, campaign, agent, due_at, at } => {
                sqlx::query(
                    "INSERT INTO callbacks (lead_id, campaign_id, agent_id, due_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(lead.0)
                .bind(campaign.0)
                .bind(agent.map(|a| a.0))
                .bind(due_at)
                .bind(at)
                .execute(&mut *$tx)
                .await?;
            }
            Record::SessionStarted { agent, campaign, at } => {
                // A session still open is one whose instance died (or one the agent's phone
                // left for this instance): this one carries the shift on.
                sqlx::query(
                    "UPDATE agent_sessions SET ended_at = $1, end_reason = $2 \
                     WHERE agent_id = $3 AND ended_at IS NULL AND started_at <= $1",
                )
                .bind(at)
                .bind(SESSION_CARRIED_ON)
                .bind(agent.0)
                .execute(&mut *$tx)
                .await?;
                sqlx::query("INSERT INTO agent_sessions (agent_id, campaign_id, started_at) VALUES ($1, $2, $3)")
                    .bind(agent.0)
                    .bind(campaign.0)
                    .bind(at)
                    .execute(&mut *$tx)
                    .await?;
            }
            Record::SessionEnded { agent, started, at, reason } => {
                sqlx::query(
                    "UPDATE agent_sessions SET ended_at = $1, end_reason = $2 \
                     WHERE agent_id = $3 AND ended_at IS NULL AND started_at <= $4",
                )
                .bind(at)
                .bind(reason)
                .bind(agent.0)
                .bind(started)
                .execute(&mut *$tx)
                .await?;
            }
            Record::AgentState { agent, campaign, status, call_ref, at } => {
                let reason = match status {
                    app::model::AgentStatus::Paused { reason } => Some(reason.as_str().to_string()),
                    _ => None,
                };
                sqlx::query(
                    "INSERT INTO agent_state_log (agent_id, campaign_id, state, reason, call_ref, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(agent.0)
                .bind(campaign.0)
                .bind(status.as_str())
                .bind(reason)
                .bind(call_ref.as_deref())
                .bind(at)
                .execute(&mut *$tx)
                .await?;
            }
        }
    };
}

/// What [`apply`] did with a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The call references of the attempts refused: those calls must never be placed.
    pub refused: Vec<String>,
    /// The instance's row was not this run's (it was declared dead and is being recovered,
    /// or another process took its name): every attempt of the batch was refused, and every
    /// one after will be until the run is registered again.
    pub not_ours: bool,
}

/// Applies `records`, in order, in one transaction, written by this run of a server
/// instance. Attempts are refused when their lead's lease is not the instance's, or when the
/// instance's row is not this run's any more; everything else is stored.
pub async fn apply(db: &Db, me: &Me, records: &[Record]) -> Result<Applied, DbError> {
    let mut refused = Vec::new();
    if records.is_empty() {
        return Ok(Applied::default());
    }
    let owner = me.name.as_str();
    let attempts = records.iter().any(|r| matches!(r, Record::AttemptStarted { .. }));
    // Applied as this run's; when attempts are among the records, the instance's row is
    // checked at the end of the transaction and stays locked until its commit: a recovery
    // claiming the row meanwhile waits for these attempts, and then sees them. (Checked last,
    // so that a transaction waiting on a stalled table never holds the row the heartbeat
    // writes.) If the row is not this run's any more, the records are applied again with
    // every attempt refused.
    let mut ours = true;
    loop {
        let done = with_pool!(db, pool => {
            let mut tx = pool.begin().await?;
            for r in records {
                apply_one!(tx, owner, ours, r, refused);
            }
            let still_ours = !(attempts && ours)
                || sqlx::query(
                    "UPDATE instances SET heartbeat_at = heartbeat_at \
                     WHERE name = $1 AND incarnation = $2",
                )
                .bind(owner)
                .bind(&me.incarnation)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if still_ours {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok::<_, sqlx::Error>(still_ours)
        })?;
        if done {
            return Ok(Applied { refused, not_ours: !ours });
        }
        refused.clear();
        ours = false;
    }
}
