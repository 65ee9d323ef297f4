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

/// Room for the wasm splitter (cargo-leptos `--split`) to lay out the read-only data segment again. It
/// gives each output module its share of the segment, each share aligned to the segment's alignment (16),
/// and when that padding makes the shares longer than the linker's segment (by ~550 bytes across Cairn's
/// ~40 modules) it keeps the whole segment, ~180 KB, in the main wasm that every page loads (+35 KB
/// brotli). These bytes are in that segment (kept by `#[used]`) but no code reads them, so no module gets
/// them and they are never shipped: they only make the segment long enough for the padding. Checked by
/// `scripts/check-split.py` on every release site build.
#[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
#[used]
static SPLIT_SLACK: [u8; 16384] = [0x5a; 16384];

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: hydration waits for the current page's wasm chunk (see app::routes).
    leptos::mount::hydrate_lazy(app::App);
}
