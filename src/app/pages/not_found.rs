//! The 404 page: says so, and offers the way back (the top bar's navigation and a link to the databases).
use crate::app::components::{LogoutForm, TopBar};
use crate::app::server_fns::Logout;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    let logout = ServerAction::<Logout>::new();
    view! {
        <Title text="Page not found"/>
        <TopBar>
            <LogoutForm action=logout class="rounded px-3 py-1 text-sm text-white hover:bg-slate-700"/>
        </TopBar>
        <main id="main" class="mx-auto max-w-xl p-6 text-center">
            <h1 class="mt-10 text-2xl font-semibold">"Page not found"</h1>
            <p class="mt-2 text-slate-700">"There is nothing at this address. It may have been a database that was deleted, or a mistyped link."</p>
            <p class="mt-6"><a href="/databases" class="btn-primary">"Go to the databases"</a></p>
        </main>
    }
    .into_any()
}
