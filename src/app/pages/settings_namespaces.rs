//! Settings → Namespaces: per managed namespace, the operators that have a newer version in this release,
//! the checks of the upgrade plan (each database's pending action), and "Upgrade operators" behind a
//! confirmation. The approval locks database writes of the namespace; the operators move through their
//! charts (`cairn namespaces update`, `cairn upgrade`, or a GitOps tool).
use crate::app::components::{error_text, Header};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One namespace's plan, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespacePlan {
    pub namespace: String,
    /// (operator, installed version, available version).
    pub upgrades: Vec<(String, String, String)>,
    /// (database, pending task, message).
    pub checks: Vec<(String, String, String)>,
}

impl NamespacePlan {
    /// Why the upgrade cannot start, if it cannot.
    pub fn blocked(&self) -> Option<String> {
        let n = self.checks.iter().filter(|(_, t, _)| t != "ready").count();
        (n > 0).then(|| format!("{n} database(s) must be handled first (see the checks)."))
    }
}

#[server(endpoint = "namespace_upgrade_plans")]
pub async fn namespace_upgrade_plans() -> Result<Vec<NamespacePlan>, ServerFnError> {
    use crate::app::server_fns::server::{caller, state, to_sfe};
    let st = state()?;
    let who = caller(&st).await?;
    let mut out = Vec::new();
    for ns in crate::service::list_namespaces(&st, &who) {
        let p = match crate::service::upgrade_plan::get_plan(&st, &who, &ns) {
            Ok(p) => p,
            // Namespaces whose engines the caller may not read are left out.
            Err(e) if e.status == 403 => continue,
            Err(e) => return Err(to_sfe(e)),
        };
        out.push(NamespacePlan {
            namespace: ns,
            upgrades: p.upgrades.into_iter().map(|u| (u.name, u.current_version, u.target_version)).collect(),
            checks: p
                .pending_actions
                .into_iter()
                .map(|a| (a.name, serde_json::to_value(a.pending_task).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(), a.message))
                .collect(),
        });
    }
    Ok(out)
}

#[server(endpoint = "approve_operator_upgrade")]
pub async fn approve_operator_upgrade(namespace: String, confirm: Option<String>) -> Result<String, ServerFnError> {
    use crate::app::server_fns::server::{caller, state, to_sfe};
    if confirm.as_deref() != Some("yes") {
        return Err(ServerFnError::ServerError("confirm: tick the box to confirm the operator upgrade".into()));
    }
    let st = state()?;
    let who = caller(&st).await?;
    let plan = crate::service::upgrade_plan::approve(&st, &who, &namespace).await.map_err(to_sfe)?;
    let names: Vec<String> = plan.upgrades.iter().map(|u| format!("{} {}", u.name, u.target_version)).collect();
    Ok(format!(
        "Approved for {namespace}: {}. Database changes there wait until the operators run these versions; run `cairn namespaces update {namespace}` (or let your GitOps tool apply the new chart).",
        names.join(", ")
    ))
}

#[component]
pub fn SettingsNamespacesPage() -> impl IntoView {
    let approve = ServerAction::<ApproveOperatorUpgrade>::new();
    let plans = Resource::new(move || approve.version().get(), |_| namespace_upgrade_plans());
    view! {
        <Header/>
        <main class="mx-auto max-w-6xl p-6">
            <h1 class="mb-6 text-2xl font-semibold">"Namespaces"</h1>
            {move || approve.value().get().map(|r| match r {
                Ok(m) => view! { <p role="status" class="mb-4 text-green-800">{m}</p> }.into_any(),
                Err(e) => view! { <p role="alert" class="mb-4 text-red-700">{error_text(&e)}</p> }.into_any(),
            })}
            <Transition fallback=|| view! { <p>"Loading namespaces…"</p> }>
                {move || Suspend::new(async move {
                    match plans.await {
                        Ok(list) if list.is_empty() => view! { <p class="text-slate-600">"No namespace you may see."</p> }.into_any(),
                        Ok(list) => list.into_iter().map(|p| view! { <NamespaceSection plan=p approve/> }).collect_view().into_any(),
                        Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn NamespaceSection(plan: NamespacePlan, approve: ServerAction<ApproveOperatorUpgrade>) -> impl IntoView {
    let ns = plan.namespace.clone();
    let blocked = plan.blocked();
    let label = format!("Namespace {ns}");
    view! {
        <section aria-label=label class="mb-6 rounded-lg bg-white p-4 shadow">
            <h2 class="mb-3 text-lg font-semibold">{ns.clone()}</h2>
            {if plan.upgrades.is_empty() {
                view! { <p class="text-slate-600">"The operators are up to date."</p> }.into_any()
            } else {
                view! {
                    <table aria-label=format!("Operator upgrades in {ns}") class="mb-3 w-full text-left text-sm">
                        <thead class="text-slate-600"><tr><th>"Operator"</th><th>"Installed"</th><th>"Available"</th></tr></thead>
                        <tbody>
                            {plan.upgrades.iter().map(|(n, c, t)| view! { <tr><td>{n.clone()}</td><td>{c.clone()}</td><td>{t.clone()}</td></tr> }).collect_view()}
                        </tbody>
                    </table>
                    {(!plan.checks.is_empty()).then(|| view! {
                        <ul aria-label=format!("Checks in {ns}") class="mb-3 text-sm">
                            {plan.checks.iter().map(|(db, task, msg)| view! { <li>{format!("{db}: {task} — {msg}")}</li> }).collect_view()}
                        </ul>
                    })}
                    {match blocked {
                        Some(why) => view! {
                            <p class="text-sm text-amber-800">{why}</p>
                            <button type="button" disabled class="mt-2 rounded bg-slate-300 px-4 py-2 text-white">"Upgrade operators"</button>
                        }.into_any(),
                        None => view! {
                            <ActionForm action=approve>
                                <input type="hidden" name="namespace" value=ns.clone()/>
                                <label class="mr-4 text-sm">
                                    <input type="checkbox" name="confirm" value="yes" class="mr-2"/>
                                    {format!("I understand that database changes in {ns} wait until the upgrade is done")}
                                </label>
                                <button type="submit" class="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">"Upgrade operators"</button>
                            </ActionForm>
                        }.into_any(),
                    }}
                }.into_any()
            }}
        </section>
    }
}
