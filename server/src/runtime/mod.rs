//! The tokio side of the dialer: the tasks that feed the engine real time, database results
//! and carrier events, and carry out what it asks.
//!
//! - [`dialer`]: the runtime task and its [`dialer::Dialer`] handle;
//! - [`changes`]: admins' edits told to the other instances, and applied there;
//! - [`carrier`]: the trait the telephone network is reached through, and a simulated one;
//! - [`clock`]: real (or, in tests, shifted) time;
//! - [`gateway_link`]: the carrier and agent media over a media gateway;
//! - [`gateways`]: several media gateways driven as one, calls and agents joined across them;
//! - [`forward`]: callers forwarded to the server whose agents can take them;
//! - [`live`]: the live counters dashboards read;
//! - [`liveness`]: instance heartbeats, and recovering what dead instances left;
//! - [`pacers`]: which instance paces each campaign (a lease in the database);
//! - [`recorder`]: call recordings the engine decides on, asked of the carrier and stored.

pub mod carrier;
pub mod changes;
pub mod clock;
pub mod dialer;
pub mod floor;
pub mod floor_shares;
pub mod forward;
pub mod gateway_link;
pub mod gateways;
pub mod live;
pub mod liveness;
pub mod pacers;
pub mod recorder;
