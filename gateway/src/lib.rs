//! The gateway: the media and signalling bridge between agents' browser tabs (WebRTC audio)
//! and SIP trunks (SIP over UDP/TCP, RTP with G.711).
//!
//! Every protocol state machine here is sans-IO: it takes inputs with the current time
//! (`handle(now, input)`), hands back what to send and what happened (`poll_output()`), and
//! says when it next needs to be woken (`poll_timeout()`). It never reads the clock, sleeps,
//! spawns or touches a socket, so the tests drive it in virtual time.
//!
//! The same holds one level up: `core` composes the user agent (`sip::ua`), the agent legs
//! ([`webrtc`]) and the [`bridge`] into one sans-IO machine with every call rule, whose
//! outputs include binding and releasing the calls' RTP sockets and writing recordings.
//! [`runtime`] is the thin tokio shell that owns the sockets ([`transport`]), the files and
//! the clock, and carries those outputs out. The core is public so a host application can
//! drive it in virtual time too: the server's tests wire it to the server's own engine with
//! no sockets.

pub mod amd;
pub mod bridge;
pub mod call;
pub mod codec;
pub mod control;
pub mod core;
pub mod events;
pub mod handle;
pub mod recording;
pub mod remote;
pub mod rtp;
pub mod runtime;
pub mod sdp;
pub mod sip;
pub mod standalone;
pub mod transport;
pub mod trunk;
pub mod webrtc;

pub use handle::Gateway;
