//! Leads on the server side: where a number is (its time zone), turning uploaded rows into
//! leads ([`import`], sans-IO; numbers checked against their country's numbering plan by
//! [`numbering`]), fetching lead files by URL under the address rules ([`fetch`]),
//! and running imports with progress ([`jobs`]).

pub mod fetch;
pub mod import;
pub mod jobs;
pub mod numbering;
pub mod routes;
pub mod timezone;
