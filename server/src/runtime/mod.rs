//! The tokio side of the dialer: the tasks that feed the engine real time, database results
//! and carrier events, and carry out what it asks.

pub mod live;
