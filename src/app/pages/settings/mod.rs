//! The settings area (OpenEverest's `/settings/...` URLs): managed namespaces and policies.
pub mod namespaces;
pub mod policies;
pub mod storage_locations;

use crate::app::components::Header;
use crate::model::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The settings frame: the header, the section tabs (the current one marked) and the page.
#[component]
pub fn SettingsFrame(children: Children) -> impl IntoView {
    let path = use_location().pathname;
    let tab = move |href: &'static str, label: &'static str| {
        let current = move || path.get().starts_with(href);
        view! {
            <a href=href aria-current=move || current().then_some("page")
                class="rounded-t px-4 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                class=("border-b-2", current) class=("border-indigo-600", current) class=("text-indigo-700", current)
                class=("text-slate-600", move || !current())>
                {label}
            </a>
        }
    };
    view! {
        <Header/>
        <main class="mx-auto max-w-5xl p-4 sm:p-6">
            <h1 class="mb-4 text-2xl font-semibold">"Settings"</h1>
            <nav aria-label="Settings sections" class="mb-6 flex gap-2 overflow-x-auto border-b border-slate-200">
                {tab("/settings/namespaces", "Namespaces")}
                {tab("/settings/storage-locations", "Storage locations")}
                {tab("/settings/policies", "Policies")}
                {tab("/settings/operator-upgrades", "Operator upgrades")}
                {tab("/settings/monitoring-endpoints", "Monitoring endpoints")}
            </nav>
            {children()}
        </main>
    }
}

/// The rule a field broke, shown beside it (`id` = `<field>-error`, for `aria-describedby`).
pub fn field_error(err: impl Fn() -> Option<FieldError> + Send + Sync + 'static, field: &'static str) -> impl IntoView {
    move || {
        err().filter(|e| e.field == field).map(|e| {
            view! { <p role="alert" id=format!("{field}-error") class="mt-1 text-sm text-red-700">{e.message}</p> }
        })
    }
}

pub const INPUT: &str = "mt-1 w-full rounded border border-slate-300 px-3 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
pub const LABEL: &str = "block text-sm font-medium";
pub const BUTTON: &str = "rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2";
pub const SECONDARY: &str = "rounded border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
pub const DANGER: &str = "rounded border border-red-300 px-3 py-1 text-sm text-red-700 hover:bg-red-50 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500";
