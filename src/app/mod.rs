//! The UI: pages (one file per route), components and server functions.
pub mod backup_fns;
pub mod components;
pub mod pages;
pub mod routes;
pub mod monitoring_card;
pub mod monitoring_fns;
pub mod server_fns;
pub mod settings_fns;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};
use routes::*;

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
            // The signed-in user, for the header in the browser (components::served_user).
            <body class="bg-slate-50 text-slate-900 antialiased" data-user=components::served_user()>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::provide_toasts();
    components::provide_signed_in_user();
    // Pages render completely on the server before they are sent (`SsrMode::Async`), so they work before
    // (and without) the wasm: lists are in the HTML, not behind a script that swaps them in.
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Cairn".to_string() } else { format!("{t} · Cairn") }/>
        <Router>
            <Routes fallback=|| view! { <pages::not_found::NotFound/> }>
                <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/") view={Lazy::<DatabasesRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/databases") view={Lazy::<DatabasesRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/databases/new") view={Lazy::<CreateDatabaseRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/databases/:namespace/:name") view=DatabaseOverviewRedirect ssr=SsrMode::Async/>
                <Route path=path!("/databases/:namespace/:name/:tab") view={Lazy::<DatabaseRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/settings/storage-locations") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/settings/monitoring-endpoints") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/settings/operator-upgrades") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/namespaces") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/namespaces/:namespace") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies/details/pod-scheduling")
                    view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies/details/pod-scheduling/:name") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies/details/load-balancer-configuration")
                    view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies/details/load-balancer-configuration/:name") view={Lazy::<SettingsRoute>::new()}/>
                <Route path=path!("/settings/policies/details/split-horizon") view={Lazy::<SettingsRoute>::new()}/>
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
