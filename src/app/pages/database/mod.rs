//! A database's own page, `/databases/{namespace}/{name}/{tab}` (OpenEverest's URLs): a header with its
//! status and actions, and the tabs Overview, Backups, Restores, Components. Rendered on the server, then
//! kept current by the database's own event stream (fed by the same watch as the list): no polling.
pub mod backups;
pub mod components;
pub mod overview;
pub mod restores;

use crate::app::components::database_actions::DatabaseActions;
use crate::app::components::{error_text, ErrorText, Header, Loading, RelativeTime, Tabs};
use crate::app::pages::databases::status_badge_class;
use crate::app::pages::not_found::NotFound;
use crate::app::server_fns::get_database_detail;
use crate::model::{engine_label, status_label, DbDetail};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

pub const TABS: [(&str, &str); 4] = [("overview", "Overview"), ("backups", "Backups"), ("restores", "Restores"), ("components", "Components")];

#[component]
pub fn DatabasePage() -> impl IntoView {
    let params = use_params_map();
    let namespace = move || params.read().get("namespace").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let tab = Signal::derive(move || params.read().get("tab").unwrap_or_else(|| "overview".into()));
    let initial = Resource::new(move || (namespace(), name()), |(ns, name)| get_database_detail(ns, name));
    view! {
        <Show when=move || TABS.iter().any(|(t, _)| *t == tab.get()) fallback=|| view! { <NotFound/> }>
            <Title text=move || format!("{} · {}", name(), TABS.iter().find(|(t, _)| *t == tab.get()).map(|t| t.1).unwrap_or(""))/>
            <Header/>
            <main id="main" class="mx-auto max-w-6xl p-4 sm:p-6">
                <nav aria-label="Breadcrumb" class="mb-2 text-sm text-slate-600">
                    <a href="/databases" class="text-indigo-700 underline">"Databases"</a>
                    " / " {namespace} " / "
                </nav>
                <Transition fallback=|| view! { <Loading what="the database"/> }>
                    {move || Suspend::new(async move {
                        match initial.await {
                            Ok(d) => view! { <Loaded initial=d tab/> }.into_any(),
                            Err(e) => view! {
                                <h1 class="mb-4 text-2xl font-semibold">{name()}</h1>
                                <ErrorText message=error_text(&e)/>
                                <p class="mt-4"><a href="/databases" class="text-indigo-700 underline">"Back to the databases"</a></p>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </main>
        </Show>
    }
    .into_any()
}

/// The page once its first data is there: one signal, updated by the stream, read by every part.
#[component]
fn Loaded(initial: DbDetail, tab: Signal<String>) -> impl IntoView {
    let (ns, name) = (initial.summary.namespace.clone(), initial.summary.name.clone());
    let d = RwSignal::new(initial);
    let gone = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    crate::app::components::live::subscribe(&format!("/v1/events/database-clusters/{ns}/{name}"), &["database", "gone", "denied"], move |ev, data| {
        match ev {
            "database" => {
                if let Ok(x) = serde_json::from_str::<DbDetail>(&data) {
                    d.set(x);
                    gone.set(None);
                }
            }
            _ => gone.set(Some(data)),
        }
    });
    let summary = Signal::derive(move || d.with(|d| d.summary.clone()));
    let status = move || d.with(|d| d.summary.effective_status().to_string());
    let base = format!("/databases/{ns}/{name}");
    let tabs: Vec<(String, &'static str)> = TABS.iter().map(|(t, label)| (format!("{base}/{t}"), *label)).collect();
    let current = {
        let base = base.clone();
        Signal::derive(move || format!("{base}/{}", tab.get()))
    };
    view! {
        <div class="mb-4 flex flex-wrap items-start justify-between gap-3">
            <div class="min-w-0">
                <h1 class="break-all text-2xl font-semibold">{name.clone()}</h1>
                <p class="mt-1 flex flex-wrap items-center gap-2 text-sm text-slate-700">
                    <span class=move || status_badge_class(&status())>{move || status_label(&status())}</span>
                    <span>{move || d.with(|d| format!("{} {}", engine_label(&d.summary.engine), d.summary.version))}</span>
                    <span aria-hidden="true">"·"</span>
                    <span>"created " <RelativeTime unix=d.with_untracked(|d| d.summary.created)/></span>
                </p>
            </div>
            <DatabaseActions db=summary after_delete="/databases"/>
        </div>
        {move || gone.get().map(|m| view! {
            <p role="alert" class="mb-4 rounded border border-amber-300 bg-amber-50 p-3 text-amber-900">
                {m} " " <a href="/databases" class="text-indigo-700 underline">"Back to the databases"</a>
            </p>
        })}
        <Tabs label="Database sections" tabs current/>
        {move || match tab.get().as_str() {
            "backups" => view! { <backups::BackupsTab d/> }.into_any(),
            "restores" => view! { <restores::RestoresTab d/> }.into_any(),
            "components" => view! { <components::ComponentsTab d/> }.into_any(),
            _ => view! { <overview::Overview d/> }.into_any(),
        }}
    }
    .into_any()
}
