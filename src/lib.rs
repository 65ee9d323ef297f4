//! Cairn: a database platform for Kubernetes in one binary.
// Leptos views are nested generic types; the create wizard's (five steps in one form) is deep enough that
// computing its layout in a test or release build passes the default query depth of 128 (`cargo check`
// does not compute layouts, so only a full build shows it).
#![recursion_limit = "256"]
// The library's unit-test build (`cargo test --lib`) leaves the UI out: `app` (the Leptos views) and `server`
// (the router that serves them) are two thirds of the crate's compile time and have no unit tests of their
// own; their pure functions are tested from the integration binary (`tests/integration/ui_units.rs`), which
// links the whole library like the server does.
#[cfg(not(test))]
pub mod app;
pub mod error;
pub mod model;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod controller;
#[cfg(feature = "ssr")]
pub mod crd;
#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod health;
#[cfg(feature = "ssr")]
pub mod kube_client;
#[cfg(feature = "ssr")]
pub mod leader;
#[cfg(feature = "ssr")]
pub mod memory;
#[cfg(feature = "ssr")]
pub mod object_storage;
#[cfg(all(feature = "ssr", not(test)))]
pub mod server;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod upstream;
#[cfg(feature = "ssr")]
pub mod webhook;

/// The engine simulator: plays the Percona operators on the API for the sandbox and tests. Never part of
/// the production build (feature `sim`).
#[cfg(feature = "sim")]
pub mod sim;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: hydration waits for the current page's wasm chunk (see app::routes).
    leptos::mount::hydrate_lazy(app::App);
}
