//! What the phone needs from the media gateway: an audio leg per agent (the browser's SDP
//! offer in, the answer out; or a call to the agent's registered SIP phone) and in-call
//! controls. The gateway link implements it; the
//! events of each agent's leg come back as [`LegEvent`]s.

use app::model::UserId;
use app::model::phone::AudioState;

use crate::engine::CallId;

/// Why a media command failed, in words for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("The browser's audio offer was not usable: {0}")]
    BadOffer(String),
    #[error("Your audio is not connected; reload the phone.")]
    NoLeg,
    #[error("That call is not live any more.")]
    NoCall,
    #[error("The media gateway is unavailable: {0}")]
    Unavailable(String),
    #[error("Your SIP phone {0} is not registered: check that it is on and signed in.")]
    PhoneNotRegistered(String),
}

/// A change of an agent's audio leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegEvent {
    pub agent: UserId,
    pub state: AudioState,
}

/// The agent-side media operations.
#[async_trait::async_trait]
pub trait Media: Send + Sync + 'static {
    /// Opens (or replaces) the agent's audio leg from the browser's offer; returns the answer.
    async fn open_leg(&self, agent: UserId, offer: String) -> Result<String, MediaError>;
    /// Opens (or replaces) the agent's audio leg on their registered SIP phone `user`: the
    /// gateway calls the phone; the leg's events follow as for a browser's. `true`: the
    /// agent's phone leg is up already (nothing was done).
    async fn open_phone_leg(
        &self,
        agent: UserId,
        user: app::model::sip_phone::SipUser,
    ) -> Result<bool, MediaError>;
    /// Closes the agent's audio leg, if any.
    async fn close_leg(&self, agent: UserId);
    /// Connects the agent's current (new) audio leg to their call, which carries on.
    async fn rejoin(&self, agent: UserId, call: CallId) -> Result<(), MediaError>;
    async fn mute(&self, call: CallId, on: bool) -> Result<(), MediaError>;
    async fn hold(&self, call: CallId, on: bool) -> Result<(), MediaError>;
    async fn dtmf(&self, call: CallId, digits: &str) -> Result<(), MediaError>;
}
