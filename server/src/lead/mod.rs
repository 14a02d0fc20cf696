//! Leads on the server side: where a number is (its time zone) and, with the admin portal,
//! turning uploaded rows into leads.

pub mod timezone;
