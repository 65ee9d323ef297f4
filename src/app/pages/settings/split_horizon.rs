//! `/settings/policies/details/split-horizon` (OpenEverest's URL): the split-horizon DNS configurations of
//! the managed namespaces (contract §1.10, §4): list (domain suffix, CA Secret, in use), create (the CA's
//! certificate and key go into the Secret and are never shown again) and delete (refused while a database
//! uses one). Every write is a form that posts without the wasm; a broken rule shows beside its field.
use super::{field_error, SettingsFrame, BUTTON, DANGER, INPUT, LABEL};
use crate::app::components::error_text;
use crate::model::FieldError;
use leptos::prelude::*;

pub const BASE: &str = "/settings/policies/details/split-horizon";

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitHorizonRow {
    pub namespace: String,
    pub name: String,
    pub suffix: String,
    pub secret: String,
    pub in_use: bool,
    pub can_delete: bool,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitHorizonPage {
    pub rows: Vec<SplitHorizonRow>,
    /// The namespaces where the caller may create one.
    pub create_namespaces: Vec<String>,
}

#[server(endpoint = "get_split_horizon_page")]
pub async fn get_split_horizon_page() -> Result<SplitHorizonPage, ServerFnError> {
    use crate::app::server_fns::server;
    use crate::service::authz::{can, can_in_namespace, object, res, Action};
    use kube::ResourceExt;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let mut page = SplitHorizonPage::default();
    for ns in crate::service::list_namespaces(&st, &caller) {
        for c in crate::service::split_horizon::list(&st, &caller, &ns).map_err(server::to_sfe)? {
            let in_use = c.status.as_ref().is_some_and(|s| s.in_use);
            page.rows.push(SplitHorizonRow {
                can_delete: !in_use && can(&st, &caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Delete, &object(&ns, &c.name_any())),
                namespace: ns.clone(),
                name: c.name_any(),
                suffix: c.spec.base_domain_name_suffix.clone(),
                secret: c.spec.tls.secret_name.clone(),
                in_use,
            });
        }
        if can_in_namespace(&st, &caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Create, &ns) {
            page.create_namespaces.push(ns);
        }
    }
    Ok(page)
}

#[server(endpoint = "create_split_horizon")]
pub async fn create_split_horizon(
    namespace: String,
    name: String,
    suffix: String,
    secret_name: String,
    ca_crt: String,
    ca_key: String,
) -> Result<Option<FieldError>, ServerFnError> {
    use crate::app::server_fns::server;
    use crate::crd::split_horizon_dns_config::*;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let certificate = (!ca_crt.trim().is_empty() || !ca_key.trim().is_empty())
        .then(|| SplitHorizonCertificate { ca_crt: Some(ca_crt.trim().to_string()), ca_key: Some(ca_key.trim().to_string()) });
    let c = SplitHorizonDNSConfig::new(
        name.trim(),
        SplitHorizonDNSConfigSpec {
            base_domain_name_suffix: suffix.trim().to_string(),
            tls: SplitHorizonTls { secret_name: secret_name.trim().to_string(), certificate },
        },
    );
    let r = crate::service::split_horizon::create(&st, &caller, &namespace, c).await.map(|_| ());
    crate::app::settings_fns::field_or(
        r,
        &[
            ("metadata.name", "shd-name"),
            ("spec.baseDomainNameSuffix", "shd-suffix"),
            ("spec.tls.secretName", "shd-secret"),
            ("spec.tls.certificate", "shd-crt"),
            ("spec.tls.certificate[\"ca.crt\"]", "shd-crt"),
            ("spec.tls.certificate[\"ca.key\"]", "shd-key"),
        ],
    )
}

#[server(endpoint = "delete_split_horizon")]
pub async fn delete_split_horizon(namespace: String, name: String) -> Result<(), ServerFnError> {
    use crate::app::server_fns::server;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::split_horizon::delete(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

#[component]
pub fn SplitHorizonSettingsPage() -> impl IntoView {
    let create = ServerAction::<CreateSplitHorizon>::new();
    let delete = ServerAction::<DeleteSplitHorizon>::new();
    let data = Resource::new(move || (create.version().get(), delete.version().get()), |_| get_split_horizon_page());
    let err = move || create.value().get().and_then(|r| r.ok().flatten());
    let other = move || create.value().get().and_then(|r| r.err()).or_else(|| delete.value().get().and_then(|r| r.err())).map(|e| error_text(&e));
    view! {
        <SettingsFrame>
            {move || other().map(|e| view! { <p role="alert" class="mb-4 text-red-700">{e}</p> })}
            <section aria-labelledby="shd-title" class="mb-8 rounded-lg bg-white p-4 shadow">
                <h2 id="shd-title" class="mb-1 text-lg font-semibold">"Split-horizon DNS"</h2>
                <p class="mb-4 text-sm text-slate-600">
                    "Gives each member of a MongoDB replica set a name under your domain, so clients outside the cluster reach every member. A MongoDB database names one in its advanced settings."
                </p>
                <Transition fallback=|| view! { <p role="status">"Loading split-horizon DNS configurations…"</p> }>
                    {move || Suspend::new(async move {
                        match data.await {
                            Err(e) => view! { <p role="alert" class="text-red-700">{error_text(&e)}</p> }.into_any(),
                            Ok(page) => view! {
                                {if page.rows.is_empty() {
                                    view! { <p class="text-sm text-slate-600">"No split-horizon DNS configurations yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="w-full text-left text-sm">
                                            <caption class="sr-only">"Split-horizon DNS configurations"</caption>
                                            <thead><tr>
                                                <th scope="col" class="py-2">"Name"</th>
                                                <th scope="col">"Namespace"</th>
                                                <th scope="col">"Domain suffix"</th>
                                                <th scope="col">"CA Secret"</th>
                                                <th scope="col">"In use"</th>
                                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {page.rows.into_iter().map(|r| {
                                                    let why = if r.in_use { "In use by a database" } else { "Your role does not allow deleting it" };
                                                    view! {
                                                        <tr class="border-t border-slate-100">
                                                            <td class="py-2 font-medium">{r.name.clone()}</td>
                                                            <td>{r.namespace.clone()}</td>
                                                            <td>{r.suffix.clone()}</td>
                                                            <td>{r.secret.clone()}</td>
                                                            <td>{if r.in_use { "Yes" } else { "No" }}</td>
                                                            <td class="text-right">
                                                                <ActionForm action=delete>
                                                                    <input type="hidden" name="namespace" value=r.namespace.clone()/>
                                                                    <input type="hidden" name="name" value=r.name.clone()/>
                                                                    <button type="submit" class=DANGER disabled=!r.can_delete
                                                                        title=(!r.can_delete).then_some(why)
                                                                        aria-label=format!("Delete {}", r.name)>"Delete"</button>
                                                                </ActionForm>
                                                            </td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                {if page.create_namespaces.is_empty() {
                                    view! { <p class="mt-4 text-sm text-slate-600">"Your role does not allow creating split-horizon DNS configurations."</p> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=create attr:class="mt-6 grid gap-3 sm:grid-cols-2" attr:aria-label="Create split-horizon DNS configuration">
                                            <div>
                                                <label for="shd-namespace" class=LABEL>"Namespace"</label>
                                                <select id="shd-namespace" name="namespace" class=INPUT>
                                                    {page.create_namespaces.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                                                </select>
                                            </div>
                                            <div>
                                                <label for="shd-name" class=LABEL>"Name"</label>
                                                <input id="shd-name" name="name" type="text" required class=INPUT placeholder="e.g. public-dns"/>
                                                {field_error(err, "shd-name")}
                                            </div>
                                            <div>
                                                <label for="shd-suffix" class=LABEL>"Domain suffix"</label>
                                                <input id="shd-suffix" name="suffix" type="text" required class=INPUT placeholder="mongo.example.com"/>
                                                {field_error(err, "shd-suffix")}
                                            </div>
                                            <div>
                                                <label for="shd-secret" class=LABEL>"CA Secret name"</label>
                                                <input id="shd-secret" name="secret_name" type="text" required class=INPUT placeholder="public-dns-ca"/>
                                                {field_error(err, "shd-secret")}
                                            </div>
                                            <div>
                                                <label for="shd-crt" class=LABEL>"CA certificate (PEM)"</label>
                                                <textarea id="shd-crt" name="ca_crt" rows="4" class=INPUT placeholder="-----BEGIN CERTIFICATE-----"></textarea>
                                                {field_error(err, "shd-crt")}
                                            </div>
                                            <div>
                                                <label for="shd-key" class=LABEL>"CA private key (PEM)"</label>
                                                <textarea id="shd-key" name="ca_key" rows="4" class=INPUT placeholder="-----BEGIN PRIVATE KEY-----"></textarea>
                                                {field_error(err, "shd-key")}
                                            </div>
                                            <p class="text-xs text-slate-500 sm:col-span-2">"The certificate and key are stored in the Secret and never shown again. Leave both empty to use a Secret that already holds ca.crt and ca.key."</p>
                                            <div class="sm:col-span-2">
                                                <button type="submit" class=BUTTON disabled=move || create.pending().get()>"Create configuration"</button>
                                            </div>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </SettingsFrame>
    }
}
