//! The UI: pages (one file per route), components and server functions.
pub mod backup_fns;
pub mod components;
pub mod pages;
pub mod monitoring_card;
pub mod monitoring_fns;
pub mod server_fns;
pub mod settings_fns;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};
use pages::settings::policies::{Lists, PoliciesPage};

/// The HTML document around the app. URLs are host-relative, so Cairn works behind `kubectl port-forward`
/// or any proxy without knowing its host.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                // The stylesheet's name carries its content hash in release builds (served immutable).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::provide_toasts();
    // Pages render completely on the server before they are sent (`SsrMode::Async`), so they work before
    // (and without) the wasm: lists are in the HTML, not behind a script that swaps them in.
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Cairn".to_string() } else { format!("{t} · Cairn") }/>
        <Router>
            <Routes fallback=|| view! { <pages::not_found::NotFound/> }>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/") view=pages::databases::DatabasesPage ssr=SsrMode::Async/>
                <Route path=path!("/databases") view=pages::databases::DatabasesPage ssr=SsrMode::Async/>
                <Route path=path!("/databases/new") view=pages::create_database::CreateDatabasePage ssr=SsrMode::Async/>
                <Route path=path!("/databases/:namespace/:name") view=DatabaseOverviewRedirect ssr=SsrMode::Async/>
                <Route path=path!("/databases/:namespace/:name/:tab") view=pages::database::DatabasePage ssr=SsrMode::Async/>
                <Route path=path!("/settings/storage-locations") view=pages::settings::storage_locations::StorageLocationsPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/monitoring-endpoints") view=pages::monitoring_endpoints::MonitoringEndpointsPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/operator-upgrades") view=pages::settings_namespaces::SettingsNamespacesPage ssr=SsrMode::Async/>
                <Route path=path!("/settings") view=pages::settings::namespaces::NamespacesPage/>
                <Route path=path!("/settings/namespaces") view=pages::settings::namespaces::NamespacesPage/>
                <Route path=path!("/settings/namespaces/:namespace") view=pages::settings::namespaces::NamespacesPage/>
                <Route path=path!("/settings/policies") view=|| view! { <PoliciesPage/> }/>
                <Route path=path!("/settings/policies/details/pod-scheduling")
                    view=|| view! { <PoliciesPage lists=Lists::Scheduling/> }/>
                <Route path=path!("/settings/policies/details/pod-scheduling/:name") view=pages::settings::policies::SchedulingPolicyPage/>
                <Route path=path!("/settings/policies/details/load-balancer-configuration")
                    view=|| view! { <PoliciesPage lists=Lists::LoadBalancers/> }/>
                <Route path=path!("/settings/policies/details/load-balancer-configuration/:name") view=pages::settings::policies::LoadBalancerConfigPage/>
            </Routes>
        </Router>
        <components::ToastRegion/>
    }
}

/// `/databases/{ns}/{name}` → its Overview tab.
#[component]
fn DatabaseOverviewRedirect() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let to = params.with_untracked(|p| format!("/databases/{}/{}/overview", p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default()));
    view! { <Redirect path=to/> }
}
