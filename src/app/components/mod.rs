//! Pieces two or more pages share: the header with the account menu, dialogs, toasts, menus, tabs, copy
//! buttons, relative times, the live (SSE) subscription and the database actions.
pub mod database_actions;
pub mod dialog;
pub mod frequency;
pub mod live;
pub mod menu;
pub mod preview;
pub mod tabs;
pub mod time;
pub mod toast;

pub use dialog::Dialog;
pub use menu::Menu;
pub use preview::PreviewPanel;
pub use tabs::Tabs;
pub use time::RelativeTime;
pub use toast::{provide_toasts, use_toasts, ToastRegion};

use super::server_fns::Logout;
use leptos::prelude::*;

/// The top bar: the product name (home), the main navigation, and the signed-in user's menu (log out).
#[component]
pub fn Header() -> impl IntoView {
    view! { <TopBar><AccountMenu/></TopBar> }.into_any()
}

/// The top bar's product name and navigation, with `children` (the account menu) at its end. The 404 page
/// shows it with a plain "Log out" button instead of the account menu: that page is in the wasm every page
/// loads first (the router's fallback is not a lazy route), and the menu's user lookup would bring the
/// async-resource machinery (Resource, Transition, Suspend) into it, which the login page does not use. The
/// form machinery of the button is used by every page, so it is best there.
#[component]
pub fn TopBar(children: Children) -> impl IntoView {
    view! {
        <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-1 focus:text-slate-900">
            "Skip to content"
        </a>
        <header class="flex flex-wrap items-center justify-between gap-2 bg-slate-900 px-4 py-3 text-white sm:px-6">
            <div class="flex items-center gap-6">
                <a href="/databases" class="text-lg font-semibold tracking-tight">"Cairn"</a>
                <nav aria-label="Main">
                    <a href="/databases" class="rounded px-2 py-1 text-sm text-slate-200 hover:bg-slate-700">"Databases"</a>
                    <a href="/settings/namespaces" class="rounded px-2 py-1 text-sm text-slate-200 hover:bg-slate-700">"Settings"</a>
                    <a href="/settings/monitoring-endpoints" class="rounded px-2 py-1 text-sm text-slate-200 hover:bg-slate-700">"Monitoring endpoints"</a>
                </nav>
            </div>
            {children()}
        </header>
    }
    .into_any()
}

/// "Log out": a form, so it also works before (and without) the wasm.
#[component]
pub fn LogoutForm(action: ServerAction<Logout>, class: &'static str) -> impl IntoView {
    view! {
        <ActionForm action>
            <button type="submit" class=class>"Log out"</button>
        </ActionForm>
    }
    .into_any()
}

/// The signed-in user's name, in the context of the whole app: read once, as the page was served, and set
/// by a login (whose client-side redirect then renders the next page). No request and no async resource:
/// the header of every page is plain.
#[derive(Clone, Copy)]
pub struct SignedInUser(pub RwSignal<String>);

/// Provides [`SignedInUser`] (in `App`).
pub fn provide_signed_in_user() {
    provide_context(SignedInUser(RwSignal::new(served_user())));
}

/// The user of the session the page was served for: on the server from the request's session cookie, in
/// the browser from the `data-user` attribute the server put on `<body>` (see `shell`). Empty when signed
/// out.
pub fn served_user() -> String {
    #[cfg(feature = "ssr")]
    {
        let (Some(st), Some(parts)) = (use_context::<crate::state::State>(), use_context::<http::request::Parts>()) else {
            return String::new();
        };
        crate::service::Caller::from_headers(&st, &parts.headers).map(|c| c.username).unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        document().body().and_then(|b| b.get_attribute("data-user")).unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        String::new()
    }
}

/// The signed-in user's menu (log out).
#[component]
fn AccountMenu() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let name = use_context::<SignedInUser>().map(|u| u.0.get_untracked()).unwrap_or_default();
    view! {
        <Menu label=format!("Account {name}") button_text=name.clone() dark=true>
            <p class="px-3 py-2 text-xs text-slate-600">"Signed in as " <strong>{name.clone()}</strong></p>
            <LogoutForm action=logout class="menu-item w-full text-left"/>
        </Menu>
    }
    .into_any()
}

/// The message of a server function error, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// A small "Copy" button that puts `text` on the clipboard and confirms with a toast.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(into)] label: String) -> impl IntoView {
    let toasts = use_toasts();
    let copy = move |_| {
        let value = text.get_untracked();
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&value);
        }
        let _ = value;
        toasts.info("Copied to the clipboard");
    };
    view! {
        <button type="button" aria-label=label on:click=copy class="btn-secondary shrink-0">"Copy"</button>
    }
    .into_any()
}

/// "Loading…" for an async region.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p role="status" class="text-slate-600">{format!("Loading {what}…")}</p> }
}

/// An error of an async region.
#[component]
pub fn ErrorText(#[prop(into)] message: String) -> impl IntoView {
    view! { <p role="alert" class="rounded border border-red-200 bg-red-50 p-3 text-red-800">{message}</p> }
}
