//! What a call or a disposition does to its lead: the campaign's retry rules and the
//! disposition kinds, as pure functions.
//!
//! Invariants: a lead is never made dialable again once it has had `max_attempts` dials
//! (the campaign's cap, or the rule's if lower); final and do-not-call dispositions end it.

use app::model::{
    AbandonWindow, CallOutcome, CampaignSettings, Disposition, DispositionKind, OutcomeStatus,
};

pub use crate::record::{DialState, LeadFate};

const MINUTE_MS: i64 = 60_000;
/// Where abandoned calls are counted per calendar day (the UK rule), a lead whose call was
/// abandoned is not dialled again for this long, whatever the retry rules say.
pub const NO_REDIAL_AFTER_ABANDON_MS: i64 = 72 * 60 * MINUTE_MS;

/// After a call that reached no agent (or a broadcast): `attempts` counts this dial.
pub fn after_outcome(
    settings: &CampaignSettings,
    attempts: u32,
    outcome: CallOutcome,
    now: i64,
) -> LeadFate {
    let status = outcome.lead_status();
    match settings.rule_for(outcome) {
        Some(rule) if attempts < rule.max_attempts.min(settings.max_attempts) => {
            let mut next_attempt_at = now + i64::from(rule.retry_minutes) * MINUTE_MS;
            if outcome == CallOutcome::Dropped
                && settings.abandon_window == AbandonWindow::CalendarDay
            {
                next_attempt_at = next_attempt_at.max(now + NO_REDIAL_AFTER_ABANDON_MS);
            }
            LeadFate { status, dial_state: DialState::Ready, next_attempt_at }
        }
        _ => LeadFate { status, dial_state: DialState::Done, next_attempt_at: now },
    }
}

/// The outcome of a call cut off by the end of the dialer instance that placed it (a crash,
/// or a stop while it was up), as recovery stores it: a person who answered and was cut off
/// is a dropped (abandoned) call — redialled only if the campaign has a rule for dropped
/// calls; a call that rang unanswered follows the no-answer rule; one that never rang
/// follows the failed rule.
pub fn cut_off_outcome(rang: bool, answered: bool) -> CallOutcome {
    if answered {
        CallOutcome::Dropped
    } else if rang {
        CallOutcome::NoAnswer
    } else {
        CallOutcome::Failed
    }
}

/// After an agent's disposition: `attempts` counts this dial; `callback_at` is the time the
/// agent picked for a callback disposition.
pub fn after_disposition(
    settings: &CampaignSettings,
    disposition: &Disposition,
    attempts: u32,
    callback_at: Option<i64>,
    now: i64,
) -> LeadFate {
    let status = disposition.code.clone();
    let done =
        LeadFate { status: status.clone(), dial_state: DialState::Done, next_attempt_at: now };
    match disposition.kind {
        DispositionKind::Final | DispositionKind::Dnc => done,
        DispositionKind::Recyclable if attempts < settings.max_attempts => LeadFate {
            status,
            dial_state: DialState::Ready,
            next_attempt_at: now + i64::from(disposition.retry_minutes) * MINUTE_MS,
        },
        DispositionKind::Recyclable => done,
        DispositionKind::Callback => LeadFate {
            status,
            dial_state: DialState::Callback,
            next_attempt_at: callback_at.unwrap_or(now),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{CampaignKind, DispositionId, LeadStatus, Name, RetryRule};

    fn settings() -> CampaignSettings {
        let mut s = CampaignSettings::new(Name::parse("C").unwrap(), CampaignKind::Auto);
        s.max_attempts = 4;
        s.retry_rules = vec![
            RetryRule { outcome: CallOutcome::Busy, retry_minutes: 10, max_attempts: 3 },
            RetryRule { outcome: CallOutcome::NoAnswer, retry_minutes: 60, max_attempts: 9 },
        ];
        s
    }

    fn disposition(code: &str, kind: DispositionKind) -> Disposition {
        Disposition {
            id: DispositionId(1),
            campaign_id: None,
            code: LeadStatus::parse(code).unwrap(),
            kind,
            retry_minutes: 30,
            success: false,
        }
    }

    #[test]
    fn retry_rules_recycle_until_their_cap() {
        let s = settings();
        let f = after_outcome(&s, 1, CallOutcome::Busy, 1_000);
        assert_eq!(
            f,
            LeadFate {
                status: LeadStatus::system("BUSY"),
                dial_state: DialState::Ready,
                next_attempt_at: 601_000
            }
        );
        assert_eq!(after_outcome(&s, 2, CallOutcome::Busy, 0).dial_state, DialState::Ready);
        assert_eq!(
            after_outcome(&s, 3, CallOutcome::Busy, 0).dial_state,
            DialState::Done,
            "rule cap 3"
        );
        assert_eq!(after_outcome(&s, 3, CallOutcome::NoAnswer, 0).dial_state, DialState::Ready);
        assert_eq!(
            after_outcome(&s, 4, CallOutcome::NoAnswer, 0).dial_state,
            DialState::Done,
            "campaign cap 4"
        );
    }

    #[test]
    fn outcomes_without_a_rule_end_the_lead() {
        let s = settings();
        let f = after_outcome(&s, 1, CallOutcome::InvalidNumber, 0);
        assert_eq!((f.status.as_str(), f.dial_state), ("INVALID NUMBER", DialState::Done));
        assert_eq!(after_outcome(&s, 1, CallOutcome::Answered, 0).dial_state, DialState::Done);
    }

    #[test]
    fn calls_cut_off_by_a_crash_follow_their_own_rules() {
        let s = settings();
        assert_eq!(cut_off_outcome(true, true), CallOutcome::Dropped);
        assert_eq!(cut_off_outcome(false, true), CallOutcome::Dropped);
        assert_eq!(cut_off_outcome(true, false), CallOutcome::NoAnswer);
        assert_eq!(cut_off_outcome(false, false), CallOutcome::Failed);
        // Answered and cut off: never dialled again without a rule for dropped calls…
        let f = after_outcome(&s, 1, cut_off_outcome(true, true), 5);
        assert_eq!((f.status.as_str(), f.dial_state), ("DROPPED", DialState::Done));
        // …and with one, only after its wait.
        let mut with_rule = settings();
        with_rule.retry_rules.push(RetryRule {
            outcome: CallOutcome::Dropped,
            retry_minutes: 60,
            max_attempts: 2,
        });
        let f = after_outcome(&with_rule, 1, CallOutcome::Dropped, 5);
        assert_eq!((f.dial_state, f.next_attempt_at), (DialState::Ready, 5 + 60 * 60_000));
        // Counted per calendar day (UK): never within 72 hours, whatever the rule says.
        with_rule.abandon_window = app::model::AbandonWindow::CalendarDay;
        let f = after_outcome(&with_rule, 1, CallOutcome::Dropped, 5);
        assert_eq!((f.dial_state, f.next_attempt_at), (DialState::Ready, 5 + 72 * 3_600_000));
        // Other outcomes keep their own waits.
        let f = after_outcome(&with_rule, 1, CallOutcome::Busy, 5);
        assert!(f.next_attempt_at < 5 + 72 * 3_600_000);
        // Unanswered: the no-answer rule, within its cap.
        assert_eq!(
            after_outcome(&s, 1, cut_off_outcome(true, false), 0).dial_state,
            DialState::Ready
        );
        assert_eq!(
            after_outcome(&s, 4, cut_off_outcome(true, false), 0).dial_state,
            DialState::Done
        );
    }

    #[test]
    fn dispositions_by_kind() {
        let s = settings();
        let f =
            after_disposition(&s, &disposition("SALE MADE", DispositionKind::Final), 1, None, 0);
        assert_eq!((f.status.as_str(), f.dial_state), ("SALE MADE", DialState::Done));
        assert_eq!(
            after_disposition(&s, &disposition("DO NOT CALL", DispositionKind::Dnc), 1, None, 0)
                .dial_state,
            DialState::Done
        );
        let f =
            after_disposition(&s, &disposition("BUSY", DispositionKind::Recyclable), 1, None, 0);
        assert_eq!((f.dial_state, f.next_attempt_at), (DialState::Ready, 30 * 60_000));
        assert_eq!(
            after_disposition(&s, &disposition("BUSY", DispositionKind::Recyclable), 4, None, 0)
                .dial_state,
            DialState::Done
        );
        let f = after_disposition(
            &s,
            &disposition("CALL BACK", DispositionKind::Callback),
            1,
            Some(99),
            0,
        );
        assert_eq!((f.dial_state, f.next_attempt_at), (DialState::Callback, 99));
    }
}
