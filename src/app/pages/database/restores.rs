//! The Restores tab (filled by the backups work). For now an empty state.
use leptos::prelude::*;

#[component]
pub fn RestoresTab(namespace: String, name: String) -> impl IntoView {
    let _ = namespace;
    view! {
        <section aria-labelledby="restores-title" class="card">
            <h2 id="restores-title" class="text-lg font-semibold">"Restores"</h2>
            <p class="mt-2 text-sm text-slate-600">
                {format!("No restores into {name} yet. Restores from a backup will be listed here with their progress.")}
            </p>
        </section>
    }
    .into_any()
}
