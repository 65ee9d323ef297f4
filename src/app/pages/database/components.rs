//! The Components tab: the database's Pods and their containers (status, ready x/y, restarts, age), from the
//! server's Pod watch, live over the page's stream.
use crate::app::components::RelativeTime;
use crate::model::{Component, DbDetail};
use leptos::prelude::*;

#[component]
pub fn ComponentsTab(d: RwSignal<DbDetail>) -> impl IntoView {
    let pods = Memo::new(move |_| d.with(|d| d.components.clone()));
    view! {
        <section aria-labelledby="components-title" class="card">
            <h2 id="components-title" class="text-lg font-semibold">"Components"</h2>
            <p class="mt-1 text-sm text-slate-700">
                {move || d.with(|d| format!("{} of {} pods ready.", d.summary.ready, d.summary.size))}
            </p>
            <Show when=move || !pods.with(|p| p.is_empty())
                fallback=|| view! {
                    <p class="mt-3 text-sm text-slate-600">
                        "No pods run now: they appear while the operator starts the database (a suspended database has none)."
                    </p>
                }>
                <div class="mt-3 overflow-x-auto" tabindex="0" role="region" aria-label="Pods and containers">
                    <table aria-label="Pods" class="w-full text-left text-sm">
                        <thead class="bg-slate-100 text-slate-700">
                            <tr>
                                <th scope="col" class="px-3 py-2 font-medium">"Pod"</th>
                                <th scope="col" class="px-3 py-2 font-medium">"Type"</th>
                                <th scope="col" class="px-3 py-2 font-medium">"Status"</th>
                                <th scope="col" class="px-3 py-2 font-medium">"Ready"</th>
                                <th scope="col" class="hidden px-3 py-2 font-medium sm:table-cell">"Restarts"</th>
                                <th scope="col" class="hidden px-3 py-2 font-medium sm:table-cell">"Age"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For each=move || pods.get() key=|p| (p.name.clone(), p.ready.clone(), p.status.clone(), p.restarts) let:p>
                                <PodRows pod=p/>
                            </For>
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
    .into_any()
}

/// A Pod's row, then one smaller row per container.
#[component]
fn PodRows(pod: Component) -> impl IntoView {
    let containers = pod.containers.clone();
    view! {
        <tr class="border-t border-slate-200">
            <td class="break-all px-3 py-2 font-mono text-xs">{pod.name.clone()}</td>
            <td class="px-3 py-2">{pod.type_.clone()}</td>
            <td class="px-3 py-2">{pod.status.clone()}</td>
            <td class="px-3 py-2">{pod.ready.clone()}</td>
            <td class="hidden px-3 py-2 sm:table-cell">{pod.restarts}</td>
            <td class="hidden px-3 py-2 sm:table-cell"><RelativeTime unix=pod.started_unix/></td>
        </tr>
        {containers.into_iter().map(|c| view! {
            <tr class="text-xs text-slate-600">
                <td class="px-3 py-1 pl-8">{format!("container {}", c.name)}</td>
                <td class="px-3 py-1"></td>
                <td class="px-3 py-1">{c.status.clone()}</td>
                <td class="px-3 py-1">{if c.ready { "ready" } else { "not ready" }}</td>
                <td class="hidden px-3 py-1 sm:table-cell">{c.restarts}</td>
                <td class="hidden px-3 py-1 sm:table-cell"></td>
            </tr>
        }).collect_view()}
    }
    .into_any()
}
