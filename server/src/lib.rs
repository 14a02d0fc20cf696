//! The dialer server: serves the web app (Leptos SSR and server functions), authenticates
//! users, stores everything in SQLite or PostgreSQL, runs the dialer engine and drives the
//! media gateway (embedded, or standalone over its control API).
//!
//! - [`config`]: settings from the environment and an optional TOML file;
//! - [`startup`]: building and serving the HTTP application;
//! - [`db`]: the only SQL;
//! - [`engine`]: the sans-IO dialer engine (agents, campaigns, pacing, calls, preview);
//! - [`record`]: what the engine asks to store, shared with [`db`] so the database layer
//!   never depends on the engine;
//! - [`runtime`]: the tokio tasks that drive the engine, and the link to the gateway;
//! - [`phone`]: the agent phones' WebSocket hub and their audio legs;
//! - [`lead`]: lead import, time zones and the import routes;
//! - [`auth`]: passwords, sessions, throttling, the login/logout routes;
//! - [`backend`]: the implementations of the app's ports;
//! - [`demo`]: the built-in demo trunk (a pretend carrier);
//! - [`metrics`]: Prometheus metrics;
//! - [`render`]: server-side rendering on a thread of its own;
//! - [`simulator`]: a synthetic day of dialling through the engine in virtual time;
//! - [`webhook`]: delivering call events to campaigns' webhooks (the CRM integration).

pub mod auth;
pub mod backend;
pub mod chat;
pub mod config;
pub mod db;
pub mod demo;
pub mod engine;
pub mod lead;
pub mod live_events;
pub mod metrics;
pub mod phone;
pub mod record;
pub mod recording;
pub mod render;
pub mod report;
pub mod runtime;
pub mod simulator;
pub mod startup;
pub mod webhook;
