use crate::app::components::{error_text, Header};
use crate::app::server_fns::{get_form_options, CreateDatabase};
use crate::model::FieldError;
use leptos::prelude::*;

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
    // The chosen engine decides which versions the Version list offers.
    let engine = RwSignal::new(String::from("postgresql"));

    view! {
        <Header/>
        <main class="mx-auto max-w-xl p-6">
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
                        Ok(opts) => view! {
                            <ActionForm action=create attr:class="space-y-4 rounded-lg bg-white p-6 shadow">
                                <div>
                                    <label for="name" class="block text-sm font-medium">"Name"</label>
                                    <input id="name" name="name" type="text" class=input_class
                                        placeholder="e.g. orders-db"/>
                                    {error_for("name")}
                                </div>
                                <div>
                                    <label for="namespace" class="block text-sm font-medium">"Namespace"</label>
                                    <select id="namespace" name="namespace" class=input_class>
                                        {opts.namespaces.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                                    </select>
                                    {error_for("namespace")}
                                </div>
                                <div>
                                    <label for="engine" class="block text-sm font-medium">"Engine"</label>
                                    <select id="engine" name="engine" class=input_class
                                        on:change=move |ev| engine.set(event_target_value(&ev))>
                                        {opts.engines.iter().map(|e| view! {
                                            <option value=e.engine.clone()>{e.label.clone()}</option>
                                        }).collect_view()}
                                    </select>
                                    {error_for("engine")}
                                </div>
                                <div>
                                    <label for="version" class="block text-sm font-medium">"Version"</label>
                                    <select id="version" name="version" class=input_class>
                                        {
                                            let engines = opts.engines.clone();
                                            move || {
                                                let chosen = engine.get();
                                                // The first engine offered is selected until the user picks one.
                                                engines.iter().find(|e| e.engine == chosen).or(engines.first()).map(|e| e.versions.clone()).unwrap_or_default()
                                                    .into_iter()
                                                    .map(|v| view! { <option value=v.clone()>{v.clone()}</option> })
                                                    .collect_view()
                                            }
                                        }
                                    </select>
                                    {error_for("version")}
                                </div>
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
                                {move || other_error().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
                                <div class="flex items-center gap-4">
                                    <button type="submit" disabled=move || create.pending().get()
                                        class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                                        "Create database"
                                    </button>
                                    <a href="/" class="text-slate-600 hover:underline">"Cancel"</a>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}
