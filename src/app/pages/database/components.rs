//! The Components tab: the database's pods and containers. Until the pods watch lands, it says what runs
//! (from the status counters) and where the pods are.
use crate::model::DbDetail;
use leptos::prelude::*;

#[component]
pub fn ComponentsTab(d: RwSignal<DbDetail>) -> impl IntoView {
    view! {
        <section aria-labelledby="components-title" class="card">
            <h2 id="components-title" class="text-lg font-semibold">"Components"</h2>
            <p class="mt-2 text-sm text-slate-700">
                {move || d.with(|d| format!("{} of {} pods ready.", d.summary.ready, d.summary.size))}
            </p>
            <p class="mt-2 text-sm text-slate-600">
                "The list of pods and containers (status, restarts, age) is not available yet in this version."
            </p>
        </section>
    }
}
