//! The shared model: types that cross the wire between browser and server.
//!
//! Everything here is plain data (serde DTOs and parse-don't-validate newtypes) and compiles
//! for both the browser (`hydrate`) and the server (`ssr`); nothing here performs I/O.

pub mod agent;
pub mod amd;
pub mod call;
pub mod callback;
pub mod campaign;
pub mod chat;
pub mod crm;
pub mod disposition;
pub mod error;
pub mod ids;
pub mod inbound;
pub mod json_decode;
pub mod keypad;
pub mod lead;
pub mod lead_edit;
pub mod leadset;
pub mod live;
pub mod notice;
pub mod phone;
pub mod phone_decode;
pub mod phonebook;
pub mod profile;
pub mod quality;
pub mod recording;
pub mod report;
pub mod script;
pub mod simulation;
pub mod sip_phone;
pub mod text;
pub mod transfer;
pub mod trunk;
pub mod user;
pub mod voicemail;
pub mod wallboard;

pub use agent::{AgentStatus, AgentSummary, BulkAgents, CreatedAgent, PauseReason};
pub use amd::{AmdVerdict, MachineAction};
pub use call::{CallOutcome, HangupBy, OutcomeStatus};
pub mod compliance;
pub use campaign::{
    AbandonWindow, AssignedAgent, CallingWindow, Campaign, CampaignChoices, CampaignForm,
    CampaignKind, CampaignOverview, CampaignSettings, CampaignSummary, LeadStats,
    MAX_ABANDON_CAP_PERCENT, MIN_RING_SECONDS, RetryRule,
};
pub use disposition::{Disposition, DispositionKind};
pub use error::{ApiError, FieldError};
pub use ids::{
    CallbackId, CampaignId, DispositionId, LeadId, LeadsetId, QueueId, ScriptId, TrunkId,
};
pub use lead::{CallCounts, Contact, Lead, LeadCounts, LeadsetSettings, fill_script};
pub use live::{
    AgentNow, CampaignLive, Dashboard, Floor, FloorAction, FloorAgent, FloorSort, GatewayDown,
    LiveCounters, MonitorMode,
};
pub use profile::{AudioDevices, DeviceId, DisplayName, Profile, Theme};
pub use report::{
    AgentDay, AgentTimeReport, CallFilter, CallQuery, CallRecord, CallReport, HourSummary,
    HourlyReport, MyDay,
};
pub use script::{Script, ScriptBody};
pub use text::{CallerId, LeadStatus, Name, PhoneNumber};
pub use trunk::{Trunk, TrunkAuthFailures, TrunkForm, TrunkSettings, TrunkTest};
pub use user::{Password, Role, UserId, UserSummary, Username, Viewer};
pub use wallboard::Wallboard;
