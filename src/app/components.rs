//! Shared pieces of the pages.
use super::server_fns::Logout;
use leptos::prelude::*;

/// The top bar with the product name and the logout button.
#[component]
pub fn Header() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="flex items-center justify-between bg-slate-900 px-6 py-3 text-white">
            <a href="/" class="text-lg font-semibold tracking-tight">"Cairn"</a>
            <nav class="ml-auto mr-4 text-sm"><a href="/settings/namespaces" class="hover:underline">"Settings: namespaces"</a></nav>
            <ActionForm action=logout>
                <button type="submit" class="rounded px-3 py-1 text-sm hover:bg-slate-700">"Log out"</button>
            </ActionForm>
        </header>
    }
}

/// The message of a server function error, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}
