use crate::app::components::{error_text, Header};
use crate::app::server_fns::{get_user_actions, list_databases, DeleteDatabase, RevealCredentials};
use crate::model::{engine_label, status_label, DbSummary};
use leptos::prelude::*;

/// The databases list. Rendered on the server from the watch cache, then kept current by server-sent
/// events from the same cache: no polling, no reload.
#[component]
pub fn DatabasesPage() -> impl IntoView {
    let delete = ServerAction::<DeleteDatabase>::new();
    // Reloaded after a delete, so a browser without the live stream still sees the change.
    let initial = Resource::new(move || delete.version().get(), |_| list_databases());
    let actions = Resource::new(|| (), |_| get_user_actions());
    let live: RwSignal<Option<Vec<DbSummary>>> = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| live_updates(live));

    view! {
        <Header/>
        <main class="mx-auto max-w-6xl p-6">
            <div class="mb-6 flex items-center justify-between">
                <h1 class="text-2xl font-semibold">"Databases"</h1>
                // Only for users who may create databases somewhere (RBAC); the others see why not.
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match actions.await {
                            Ok(a) if !a.create_namespaces.is_empty() => view! {
                                <a href="/databases/new" class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
                                    "Create database"
                                </a>
                            }.into_any(),
                            Ok(_) => view! {
                                <p class="text-sm text-slate-600">"Your role does not allow creating databases."</p>
                            }.into_any(),
                            Err(_) => ().into_any(),
                        }
                    })}
                </Transition>
            </div>
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! {
                <p role="alert" class="mb-4 text-red-700">{error_text(&e)}</p>
            })}
            <Transition fallback=|| view! { <p>"Loading databases…"</p> }>
                {move || {
                    let live_rows = live.get();
                    Suspend::new(async move {
                        let rows = match live_rows {
                            Some(rows) => Ok(rows),
                            None => initial.await,
                        };
                        match rows {
                            Ok(rows) => view! { <DbTable rows delete/> }.into_any(),
                            Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </main>
    }
}

#[component]
fn DbTable(rows: Vec<DbSummary>, delete: ServerAction<DeleteDatabase>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-slate-600">"No databases yet"</p> }.into_any();
    }
    view! {
        <table aria-label="Databases" class="w-full overflow-hidden rounded-lg bg-white text-left shadow">
            <thead class="bg-slate-100 text-sm text-slate-600">
                <tr>
                    <th class="px-4 py-2">"Name"</th>
                    <th class="px-4 py-2">"Namespace"</th>
                    <th class="px-4 py-2">"Engine"</th>
                    <th class="px-4 py-2">"Version"</th>
                    <th class="px-4 py-2">"Nodes"</th>
                    <th class="px-4 py-2">"Status"</th>
                    <th class="px-4 py-2">"Hostname"</th>
                    <th class="px-4 py-2">"Monitoring"</th>
                    <th class="px-4 py-2"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        let badge = match r.status.as_str() {
                            "ready" => "bg-green-100 text-green-800",
                            "error" => "bg-red-100 text-red-800",
                            "paused" | "stopping" => "bg-slate-200 text-slate-700",
                            _ => "bg-amber-100 text-amber-800",
                        };
                        view! {
                            <tr class="border-t border-slate-100">
                                <td class="px-4 py-2 font-medium">{r.name.clone()}</td>
                                <td class="px-4 py-2">{r.namespace.clone()}</td>
                                <td class="px-4 py-2">{engine_label(&r.engine)}</td>
                                <td class="px-4 py-2">{r.version.clone()}</td>
                                <td class="px-4 py-2">{r.nodes}</td>
                                <td class="px-4 py-2">
                                    <span class=format!("rounded px-2 py-0.5 text-sm {badge}") title=r.message.clone()>
                                        {status_label(&r.status)}
                                    </span>
                                </td>
                                <td class="px-4 py-2 font-mono text-sm">{r.hostname.clone()}</td>
                                <td class="px-4 py-2 text-sm">
                                    {if r.monitoring.is_empty() { "—".to_string() } else { r.monitoring.clone() }}
                                </td>
                                <td class="px-4 py-2 text-right">
                                    {r.can_reveal.then(|| view! { <RevealButton namespace=r.namespace.clone() name=r.name.clone()/> })}
                                    {r.can_delete.then(|| view! { <DeleteButton namespace=r.namespace.clone() name=r.name.clone() delete/> })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A row's "Reveal password" action, shown only when the user may read that database's credentials: the
/// credentials are fetched when clicked (the server authorises and logs it) and shown until hidden.
#[component]
fn RevealButton(namespace: String, name: String) -> impl IntoView {
    let reveal = ServerAction::<RevealCredentials>::new();
    let shown = RwSignal::new(false);
    let label = format!("Reveal password of {name}");
    let region = format!("Credentials of {name}");
    let ask = move |_| {
        reveal.dispatch(RevealCredentials { namespace: namespace.clone(), name: name.clone() });
        shown.set(true);
    };
    view! {
        <Show when=move || shown.get() fallback={
            let label = label.clone();
            move || view! {
                <button type="button" aria-label=label.clone() on:click=ask.clone()
                    class="rounded px-3 py-1 text-sm text-indigo-700 hover:bg-indigo-50">"Reveal password"</button>
            }
        }>
            <div role="region" aria-label=region.clone() class="my-1 rounded border border-slate-200 bg-slate-50 p-2 text-left text-sm">
                {move || match reveal.value().get() {
                    None => view! { <p>"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p role="alert" class="text-red-700">{crate::app::components::error_text(&e)}</p> }.into_any(),
                    Some(Ok(c)) => view! {
                        <dl class="grid grid-cols-[auto_1fr] gap-x-2">
                            <dt class="text-slate-500">"User"</dt><dd class="font-mono">{c.username}</dd>
                            <dt class="text-slate-500">"Password"</dt><dd class="font-mono">{c.password}</dd>
                            <dt class="text-slate-500">"URL"</dt><dd class="break-all font-mono">{c.connection_url}</dd>
                        </dl>
                    }.into_any(),
                }}
                <button type="button" on:click=move |_| shown.set(false)
                    class="mt-1 rounded px-2 py-0.5 text-slate-600 hover:bg-slate-100">"Hide"</button>
            </div>
        </Show>
    }
}

/// A row's delete action, shown only when the user may delete that database: "Delete" asks, then
/// "Confirm delete" posts (the form also works before hydration: it then deletes on the first click).
#[component]
fn DeleteButton(namespace: String, name: String, delete: ServerAction<DeleteDatabase>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let label = format!("Delete {name}");
    let confirm_label = format!("Confirm delete of {name}");
    view! {
        <ActionForm action=delete attr:class="inline-flex gap-2">
            <input type="hidden" name="namespace" value=namespace/>
            <input type="hidden" name="name" value=name/>
            <Show when=move || asking.get() fallback={
                let label = label.clone();
                move || view! {
                    <button type="submit" aria-label=label.clone()
                        on:click=move |ev| { ev.prevent_default(); asking.set(true); }
                        class="rounded px-3 py-1 text-sm text-red-700 hover:bg-red-50">"Delete"</button>
                }
            }>
                <button type="submit" aria-label=confirm_label.clone()
                    class="rounded bg-red-600 px-3 py-1 text-sm text-white hover:bg-red-700">"Confirm delete"</button>
                <button type="button" on:click=move |_| asking.set(false)
                    class="rounded px-3 py-1 text-sm text-slate-600 hover:bg-slate-100">"Cancel"</button>
            </Show>
        </ActionForm>
    }
}

/// Subscribes to the server's database events until the page goes away.
#[cfg(feature = "hydrate")]
fn live_updates(live: RwSignal<Option<Vec<DbSummary>>>) {
    use futures::StreamExt;
    let Ok(mut es) = gloo_net::eventsource::futures::EventSource::new("/v1/events/database-clusters") else {
        return;
    };
    let Ok(events) = es.subscribe("databases") else {
        return;
    };
    let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
    enum Msg {
        Data(String),
        Stop,
    }
    let data = events.filter_map(|ev| async move { ev.ok().and_then(|(_, m)| m.data().as_string()).map(Msg::Data) });
    let stop = futures::stream::once(stop_rx).map(|_| Msg::Stop);
    let mut merged = Box::pin(futures::stream::select(data, stop));
    leptos::task::spawn_local(async move {
        // The browser reconnects by itself after transient errors.
        while let Some(Msg::Data(data)) = merged.next().await {
            if let Ok(rows) = serde_json::from_str::<Vec<DbSummary>>(&data) {
                live.set(Some(rows));
            }
        }
        es.close();
    });
    on_cleanup(move || drop(stop_tx));
}
