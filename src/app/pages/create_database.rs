use crate::app::components::{error_text, Header};
use crate::app::server_fns::{get_form_options, CreateDatabase};
use crate::model::{proxy_choices, supports_sharding, FieldError, EXPOSE_CHOICES};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CreateDatabasePage() -> impl IntoView {
    let options = Resource::new(|| (), |_| get_form_options());
    let create = ServerAction::<CreateDatabase>::new();
    // A rejected field (shown beside it) or any other error (shown above the button).
    let field_error = move || create.value().get().and_then(|r| r.ok().flatten());
    let other_error = move || create.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let error_for = move |field: &'static str| {
        move || {
            field_error().filter(|e: &FieldError| e.field == field).map(|e| {
                view! { <p role="alert" id=format!("{field}-error") class="mt-1 text-sm text-red-700">{e.message}</p> }
            })
        }
    };
    let input_class = "mt-1 w-full rounded border border-slate-300 px-3 py-2";
    // The chosen namespace decides which engines are offered (those installed there), and the chosen engine
    // which versions. Empty means "the first one offered".
    let namespace = RwSignal::new(String::new());
    let engine = RwSignal::new(String::new());
    // Source ranges apply to a load balancer only; sharding (and with it mongos) to MongoDB only.
    let expose = RwSignal::new(String::from("ClusterIP"));
    let sharded = RwSignal::new(false);
    let label_class = "block text-sm font-medium";
    let help_class = "mt-1 text-xs text-slate-500";

    view! {
        <Title text="Create database"/>
        <Header/>
        <main id="main" class="mx-auto max-w-xl p-4 sm:p-6">
            <h1 class="mb-6 text-2xl font-semibold">"Create database"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match options.await {
                        Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(opts) if opts.namespaces.is_empty() || opts.engines.is_empty() => view! {
                            <p role="alert" class="text-slate-700">
                                "Your role does not allow creating databases: it needs database-clusters create in a namespace and read on that namespace's database engine."
                            </p>
                            <a href="/" class="text-indigo-700 hover:underline">"Back to the databases"</a>
                        }.into_any(),
                        Ok(opts) => {
                            let opts = std::sync::Arc::new(opts.clone());
                            // The effective choices: the signal's value while it is offered, else the first.
                            let ns_now = {
                                let opts = opts.clone();
                                move || {
                                    let want = namespace.get();
                                    if opts.namespaces.contains(&want) { want } else { opts.namespaces.first().cloned().unwrap_or_default() }
                                }
                            };
                            let engines_now = {
                                let (opts, ns_now) = (opts.clone(), ns_now.clone());
                                move || opts.engines_in(&ns_now()).cloned().collect::<Vec<_>>()
                            };
                            let engine_now = {
                                let engines_now = engines_now.clone();
                                move || {
                                    let list = engines_now();
                                    let want = engine.get();
                                    list.iter().find(|e| e.engine == want).or(list.first()).cloned()
                                }
                            };
                            let none_installed = {
                                let engines_now = engines_now.clone();
                                move || engines_now().is_empty()
                            };
                            let engine_type_now = {
                                let engine_now = engine_now.clone();
                                move || engine_now().map(|e| e.engine).unwrap_or_default()
                            };
                            view! {
                            <ActionForm action=create attr:class="space-y-4 rounded-lg bg-white p-6 shadow">
                                <div>
                                    <label for="name" class="block text-sm font-medium">"Name"</label>
                                    <input id="name" name="name" type="text" class=input_class
                                        placeholder="e.g. orders-db"/>
                                    {error_for("name")}
                                </div>
                                {
                                    view! {
                                        <div>
                                            <label for="namespace" class="block text-sm font-medium">"Namespace"</label>
                                            <select id="namespace" name="namespace" class=input_class
                                                on:change=move |ev| namespace.set(event_target_value(&ev))>
                                                {opts.namespaces.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                                            </select>
                                            {error_for("namespace")}
                                        </div>
                                        <div>
                                            <label for="engine" class="block text-sm font-medium">"Engine"</label>
                                            <select id="engine" name="engine" class=input_class
                                                on:change=move |ev| {
                                                    engine.set(event_target_value(&ev));
                                                    sharded.set(false);
                                                }>
                                                {
                                                    let (engines_now, engine_now) = (engines_now.clone(), engine_now.clone());
                                                    move || {
                                                        let chosen = engine_now().map(|e| e.engine).unwrap_or_default();
                                                        engines_now().into_iter().map(|e| {
                                                            let selected = e.engine == chosen;
                                                            view! { <option value=e.engine.clone() selected=selected>{e.label.clone()}</option> }
                                                        }).collect_view()
                                                    }
                                                }
                                            </select>
                                            {move || none_installed().then(|| view! {
                                                <p role="status" class="mt-1 text-sm text-slate-600">
                                                    "No database operator is installed in this namespace yet."
                                                </p>
                                            })}
                                            {error_for("engine")}
                                        </div>
                                        <div>
                                            <label for="version" class="block text-sm font-medium">"Version"</label>
                                            <select id="version" name="version" class=input_class>
                                                {
                                                    let engine_now = engine_now.clone();
                                                    move || {
                                                        // Best first (recommended, newest), and preselected.
                                                        let Some(e) = engine_now() else { return Vec::new() };
                                                        e.versions.iter().enumerate().map(|(i, v)| {
                                                            let label = if e.recommended.contains(v) { format!("{v} (recommended)") } else { v.clone() };
                                                            view! { <option value=v.clone() selected=i == 0>{label}</option> }
                                                        }).collect::<Vec<_>>()
                                                    }
                                                }
                                            </select>
                                            {error_for("version")}
                                        </div>
                                    }
                                }
                                <div>
                                    <label for="nodes" class="block text-sm font-medium">"Nodes"</label>
                                    <select id="nodes" name="nodes" class=input_class>
                                        <option value="1">"1"</option>
                                        <option value="3">"3"</option>
                                        <option value="5">"5"</option>
                                    </select>
                                    {error_for("nodes")}
                                </div>
                                <div class="grid grid-cols-3 gap-4">
                                    <div>
                                        <label for="cpu" class="block text-sm font-medium">"CPU"</label>
                                        <input id="cpu" name="cpu" type="text" value="1" class=input_class/>
                                        {error_for("cpu")}
                                    </div>
                                    <div>
                                        <label for="memory" class="block text-sm font-medium">"Memory"</label>
                                        <input id="memory" name="memory" type="text" value="2G" class=input_class/>
                                        {error_for("memory")}
                                    </div>
                                    <div>
                                        <label for="disk" class="block text-sm font-medium">"Disk"</label>
                                        <input id="disk" name="disk" type="text" value="25G" class=input_class/>
                                        {error_for("disk")}
                                    </div>
                                </div>
                                <fieldset class="space-y-4 rounded border border-slate-200 p-4">
                                    <legend class="px-1 text-sm font-semibold">"Connections"</legend>
                                    {
                                        let engine_type_now = engine_type_now.clone();
                                        move || {
                                        let e = engine_type_now();
                                        (!supports_sharding(&e) || sharded.get()).then(|| view! {
                                            <div class="grid grid-cols-2 gap-4">
                                                <div>
                                                    <label for="proxy" class=label_class>"Proxy"</label>
                                                    <select id="proxy" name="proxy" class=input_class>
                                                        {proxy_choices(&e).iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                                    </select>
                                                    {error_for("proxy")}
                                                </div>
                                                <div>
                                                    <label for="proxy_replicas" class=label_class>"Proxy nodes"</label>
                                                    <input id="proxy_replicas" name="proxy_replicas" type="number" min="1"
                                                        class=input_class placeholder="same as nodes"/>
                                                    {error_for("proxy_replicas")}
                                                </div>
                                            </div>
                                        })
                                    }}
                                    <div>
                                        <label for="expose" class=label_class>"Exposure"</label>
                                        <select id="expose" name="expose" class=input_class
                                            on:change=move |ev| expose.set(event_target_value(&ev))>
                                            {EXPOSE_CHOICES.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                        </select>
                                        {error_for("expose")}
                                    </div>
                                    {move || (expose.get() == "LoadBalancer").then(|| view! {
                                        <div>
                                            <label for="source_ranges" class=label_class>"Allowed source ranges"</label>
                                            <input id="source_ranges" name="source_ranges" type="text" class=input_class
                                                placeholder="e.g. 203.0.113.0/24, 198.51.100.7"
                                                aria-describedby="source_ranges-help"/>
                                            <p id="source_ranges-help" class=help_class>
                                                "Comma-separated addresses or CIDR ranges. Empty: anyone who can reach the load balancer."
                                            </p>
                                            {error_for("source_ranges")}
                                        </div>
                                    })}
                                </fieldset>
                                {move || supports_sharding(&engine_type_now()).then(|| view! {
                                    <fieldset class="space-y-4 rounded border border-slate-200 p-4">
                                        <legend class="px-1 text-sm font-semibold">"Sharding"</legend>
                                        <label class="flex items-center gap-2 text-sm">
                                            <input id="sharding" name="sharding" type="checkbox" value="on"
                                                on:change=move |ev| sharded.set(event_target_checked(&ev))/>
                                            "Sharded cluster"
                                        </label>
                                        {error_for("sharding")}
                                        {move || sharded.get().then(|| view! {
                                            <div class="grid grid-cols-2 gap-4">
                                                <div>
                                                    <label for="shards" class=label_class>"Shards"</label>
                                                    <input id="shards" name="shards" type="number" min="1" value="2" class=input_class/>
                                                    {error_for("shards")}
                                                </div>
                                                <div>
                                                    <label for="config_servers" class=label_class>"Config servers"</label>
                                                    <input id="config_servers" name="config_servers" type="number" min="1" value="3"
                                                        class=input_class/>
                                                    {error_for("config_servers")}
                                                </div>
                                            </div>
                                        })}
                                    </fieldset>
                                })}
                                {move || other_error().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
                                <div class="flex items-center gap-4">
                                    <button type="submit" disabled=move || create.pending().get()
                                        class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                                        "Create database"
                                    </button>
                                    <a href="/" class="text-slate-600 hover:underline">"Cancel"</a>
                                </div>
                            </ActionForm>
                        }.into_any()
                        }
                    }
                })}
            </Transition>
        </main>
    }
}
