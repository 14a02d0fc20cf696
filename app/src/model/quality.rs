//! Call-quality warnings from the agent's own browser: once a second the phone reads its audio
//! leg's statistics (`getStats`) into a [`QualitySample`], and [`QualityWatch`] decides which
//! warnings stand. The phone shows them to the agent and reports each change to the server,
//! which shows them on the supervisor's floor. The rules are the telephony vocabulary's
//! ([`telephony::quality_watch`]), so the media gateway judges an agent's SIP phone by the
//! same ones.

pub use telephony::quality_watch::{
    QualityFigures, QualitySample, QualityWarning, QualityWatch, mos,
};
