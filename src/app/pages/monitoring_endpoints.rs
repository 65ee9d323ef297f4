//! Settings → Monitoring endpoints (`/settings/monitoring-endpoints`): the PMM servers (and the cluster's
//! Prometheus) databases report to — list, add, edit, delete, each error beside its field.
use crate::app::components::{error_text, Header};
use crate::app::monitoring_fns::{list_monitoring_endpoints, DeleteMonitoringEndpoint, SaveMonitoringEndpoint};
use crate::model::{FieldError, MonitoringRow};
use leptos::prelude::*;

const INPUT: &str = "mt-1 w-full rounded border border-slate-300 px-3 py-2";
const LABEL: &str = "block text-sm font-medium";
const HELP: &str = "mt-1 text-xs text-slate-500";

/// The message for `field` of a form's last answer, shown beside it.
fn field_message(answer: Option<Result<Option<FieldError>, ServerFnError>>, field: &str) -> Option<String> {
    answer.and_then(|r| r.ok().flatten()).filter(|e| e.field == field).map(|e| e.message)
}

#[component]
pub fn MonitoringEndpointsPage() -> impl IntoView {
    let create = ServerAction::<SaveMonitoringEndpoint>::new();
    let update = ServerAction::<SaveMonitoringEndpoint>::new();
    let delete = ServerAction::<DeleteMonitoringEndpoint>::new();
    let page = Resource::new(
        move || (create.version().get(), update.version().get(), delete.version().get()),
        |_| list_monitoring_endpoints(),
    );
    // The row being edited: (namespace, name).
    let editing = RwSignal::new(None::<(String, String)>);
    // A successful edit closes its form.
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(None))) {
            editing.set(None);
        }
    });

    view! {
        <Header/>
        <main class="mx-auto max-w-6xl space-y-6 p-6">
            <h1 class="text-2xl font-semibold">"Monitoring endpoints"</h1>
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! {
                <p role="alert" class="text-red-700">{error_text(&e)}</p>
            })}
            <Transition fallback=|| view! { <p>"Loading monitoring endpoints…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(p) => view! {
                            {(!p.vmagent_available).then(|| view! {
                                <p role="status" class="rounded bg-amber-50 p-3 text-sm text-amber-900">
                                    "Cluster-level metrics (nodes, pods) reach PMM only through the VictoriaMetrics operator, which is not installed in this cluster. Database metrics are not affected."
                                </p>
                            })}
                            <EndpointTable rows=p.endpoints.clone() editing update delete/>
                            {if p.create_namespaces.is_empty() {
                                view! { <p class="text-sm text-slate-600">"Your role does not allow adding monitoring endpoints."</p> }.into_any()
                            } else {
                                view! { <AddEndpoint namespaces=p.create_namespaces.clone() create/> }.into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn EndpointTable(
    rows: Vec<MonitoringRow>,
    editing: RwSignal<Option<(String, String)>>,
    update: ServerAction<SaveMonitoringEndpoint>,
    delete: ServerAction<DeleteMonitoringEndpoint>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-slate-600">"No monitoring endpoint yet."</p> }.into_any();
    }
    view! {
        <table class="w-full rounded-lg bg-white text-left shadow">
            <thead class="bg-slate-100 text-sm text-slate-600">
                <tr>
                    <th class="px-4 py-2">"Name"</th>
                    <th class="px-4 py-2">"Namespace"</th>
                    <th class="px-4 py-2">"Type"</th>
                    <th class="px-4 py-2">"URL"</th>
                    <th class="px-4 py-2">"Server version"</th>
                    <th class="px-4 py-2">"In use"</th>
                    <th class="px-4 py-2"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let e = r.endpoint.clone();
                    let key = (e.namespace.clone(), e.name.clone());
                    let key2 = key.clone();
                    let is_editing = move || editing.get().as_ref() == Some(&key2);
                    let row = e.clone();
                    view! {
                        <tr class="border-t border-slate-200">
                            <td class="px-4 py-2 font-medium">{e.name.clone()}</td>
                            <td class="px-4 py-2">{e.namespace.clone()}</td>
                            <td class="px-4 py-2">{e.type_.clone()}</td>
                            <td class="px-4 py-2 font-mono text-sm">{e.url.clone()}</td>
                            <td class="px-4 py-2">{e.pmm_server_version.clone()}</td>
                            <td class="px-4 py-2">{if e.in_use { "yes" } else { "no" }}</td>
                            <td class="px-4 py-2 text-right">
                                <div class="flex justify-end gap-2">
                                    {r.can_update.then(|| {
                                        let key = key.clone();
                                        let name = e.name.clone();
                                        view! {
                                            <button type="button" class="rounded px-2 py-1 text-sm text-indigo-700 hover:bg-indigo-50"
                                                aria-label=format!("Edit {name}")
                                                on:click=move |_| editing.set(Some(key.clone()))>"Edit"</button>
                                        }
                                    })}
                                    {if r.can_delete && !e.in_use {
                                        let (ns, name) = (e.namespace.clone(), e.name.clone());
                                        view! {
                                            <ActionForm action=delete>
                                                <input type="hidden" name="namespace" value=ns/>
                                                <input type="hidden" name="name" value=name.clone()/>
                                                <button type="submit" aria-label=format!("Delete {name}")
                                                    class="rounded px-2 py-1 text-sm text-red-700 hover:bg-red-50">"Delete"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else if r.can_delete {
                                        view! { <span class="text-xs text-slate-500" title="A database uses it">"in use: cannot delete"</span> }.into_any()
                                    } else {
                                        ().into_any()
                                    }}
                                </div>
                            </td>
                        </tr>
                        {move || is_editing().then(|| view! {
                            <tr class="border-t border-slate-100 bg-slate-50">
                                <td colspan="7" class="px-4 py-4"><EditEndpoint endpoint=row.clone() update editing/></td>
                            </tr>
                        })}
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The credential fields both forms share: PMM user and password, or an API key; verify TLS; a CA bundle.
#[component]
fn CredentialFields(prefix: &'static str, answer: Signal<Option<Result<Option<FieldError>, ServerFnError>>>, editing: bool, verify: bool) -> impl IntoView {
    let err = move |field: &'static str| {
        move || field_message(answer.get(), field).map(|m| view! { <p role="alert" id=format!("{prefix}{field}-error") class="mt-1 text-sm text-red-700">{m}</p> })
    };
    let keep = if editing { "empty: keep the stored one" } else { "" };
    view! {
        <div class="grid grid-cols-2 gap-4">
            <div>
                <label for=format!("{prefix}user") class=LABEL>"PMM user"</label>
                <input id=format!("{prefix}user") name="user" type="text" class=INPUT autocomplete="off"
                    placeholder={if editing { "empty: keep the stored key" } else { "admin" }}/>
                {err("user")}
            </div>
            <div>
                <label for=format!("{prefix}password") class=LABEL>"PMM password"</label>
                <input id=format!("{prefix}password") name="password" type="password" class=INPUT autocomplete="new-password"/>
                {err("password")}
            </div>
        </div>
        <div>
            <label for=format!("{prefix}api_key") class=LABEL>"API key (instead of user and password)"</label>
            <input id=format!("{prefix}api_key") name="api_key" type="password" class=INPUT autocomplete="off" placeholder=keep/>
            {err("api_key")}
        </div>
        <label class="flex items-center gap-2 text-sm">
            <input id=format!("{prefix}verify_tls") name="verify_tls" type="checkbox" value="on" checked=verify/>
            "Verify the server's TLS certificate"
        </label>
        <div>
            <label for=format!("{prefix}ca_cert") class=LABEL>"CA certificate (PEM, for a private CA)"</label>
            <textarea id=format!("{prefix}ca_cert") name="ca_cert" rows="3" class=format!("{INPUT} font-mono text-xs")
                placeholder="-----BEGIN CERTIFICATE-----"></textarea>
            <p class=HELP>{if editing { "Empty: keep the stored CA, if any." } else { "Optional. Trusted besides the system's certificate authorities." }}</p>
            {err("ca_cert")}
        </div>
    }
}

#[component]
fn AddEndpoint(namespaces: Vec<String>, create: ServerAction<SaveMonitoringEndpoint>) -> impl IntoView {
    let answer = Signal::derive(move || create.value().get());
    let err = move |field: &'static str| {
        move || field_message(answer.get(), field).map(|m| view! { <p role="alert" id=format!("add-{field}-error") class="mt-1 text-sm text-red-700">{m}</p> })
    };
    let other = move || create.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let added = move || matches!(create.value().get(), Some(Ok(None)));
    view! {
        <section class="rounded-lg bg-white p-6 shadow">
            <h2 class="mb-4 text-lg font-semibold">"Add a monitoring endpoint"</h2>
            {move || added().then(|| view! { <p role="status" class="mb-2 text-sm text-green-700">"Endpoint added."</p> })}
            <ActionForm action=create attr:class="space-y-4">
                <input type="hidden" name="kind" value="pmm"/>
                <div class="grid grid-cols-2 gap-4">
                    <div>
                        <label for="add-name" class=LABEL>"Name"</label>
                        <input id="add-name" name="name" type="text" class=INPUT placeholder="e.g. pmm"/>
                        {err("name")}
                    </div>
                    <div>
                        <label for="add-namespace" class=LABEL>"Namespace"</label>
                        <select id="add-namespace" name="namespace" class=INPUT>
                            {namespaces.into_iter().map(|n| { let label = n.clone(); view! { <option value=n>{label}</option> } }).collect_view()}
                        </select>
                    </div>
                </div>
                <div>
                    <label for="add-url" class=LABEL>"PMM server URL"</label>
                    <input id="add-url" name="url" type="text" class=INPUT placeholder="https://pmm.example.com"/>
                    {err("url")}
                </div>
                <CredentialFields prefix="add-" answer editing=false verify=true/>
                {move || other().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
                <button type="submit" disabled=move || create.pending().get()
                    class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                    {move || if create.pending().get() { "Contacting the PMM server…" } else { "Add endpoint" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn EditEndpoint(
    endpoint: crate::model::MonitoringInstance,
    update: ServerAction<SaveMonitoringEndpoint>,
    editing: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let answer = Signal::derive(move || update.value().get());
    let err = move |field: &'static str| {
        move || field_message(answer.get(), field).map(|m| view! { <p role="alert" id=format!("edit-{field}-error") class="mt-1 text-sm text-red-700">{m}</p> })
    };
    let other = move || update.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let is_pmm = endpoint.type_ == "pmm";
    let form_label = format!("Edit {}", endpoint.name);
    view! {
        <ActionForm action=update attr:class="space-y-4" attr:aria-label=form_label>
            <input type="hidden" name="namespace" value=endpoint.namespace.clone()/>
            <input type="hidden" name="name" value=endpoint.name.clone()/>
            <input type="hidden" name="edit" value="on"/>
            {if is_pmm {
                view! {
                    <div>
                        <label for="edit-url" class=LABEL>"PMM server URL"</label>
                        <input id="edit-url" name="url" type="text" class=INPUT value=endpoint.url.clone()/>
                        {err("url")}
                    </div>
                    <CredentialFields prefix="edit-" answer editing=true verify=endpoint.verify_tls/>
                }.into_any()
            } else {
                view! {
                    <input type="hidden" name="url" value=""/>
                    <input type="hidden" name="user" value=""/>
                    <input type="hidden" name="password" value=""/>
                    <input type="hidden" name="api_key" value=""/>
                    <input type="hidden" name="ca_cert" value=""/>
                    <p class="text-sm text-slate-600">"A Prometheus endpoint has no connection settings."</p>
                }.into_any()
            }}
            {move || other().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
            <div class="flex gap-4">
                <button type="submit" class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">"Save"</button>
                <button type="button" class="text-slate-600 hover:underline" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </ActionForm>
    }
}
