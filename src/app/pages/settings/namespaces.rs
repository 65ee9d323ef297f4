//! `/settings/namespaces` (and `/settings/namespaces/:namespace`): each managed namespace with its engines,
//! their operators' versions and state.
use super::SettingsFrame;
use crate::app::components::error_text;
use crate::app::settings_fns::get_namespaces_overview;
use crate::model::{engine_label, NamespaceInfo};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn NamespacesPage() -> impl IntoView {
    let params = use_params_map();
    let only = move || params.read().get("namespace");
    let data = Resource::new(|| (), |_| get_namespaces_overview());
    view! {
        <SettingsFrame>
            <Transition fallback=|| view! { <p role="status">"Loading namespaces…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(list) => {
                            let list: Vec<NamespaceInfo> = match only() {
                                Some(ns) => list.into_iter().filter(|n| n.name == ns).collect(),
                                None => list,
                            };
                            if list.is_empty() {
                                return view! {
                                    <p class="text-slate-600">
                                        "No managed namespace you may read. An administrator adds one with "
                                        <code class="rounded bg-slate-100 px-1">"cairn namespaces add NAME"</code>
                                        " (or labels it app.kubernetes.io/managed-by=everest)."
                                    </p>
                                }.into_any();
                            }
                            list.into_iter().map(|ns| view! { <NamespaceCard ns/> }).collect_view().into_any()
                        }
                    }
                })}
            </Transition>
        </SettingsFrame>
    }
}

#[component]
fn NamespaceCard(ns: NamespaceInfo) -> impl IntoView {
    let title = ns.name.clone();
    let href = format!("/settings/namespaces/{}", ns.name);
    view! {
        <section aria-label=format!("Namespace {title}") class="mb-6 rounded-lg bg-white p-4 shadow">
            <h2 class="mb-3 text-lg font-semibold"><a href=href class="hover:underline">{title.clone()}</a></h2>
            {if ns.engines.is_empty() {
                view! { <p class="text-sm text-slate-600">"Your role may not read this namespace's engines."</p> }.into_any()
            } else {
                view! {
                    <div class="relative overflow-x-auto">
                        <table class="w-full text-left text-sm" aria-label=format!("Engines in {title}")>
                            <thead class="text-slate-600">
                                <tr>
                                    <th class="py-1 pr-4">"Engine"</th>
                                    <th class="py-1 pr-4">"Operator"</th>
                                    <th class="py-1 pr-4">"Operator version"</th>
                                    <th class="py-1 pr-4">"State"</th>
                                    <th class="py-1">"Versions offered"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {ns.engines.into_iter().map(|e| {
                                    let installed = e.status == "installed";
                                    view! {
                                        <tr class="border-t border-slate-100">
                                            <td class="py-2 pr-4 font-medium">{engine_label(&e.engine)}</td>
                                            <td class="py-2 pr-4 font-mono text-xs">{e.operator}</td>
                                            <td class="py-2 pr-4">{if e.operator_version.is_empty() { "—".to_string() } else { e.operator_version }}</td>
                                            <td class="py-2 pr-4">
                                                <span class="rounded px-2 py-0.5 text-xs"
                                                    class=("bg-emerald-100", installed) class=("text-emerald-800", installed)
                                                    class=("bg-slate-100", !installed)>
                                                    {e.status}
                                                </span>
                                            </td>
                                            <td class="py-2 text-xs text-slate-700">{versions_text(&e.versions)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// The versions offered, best first: the first three and how many more.
fn versions_text(v: &[String]) -> String {
    match v.len() {
        0 => "—".into(),
        1..=3 => v.join(", "),
        n => format!("{} and {} more", v[..3].join(", "), n - 3),
    }
}
