//! The server-side behaviour the UI needs, as traits the `server` crate implements.
//!
//! `server` builds one [`Ports`] value and provides it through Leptos context for both SSR
//! rendering and server functions; server functions take it with [`crate::api`]'s helpers.
//! Implementations return [`ApiError`]s that are safe to show: they log internals themselves.

use crate::model::leadset::{
    CampaignChoice, Country, DncEntry, DncReport, ImportPreview, LeadPage, LeadsetOverview,
    LeadsetSummary,
};
use crate::model::phone::PhoneHome;
use crate::model::{
    AgentSummary, ApiError, BulkAgents, Campaign, CampaignChoices, CampaignId, CampaignOverview,
    CampaignSettings, CampaignSummary, Contact, CreatedAgent, Dashboard, Disposition,
    DispositionId, DispositionKind, LeadId, LeadStatus, LeadsetId, LeadsetSettings, Name, Password,
    Role, Script, ScriptBody, ScriptId, Trunk, TrunkId, TrunkSettings, TrunkTest, UserId,
    UserSummary, Username, Viewer,
};
use std::sync::Arc;

/// What the authentication layer attached to a request whose session cookie is valid.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who is signed in.
    pub viewer: Viewer,
    /// Their My Profile choices, checked (the viewer carries what pages need of them).
    pub profile: crate::model::Profile,
    /// The session's row id, so actions can keep or end exactly this session.
    pub session_id: i64,
}

/// User administration and self-service.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<UserSummary>, ApiError>;

    /// Creates a user; a taken username is a [`ApiError::Invalid`] on `username`.
    async fn create_user(
        &self,
        username: Username,
        role: Role,
        password: Password,
    ) -> Result<UserSummary, ApiError>;

    /// Changes a user's role. `actor` cannot demote the last enabled admin.
    async fn set_role(&self, actor: &Viewer, user: UserId, role: Role) -> Result<(), ApiError>;

    /// Disables (ending all of the user's sessions) or re-enables a user. `actor` cannot
    /// disable themself.
    async fn set_disabled(
        &self,
        actor: &Viewer,
        user: UserId,
        disabled: bool,
    ) -> Result<(), ApiError>;

    /// Sets a new password for another user and ends all of that user's sessions.
    async fn reset_password(&self, user: UserId, password: Password) -> Result<(), ApiError>;

    /// Changes the signed-in user's own password after checking the current one; ends the
    /// user's other sessions, keeps this one.
    async fn change_own_password(
        &self,
        who: &Authenticated,
        current: &str,
        new: Password,
    ) -> Result<(), ApiError>;

    /// Saves the signed-in user's own display name and theme; returns their profile as saved.
    async fn save_own_look(
        &self,
        who: &Authenticated,
        name: crate::model::DisplayName,
        theme: crate::model::Theme,
    ) -> Result<crate::model::Profile, ApiError>;

    /// Saves the signed-in user's own phone audio devices; returns their profile as saved.
    async fn save_own_audio_devices(
        &self,
        who: &Authenticated,
        devices: crate::model::AudioDevices,
    ) -> Result<crate::model::Profile, ApiError>;
}

/// The agent phone's page data (the live part runs over the phone's WebSocket).
#[async_trait::async_trait]
pub trait Phone: Send + Sync + 'static {
    /// The campaigns an agent can work in, and the one they are logged in to.
    async fn home(&self, agent: UserId) -> Result<PhoneHome, ApiError>;
    /// My Stats: the agent's own day from `from` (the start of their day, Unix ms) to now.
    async fn my_day(&self, agent: UserId, from: i64) -> Result<crate::model::MyDay, ApiError>;
    /// The agent's own calls, newest first, `page` (from 0) of
    /// [`crate::model::CallReport::HISTORY_PAGE`] calls, and how many there are in all.
    async fn my_calls(
        &self,
        agent: &Viewer,
        page: u32,
    ) -> Result<crate::model::CallReport, ApiError>;
    /// The notes of the earlier calls of the lead the agent is calling or previewing now
    /// (none when there is no such lead).
    async fn lead_notes(&self, agent: UserId) -> Result<Vec<crate::model::CallRecord>, ApiError>;
    /// The Call Queue: the callers waiting in the queues of the campaign the agent is logged
    /// in to, the longest waiting first (none when they are logged in to none).
    async fn call_queue(
        &self,
        agent: UserId,
    ) -> Result<Vec<crate::model::inbound::WaitingCaller>, ApiError>;
    /// Corrects the number (`phone` as typed) and contact fields of `lead`, which must be the
    /// lead of the agent's own call or wrap-up right now (else [`ApiError::Conflict`]), and
    /// audits each changed field in the same transaction; a number that is not one, or that
    /// the leadset already has, is [`ApiError::Invalid`] on `phone`. Returns the lead as stored
    /// and the campaign's script filled with it.
    async fn edit_lead(
        &self,
        agent: &Viewer,
        lead: LeadId,
        phone: &str,
        contact: Contact,
    ) -> Result<crate::model::lead_edit::SavedLead, ApiError>;
}

/// The admin portal: the dashboard, campaigns, scripts, dispositions, trunks and agents.
/// Callers check roles; implementations check that what is named exists, that names stay
/// unique, and that nothing in use is deleted, answering [`ApiError::Invalid`] (a field),
/// [`ApiError::NotFound`] or [`ApiError::Conflict`] with words for people.
#[async_trait::async_trait]
pub trait Admin: Send + Sync + 'static {
    /// The engine's live counters, in total and per campaign.
    async fn dashboard(&self) -> Result<Dashboard, ApiError>;
    /// Every logged-in agent: state, since when, campaign, call (the supervisor's floor).
    async fn floor(&self) -> Result<crate::model::Floor, ApiError>;
    /// The calls `filter` selects: how many, and the newest `limit` of them.
    async fn call_report(
        &self,
        filter: crate::model::CallFilter,
        limit: u32,
    ) -> Result<crate::model::CallReport, ApiError>;
    /// The next `limit` calls `filter` selects after `after` (from the newest without one),
    /// and where the next page starts (`None` after the last): the CSV, a page at a time.
    async fn call_page(
        &self,
        filter: &crate::model::CallFilter,
        after: Option<crate::model::report::CallCursor>,
        limit: u32,
    ) -> Result<(Vec<crate::model::CallRecord>, Option<crate::model::report::CallCursor>), ApiError>;
    /// Each agent's day that starts at `day` (a UTC day's first millisecond).
    async fn agent_time(&self, day: i64) -> Result<crate::model::AgentTimeReport, ApiError>;
    /// One campaign's (or, with `None`, every campaign's) calls on the UTC day that starts at
    /// `day`, hour by hour.
    async fn hourly(
        &self,
        day: i64,
        campaign: Option<CampaignId>,
    ) -> Result<crate::model::HourlyReport, ApiError>;
    /// One campaign's compliance over the last 30 days (`None`: the first campaign that dials,
    /// else the first).
    async fn compliance(
        &self,
        campaign: Option<CampaignId>,
    ) -> Result<crate::model::compliance::ComplianceReport, ApiError>;
    /// What the pacing simulator starts from for a campaign: its pacing settings and the
    /// form filled from it (agents, wrap-up, and its answer rate and talk time over the last
    /// 30 days where it has enough calls).
    async fn simulation_setup(
        &self,
        campaign: CampaignId,
    ) -> Result<crate::model::simulation::SimulationSetup, ApiError>;
    /// Runs `workload` through the real engine in virtual time with progressive (auto at the
    /// campaign's multiplier) and predictive pacing (the campaign's maximum dial level and
    /// abandon cap), once per seed. One run at a time per server: another one meanwhile is
    /// [`ApiError::Conflict`].
    async fn simulate(
        &self,
        campaign: CampaignId,
        workload: crate::model::simulation::Workload,
    ) -> Result<crate::model::simulation::SimulationReport, ApiError>;
    /// The supervisor's wallboard of one campaign, or of all with `None`.
    async fn wallboard(
        &self,
        campaign: Option<CampaignId>,
    ) -> Result<crate::model::Wallboard, ApiError>;
    /// Pauses a logged-in agent or logs them out of their campaign, on `by`'s word.
    async fn act_on_agent(
        &self,
        by: &Viewer,
        agent: UserId,
        action: crate::model::FloorAction,
    ) -> Result<(), ApiError>;
    /// Opens `by`'s own audio leg (the browser's SDP offer; returns the answer), replacing
    /// one they had.
    async fn open_monitor_leg(&self, by: &Viewer, offer: String) -> Result<String, ApiError>;
    /// Puts `by`'s audio leg on the call `agent` is on in `mode`, or (`None`) takes it off
    /// and closes it.
    async fn monitor(
        &self,
        by: &Viewer,
        agent: UserId,
        mode: Option<crate::model::MonitorMode>,
    ) -> Result<(), ApiError>;

    async fn campaigns(&self) -> Result<Vec<CampaignSummary>, ApiError>;
    async fn campaign(&self, id: CampaignId) -> Result<Campaign, ApiError>;
    async fn campaign_choices(&self) -> Result<CampaignChoices, ApiError>;
    async fn campaign_overview(&self, id: CampaignId) -> Result<CampaignOverview, ApiError>;
    /// Creates (`id` `None`) or replaces a campaign's settings, keeping its agents; the
    /// running dialer picks the change up at once.
    async fn save_campaign(
        &self,
        id: Option<CampaignId>,
        settings: CampaignSettings,
    ) -> Result<CampaignId, ApiError>;
    async fn set_campaign_active(&self, id: CampaignId, active: bool) -> Result<(), ApiError>;
    /// Adds an agent to a campaign or removes them.
    async fn assign_agent(
        &self,
        campaign: CampaignId,
        agent: UserId,
        assigned: bool,
    ) -> Result<(), ApiError>;

    /// Every inbound queue by name, and the campaigns a queue can name (id, name).
    async fn queues(
        &self,
    ) -> Result<(Vec<crate::model::inbound::Queue>, Vec<(i64, String)>), ApiError>;
    /// Adds (no `id`) or replaces a queue; its campaigns must exist and its numbers must
    /// ring no other queue ([`ApiError::Invalid`] on `campaigns`, `numbers` or `name`).
    async fn save_queue(
        &self,
        id: Option<crate::model::QueueId>,
        settings: crate::model::inbound::QueueSettings,
    ) -> Result<crate::model::QueueId, ApiError>;
    async fn delete_queue(&self, id: crate::model::QueueId) -> Result<(), ApiError>;

    async fn scripts(&self) -> Result<Vec<Script>, ApiError>;
    async fn script(&self, id: ScriptId) -> Result<Script, ApiError>;
    async fn save_script(
        &self,
        id: Option<ScriptId>,
        name: Name,
        body: ScriptBody,
        form: crate::model::script::ScriptForm,
    ) -> Result<ScriptId, ApiError>;
    /// The custom field names leads have (what a script's placeholders may name besides
    /// the fields every lead has).
    async fn custom_fields(&self) -> Result<Vec<String>, ApiError>;
    /// Refused while a campaign uses the script.
    async fn delete_script(&self, id: ScriptId) -> Result<(), ApiError>;

    /// Every disposition with the name of its campaign (`None`: predefined).
    async fn dispositions(&self) -> Result<Vec<(Disposition, Option<Name>)>, ApiError>;
    async fn add_disposition(
        &self,
        campaign: CampaignId,
        code: LeadStatus,
        kind: DispositionKind,
        retry_minutes: u32,
    ) -> Result<DispositionId, ApiError>;
    /// Only a campaign's own dispositions can be deleted.
    async fn delete_disposition(&self, id: DispositionId) -> Result<(), ApiError>;
    /// Marks a disposition as counting (or not) as a converted call in the agents' stats.
    async fn set_disposition_success(
        &self,
        id: DispositionId,
        success: bool,
    ) -> Result<(), ApiError>;

    async fn trunks(&self) -> Result<Vec<Trunk>, ApiError>;
    async fn trunk(&self, id: TrunkId) -> Result<Trunk, ApiError>;
    async fn save_trunk(
        &self,
        id: Option<TrunkId>,
        settings: TrunkSettings,
    ) -> Result<TrunkId, ApiError>;
    /// Sends the trunk a SIP OPTIONS and reports its answer.
    async fn test_trunk(&self, id: TrunkId) -> Result<TrunkTest, ApiError>;

    /// Agents with their campaigns and live state.
    async fn agents(&self) -> Result<Vec<AgentSummary>, ApiError>;
    /// Creates all of the agents or none (a taken name refuses the whole request).
    async fn create_agents(&self, bulk: BulkAgents) -> Result<Vec<CreatedAgent>, ApiError>;
    /// Gives an agent a SIP phone or changes it (the gateway learns it at once).
    async fn set_sip_phone(
        &self,
        agent: crate::model::Username,
        form: crate::model::sip_phone::SipPhoneForm,
    ) -> Result<(), ApiError>;
    /// Takes an agent's SIP phone away (unregistering it).
    async fn remove_sip_phone(&self, agent: crate::model::UserId) -> Result<(), ApiError>;
}

/// Leadsets, their leads, and the do-not-call list (admins; supervisors read overviews).
///
/// Raw numbers arrive as typed and are normalised to E.164 here, with the leadset's (or the
/// given) default country. Field errors name the form field.
#[async_trait::async_trait]
pub trait Leads: Send + Sync + 'static {
    /// Every leadset with its campaign and counts, by name.
    async fn list_leadsets(&self) -> Result<Vec<LeadsetSummary>, ApiError>;

    /// Campaigns a leadset can belong to.
    async fn campaign_choices(&self) -> Result<Vec<CampaignChoice>, ApiError>;

    /// Creates a leadset; a taken name is an [`ApiError::Invalid`] on `name`.
    async fn create_leadset(&self, settings: LeadsetSettings) -> Result<LeadsetId, ApiError>;

    /// Replaces a leadset's settings.
    async fn update_leadset(
        &self,
        id: LeadsetId,
        settings: LeadsetSettings,
    ) -> Result<(), ApiError>;

    /// Deletes a leadset and its leads; refused while any of its leads is being dialled.
    async fn delete_leadset(&self, id: LeadsetId) -> Result<(), ApiError>;

    /// Turns a leadset on or off.
    async fn set_leadset_active(&self, id: LeadsetId, active: bool) -> Result<(), ApiError>;

    /// The leadset page: settings and statistics.
    async fn leadset_overview(&self, id: LeadsetId) -> Result<LeadsetOverview, ApiError>;

    /// A page of the leadset's leads whose number, name or status contains `search` (only
    /// those flagged as having invalid details with `invalid_only`).
    async fn list_leads(
        &self,
        id: LeadsetId,
        search: &str,
        invalid_only: bool,
        page: u32,
    ) -> Result<LeadPage, ApiError>;

    /// A lead with its leadset's name and every audited correction of its details.
    async fn lead_history(
        &self,
        lead: LeadId,
    ) -> Result<crate::model::lead_edit::LeadHistory, ApiError>;

    /// Adds (`lead` = None) or changes a lead; `phone` as typed.
    async fn save_lead(
        &self,
        leadset: LeadsetId,
        lead: Option<LeadId>,
        phone: &str,
        status: LeadStatus,
        contact: Contact,
    ) -> Result<LeadId, ApiError>;

    /// The first rows of pasted text (or a file's beginning), for the mapping grid.
    /// `delimiter` None: detected.
    async fn preview_text(
        &self,
        text: &str,
        delimiter: Option<char>,
    ) -> Result<ImportPreview, ApiError>;

    /// The first rows of the file at `url`, fetched under the URL rules.
    async fn preview_url(
        &self,
        url: &str,
        delimiter: Option<char>,
    ) -> Result<ImportPreview, ApiError>;

    /// Do-not-call entries whose number contains `search` (digits), newest first.
    async fn list_dnc(&self, search: &str) -> Result<Vec<DncEntry>, ApiError>;

    /// Adds numbers (one per line, or the first column of CSV text) for a campaign or
    /// everywhere.
    async fn add_dnc(
        &self,
        numbers: &str,
        campaign: Option<CampaignId>,
        country: Country,
        note: &str,
    ) -> Result<DncReport, ApiError>;

    /// Removes one entry.
    async fn remove_dnc(&self, id: i64) -> Result<(), ApiError>;
}

/// Everything the UI can ask of the server, provided once through context.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn Accounts>,
    pub phone: Arc<dyn Phone>,
    pub admin: Arc<dyn Admin>,
    pub leads: Arc<dyn Leads>,
    pub phonebook: Arc<dyn Phonebook>,
    pub callbacks: Arc<dyn Callbacks>,
    pub notices: Arc<dyn Notices>,
    pub voicemails: Arc<dyn Voicemails>,
    pub crm: Arc<dyn Crm>,
    pub chat: Arc<dyn Chat>,
}

/// Chat (`crate::model::chat`): one to one and campaign rooms, for everyone signed in. The
/// implementation applies the model's rules of who may reach whom; refusals are
/// [`ApiError::Invalid`] on the field at fault (`to`, `broadcast`), a flood is
/// [`ApiError::Conflict`], with words for people.
#[async_trait::async_trait]
pub trait Chat: Send + Sync + 'static {
    /// `me`'s rooms and the people they can write to, with their unread counts.
    async fn overview(&self, me: UserId) -> Result<crate::model::chat::ChatOverview, ApiError>;
    /// A page of a conversation `me` is in: the latest, or those before message `before`.
    async fn history(
        &self,
        me: UserId,
        with: crate::model::chat::Conversation,
        before: Option<i64>,
    ) -> Result<crate::model::chat::ChatPage, ApiError>;
    /// Stores a message and delivers it at once to its readers' open pages.
    async fn send(
        &self,
        me: UserId,
        to: crate::model::chat::Conversation,
        text: crate::model::chat::ChatText,
        broadcast: bool,
    ) -> Result<crate::model::chat::ChatMessage, ApiError>;
    /// Marks a conversation read by `me` up to message `up_to`.
    async fn read(
        &self,
        me: UserId,
        with: crate::model::chat::Conversation,
        up_to: i64,
    ) -> Result<(), ApiError>;
}

/// Voicemails (`crate::model::voicemail`) as a user on the phone sees them: those of the
/// queues whose campaigns they are assigned to. Another is [`ApiError::NotFound`].
#[async_trait::async_trait]
pub trait Voicemails: Send + Sync + 'static {
    /// The newest first (at most 200).
    async fn list(
        &self,
        user: UserId,
    ) -> Result<Vec<crate::model::voicemail::VoicemailItem>, ApiError>;

    /// Marks the message of `attempt` dealt with by `user`, or not any more.
    async fn handled(&self, user: UserId, attempt: i64, handled: bool) -> Result<(), ApiError>;
}

/// A campaign's CRM integration (`crate::model::crm`). Roles are the server functions' to
/// check.
#[async_trait::async_trait]
pub trait Crm: Send + Sync + 'static {
    /// The campaign's CRM settings (never the secret), the custom fields its template may
    /// use, and its latest webhook deliveries. An unknown campaign is [`ApiError::NotFound`].
    async fn page(&self, campaign: CampaignId) -> Result<crate::model::crm::CrmPage, ApiError>;

    /// Saves the CRM address template and the webhook, all or nothing: a bad field is
    /// [`ApiError::Invalid`] on it and nothing is stored. An empty `webhook_secret` keeps the
    /// stored one; an empty `webhook_url` removes the webhook (and its secret).
    async fn save(&self, form: crate::model::crm::CrmForm) -> Result<(), ApiError>;
}

/// Messages to agents (roles are the server functions' to check).
#[async_trait::async_trait]
pub trait Notices: Send + Sync + 'static {
    /// The campaigns a message can be for, and the latest messages.
    async fn page(&self) -> Result<crate::model::notice::BroadcastPage, ApiError>;
    /// Stores `text` from `by` for the agents of `campaign` (none: every agent) and shows it
    /// at once on the phones of those logged in. An unknown campaign is
    /// [`ApiError::Invalid`] on `campaign`.
    async fn send(
        &self,
        by: &Viewer,
        campaign: Option<CampaignId>,
        text: crate::model::notice::BroadcastText,
    ) -> Result<crate::model::notice::Broadcast, ApiError>;
}

/// The agents' phonebook (`crate::model::phonebook`). Callers check roles: only admins pass
/// `owner: None` (shared entries); an owner's entry is changed only through that owner.
#[async_trait::async_trait]
pub trait Phonebook: Send + Sync + 'static {
    /// The shared entries and `viewer`'s own, shared first, each part by name.
    async fn list(
        &self,
        viewer: UserId,
    ) -> Result<Vec<crate::model::phonebook::PhonebookEntry>, ApiError>;

    /// Adds (`id` none) or changes an entry of `owner` (none: shared). `phone` as typed;
    /// normalised to E.164. Another owner's entry is [`ApiError::NotFound`].
    async fn save(
        &self,
        owner: Option<UserId>,
        id: Option<crate::model::phonebook::PhonebookEntryId>,
        name: Name,
        phone: &str,
        note: String,
    ) -> Result<crate::model::phonebook::PhonebookEntryId, ApiError>;

    /// Deletes an entry of `owner` (none: shared); another owner's is [`ApiError::NotFound`].
    async fn delete(
        &self,
        owner: Option<UserId>,
        id: crate::model::phonebook::PhonebookEntryId,
    ) -> Result<(), ApiError>;
}

/// An agent's scheduled callbacks (`crate::model::callback`): theirs and those for anyone in
/// the campaigns they are assigned to. Callers check that `agent` is an agent; a callback
/// outside that set is [`ApiError::NotFound`].
#[async_trait::async_trait]
pub trait Callbacks: Send + Sync + 'static {
    /// Open callbacks, the soonest first.
    async fn list(
        &self,
        agent: UserId,
    ) -> Result<Vec<crate::model::callback::CallbackItem>, ApiError>;

    /// Moves a callback to `due_at` (Unix ms), which must be in the future.
    async fn reschedule(
        &self,
        agent: UserId,
        id: crate::model::CallbackId,
        due_at: i64,
    ) -> Result<(), ApiError>;

    /// Cancels a callback: it is not made, and its lead is not called again for it.
    async fn cancel(&self, agent: UserId, id: crate::model::CallbackId) -> Result<(), ApiError>;
}
