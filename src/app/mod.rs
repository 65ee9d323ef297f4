//! The UI: pages (one file per route), components and server functions.
pub mod components;
pub mod pages;
pub mod server_fns;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

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
                <Route path=path!("/settings/namespaces") view=pages::settings_namespaces::SettingsNamespacesPage/>
            </Routes>
        </Router>
    }
}
