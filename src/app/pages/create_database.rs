//! `/databases/new`: the create wizard (contract §4) — Basic information, Resources, Backups, Advanced
//! configuration, Monitoring — with a live summary beside the steps, a Preview of exactly what Cairn will
//! write, and a cancel confirmation.
//!
//! One form holds every step. Before the wasm arrives all steps show, one under the other, and the form
//! posts as it is; once hydrated, one step shows at a time (the step list switches between them, every
//! field keeps its value) and a field the server refuses brings its step back with the error beside it.
use crate::app::components::{error_text, Header, PreviewPanel};
use crate::app::pages::create_database_import::ImportStep;
#[cfg(feature = "hydrate")]
use crate::app::pages::create_database_import::IMPORT_FIELDS;
use crate::app::server_fns::{get_form_options, CreateDatabase, PreviewDatabase};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

const INPUT: &str = "mt-1 w-full rounded border border-slate-300 px-3 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
const LABEL: &str = "block text-sm font-medium";
const HELP: &str = "mt-1 text-xs text-slate-500";
const PRIMARY: &str = "rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2";
const SECONDARY: &str = "rounded border border-slate-300 bg-white px-4 py-2 font-medium hover:bg-slate-100 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";

/// The steps: (anchor id, title).
const STEPS: &[(&str, &str)] = &[
    ("step-basic", "Basic information"),
    ("step-resources", "Resources"),
    ("step-backups", "Backups"),
    ("step-advanced", "Advanced configuration"),
    ("step-monitoring", "Monitoring"),
];

/// Opened from "Import": the Import step (the importer, where the data is, its settings) comes second,
/// once the engine it must support is chosen.
const IMPORT_STEPS: &[(&str, &str)] = &[
    ("step-basic", "Basic information"),
    ("step-import", "Import"),
    ("step-resources", "Resources"),
    ("step-backups", "Backups"),
    ("step-advanced", "Advanced configuration"),
    ("step-monitoring", "Monitoring"),
];

type Steps = &'static [(&'static str, &'static str)];

/// "2. Resources": the step's number in `steps` and its title.
fn step_heading(steps: Steps, id: &str) -> String {
    steps.iter().position(|(i, _)| *i == id).map(|n| format!("{}. {}", n + 1, steps[n].1)).unwrap_or_default()
}

/// The step of each form input (for bringing a refused field's step back).
fn step_of(field: &str) -> &'static str {
    match field {
        "name" | "namespace" | "engine" | "version" | "sharding" | "shards" | "config_servers" => "step-basic",
        "nodes" | "size" | "cpu" | "memory" | "disk" | "proxy" | "proxy_replicas" | "storage_class" => "step-resources",
        "expose" | "source_ranges" | "lb_config" | "engine_config" | "scheduling_policy" => "step-advanced",
        "monitoring" => "step-monitoring",
        f if f.starts_with("schedule_") || f.starts_with("pitr") || f.starts_with("from_") => "step-backups",
        f if f.starts_with("import") => "step-import",
        _ => "step-basic",
    }
}

/// The form inputs the summary and the preview read (in the browser).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const FIELDS: &[&str] = &[
    "name", "namespace", "engine", "version", "sharding", "shards", "config_servers", "nodes", "size", "cpu", "memory", "disk", "proxy",
    "proxy_replicas", "storage_class", "expose", "source_ranges", "lb_config", "engine_config", "scheduling_policy", "monitoring",
    "backup_schedule", "schedule_kind", "schedule_time", "schedule_weekday", "schedule_day", "schedule_retention", "schedule_storage", "pitr",
    "pitr_storage", "from_backup", "from_pitr_type", "from_pitr_date", "from_storage", "from_path",
];

type Draft = std::collections::BTreeMap<String, String>;

/// Opens step `id` and moves the focus to its heading (once it shows), so keyboard and screen-reader users
/// land on the step they asked for.
fn open_step(step: RwSignal<&'static str>, id: &'static str) {
    step.set(id);
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        if let Some(el) = document().get_element_by_id(&format!("{id}-title")).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    });
}

/// The form's current values (in the browser; on the server there is no DOM, and the summary starts empty).
fn read_form(form: &NodeRef<leptos::html::Form>) -> Draft {
    #[cfg(feature = "hydrate")]
    if let Some(el) = form.get_untracked() {
        if let Ok(fd) = web_sys::FormData::new_with_form(&el) {
            return FIELDS.iter().chain(IMPORT_FIELDS).filter_map(|k| fd.get(k).as_string().map(|v| (k.to_string(), v))).collect();
        }
    }
    let _ = form;
    Draft::new()
}

#[component]
pub fn CreateDatabasePage() -> impl IntoView {
    let options = Resource::new(|| (), |_| get_form_options());
    let create = ServerAction::<CreateDatabase>::new();
    let preview = ServerAction::<PreviewDatabase>::new();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    // A rejected field (shown beside it, from the create or the preview) or any other error.
    let field_error = move || {
        let from_preview = preview.value().get().and_then(|r| r.ok()).and_then(|o| o.error);
        create.value().get().and_then(|r| r.ok().flatten()).or(from_preview)
    };
    let other_error = move || {
        create.value().get().and_then(|r| r.err()).or_else(|| preview.value().get().and_then(|r| r.err())).map(|e| error_text(&e))
    };
    let error_for = move |field: &'static str| {
        move || {
            field_error().filter(|e: &FieldError| e.field == field).map(|e| {
                view! { <p role="alert" id=format!("{field}-error") class="mt-1 text-sm text-red-700">{e.message}</p> }
            })
        }
    };

    // Opened from "Import": the Import part shows in the first step.
    let query = leptos_router::hooks::use_query_map();
    let importing = move || query.with(|q| q.get("import").is_some());
    let steps = Memo::new(move |_| -> Steps { if importing() { IMPORT_STEPS } else { STEPS } });
    let hydrated = RwSignal::new(false);
    let step = RwSignal::new("step-basic");
    let draft = RwSignal::new(Draft::new());
    let cancel_open = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        // Again once the form is there (it renders when the options arrive).
        if form_ref.get().is_some() {
            draft.set(read_form(&form_ref));
        }
    });
    // A refused field brings its step back.
    Effect::new(move |_| {
        if let Some(e) = field_error() {
            step.set(step_of(&e.field));
        }
    });
    let refresh = move || draft.set(read_form(&form_ref));

    // The choices that depend on each other: namespace → engines → versions; engine → nodes, presets,
    // proxies, policies; exposure → source ranges and LB configs. Empty: the first offered.
    // Opened from a backup ("restore into a new database"): the query names it, its namespace and engine.
    let query = leptos_router::hooks::use_query_map();
    let q = move |k: &str| query.with_untracked(|m| m.get(k)).unwrap_or_default();
    let from = StoredValue::new(FromBackup {
        backup: q("from_backup"),
        pitr_type: q("from_pitr_type"),
        pitr_date: q("from_pitr_date"),
        storage: q("from_storage"),
        path: q("from_path"),
    });
    let namespace = RwSignal::new(q("namespace"));
    let engine = RwSignal::new(q("engine"));
    let version = RwSignal::new(String::new());
    let expose = RwSignal::new(String::from("ClusterIP"));
    let sharded = RwSignal::new(false);
    let size = RwSignal::new(String::from("small"));
    let cpu = RwSignal::new(String::from("1"));
    let memory = RwSignal::new(String::from("2G"));
    let disk = RwSignal::new(String::from("25G"));

    let step_hidden = move |id: &'static str| move || hydrated.get() && step.get() != id;
    let heading = move |id: &'static str| move || step_heading(steps.get(), id);
    let monitored = RwSignal::new(false);

    view! {
        <Title text=move || if importing() { "Import database" } else { "Create database" }/>
        <Header/>
        <main id="main" class="mx-auto max-w-6xl p-4 sm:p-6">
            <h1 class="mb-4 text-2xl font-semibold">{move || if importing() { "Import database" } else { "Create database" }}</h1>
            <Transition fallback=|| view! { <p role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let opts = match options.await {
                        Err(e) => return view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(o) => o,
                    };
                    if opts.namespaces.is_empty() || opts.engines.is_empty() {
                        return view! {
                            <p role="alert" class="text-slate-700">
                                "Your role does not allow creating databases: it needs database-clusters create in a namespace and read on that namespace's database engine."
                            </p>
                            <a href="/" class="text-indigo-700 underline">"Back to the databases"</a>
                        }.into_any();
                    }
                    let opts = std::sync::Arc::new(opts);
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
                    let engine_type = {
                        let engine_now = engine_now.clone();
                        move || engine_now().map(|e| e.engine).unwrap_or_default()
                    };
                    let version_now = {
                        let engine_now = engine_now.clone();
                        move || {
                            let e = engine_now();
                            let want = version.get();
                            e.as_ref().and_then(|e| e.versions.iter().find(|v| **v == want).or(e.versions.first()).cloned()).unwrap_or_default()
                        }
                    };
                    // A preset fills CPU, memory and disk for the engine and version.
                    let apply_preset = {
                        let (engine_type, version_now) = (engine_type.clone(), version_now.clone());
                        move || {
                            if let Some((c, m, d)) = size_preset(&engine_type(), &version_now(), &size.get_untracked()) {
                                cpu.set(c.into());
                                memory.set(m.into());
                                disk.set(d.into());
                            }
                        }
                    };
                    let apply_preset2 = apply_preset.clone();
                    let apply_preset3 = apply_preset.clone();
                    view! {
                        <div class="grid gap-6 lg:grid-cols-[12rem_1fr_20rem]">
                            // The step list: every step can be opened at any time.
                            <nav aria-label="Create database steps" class="min-w-0 lg:sticky lg:top-4 lg:self-start">
                                <ol class="flex gap-2 overflow-x-auto lg:flex-col">
                                    {move || steps.get().iter().enumerate().map(|(i, (id, title))| {
                                        let (id, title) = (*id, *title);
                                        let current = move || hydrated.get() && step.get() == id;
                                        view! {
                                            <li>
                                                <a href=format!("#{id}")
                                                    aria-current=move || current().then_some("step")
                                                    on:click=move |ev| { ev.prevent_default(); open_step(step, id); }
                                                    class="block whitespace-nowrap rounded px-3 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                                                    class=("bg-indigo-600", current)
                                                    class=("text-white", current)
                                                    class=("hover:bg-slate-200", move || !current())>
                                                    {format!("{}. {title}", i + 1)}
                                                </a>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            </nav>
                            <div class="min-w-0" on:input=move |_| refresh() on:change=move |_| refresh()>
                            <ActionForm action=create node_ref=form_ref attr:class="space-y-6" attr:id="create-database-form">
                                // 1. Basic information
                                <section id="step-basic" aria-labelledby="step-basic-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-basic")>
                                    <h2 id="step-basic-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-basic")}</h2>
                                    <div>
                                        <label for="name" class=LABEL>"Name"</label>
                                        <input id="name" name="name" type="text" class=INPUT placeholder="e.g. orders-db" aria-describedby="name-help"/>
                                        <p id="name-help" class=HELP>"Up to 22 lowercase letters, digits and '-', starting with a letter."</p>
                                        {error_for("name")}
                                    </div>
                                    <div>
                                        <label for="namespace" class=LABEL>"Namespace"</label>
                                        <select id="namespace" name="namespace" class=INPUT on:change=move |ev| namespace.set(event_target_value(&ev))>
                                            {opts.namespaces.iter().map(|n| {
                                                let selected = *n == namespace.get_untracked();
                                                view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                        {error_for("namespace")}
                                    </div>
                                    <div>
                                        <label for="engine" class=LABEL>"Engine"</label>
                                        <select id="engine" name="engine" class=INPUT
                                            on:change=move |ev| {
                                                engine.set(event_target_value(&ev));
                                                sharded.set(false);
                                                apply_preset();
                                            }>
                                            {
                                                let (engines_now, engine_type) = (engines_now.clone(), engine_type.clone());
                                                move || {
                                                    let chosen = engine_type();
                                                    engines_now().into_iter().map(|e| {
                                                        let selected = e.engine == chosen;
                                                        view! { <option value=e.engine.clone() selected=selected>{e.label.clone()}</option> }
                                                    }).collect_view()
                                                }
                                            }
                                        </select>
                                        {
                                            let engines_now = engines_now.clone();
                                            move || engines_now().is_empty().then(|| view! {
                                                <p role="status" class="mt-1 text-sm text-slate-600">"No database operator is installed in this namespace yet."</p>
                                            })
                                        }
                                        {error_for("engine")}
                                    </div>
                                    <div>
                                        <label for="version" class=LABEL>"Version"</label>
                                        <select id="version" name="version" class=INPUT
                                            on:change=move |ev| { version.set(event_target_value(&ev)); apply_preset2(); }>
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
                                    {
                                        let engine_type = engine_type.clone();
                                        move || supports_sharding(&engine_type()).then(|| view! {
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
                                                            <label for="shards" class=LABEL>"Shards"</label>
                                                            <input id="shards" name="shards" type="number" min="1" value="2" class=INPUT/>
                                                            {error_for("shards")}
                                                        </div>
                                                        <div>
                                                            <label for="config_servers" class=LABEL>"Config servers"</label>
                                                            <input id="config_servers" name="config_servers" type="number" min="1" value="3" class=INPUT/>
                                                            {error_for("config_servers")}
                                                        </div>
                                                    </div>
                                                })}
                                            </fieldset>
                                        })
                                    }
                                    <StepButtons step hydrated steps id="step-basic"/>
                                </section>

                                // 2. Import (opened from "Import" only): the importer, where the data is, its settings.
                                {
                                    let engine_type = engine_type.clone();
                                    move || importing().then(|| {
                                        let engine_type = engine_type.clone();
                                        view! {
                                            <section id="step-import" aria-labelledby="step-import-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-import")>
                                                <h2 id="step-import-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-import")}</h2>
                                                <ImportStep engine=Signal::derive(move || engine_type().to_string()) field_error=Signal::derive(field_error)/>
                                                <StepButtons step hydrated steps id="step-import"/>
                                            </section>
                                        }
                                    })
                                }

                                // 2. Resources
                                <section id="step-resources" aria-labelledby="step-resources-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-resources")>
                                    <h2 id="step-resources-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-resources")}</h2>
                                    <div>
                                        <label for="nodes" class=LABEL>"Nodes"</label>
                                        <select id="nodes" name="nodes" class=INPUT>
                                            {
                                                let engine_type = engine_type.clone();
                                                move || {
                                                    let (choices, default) = node_choices(&engine_type());
                                                    choices.iter().map(|n| view! { <option value=*n selected=*n == default>{*n}</option> }).collect_view()
                                                }
                                            }
                                        </select>
                                        {error_for("nodes")}
                                    </div>
                                    <div>
                                        <label for="size" class=LABEL>"Size per node"</label>
                                        <select id="size" name="size" class=INPUT prop:value=move || size.get()
                                            on:change=move |ev| { size.set(event_target_value(&ev)); apply_preset3(); }>
                                            {SIZE_CHOICES.iter().map(|(v, l)| view! { <option value=*v selected=*v == "small">{*l}</option> }).collect_view()}
                                        </select>
                                    </div>
                                    <div class="grid gap-4 sm:grid-cols-3">
                                        <div>
                                            <label for="cpu" class=LABEL>"CPU"</label>
                                            <input id="cpu" name="cpu" type="text" class=INPUT value=cpu.get_untracked() prop:value=move || cpu.get()
                                                on:input=move |ev| { cpu.set(event_target_value(&ev)); size.set("custom".into()); }/>
                                            {error_for("cpu")}
                                        </div>
                                        <div>
                                            <label for="memory" class=LABEL>"Memory"</label>
                                            <input id="memory" name="memory" type="text" class=INPUT value=memory.get_untracked() prop:value=move || memory.get()
                                                on:input=move |ev| { memory.set(event_target_value(&ev)); size.set("custom".into()); }/>
                                            {error_for("memory")}
                                        </div>
                                        <div>
                                            <label for="disk" class=LABEL>"Disk"</label>
                                            <input id="disk" name="disk" type="text" class=INPUT value=disk.get_untracked() prop:value=move || disk.get()
                                                on:input=move |ev| { disk.set(event_target_value(&ev)); size.set("custom".into()); }/>
                                            {error_for("disk")}
                                        </div>
                                    </div>
                                    <div>
                                        <label for="storage_class" class=LABEL>"Storage class"</label>
                                        <select id="storage_class" name="storage_class" class=INPUT aria-describedby="storage_class-help">
                                            <option value="">"The cluster's default"</option>
                                            {opts.storage_classes.iter().map(|c| {
                                                let label = format!("{}{}{}", c.metadata.name,
                                                    if c.is_default { " (default)" } else { "" },
                                                    if c.allow_volume_expansion { " — disks can grow" } else { " — disks cannot grow" });
                                                view! { <option value=c.metadata.name.clone()>{label}</option> }
                                            }).collect_view()}
                                        </select>
                                        <p id="storage_class-help" class=HELP>"Disks can be grown later only on a class that allows volume expansion."</p>
                                        {error_for("storage_class")}
                                    </div>
                                    {
                                        let engine_type = engine_type.clone();
                                        move || {
                                            let e = engine_type();
                                            (!supports_sharding(&e) || sharded.get()).then(|| view! {
                                                <div class="grid gap-4 sm:grid-cols-2">
                                                    <div>
                                                        <label for="proxy" class=LABEL>"Proxy"</label>
                                                        <select id="proxy" name="proxy" class=INPUT>
                                                            {proxy_choices(&e).iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                                        </select>
                                                        {error_for("proxy")}
                                                    </div>
                                                    <div>
                                                        <label for="proxy_replicas" class=LABEL>"Proxy nodes"</label>
                                                        <input id="proxy_replicas" name="proxy_replicas" type="number" min="1" class=INPUT placeholder="same as nodes"/>
                                                        {error_for("proxy_replicas")}
                                                    </div>
                                                </div>
                                            })
                                        }
                                    }
                                    <StepButtons step hydrated steps id="step-resources"/>
                                </section>

                                // 3. Backups: a schedule and point-in-time recovery (and the backup a restore starts from).
                                <section id="step-backups" aria-labelledby="step-backups-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-backups")>
                                    <h2 id="step-backups-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-backups")}</h2>
                                    {
                                        let (all, ns_now) = (opts.backup_storages.clone(), ns_now.clone());
                                        let storages = Signal::derive(move || {
                                            let ns = ns_now();
                                            all.iter().filter(|(n, _)| *n == ns).map(|(_, s)| s.clone()).collect::<Vec<_>>()
                                        });
                                        view! { <BackupStep storages error=Signal::derive(field_error) from=from.get_value() hydrated/> }
                                    }
                                    <StepButtons step hydrated steps id="step-backups"/>
                                </section>

                                // 4. Advanced configuration
                                <section id="step-advanced" aria-labelledby="step-advanced-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-advanced")>
                                    <h2 id="step-advanced-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-advanced")}</h2>
                                    <div>
                                        <label for="expose" class=LABEL>"Exposure"</label>
                                        <select id="expose" name="expose" class=INPUT on:change=move |ev| expose.set(event_target_value(&ev))>
                                            {EXPOSE_CHOICES.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                        </select>
                                        {error_for("expose")}
                                    </div>
                                    {
                                        let lbs = opts.load_balancer_configs.clone();
                                        move || (expose.get() == "LoadBalancer").then(|| view! {
                                            <div>
                                                <label for="source_ranges" class=LABEL>"Allowed source ranges"</label>
                                                <input id="source_ranges" name="source_ranges" type="text" class=INPUT
                                                    placeholder="e.g. 203.0.113.0/24, 198.51.100.7" aria-describedby="source_ranges-help"/>
                                                <p id="source_ranges-help" class=HELP>"Comma-separated addresses or CIDR ranges. Empty: anyone who can reach the load balancer."</p>
                                                {error_for("source_ranges")}
                                            </div>
                                            <div>
                                                <label for="lb_config" class=LABEL>"Load balancer configuration"</label>
                                                <select id="lb_config" name="lb_config" class=INPUT>
                                                    <option value="">"None"</option>
                                                    {lbs.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                                                </select>
                                                {error_for("lb_config")}
                                            </div>
                                        })
                                    }
                                    <div>
                                        <label for="scheduling_policy" class=LABEL>"Pod scheduling policy"</label>
                                        <select id="scheduling_policy" name="scheduling_policy" class=INPUT>
                                            <option value="">"None"</option>
                                            {
                                                let (policies, engine_type) = (opts.scheduling_policies.clone(), engine_type.clone());
                                                move || {
                                                    let e = engine_type();
                                                    policies.iter().filter(|(_, pe)| *pe == e).map(|(n, _)| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()
                                                }
                                            }
                                        </select>
                                        {error_for("scheduling_policy")}
                                    </div>
                                    <div>
                                        <label for="engine_config" class=LABEL>"Engine parameters"</label>
                                        <textarea id="engine_config" name="engine_config" rows="4" class=format!("{INPUT} font-mono text-sm")
                                            placeholder="e.g. max_connections = 200" aria-describedby="engine_config-help"></textarea>
                                        <p id="engine_config-help" class=HELP>"Written to the engine's configuration as typed, one setting per line."</p>
                                        {error_for("engine_config")}
                                    </div>
                                    <StepButtons step hydrated steps id="step-advanced"/>
                                </section>

                                // 5. Monitoring: an endpoint of the namespace, or off.
                                <section id="step-monitoring" aria-labelledby="step-monitoring-title" class="space-y-4 rounded-lg bg-white p-4 shadow sm:p-6" class:hidden=step_hidden("step-monitoring")>
                                    <h2 id="step-monitoring-title" tabindex="-1" class="text-lg font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">{heading("step-monitoring")}</h2>
                                    <label class="flex items-center gap-2 text-sm">
                                        <input id="monitoring_on" type="checkbox"
                                            on:change=move |ev| monitored.set(event_target_checked(&ev))/>
                                        "Monitor this database"
                                    </label>
                                    {
                                        let (opts, ns_now) = (opts.clone(), ns_now.clone());
                                        move || monitored.get().then(|| {
                                            let ns = ns_now();
                                            let choices: Vec<_> = opts.monitoring.iter().filter(|m| m.namespace == ns).cloned().collect();
                                            if choices.is_empty() {
                                                view! {
                                                    <p role="status" class="text-sm text-slate-600">
                                                        "No monitoring endpoint in this namespace yet: add one under "
                                                        <a href="/settings/monitoring-endpoints" class="text-indigo-700 hover:underline">"Settings → Monitoring endpoints"</a>"."
                                                    </p>
                                                }.into_any()
                                            } else {
                                                view! {
                                                    <div>
                                                        <label for="monitoring" class=LABEL>"Monitoring endpoint"</label>
                                                        <select id="monitoring" name="monitoring" class=INPUT>
                                                            {choices.into_iter().map(|m| {
                                                                let label = format!("{} ({})", m.name, m.kind);
                                                                view! { <option value=m.name.clone()>{label}</option> }
                                                            }).collect_view()}
                                                        </select>
                                                    </div>
                                                }.into_any()
                                            }
                                        })
                                    }
                                    {error_for("monitoring")}
                                    <StepButtons step hydrated steps id="step-monitoring"/>
                                </section>

                                {move || other_error().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
                                <div class="flex flex-wrap items-center gap-3">
                                    <button type="submit" disabled=move || create.pending().get() class=PRIMARY>"Create database"</button>
                                    <button type="button" class=SECONDARY disabled=move || !hydrated.get() || preview.pending().get()
                                        on:click=move |_| {
                                            let fields: Vec<(String, String)> = read_form(&form_ref).into_iter().collect();
                                            preview.dispatch(PreviewDatabase { fields });
                                        }>
                                        "Preview"
                                    </button>
                                    <a href="/" class="text-slate-600 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                                        on:click=move |ev| { ev.prevent_default(); cancel_open.set(true); }>
                                        "Cancel"
                                    </a>
                                </div>
                            </ActionForm>
                            </div>
                            <aside aria-label="Summary" class="min-w-0 space-y-4 lg:sticky lg:top-4 lg:self-start">
                                <Summary draft sizes=(cpu, memory, disk)/>
                            </aside>
                        </div>
                        <PreviewPanel pending=preview.pending() value=preview.value()/>
                        <CancelDialog open=cancel_open/>
                    }.into_any()
                })}
            </Transition>
        </main>
    }
}

/// Back / Next under a step (in the browser only: before the wasm every step shows anyway).
#[component]
fn StepButtons(step: RwSignal<&'static str>, hydrated: RwSignal<bool>, steps: Memo<Steps>, id: &'static str) -> impl IntoView {
    move || {
        hydrated.get().then(|| {
            let list = steps.get();
            let index = list.iter().position(|(i, _)| *i == id).unwrap_or(0);
            let prev = index.checked_sub(1).map(|i| list[i].0);
            let next = list.get(index + 1).copied();
            view! {
                <div class="flex justify-between border-t border-slate-100 pt-4">
                    {prev.map(|p| view! {
                        <button type="button" class=SECONDARY on:click=move |_| open_step(step, p)>"Back"</button>
                    })}
                    <span></span>
                    {next.map(|(n, title)| view! {
                        <button type="button" class=SECONDARY on:click=move |_| open_step(step, n)>
                            {format!("Next: {title}")}
                        </button>
                    })}
                </div>
            }
        })
    }
}

/// The live summary of what the form says.
#[component]
fn Summary(draft: RwSignal<Draft>, sizes: (RwSignal<String>, RwSignal<String>, RwSignal<String>)) -> impl IntoView {
    let get = move |k: &str| draft.with(|d| d.get(k).cloned().unwrap_or_default());
    let row = move |label: &'static str, value: Box<dyn Fn() -> String + Send + Sync>| {
        view! {
            <div class="flex justify-between gap-3 py-1">
                <dt class="text-slate-600">{label}</dt>
                <dd class="text-right font-medium break-all">{move || { let v = value(); if v.is_empty() { "—".to_string() } else { v } }}</dd>
            </div>
        }
    };
    let engine = move || {
        let e = get("engine");
        if e.is_empty() { String::new() } else { format!("{} {}", engine_label(&e), get("version")) }
    };
    // From the fields' own signals: a size preset changes them without an input event.
    let per_node = move || format!("{} CPU, {} memory, {} disk", sizes.0.get(), sizes.1.get(), sizes.2.get());
    let proxy = move || {
        let p = get("proxy");
        if p.is_empty() { "none".into() } else {
            let n = get("proxy_replicas");
            format!("{p} × {}", if n.is_empty() { get("nodes") } else { n })
        }
    };
    let exposure = move || {
        let e = get("expose");
        let label = EXPOSE_CHOICES.iter().find(|(v, _)| *v == e).map(|(_, l)| l.to_string()).unwrap_or_default();
        let r = get("source_ranges");
        if e == "LoadBalancer" && !r.trim().is_empty() { format!("{label} ({r})") } else { label }
    };
    view! {
        <section aria-labelledby="summary-title" class="rounded-lg bg-white p-4 text-sm shadow">
            <h2 id="summary-title" class="mb-2 text-lg font-semibold">"Summary"</h2>
            <dl class="divide-y divide-slate-100">
                {row("Name", Box::new(move || get("name")))}
                {row("Namespace", Box::new(move || get("namespace")))}
                {row("Engine", Box::new(engine))}
                {row("Sharding", Box::new(move || if get("sharding") == "on" { format!("{} shards", get("shards")) } else { String::new() }))}
                {row("Nodes", Box::new(move || get("nodes")))}
                {row("Per node", Box::new(per_node))}
                {row("Storage class", Box::new(move || { let c = get("storage_class"); if c.is_empty() && !get("name").is_empty() { "cluster default".into() } else { c } }))}
                {row("Proxy", Box::new(proxy))}
                {row("Exposure", Box::new(exposure))}
                {row("Scheduling policy", Box::new(move || get("scheduling_policy")))}
            </dl>
        </section>
    }
}

/// "Discard this database?" — Escape or "Keep editing" closes it; "Discard" leaves.
#[component]
fn CancelDialog(open: RwSignal<bool>) -> impl IntoView {
    let keep = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if open.get() {
            if let Some(b) = keep.get() {
                let _ = b.focus();
            }
        }
    });
    move || {
        open.get().then(|| view! {
            <div class="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/50 p-4"
                on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
                <div role="dialog" aria-modal="true" aria-labelledby="cancel-title" aria-describedby="cancel-text"
                    class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl">
                    <h2 id="cancel-title" class="mb-2 text-lg font-semibold">"Discard this database?"</h2>
                    <p id="cancel-text" class="mb-6 text-sm text-slate-700">"Nothing has been created yet; what you entered will be lost."</p>
                    <div class="flex justify-end gap-3">
                        <button type="button" node_ref=keep class=SECONDARY on:click=move |_| open.set(false)>"Keep editing"</button>
                        <a href="/" class="rounded bg-red-600 px-4 py-2 font-medium text-white hover:bg-red-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 focus-visible:ring-offset-2">"Discard"</a>
                    </div>
                </div>
            </div>
        })
    }
}

/// The backup a new database starts from (query `from_backup`, `from_pitr_type`, `from_pitr_date`; or a
/// path in a storage location: `from_storage`, `from_path`).
#[derive(Clone, Debug, Default)]
struct FromBackup {
    backup: String,
    pitr_type: String,
    pitr_date: String,
    storage: String,
    path: String,
}

/// The backup step: a scheduled backup (frequency picker, copies to keep, storage) and point-in-time
/// recovery with its storage, like OpenEverest's wizard; what the database will be restored from when the
/// form was opened from a backup; and "start from a backup in a storage location" (its storage and path).
/// Without JavaScript every input shows and posts (the server reads a schedule only when its box is
/// ticked); once hydrated the boxes show and hide their parts.
#[component]
fn BackupStep(storages: Signal<Vec<String>>, error: Signal<Option<FieldError>>, from: FromBackup, hydrated: RwSignal<bool>) -> impl IntoView {
    use crate::app::components::frequency::FrequencyPicker;
    let scheduled = RwSignal::new(false);
    let pitr = RwSignal::new(false);
    let from_path = RwSignal::new(!from.path.is_empty());
    let err = move |field: &'static str| {
        move || error.get().filter(|e| e.field == field).map(|e| view! { <p role="alert" id=format!("{field}-error") class="mt-1 text-sm text-red-700">{e.message}</p> })
    };
    // `initial`: None: the first storage is preselected; Some: an optional choice, a blank "Choose…" first
    // and that storage (if any) preselected.
    let storage_select = move |id: &'static str, initial: Option<String>| {
        let blank = initial.is_some();
        view! {
            <select id=id name=id class=INPUT aria-describedby=format!("{id}-error")>
                {blank.then(|| view! { <option value="">"Choose…"</option> })}
                {move || storages.get().into_iter().map(|s| {
                    let selected = initial.as_deref() == Some(s.as_str());
                    view! { <option value=s.clone() selected=selected>{s.clone()}</option> }
                }).collect_view()}
            </select>
        }
    };
    let restoring = (!from.backup.is_empty()).then(|| {
        let point = match from.pitr_type.as_str() {
            "latest" => "to the latest restorable moment".to_string(),
            "date" => format!("to {} UTC", from.pitr_date.replace('T', " ")),
            _ => "as it was backed up".to_string(),
        };
        view! {
            <div role="status" class="rounded-md border border-indigo-200 bg-indigo-50 p-3 text-sm text-indigo-900">
                "This database starts from backup " <strong class="break-all">{from.backup.clone()}</strong> {format!(", restored {point}.")}
            </div>
            <input type="hidden" name="from_backup" value=from.backup.clone()/>
            <input type="hidden" name="from_pitr_type" value=from.pitr_type.clone()/>
            <input type="hidden" name="from_pitr_date" value=from.pitr_date.clone()/>
        }
    });
    // Hidden once hydrated while its box is unticked.
    let folded = move |on: RwSignal<bool>| move || hydrated.get() && !on.get();
    let named_backup = !from.backup.is_empty();
    let (from_storage, from_path_value) = (from.storage.clone(), from.path.clone());
    // From a path: "Restore to" the moment of the backup (""), the latest moment the logs reach, or a date.
    let from_point = RwSignal::new(from.pitr_type.clone());
    let from_date = from.pitr_date.clone();
    view! {
        {restoring}
        {err("from_backup")}
        {move || if named_backup { err("from_pitr_date")() } else { None }}
        <Show when=move || storages.with(|s| s.is_empty())>
            <p role="status" class="text-sm text-slate-600">
                "No storage location in this namespace yet: add one under "
                <a href="/settings/storage-locations" class="text-indigo-700 hover:underline">"Settings → Storage locations"</a>
                " to schedule backups."
            </p>
        </Show>
        <Show when=move || storages.with(|s| !s.is_empty())>
            <fieldset class="space-y-4 rounded border border-slate-200 p-4">
                <legend class="px-1 text-sm font-semibold">"Scheduled backups"</legend>
                <label class="flex items-center gap-2 text-sm">
                    <input id="backup_schedule" name="backup_schedule" type="checkbox" value="on" on:change=move |ev| scheduled.set(event_target_checked(&ev))/>
                    "Back up on a schedule"
                </label>
                <div class="space-y-4" class:hidden=folded(scheduled)>
                    <FrequencyPicker prefix="" error/>
                    <div class="grid gap-4 sm:grid-cols-2">
                        <div>
                            <label for="schedule_retention" class=LABEL>"Copies to keep"</label>
                            <input id="schedule_retention" name="schedule_retention" type="number" min="0" value="7" class=INPUT/>
                            {err("schedule_retention")}
                        </div>
                        <div>
                            <label for="schedule_storage" class=LABEL>"Storage location"</label>
                            {storage_select("schedule_storage", None)}
                            {err("schedule_storage")}
                        </div>
                    </div>
                    {err("schedule_name")}
                </div>
            </fieldset>
            <fieldset class="space-y-4 rounded border border-slate-200 p-4">
                <legend class="px-1 text-sm font-semibold">"Point-in-time recovery"</legend>
                <label class="flex items-center gap-2 text-sm">
                    <input id="pitr" name="pitr" type="checkbox" value="on" on:change=move |ev| pitr.set(event_target_checked(&ev))/>
                    "Enable point-in-time recovery"
                </label>
                <p class=HELP>"The database's logs are uploaded continuously, so it can be restored to any moment after its first backup."</p>
                <div class:hidden=folded(pitr)>
                    <label for="pitr_storage" class=LABEL>"Storage for the logs"</label>
                    {storage_select("pitr_storage", None)}
                    {err("pitr_storage")}
                </div>
            </fieldset>
            {(!named_backup).then(|| {
                let (from_storage, from_path_value) = (from_storage.clone(), from_path_value.clone());
                view! {
                    <fieldset class="space-y-4 rounded border border-slate-200 p-4">
                        <legend class="px-1 text-sm font-semibold">"Start from a backup"</legend>
                        <label class="flex items-center gap-2 text-sm">
                            <input id="from_path_on" type="checkbox" checked=from_path.get_untracked()
                                on:change=move |ev| from_path.set(event_target_checked(&ev))/>
                            "Create from a backup in a storage location"
                        </label>
                        <p class=HELP>"The new database starts with the data of that backup (of any database, also one deleted since). Leave empty for an empty database."</p>
                        // Disabled (not posted) once hydrated while unticked, so a path typed then unticked is not used.
                        <fieldset class="grid gap-4 sm:grid-cols-2" class:hidden=folded(from_path) disabled=folded(from_path)>
                            <div>
                                <label for="from_storage" class=LABEL>"Backup's storage location"</label>
                                {storage_select("from_storage", Some(from_storage))}
                                {err("from_storage")}
                            </div>
                            <div>
                                <label for="from_path" class=LABEL>"Backup path"</label>
                                <input id="from_path" name="from_path" type="text" class=format!("{INPUT} font-mono text-sm") autocomplete="off"
                                    value=from_path_value placeholder="s3://bucket/db/backup" aria-describedby="from_path-help from_path-error"/>
                                <p id="from_path-help" class=HELP>"The backup's location as a database's Backups tab shows it, or its path inside the bucket."</p>
                                {err("from_path")}
                            </div>
                            <fieldset class="space-y-2 sm:col-span-2">
                                <legend class=LABEL>"Restore to"</legend>
                                {[("", "The moment of the backup"), ("latest", "The latest moment its logs reach (point-in-time recovery)"), ("date", "A chosen moment (UTC)")]
                                    .into_iter()
                                    .map(|(value, label)| {
                                        let id = format!("from_pitr_type_{}", if value.is_empty() { "backup" } else { value });
                                        view! {
                                            <label for=id.clone() class="flex items-center gap-2 text-sm">
                                                <input id=id.clone() type="radio" name="from_pitr_type" value=value checked=from_point.get_untracked() == value
                                                    on:change=move |_| from_point.set(value.to_string())/>
                                                {label}
                                            </label>
                                        }
                                    })
                                    .collect_view()}
                                <div class:hidden=move || hydrated.get() && from_point.get() != "date">
                                    <label for="from_pitr_date" class=LABEL>"Moment to restore to (UTC)"</label>
                                    <input id="from_pitr_date" name="from_pitr_date" type="datetime-local" step="1" class=INPUT value=from_date.clone()
                                        aria-describedby="from_pitr_date-help from_pitr_date-error"/>
                                    <p id="from_pitr_date-help" class=HELP>
                                        "Read from the logs point-in-time recovery uploaded beside the backup (its database must have had it on); the restore fails if they do not reach that moment."
                                    </p>
                                    {err("from_pitr_date")}
                                </div>
                            </fieldset>
                        </fieldset>
                    </fieldset>
                }
            })}
        </Show>
    }
    .into_any()
}
