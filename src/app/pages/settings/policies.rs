//! `/settings/policies` and OpenEverest's `/settings/policies/details/...` pages: pod scheduling policies
//! (list; a detail editor of the affinity rules per component; defaults read-only) and load-balancer
//! configurations (an annotation key/value editor). Every write is a form that posts without the wasm;
//! what the user may not do is disabled with the reason.
use super::{field_error, SettingsFrame, BUTTON, DANGER, INPUT, LABEL};
use crate::app::components::error_text;
use crate::app::settings_fns::*;
use crate::model::{engine_label, policy_components, AffinityRule, PolicyRow, AFFINITY_KINDS};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

const PSP_BASE: &str = "/settings/policies/details/pod-scheduling";
const LBC_BASE: &str = "/settings/policies/details/load-balancer-configuration";

/// Which lists a policies page shows.
#[derive(Clone, Copy, PartialEq)]
pub enum Lists {
    Both,
    Scheduling,
    LoadBalancers,
}

#[component]
pub fn PoliciesPage(#[prop(default = Lists::Both)] lists: Lists) -> impl IntoView {
    let create_psp = ServerAction::<CreateSchedulingPolicy>::new();
    let create_lbc = ServerAction::<CreateLoadBalancerConfig>::new();
    let data = Resource::new(move || (create_psp.version().get(), create_lbc.version().get()), |_| get_policies_page());
    let psp_err = move || create_psp.value().get().and_then(|r| r.ok().flatten());
    let lbc_err = move || create_lbc.value().get().and_then(|r| r.ok().flatten());
    let other = move || {
        create_psp.value().get().and_then(|r| r.err()).or_else(|| create_lbc.value().get().and_then(|r| r.err())).map(|e| error_text(&e))
    };
    view! {
        <SettingsFrame>
            {move || other().map(|e| view! { <p role="alert" class="mb-4 text-red-700">{e}</p> })}
            <Transition fallback=|| view! { <p role="status">"Loading policies…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => view! {
                            {(lists != Lists::LoadBalancers).then(|| view! {
                                <section aria-labelledby="psp-title" class="mb-8 rounded-lg bg-white p-4 shadow">
                                    <h2 id="psp-title" class="mb-1 text-lg font-semibold">
                                        <a href=PSP_BASE class="hover:underline">"Pod scheduling policies"</a>
                                    </h2>
                                    <p class="mb-4 text-sm text-slate-600">
                                        "Affinity rules for a database's engine, proxy and config server pods. A database names one in its advanced settings."
                                    </p>
                                    <PolicyTable rows=page.scheduling.clone() base=PSP_BASE engine_column=true
                                        empty="No pod scheduling policies yet. Create one below; databases then choose it when they are created."/>
                                    {if page.can_create_scheduling {
                                        view! {
                                            <ActionForm action=create_psp attr:class="mt-4 grid gap-3 sm:grid-cols-[1fr_12rem_auto] sm:items-end" attr:aria-label="Create pod scheduling policy">
                                                <div>
                                                    <label for="psp-name" class=LABEL>"Policy name"</label>
                                                    <input id="psp-name" name="name" type="text" required class=INPUT placeholder="e.g. spread-zones"/>
                                                    {field_error(psp_err, "name")}
                                                </div>
                                                <div>
                                                    <label for="psp-engine" class=LABEL>"Engine"</label>
                                                    <select id="psp-engine" name="engine" class=INPUT>
                                                        <option value="postgresql">"PostgreSQL"</option>
                                                        <option value="pxc">"MySQL"</option>
                                                        <option value="psmdb">"MongoDB"</option>
                                                    </select>
                                                    {field_error(psp_err, "engine")}
                                                </div>
                                                <button type="submit" class=BUTTON disabled=move || create_psp.pending().get()>"Create policy"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <p class="mt-4 text-sm text-slate-600">"Your role does not allow creating pod scheduling policies."</p> }.into_any()
                                    }}
                                </section>
                            })}
                            {(lists != Lists::Scheduling).then(|| view! {
                                <section aria-labelledby="lbc-title" class="mb-8 rounded-lg bg-white p-4 shadow">
                                    <h2 id="lbc-title" class="mb-1 text-lg font-semibold">
                                        <a href=LBC_BASE class="hover:underline">"Load balancer configurations"</a>
                                    </h2>
                                    <p class="mb-4 text-sm text-slate-600">
                                        "Annotations for the load balancer Service of databases exposed through a load balancer."
                                    </p>
                                    <PolicyTable rows=page.load_balancers.clone() base=LBC_BASE engine_column=false
                                        empty="No load balancer configurations yet. Create one below to set your cloud's load balancer annotations."/>
                                    {if page.can_create_load_balancer {
                                        view! {
                                            <ActionForm action=create_lbc attr:class="mt-4 grid gap-3 sm:grid-cols-[1fr_auto] sm:items-end" attr:aria-label="Create load balancer configuration">
                                                <div>
                                                    <label for="lbc-name" class=LABEL>"Configuration name"</label>
                                                    <input id="lbc-name" name="name" type="text" required class=INPUT placeholder="e.g. internal-nlb"/>
                                                    {field_error(lbc_err, "name")}
                                                </div>
                                                <button type="submit" class=BUTTON disabled=move || create_lbc.pending().get()>"Create configuration"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <p class="mt-4 text-sm text-slate-600">"Your role does not allow creating load balancer configurations."</p> }.into_any()
                                    }}
                                </section>
                            })}
                        }.into_any(),
                    }
                })}
            </Transition>
            {(lists == Lists::Both).then(|| view! {
                <section aria-labelledby="shd-link-title" class="mb-8 rounded-lg bg-white p-4 shadow">
                    <h2 id="shd-link-title" class="mb-1 text-lg font-semibold">
                        <a href=super::split_horizon::BASE class="hover:underline">"Split-horizon DNS"</a>
                    </h2>
                    <p class="text-sm text-slate-600">"External names for the members of MongoDB replica sets, per namespace."</p>
                </section>
            })}
        </SettingsFrame>
    }
}

#[component]
fn PolicyTable(rows: Vec<PolicyRow>, base: &'static str, engine_column: bool, empty: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-sm text-slate-600">{empty}</p> }.into_any();
    }
    let items_label = if engine_column { "Rules" } else { "Annotations" };
    view! {
        <div class="relative overflow-x-auto">
            <table class="w-full text-left text-sm">
                <thead class="text-slate-600">
                    <tr>
                        <th class="py-1 pr-4">"Name"</th>
                        {engine_column.then(|| view! { <th class="py-1 pr-4">"Engine"</th> })}
                        <th class="py-1 pr-4">{items_label}</th>
                        <th class="py-1">"Used by"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let used = if r.used_by.is_empty() { "—".to_string() } else { r.used_by.join(", ") };
                        view! {
                            <tr class="border-t border-slate-100">
                                <td class="py-2 pr-4">
                                    <a href=format!("{base}/{}", r.name) class="font-medium text-indigo-700 hover:underline">{r.name.clone()}</a>
                                    {r.default.then(|| view! { <span class="ml-2 rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-700">"Default, read-only"</span> })}
                                </td>
                                {engine_column.then(|| view! { <td class="py-2 pr-4">{engine_label(&r.engine)}</td> })}
                                <td class="py-2 pr-4">{r.items}</td>
                                <td class="py-2 text-xs">{used}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Why the user may not change or delete an object, if so.
fn why_not(row: &PolicyRow, what: &str, delete: bool) -> Option<String> {
    if row.default {
        Some(format!("This is a default {what}: it is read-only."))
    } else if delete && !row.used_by.is_empty() {
        Some(format!("In use by {}: change those databases first.", row.used_by.join(", ")))
    } else if (delete && !row.can_delete) || (!delete && !row.can_update) {
        Some(format!("Your role does not allow {} this {what}.", if delete { "deleting" } else { "changing" }))
    } else {
        None
    }
}

/// The head of a detail page: name, what it is, who uses it.
fn detail_head(row: &PolicyRow, what: &'static str, extra: String) -> impl IntoView {
    let used = if row.used_by.is_empty() { "no database".to_string() } else { row.used_by.join(", ") };
    view! {
        <div class="mb-4">
            <h2 class="text-xl font-semibold">{row.name.clone()}</h2>
            <p class="text-sm text-slate-600">{extra}" · used by "{used}</p>
            {row.default.then(|| view! { <p class="mt-1 text-sm text-slate-700">{format!("A default {what}: read-only.")}</p> })}
        </div>
    }
}

/// The delete form (`form`), or the button disabled with the reason.
fn delete_block(reason: Option<String>, label: &'static str, form: impl FnOnce() -> AnyView) -> impl IntoView {
    view! {
        <div class="mt-6 border-t border-slate-100 pt-4">
            {match reason {
                Some(r) => view! {
                    <button type="button" class=DANGER disabled aria-describedby="delete-reason">{label}</button>
                    <p id="delete-reason" class="mt-1 text-sm text-slate-600">{r}</p>
                }.into_any(),
                None => form(),
            }}
        </div>
    }
}

/// A one-button form posting `name` (the delete server functions take the object's name).
macro_rules! name_form {
    ($action:expr, $name:expr, $label:expr) => {{
        let (action, name, label) = ($action, $name, $label);
        move || view! {
            <ActionForm action=action>
                <input type="hidden" name="name" value=name/>
                <button type="submit" class=DANGER>{label}</button>
            </ActionForm>
        }.into_any()
    }};
}

#[component]
pub fn SchedulingPolicyPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let add = ServerAction::<AddAffinityRule>::new();
    let remove = ServerAction::<RemoveAffinityRule>::new();
    let delete = ServerAction::<DeleteSchedulingPolicy>::new();
    let data = Resource::new(move || (name(), add.version().get(), remove.version().get()), |(n, _, _)| get_scheduling_policy(n));
    let add_err = move || add.value().get().and_then(|r| r.ok().flatten());
    let other = move || {
        add.value().get().and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(|r| r.err()))
            .or_else(|| delete.value().get().and_then(|r| r.err()))
            .map(|e| error_text(&e))
    };
    let kind = RwSignal::new(String::from("podAntiAffinity"));
    let priority = RwSignal::new(String::from("preferred"));
    view! {
        <SettingsFrame>
            <p class="mb-4 text-sm"><a href=PSP_BASE class="text-indigo-700 hover:underline">"← Pod scheduling policies"</a></p>
            {move || other().map(|e| view! { <p role="alert" class="mb-4 text-red-700">{e}</p> })}
            <Transition fallback=|| view! { <p role="status">"Loading the policy…"</p> }>
                {move || Suspend::new(async move {
                    let v = match data.await {
                        Err(e) => return view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(v) => v,
                    };
                    let row = v.row.clone();
                    let policy = row.name.clone();
                    let engine = row.engine.clone();
                    let no_change = why_not(&row, "policy", false);
                    let no_delete = why_not(&row, "policy", true);
                    let editable = no_change.is_none();
                    let components = policy_components(&engine);
                    let policy_add = policy.clone();
                    view! {
                        <section aria-label="Pod scheduling policy" class="rounded-lg bg-white p-4 shadow">
                            {detail_head(&row, "policy", format!("{} policy", engine_label(&engine)))}
                            <h3 class="mb-2 font-semibold">"Affinity rules"</h3>
                            {if v.rules.is_empty() {
                                view! { <p class="mb-4 text-sm text-slate-600">"No rules: the scheduler places this engine's pods anywhere. Add one below."</p> }.into_any()
                            } else {
                                view! { <RulesTable rules=v.rules.clone() policy=policy.clone() editable remove engine=engine.clone()/> }.into_any()
                            }}
                            {match no_change.clone() {
                                Some(reason) => view! { <p class="mt-4 text-sm text-slate-600">{reason}</p> }.into_any(),
                                None => view! {
                                    <ActionForm action=add attr:class="mt-4 space-y-3 rounded border border-slate-200 p-4" attr:aria-label="Add affinity rule">
                                        <h4 class="font-semibold">"Add a rule"</h4>
                                        <input type="hidden" name="policy" value=policy_add/>
                                        <div class="grid gap-3 sm:grid-cols-3">
                                            <div>
                                                <label for="component" class=LABEL>"Component"</label>
                                                <select id="component" name="component" class=INPUT>
                                                    {components.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                                </select>
                                                {field_error(add_err, "component")}
                                            </div>
                                            <div>
                                                <label for="kind" class=LABEL>"Type"</label>
                                                <select id="kind" name="kind" class=INPUT on:change=move |ev| kind.set(event_target_value(&ev))>
                                                    {AFFINITY_KINDS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                                                </select>
                                                {field_error(add_err, "kind")}
                                            </div>
                                            <div>
                                                <label for="priority" class=LABEL>"Priority"</label>
                                                <select id="priority" name="priority" class=INPUT on:change=move |ev| priority.set(event_target_value(&ev))>
                                                    <option value="preferred">"Preferred"</option>
                                                    <option value="required">"Required"</option>
                                                </select>
                                                {field_error(add_err, "priority")}
                                            </div>
                                        </div>
                                        <div class="grid gap-3 sm:grid-cols-2">
                                            <div class:hidden=move || priority.get() != "preferred">
                                                <label for="weight" class=LABEL>"Weight (1–100)"</label>
                                                <input id="weight" name="weight" type="number" min="1" max="100" value="1" class=INPUT/>
                                                {field_error(add_err, "weight")}
                                            </div>
                                            <div class:hidden=move || kind.get() == "nodeAffinity">
                                                <label for="topology_key" class=LABEL>"Topology key"</label>
                                                <input id="topology_key" name="topology_key" type="text" value="kubernetes.io/hostname" class=INPUT/>
                                                {field_error(add_err, "topology_key")}
                                            </div>
                                        </div>
                                        <div class="grid gap-3 sm:grid-cols-3">
                                            <div>
                                                <label for="key" class=LABEL>"Label key"</label>
                                                <input id="key" name="key" type="text" class=INPUT placeholder="e.g. app.kubernetes.io/instance"/>
                                                {field_error(add_err, "key")}
                                            </div>
                                            <div>
                                                <label for="operator" class=LABEL>"Operator"</label>
                                                <select id="operator" name="operator" class=INPUT>
                                                    {["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"].into_iter().map(|o| view! { <option value=o>{o}</option> }).collect_view()}
                                                </select>
                                                {field_error(add_err, "operator")}
                                            </div>
                                            <div>
                                                <label for="values" class=LABEL>"Values"</label>
                                                <input id="values" name="values" type="text" class=INPUT placeholder="comma-separated" aria-describedby="values-help"/>
                                                <p id="values-help" class="mt-1 text-xs text-slate-500">"Empty for Exists and DoesNotExist."</p>
                                                {field_error(add_err, "values")}
                                            </div>
                                        </div>
                                        <button type="submit" class=BUTTON disabled=move || add.pending().get()>"Add rule"</button>
                                    </ActionForm>
                                }.into_any(),
                            }}
                            {delete_block(no_delete, "Delete policy", name_form!(delete, policy.clone(), "Delete policy"))}
                        </section>
                    }.into_any()
                })}
            </Transition>
        </SettingsFrame>
    }
}

fn rule_text(r: &AffinityRule) -> String {
    let mut s = String::new();
    if !r.key.is_empty() {
        s = format!("{} {}", r.key, r.operator);
        if !r.values.is_empty() {
            s.push_str(&format!(" ({})", r.values.join(", ")));
        }
    } else if r.kind != "nodeAffinity" {
        s = "all pods".into();
    }
    s
}

#[component]
fn RulesTable(rules: Vec<AffinityRule>, policy: String, editable: bool, remove: ServerAction<RemoveAffinityRule>, engine: String) -> impl IntoView {
    let comp_label = move |c: &str| policy_components(&engine).iter().find(|(v, _)| *v == c).map(|(_, l)| *l).unwrap_or("?");
    let kind_label = |k: &str| AFFINITY_KINDS.iter().find(|(v, _)| *v == k).map(|(_, l)| *l).unwrap_or("?");
    view! {
        <div class="relative overflow-x-auto">
            <table class="w-full text-left text-sm" aria-label="Affinity rules">
                <thead class="text-slate-600">
                    <tr>
                        <th class="py-1 pr-3">"Component"</th>
                        <th class="py-1 pr-3">"Type"</th>
                        <th class="py-1 pr-3">"Priority"</th>
                        <th class="py-1 pr-3">"Topology key"</th>
                        <th class="py-1 pr-3">"Selector"</th>
                        <th class="py-1"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rules.into_iter().enumerate().map(|(i, r)| {
                        let prio = match r.weight { Some(w) => format!("Preferred, weight {w}"), None => "Required".into() };
                        let desc = format!("{} {} rule {}", comp_label(&r.component), kind_label(&r.kind), i + 1);
                        let policy = policy.clone();
                        view! {
                            <tr class="border-t border-slate-100">
                                <td class="py-2 pr-3">{comp_label(&r.component)}</td>
                                <td class="py-2 pr-3">{kind_label(&r.kind)}</td>
                                <td class="py-2 pr-3">{prio}</td>
                                <td class="py-2 pr-3 font-mono text-xs">{if r.topology_key.is_empty() { "—".to_string() } else { r.topology_key.clone() }}</td>
                                <td class="py-2 pr-3 font-mono text-xs">{rule_text(&r)}</td>
                                <td class="py-2 text-right">
                                    {editable.then(|| view! {
                                        <ActionForm action=remove>
                                            <input type="hidden" name="policy" value=policy/>
                                            <input type="hidden" name="index" value=i.to_string()/>
                                            <button type="submit" class=DANGER aria-label=format!("Remove {desc}")>"Remove"</button>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn LoadBalancerConfigPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let set = ServerAction::<SetAnnotation>::new();
    let remove = ServerAction::<RemoveAnnotation>::new();
    let delete = ServerAction::<DeleteLoadBalancerConfig>::new();
    let data = Resource::new(move || (name(), set.version().get(), remove.version().get()), |(n, _, _)| get_load_balancer_config(n));
    let set_err = move || set.value().get().and_then(|r| r.ok().flatten());
    let other = move || {
        set.value().get().and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(|r| r.err()))
            .or_else(|| delete.value().get().and_then(|r| r.err()))
            .map(|e| error_text(&e))
    };
    view! {
        <SettingsFrame>
            <p class="mb-4 text-sm"><a href=LBC_BASE class="text-indigo-700 hover:underline">"← Load balancer configurations"</a></p>
            {move || other().map(|e| view! { <p role="alert" class="mb-4 text-red-700">{e}</p> })}
            <Transition fallback=|| view! { <p role="status">"Loading the configuration…"</p> }>
                {move || Suspend::new(async move {
                    let v = match data.await {
                        Err(e) => return view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                        Ok(v) => v,
                    };
                    let row = v.row.clone();
                    let config = row.name.clone();
                    let no_change = why_not(&row, "configuration", false);
                    let no_delete = why_not(&row, "configuration", true);
                    let editable = no_change.is_none();
                    let config_add = config.clone();
                    view! {
                        <section aria-label="Load balancer configuration" class="rounded-lg bg-white p-4 shadow">
                            {detail_head(&row, "configuration", "Load balancer configuration".into())}
                            <h3 class="mb-2 font-semibold">"Annotations"</h3>
                            {if v.annotations.is_empty() {
                                view! { <p class="mb-4 text-sm text-slate-600">"No annotations yet. Add your load balancer's annotations below."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="relative overflow-x-auto">
                                        <table class="w-full text-left text-sm" aria-label="Annotations">
                                            <thead class="text-slate-600">
                                                <tr><th class="py-1 pr-3">"Key"</th><th class="py-1 pr-3">"Value"</th><th class="py-1"><span class="sr-only">"Actions"</span></th></tr>
                                            </thead>
                                            <tbody>
                                                {v.annotations.iter().cloned().map(|(k, val)| { let config = config.clone(); let label = format!("Remove annotation {k}"); view! {
                                                    <tr class="border-t border-slate-100">
                                                        <td class="break-all py-2 pr-3 font-mono text-xs">{k.clone()}</td>
                                                        <td class="break-all py-2 pr-3 font-mono text-xs">{val}</td>
                                                        <td class="py-2 text-right">
                                                            {editable.then(|| view! {
                                                                <ActionForm action=remove>
                                                                    <input type="hidden" name="config" value=config/>
                                                                    <input type="hidden" name="key" value=k.clone()/>
                                                                    <button type="submit" class=DANGER aria-label=label>"Remove"</button>
                                                                </ActionForm>
                                                            })}
                                                        </td>
                                                    </tr>
                                                }}).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }.into_any()
                            }}
                            {match no_change.clone() {
                                Some(reason) => view! { <p class="mt-4 text-sm text-slate-600">{reason}</p> }.into_any(),
                                None => view! {
                                    <ActionForm action=set attr:class="mt-4 grid gap-3 rounded border border-slate-200 p-4 sm:grid-cols-[1fr_1fr_auto] sm:items-end" attr:aria-label="Add annotation">
                                        <input type="hidden" name="config" value=config_add/>
                                        <div>
                                            <label for="key" class=LABEL>"Annotation key"</label>
                                            <input id="key" name="key" type="text" required class=INPUT placeholder="service.beta.kubernetes.io/…"/>
                                            {field_error(set_err, "key")}
                                        </div>
                                        <div>
                                            <label for="value" class=LABEL>"Value"</label>
                                            <input id="value" name="value" type="text" class=INPUT/>
                                        </div>
                                        <button type="submit" class=BUTTON disabled=move || set.pending().get()>"Save annotation"</button>
                                    </ActionForm>
                                }.into_any(),
                            }}
                            {delete_block(no_delete, "Delete configuration", name_form!(delete, config.clone(), "Delete configuration"))}
                        </section>
                    }.into_any()
                })}
            </Transition>
        </SettingsFrame>
    }
}

