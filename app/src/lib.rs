//! The dialer's web app: one Leptos application for agents, supervisors and admins.
//!
//! Built twice from the same source: with `ssr` it is linked into the `server` binary, which
//! renders pages and runs the server functions; with `hydrate` it becomes the browser bundle
//! that takes over the server-rendered page. The two features are never enabled together.
//!
//! - [`model`]: the data that crosses the wire (no I/O);
//! - [`access`]: which page is for which role;
//! - [`api`]: the server functions;
//! - [`ports`] (`ssr` only): the traits the server implements for those functions;
//! - [`pages`]: the pages and the layout around them.

pub mod access;
pub mod api;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;

pub use pages::{App, shell};

/// The browser bundle's entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: some routes are chunks loaded on demand (see `pages`).
    leptos::mount::hydrate_lazy(App);
}
