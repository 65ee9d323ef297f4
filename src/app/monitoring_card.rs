//! The Monitoring card of the database page: on or off, the endpoint, and a link to the database's
//! dashboard in PMM. Works before hydration (a plain form post).
use super::components::error_text;
use super::monitoring_fns::{get_database_monitoring, SetDatabaseMonitoring};
use leptos::prelude::*;

#[component]
pub fn MonitoringCard(namespace: String, name: String) -> impl IntoView {
    let set = ServerAction::<SetDatabaseMonitoring>::new();
    let (ns, db) = (namespace.clone(), name.clone());
    let card = Resource::new(move || set.version().get(), move |_| get_database_monitoring(ns.clone(), db.clone()));
    view! {
        <section class="rounded-lg bg-white p-4 shadow" aria-labelledby="monitoring-card-title">
            <h2 id="monitoring-card-title" class="mb-2 text-lg font-semibold">"Monitoring"</h2>
            {move || set.value().get().and_then(|r| r.err()).map(|e| view! { <p role="alert" class="text-sm text-red-700">{error_text(&e)}</p> })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {
                    let (namespace, name) = (namespace.clone(), name.clone());
                    move || {
                        let (namespace, name) = (namespace.clone(), name.clone());
                        Suspend::new(async move {
                            match card.await {
                                Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                                Ok(m) => {
                                    let on = !m.current.is_empty();
                                    view! {
                                        <p class="text-sm">
                                            {if on { format!("On, reporting to {}", m.current) } else { "Off".to_string() }}
                                        </p>
                                        {(!m.dashboard_url.is_empty()).then(|| view! {
                                            <a href=m.dashboard_url.clone() target="_blank" rel="noopener noreferrer"
                                                class="text-sm text-indigo-700 hover:underline">"Open the dashboard in PMM"</a>
                                        })}
                                        {m.can_update.then(|| {
                                            if on {
                                                view! {
                                                    <ActionForm action=set attr:class="mt-2">
                                                        <input type="hidden" name="namespace" value=namespace.clone()/>
                                                        <input type="hidden" name="name" value=name.clone()/>
                                                        <button type="submit" class="rounded border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100">
                                                            "Turn monitoring off"
                                                        </button>
                                                    </ActionForm>
                                                }.into_any()
                                            } else if m.choices.is_empty() {
                                                view! { <p class="text-sm text-slate-600">"No monitoring endpoint in this namespace: add one under Settings → Monitoring endpoints."</p> }.into_any()
                                            } else {
                                                view! {
                                                    <ActionForm action=set attr:class="mt-2 flex items-end gap-2">
                                                        <input type="hidden" name="namespace" value=namespace.clone()/>
                                                        <input type="hidden" name="name" value=name.clone()/>
                                                        <div>
                                                            <label for="card-monitoring" class="block text-sm font-medium">"Monitoring endpoint"</label>
                                                            <select id="card-monitoring" name="endpoint" class="mt-1 rounded border border-slate-300 px-2 py-1">
                                                                {m.choices.iter().map(|c| view! { <option value=c.name.clone()>{format!("{} ({})", c.name, c.kind)}</option> }).collect_view()}
                                                            </select>
                                                        </div>
                                                        <button type="submit" class="rounded bg-indigo-600 px-3 py-1 text-sm text-white hover:bg-indigo-700">
                                                            "Turn monitoring on"
                                                        </button>
                                                    </ActionForm>
                                                }.into_any()
                                            }
                                        })}
                                    }.into_any()
                                }
                            }
                        })
                    }
                }
            </Transition>
        </section>
    }
}
