//! The Overview tab: status in words (conditions, the upstream message, the full upstream status on demand),
//! how to connect (host, port, user, the password on request, the URL, and the `kubectl port-forward`
//! command with its local connection string), resources, advanced configuration and monitoring.
use crate::app::components::{error_text, use_toasts, CopyButton, Dialog, PreviewPanel};
use crate::app::server_fns::{EditDatabase, PreviewEdit, RevealCredentials};
use crate::model::{action_availability, fill_local_url, status_label, DbDetail, DbEdit, FieldError};
use leptos::prelude::*;

#[component]
pub fn Overview(d: RwSignal<DbDetail>) -> impl IntoView {
    // The monitoring card loads its own data (endpoints the database may use); it is keyed on the database.
    let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
    view! {
        <div class="grid gap-4 lg:grid-cols-2">
            <StatusCard d/>
            <ConnectionCard d/>
            <ResourcesCard d/>
            <AdvancedCard d/>
            <crate::app::monitoring_card::MonitoringCard namespace name/>
        </div>
    }
    .into_any()
}

/// A `<dt>`/`<dd>` pair.
#[component]
fn Item(#[prop(into)] term: String, children: Children) -> impl IntoView {
    view! {
        <div class="flex flex-wrap gap-x-3 py-1">
            <dt class="w-32 shrink-0 text-slate-600">{term}</dt>
            <dd class="min-w-0 flex-1 break-words">{children()}</dd>
        </div>
    }
    .into_any()
}

#[component]
fn StatusCard(d: RwSignal<DbDetail>) -> impl IntoView {
    let show_details = RwSignal::new(false);
    view! {
        <section aria-labelledby="status-title" class="card lg:col-span-2">
            <h2 id="status-title" class="mb-2 text-lg font-semibold">"Status"</h2>
            <p class="text-sm">
                {move || d.with(|d| status_sentence(&d.summary.effective_status().to_string(), d.summary.ready, d.summary.size))}
            </p>
            {move || d.with(|d| (!d.summary.message.is_empty()).then(|| view! {
                <p class="mt-2 rounded border border-slate-200 bg-slate-50 p-2 text-sm">
                    <span class="font-medium">"Message from the operator: "</span>{d.summary.message.clone()}
                </p>
            }))}
            {move || d.with(|d| (!d.recommended_cr_version.is_empty()).then(|| view! {
                <p class="mt-2 text-sm text-amber-900">
                    {format!("The operator recommends CR version {} (running {}): the engine version cannot change until it is applied.", d.recommended_cr_version, d.cr_version)}
                </p>
            }))}
            {move || d.with(|d| (!d.conditions.is_empty()).then(|| view! {
                <h3 class="mt-3 text-sm font-semibold">"Conditions"</h3>
                <ul class="mt-1 space-y-1 text-sm">
                    {d.conditions.iter().map(|c| view! {
                        <li>
                            <span class="font-medium">{c.type_.clone()}</span>
                            {format!(" is {}", if c.status == "True" { "true" } else if c.status == "False" { "false" } else { "unknown" })}
                            {(!c.reason.is_empty()).then(|| format!(" ({})", c.reason))}
                            {(!c.message.is_empty()).then(|| format!(": {}", c.message))}
                        </li>
                    }).collect_view()}
                </ul>
            }))}
            <button type="button" class="btn-secondary mt-3" aria-expanded=move || if show_details.get() { "true" } else { "false" }
                on:click=move |_| show_details.update(|s| *s = !*s)>
                {move || if show_details.get() { "Hide status details" } else { "Show status details" }}
            </button>
            <Show when=move || show_details.get()>
                <div role="region" aria-label="Status details">
                    <pre tabindex="0" class="mt-2 max-h-96 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">
                        {move || d.with(|d| if d.details.is_empty() { "The operator has not reported a status yet.".to_string() } else { d.details.clone() })}
                    </pre>
                </div>
            </Show>
        </section>
    }
    .into_any()
}

/// The status in words.
pub fn status_sentence(status: &str, ready: i32, size: i32) -> String {
    let pods = format!("{ready} of {size} pods ready");
    match status {
        "ready" => format!("Ready: {pods}."),
        "creating" => "Being created: the operator is setting it up.".into(),
        "initializing" => format!("Starting: {pods}."),
        "paused" => "Suspended: no pod runs; the data is kept. Resume it to use it again.".into(),
        "stopping" | "pausing" => format!("Being suspended: {pods}."),
        "error" => format!("In error: {pods}. See the message and conditions below."),
        "restoring" => "Being restored from a backup; actions wait until it is done.".into(),
        "deleting" => "Being deleted.".into(),
        "upgrading" => format!("Being upgraded: {pods}."),
        "resizingVolumes" => "Its volumes are being resized.".into(),
        "importing" => "Data is being imported.".into(),
        other => format!("{}: {pods}.", status_label(other)),
    }
}

#[component]
fn ConnectionCard(d: RwSignal<DbDetail>) -> impl IntoView {
    let reveal = ServerAction::<RevealCredentials>::new();
    let shown = RwSignal::new(false);
    let creds = move || if shown.get() { reveal.value().get().and_then(|r| r.ok()) } else { None };
    let host = Signal::derive(move || d.with(|d| d.summary.hostname.clone()));
    let command = Signal::derive(move || d.with(|d| d.port_forward.command.clone()));
    let user = Signal::derive(move || creds().map(|c| c.username).unwrap_or_else(|| d.with(|d| d.admin_user.clone())));
    let local_url = Signal::derive(move || {
        let c = creds();
        d.with(|d| fill_local_url(&d.port_forward.local_url, Some(&c.as_ref().map(|c| c.username.clone()).unwrap_or_else(|| d.admin_user.clone())).filter(|u| !u.is_empty()).map(|s| s.as_str()), c.as_ref().map(|c| c.password.as_str())))
    });
    let url = Signal::derive(move || creds().map(|c| c.connection_url).unwrap_or_default());
    let password = Signal::derive(move || creds().map(|c| c.password).unwrap_or_default());
    let ask = move |_| {
        let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
        reveal.dispatch(RevealCredentials { namespace, name });
        shown.set(true);
    };
    let mono = "font-mono text-sm break-all";
    view! {
        <section aria-labelledby="connection-title" class="card">
            <h2 id="connection-title" class="mb-2 text-lg font-semibold">"Connection"</h2>
            <dl class="text-sm">
                <Item term="Host">
                    {move || if host.get().is_empty() {
                        view! { <span class="text-slate-600">"Not known yet (the operator reports it once the database runs)"</span> }.into_any()
                    } else {
                        view! { <span class="flex items-start gap-2"><span class=mono>{host}</span><CopyButton text=host label="Copy host"/></span> }.into_any()
                    }}
                </Item>
                <Item term="Port"><span class=mono>{move || d.with(|d| d.port)}</span></Item>
                <Item term="User"><span class=mono>{move || { let u = user.get(); if u.is_empty() { "shown with the password".to_string() } else { u } }}</span></Item>
                <Item term="Password">
                    {move || if !d.with(|d| d.summary.can_reveal) {
                        view! { <span class="text-slate-600">"Your role does not allow reading the credentials."</span> }.into_any()
                    } else if !shown.get() {
                        view! { <button type="button" class="btn-secondary" on:click=ask>"Reveal password"</button> }.into_any()
                    } else {
                        match reveal.value().get() {
                            None => view! { <span role="status">"Loading…"</span> }.into_any(),
                            Some(Err(e)) => view! { <span role="alert" class="text-red-800">{error_text(&e)}</span> }.into_any(),
                            Some(Ok(_)) => view! {
                                <span class="flex flex-wrap items-start gap-2">
                                    <span class=mono>{password}</span>
                                    <CopyButton text=password label="Copy password"/>
                                    <button type="button" class="btn-secondary" on:click=move |_| shown.set(false)>"Hide"</button>
                                </span>
                            }.into_any(),
                        }
                    }}
                </Item>
                <Show when=move || !url.get().is_empty()>
                    <Item term="Connection URL">
                        <span class="flex items-start gap-2"><span class=mono>{url}</span><CopyButton text=url label="Copy connection URL"/></span>
                    </Item>
                </Show>
            </dl>
            <h3 class="mt-4 text-sm font-semibold">"From your computer"</h3>
            <p class="mt-1 text-sm text-slate-700">
                {move || d.with(|d| format!("Forward the {} Service's port to this machine, then connect to 127.0.0.1:", d.port_forward.service))}
            </p>
            <div role="group" aria-label="Port-forward command" class="mt-2 flex items-start gap-2">
                <code class="min-w-0 flex-1 break-all rounded bg-slate-900 px-3 py-2 text-xs text-slate-100">{command}</code>
                <CopyButton text=command label="Copy port-forward command"/>
            </div>
            <div role="group" aria-label="Local connection string" class="mt-2 flex items-start gap-2">
                <code class="min-w-0 flex-1 break-all rounded bg-slate-100 px-3 py-2 text-xs">{local_url}</code>
                <CopyButton text=local_url label="Copy local connection string"/>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn ResourcesCard(d: RwSignal<DbDetail>) -> impl IntoView {
    let v = move |f: fn(&DbDetail) -> String| move || d.with(f);
    let edit_open = RwSignal::new(false);
    let upgrade_open = RwSignal::new(false);
    // Editing follows the same rules as the actions (role, blocking states).
    let why_not = Signal::derive(move || d.with(|d| action_availability(&d.summary).suspend_or_resume.err()));
    let (ns, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
    view! {
        <section aria-labelledby="resources-title" class="card">
            <h2 id="resources-title" class="mb-2 text-lg font-semibold">"Resources"</h2>
            <dl class="text-sm">
                <Item term="Version">{v(|d| d.summary.version.clone())}</Item>
                <Item term="Nodes">{v(|d| d.summary.nodes.to_string())}</Item>
                <Item term="CPU per node">{v(|d| or_none(&d.cpu, "no limit"))}</Item>
                <Item term="Memory per node">{v(|d| or_none(&d.memory, "no limit"))}</Item>
                <Item term="Disk per node">{v(|d| d.disk.clone())}</Item>
                <Item term="Storage class">{v(|d| or_none(&d.storage_class, "the cluster's default"))}</Item>
                <Item term="Proxy">{v(|d| if d.proxy.is_empty() { "none".into() } else { format!("{} × {}", d.proxy, d.proxy_replicas) })}</Item>
                {move || d.with(|d| d.sharding.map(|(shards, cfg)| view! {
                    <Item term="Sharding">{format!("{shards} shards, {cfg} config servers")}</Item>
                }))}
            </dl>
            <div class="mt-3 flex flex-wrap gap-2">
                <button type="button" class="btn-secondary" disabled=move || why_not.get().is_some()
                    title=move || why_not.get().unwrap_or_default() on:click=move |_| edit_open.set(true)>"Edit resources"</button>
                <button type="button" class="btn-secondary"
                    disabled=move || why_not.get().is_some() || d.with(|d| d.upgrades.is_empty())
                    title=move || why_not.get().or_else(|| d.with(|d| d.upgrades.is_empty().then(|| "no newer version is available".to_string()))).unwrap_or_default()
                    on:click=move |_| upgrade_open.set(true)>"Upgrade version"</button>
            </div>
            {move || why_not.get().map(|w| view! { <p class="mt-1 text-xs text-slate-600">{format!("Editing: {w}.")}</p> })}
            <Dialog open=edit_open title=format!("Edit the resources of {name}") id=format!("{ns}-{name}-resources")>
                <ResourcesForm d open=edit_open/>
            </Dialog>
            <Dialog open=upgrade_open title=format!("Upgrade {name}") id=format!("{ns}-{name}-upgrade")>
                <UpgradeForm d open=upgrade_open/>
            </Dialog>
        </section>
    }
    .into_any()
}

/// The result handling every edit dialog shares: a rejected field is shown beside it (from the save or the
/// preview), success closes the dialog with a toast.
fn edit_action(open: RwSignal<bool>) -> (ServerAction<EditDatabase>, ServerAction<PreviewEdit>, Signal<Option<FieldError>>, Signal<Option<String>>) {
    let toasts = use_toasts();
    let action = ServerAction::<EditDatabase>::new();
    let preview = ServerAction::<PreviewEdit>::new();
    Effect::new(move |_| {
        if let Some(Ok(None)) = action.value().get() {
            toasts.info("Changes saved: the database is being updated");
            open.set(false);
        }
    });
    let field = Signal::derive(move || {
        action.value().get().and_then(|r| r.ok().flatten()).or_else(|| preview.value().get().and_then(|r| r.ok()).and_then(|o| o.error))
    });
    let other = Signal::derive(move || {
        action.value().get().and_then(|r| r.err()).or_else(|| preview.value().get().and_then(|r| r.err())).map(|e| error_text(&e))
    });
    (action, preview, field, other)
}

/// The edit of a dialog as a preview request.
fn preview_request(d: RwSignal<DbDetail>, edit: DbEdit) -> PreviewEdit {
    let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
    PreviewEdit { namespace, name, edit }
}

/// What the change will restart, the error that is not a field's, Preview, Cancel / Save, and the preview.
#[component]
fn EditFooter(
    restarts: Signal<Vec<&'static str>>,
    other: Signal<Option<String>>,
    open: RwSignal<bool>,
    #[prop(into)] pending: Signal<bool>,
    preview: ServerAction<PreviewEdit>,
    on_preview: Callback<()>,
) -> impl IntoView {
    view! {
        <div role="status" class="rounded bg-slate-50 p-2 text-sm">
            {move || {
                let r = restarts.get();
                if r.is_empty() { view! { <p>"Nothing changes yet."</p> }.into_any() } else {
                    view! { <ul class="list-disc pl-5">{r.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul> }.into_any()
                }
            }}
        </div>
        {move || other.get().map(|e| view! { <p role="alert" class="field-error">{e}</p> })}
        <div class="flex flex-wrap justify-end gap-2">
            <button type="button" class="btn-secondary mr-auto" disabled=move || preview.pending().get()
                on:click=move |_| on_preview.run(())>"Preview"</button>
            <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
            <button type="submit" class="btn-primary" disabled=move || pending.get()>"Save"</button>
        </div>
        <PreviewPanel pending=preview.pending() value=preview.value() in_dialog=true/>
    }
    .into_any()
}

/// The error beside an input of an edit dialog.
fn field_note(field: Signal<Option<FieldError>>, input: &'static str) -> impl IntoView {
    move || field.get().filter(|e| e.field == input).map(|e| view! { <p role="alert" class="field-error">{e.message}</p> })
}

#[component]
fn ResourcesForm(d: RwSignal<DbDetail>, open: RwSignal<bool>) -> impl IntoView {
    let (action, preview, field, other) = edit_action(open);
    let now = d.get_untracked();
    let (nodes, cpu, memory, disk, proxies) = (
        RwSignal::new(now.summary.nodes.to_string()),
        RwSignal::new(now.cpu.clone()),
        RwSignal::new(now.memory.clone()),
        RwSignal::new(now.disk.clone()),
        RwSignal::new(now.proxy_replicas.to_string()),
    );
    let edit = move || DbEdit {
        nodes: Some(nodes.get()),
        cpu: Some(cpu.get()),
        memory: Some(memory.get()),
        disk: Some(disk.get()),
        proxy_replicas: d.with(|d| (!d.proxy.is_empty()).then(|| proxies.get())),
        ..Default::default()
    };
    let restarts = move || d.with(|d| edit().restarts(d));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
        action.dispatch(EditDatabase { namespace, name, edit: edit() });
    };
    let input = |id: &'static str, label: &'static str, value: RwSignal<String>, disabled: Option<&'static str>| view! {
        <div>
            <label for=id class="field-label">{label}</label>
            <input id=id type="text" class="field-input disabled:bg-slate-100" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev)) disabled=disabled.is_some()
                aria-describedby=disabled.map(|_| format!("{id}-why"))/>
            {disabled.map(|w| view! { <p id=format!("{id}-why") class="mt-1 text-xs text-slate-600">{w}</p> })}
            {field_note(field, id)}
        </div>
    };
    let can_grow = now.disk_can_grow;
    let has_proxy = !now.proxy.is_empty();
    view! {
        <form on:submit=submit class="space-y-3">
            <div class="grid grid-cols-2 gap-3">
                {input("nodes", "Nodes", nodes, None)}
                {has_proxy.then(|| input("proxy_replicas", "Proxy nodes", proxies, None))}
                {input("cpu", "CPU per node", cpu, None)}
                {input("memory", "Memory per node", memory, None)}
                {input("disk", "Disk per node", disk, (!can_grow).then_some("The storage class does not allow volumes to grow."))}
            </div>
            <EditFooter restarts=Signal::derive(restarts) other open pending=action.pending() preview
                on_preview=Callback::new(move |()| { preview.dispatch(preview_request(d, edit())); })/>
        </form>
    }
    .into_any()
}

#[component]
fn UpgradeForm(d: RwSignal<DbDetail>, open: RwSignal<bool>) -> impl IntoView {
    let (action, preview, field, other) = edit_action(open);
    let now = d.get_untracked();
    let choice = RwSignal::new(now.upgrades.first().cloned().unwrap_or_default());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
        action.dispatch(EditDatabase { namespace, name, edit: DbEdit { version: Some(choice.get_untracked()), ..Default::default() } });
    };
    view! {
        <form on:submit=submit class="space-y-3">
            <p class="text-sm text-slate-700">{format!("Running {}. Only the upgrades the rules allow are offered; the database pods restart one by one on the new version.", now.summary.version)}</p>
            <div>
                <label for="version" class="field-label">"New version"</label>
                <select id="version" class="field-input" on:change=move |ev| choice.set(event_target_value(&ev))>
                    {now.upgrades.iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
                </select>
                {field_note(field, "version")}
            </div>
            {move || other.get().map(|e| view! { <p role="alert" class="field-error">{e}</p> })}
            <div class="flex flex-wrap justify-end gap-2">
                <button type="button" class="btn-secondary mr-auto" disabled=move || preview.pending().get()
                    on:click=move |_| { preview.dispatch(preview_request(d, DbEdit { version: Some(choice.get_untracked()), ..Default::default() })); }>
                    "Preview"
                </button>
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-primary" disabled=move || action.pending().get()>"Upgrade"</button>
            </div>
            <PreviewPanel pending=preview.pending() value=preview.value() in_dialog=true/>
        </form>
    }
    .into_any()
}

#[component]
fn AdvancedCard(d: RwSignal<DbDetail>) -> impl IntoView {
    let v = move |f: fn(&DbDetail) -> String| move || d.with(f);
    let edit_open = RwSignal::new(false);
    let why_not = Signal::derive(move || d.with(|d| action_availability(&d.summary).suspend_or_resume.err()));
    let (ns, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
    view! {
        <section aria-labelledby="advanced-title" class="card">
            <h2 id="advanced-title" class="mb-2 text-lg font-semibold">"Advanced configuration"</h2>
            <dl class="text-sm">
                <Item term="Exposure">{v(|d| expose_label(&d.expose).to_string())}</Item>
                <Item term="Source ranges">{v(|d| if d.source_ranges.is_empty() { "any".into() } else { d.source_ranges.join(", ") })}</Item>
                <Item term="Load balancer config">{v(|d| or_none(&d.load_balancer_config, "none"))}</Item>
                <Item term="Pod scheduling">{v(|d| or_none(&d.pod_scheduling_policy, "none"))}</Item>
                <Item term="Engine parameters">
                    {move || d.with(|d| if d.engine_config.is_empty() {
                        view! { <span>"defaults"</span> }.into_any()
                    } else {
                        view! { <pre tabindex="0" class="overflow-auto whitespace-pre-wrap rounded bg-slate-100 p-2 text-xs">{d.engine_config.clone()}</pre> }.into_any()
                    })}
                </Item>
            </dl>
            <button type="button" class="btn-secondary mt-3" disabled=move || why_not.get().is_some()
                title=move || why_not.get().unwrap_or_default() on:click=move |_| edit_open.set(true)>"Edit advanced configuration"</button>
            <Dialog open=edit_open title=format!("Advanced configuration of {name}") id=format!("{ns}-{name}-advanced")>
                <AdvancedForm d open=edit_open/>
            </Dialog>
        </section>
    }
    .into_any()
}

fn expose_label(e: &str) -> &'static str {
    match e {
        "LoadBalancer" => "Load balancer",
        "NodePort" => "Node port",
        _ => "Inside the cluster only",
    }
}

#[component]
fn AdvancedForm(d: RwSignal<DbDetail>, open: RwSignal<bool>) -> impl IntoView {
    let (action, preview, field, other) = edit_action(open);
    let now = d.get_untracked();
    let expose = RwSignal::new(now.expose.clone());
    let ranges = RwSignal::new(now.source_ranges.join(", "));
    let lbc = RwSignal::new(now.load_balancer_config.clone());
    let psp = RwSignal::new(now.pod_scheduling_policy.clone());
    let config = RwSignal::new(now.engine_config.clone());
    let edit = move || DbEdit {
        expose: Some(expose.get()),
        source_ranges: Some(ranges.get()),
        load_balancer_config: Some(lbc.get()),
        pod_scheduling_policy: Some(psp.get()),
        engine_config: Some(config.get()),
        ..Default::default()
    };
    let restarts = move || d.with(|d| edit().restarts(d));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (namespace, name) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()));
        action.dispatch(EditDatabase { namespace, name, edit: edit() });
    };
    let lb_locked = !now.load_balancer_config.is_empty();
    view! {
        <form on:submit=submit class="space-y-3">
            <div>
                <label for="expose" class="field-label">"Exposure"</label>
                <select id="expose" class="field-input" on:change=move |ev| expose.set(event_target_value(&ev))>
                    {crate::model::EXPOSE_CHOICES.iter().map(|(value, label)| view! {
                        <option value=*value selected=now.expose == *value>{*label}</option>
                    }).collect_view()}
                </select>
                {field_note(field, "expose")}
            </div>
            <Show when=move || expose.get() == "LoadBalancer">
                <div>
                    <label for="source_ranges" class="field-label">"Allowed source ranges"</label>
                    <input id="source_ranges" type="text" class="field-input" placeholder="e.g. 10.0.0.0/8, 192.168.1.7"
                        prop:value=move || ranges.get() on:input=move |ev| ranges.set(event_target_value(&ev))/>
                    {field_note(field, "source_ranges")}
                </div>
                <div>
                    <label for="load_balancer_config" class="field-label">"Load balancer config"</label>
                    <select id="load_balancer_config" class="field-input" on:change=move |ev| lbc.set(event_target_value(&ev))>
                        {(!lb_locked).then(|| view! { <option value="">"None"</option> })}
                        {d.with_untracked(|d| d.load_balancer_configs.clone()).into_iter().map(|c| {
                            let selected = c == lbc.get_untracked();
                            view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                        }).collect_view()}
                    </select>
                    {lb_locked.then(|| view! { <p class="mt-1 text-xs text-slate-600">"Once set, a load balancer config can be changed but not removed."</p> })}
                    {field_note(field, "load_balancer_config")}
                </div>
            </Show>
            <div>
                <label for="pod_scheduling_policy" class="field-label">"Pod scheduling policy"</label>
                <select id="pod_scheduling_policy" class="field-input" on:change=move |ev| psp.set(event_target_value(&ev))>
                    <option value="">"None"</option>
                    {d.with_untracked(|d| d.pod_scheduling_policies.clone()).into_iter().map(|p| {
                        let selected = p == psp.get_untracked();
                        view! { <option value=p.clone() selected=selected>{p.clone()}</option> }
                    }).collect_view()}
                </select>
                {field_note(field, "pod_scheduling_policy")}
            </div>
            <div>
                <label for="engine_config" class="field-label">"Engine parameters"</label>
                <textarea id="engine_config" rows="4" class="field-input font-mono"
                    prop:value=move || config.get() on:input=move |ev| config.set(event_target_value(&ev))></textarea>
                {field_note(field, "engine_config")}
            </div>
            <EditFooter restarts=Signal::derive(restarts) other open pending=action.pending() preview
                on_preview=Callback::new(move |()| { preview.dispatch(preview_request(d, edit())); })/>
        </form>
    }
    .into_any()
}

fn or_none(v: &str, none: &str) -> String {
    if v.is_empty() {
        none.into()
    } else {
        v.into()
    }
}
