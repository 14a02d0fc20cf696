//! The core in virtual time (tests follow).
