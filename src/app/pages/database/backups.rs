//! The Backups tab (filled by the backups work: list, on-demand backup, schedules). For now an empty state
//! that says what will be here.
use leptos::prelude::*;

#[component]
pub fn BackupsTab(namespace: String, name: String) -> impl IntoView {
    let _ = namespace;
    view! {
        <section aria-labelledby="backups-title" class="card">
            <h2 id="backups-title" class="text-lg font-semibold">"Backups"</h2>
            <p class="mt-2 text-sm text-slate-600">
                {format!("No backups of {name} yet. Backups and their schedules will be listed here.")}
            </p>
        </section>
    }
    .into_any()
}
