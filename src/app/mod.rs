//! The UI: pages (one file per route), components and server functions.
pub mod components;
pub mod pages;
pub mod server_fns;
pub mod settings_fns;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
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
    view! {
        <Stylesheet id="leptos" href="/pkg/cairn.css"/>
        <Title text="Cairn"/>
        <Router>
            <Routes fallback=|| view! { <p class="p-8">"Page not found."</p> }>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <Route path=path!("/") view=pages::databases::DatabasesPage/>
                <Route path=path!("/databases/new") view=pages::create_database::CreateDatabasePage/>
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
    }
}
