//! Admin pages, one module per area: leadsets (list and overview with lead data), lead
//! upload, and the do-not-call list.

pub mod dnc;
pub mod leadsets;
pub mod upload;
