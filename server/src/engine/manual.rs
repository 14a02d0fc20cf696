//! Manual calls: an agent dials a number themselves from the phone's dial pad.
//!
//! The runtime has already normalised the number, checked the do-not-call list and found (or
//! created) the lead the number belongs to, leased to this instance; the engine decides the
//! rest with the same rules as every other call and places it the same way (write-ahead:
//! `Output::StoreAttempt`, then `Input::AttemptStored`, then `Output::Originate`).
//!
//! An agent on a call who dials adds a line instead ([`super::line`]): the same rules, and
//! their customer goes on hold.
//!
//! Invariants:
//! - only an idle agent dials by hand (or one on a call, as a new line): paused (nothing
//!   due) or ready with no call reserved for them; after the call they are back where they
//!   were (a paused agent stays paused with their reason, a ready one is ready again after
//!   Submit);
//! - never a call without the campaign's caller ID and trunk, in an inactive campaign, outside
//!   the lead's calling window, or above the campaign's channels and calls per second;
//! - a lead on a call or in a preview is refused; one queued in a hopper here is taken out of
//!   it, so it is dialled once;
//! - a ready agent who dials by hand is no longer ready: auto calls placed for them are
//!   withdrawn as for a pause, so no customer answers into nobody.

use app::model::{Lead, UserId};

use super::io::QueuedLead;
use super::{Engine, EngineError, Now};

impl Engine {
    /// Dials `lead` for `agent`, or refuses (nothing changed; the runtime gives the lead back).
    pub(super) fn manual_dial(
        &mut self,
        now: Now,
        agent: UserId,
        lead: Lead,
    ) -> Result<(), EngineError> {
        let in_call = self.calls.values().any(|c| c.lead() == lead.id);
        let previewed = (self.agents.values())
            .any(|a| a.preview.as_ref().is_some_and(|q| q.lead.id == lead.id));
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        let trunk_room = self.trunk_room(now.at, campaign);
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        let camp = self.campaigns.get_mut(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
        camp.dialable()?;
        if in_call || previewed {
            return Err(EngineError::LeadBusy);
        }
        let settings = &camp.config.settings;
        if !self.windows.is_open(settings.window, &lead.timezone, now.wall) {
            return Err(EngineError::OutsideWindow {
                zone: lead.timezone.clone(),
                start: settings.window.start_hhmm(),
                end: settings.window.end_hhmm(),
            });
        }
        if self.database_away {
            return Err(EngineError::DatabaseAway);
        }
        if camp.free_channels(&self.calls) == 0
            || camp.limiter.available(now.at) == 0
            || trunk_room == 0
        {
            return Err(EngineError::ChannelsBusy);
        }
        if self.dials_a_line(agent) {
            // On a call: the number is a new line, the customer goes on hold.
            return self.line_dial(now, agent, lead);
        }
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        let camp = self.campaigns.get_mut(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
        run.machine.check_manual()?;
        let was_ready = run.is_ready();
        let (call, call_ref) = self.call_ids.next();
        // Cannot fail after `check_manual`; `?` still keeps "refused, nothing changed".
        run.machine.manual(lead.id, call)?;
        let campaign = run.campaign;
        // Queued here for the dialer already: the agent's call takes it (never dialled twice).
        camp.hopper.retain(|q| q.lead.id != lead.id);
        let queued = QueuedLead { lead, callback: None };
        let rec = camp.dial(now, call, call_ref.clone(), queued, Some(agent), &mut self.out);
        run.announce(agent, now, Some(call_ref), &mut self.out);
        self.dialled(now.at, call, rec);
        let auto = self
            .campaigns
            .get(&campaign)
            .is_some_and(|c| c.config.settings.kind.dials_for_agents());
        if was_ready && auto {
            // No longer waiting for an auto call: calls placed for them go, as for a pause.
            self.withdraw_excess_calls(now, campaign, None);
        }
        Ok(())
    }

    /// The campaign an agent may dial by hand in right now, with its calling window: checked
    /// before the runtime looks the number up, so a refusal costs no database work. The
    /// engine checks again when the lead arrives ([`Engine::handle`] with `Input::ManualDial`).
    pub fn manual_check(
        &self,
        agent: UserId,
    ) -> Result<(app::model::CampaignId, app::model::CallingWindow), EngineError> {
        let run = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?;
        let camp = self.campaigns.get(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
        camp.dialable()?;
        if self.dials_a_line(agent) {
            run.machine.check_new_line()?;
        } else {
            run.machine.check_manual()?;
        }
        Ok((run.campaign, camp.config.settings.window))
    }
}
