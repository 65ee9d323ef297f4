//! The create wizard's Import step (contract §4: "Import", only when the wizard is opened from the
//! databases page's **Import**): the data importers that support the chosen engine, each with what it
//! requires of the database and the settings it takes; the S3 source (bucket, region, endpoint, keys, TLS
//! verification, path-style URLs) and
//! the file path. Its inputs post with the wizard's form (`import_*`) and become the new database's
//! `spec.dataSource.dataImport`, exactly as a REST client writes it: the service checks them as for REST
//! (`service::data_import`), a refused one shows beside its input, and once the database is ready the
//! controller creates its DataImportJob.
use crate::model::FieldError;
use leptos::prelude::*;

const INPUT: &str = "mt-1 w-full rounded border border-slate-300 px-3 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
const LABEL: &str = "block text-sm font-medium";
const HELP: &str = "mt-1 text-xs text-slate-500";

/// The form inputs of the Import part (the wizard's summary and preview read them too).
pub const IMPORT_FIELDS: &[&str] = &[
    "import",
    "import_importer",
    "import_bucket",
    "import_region",
    "import_endpoint",
    "import_access_key",
    "import_secret_key",
    "import_verify_tls",
    "import_force_path_style",
    "import_path",
    "import_config",
    "import_db_user",
    "import_db_password",
];

/// One importer as the wizard offers it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImporterChoice {
    pub name: String,
    pub label: String,
    /// The engines it supports (`pxc`, `psmdb`, `postgresql`).
    pub engines: Vec<String>,
    pub description: String,
    /// What it requires of the database (`databaseClusterConstraints.requiredFields`, JSON paths).
    pub required_fields: Vec<String>,
    /// The settings its config schema names: (name, type, required).
    pub settings: Vec<ImporterSetting>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImporterSetting {
    pub name: String,
    /// The JSON schema type (`string`, `integer`, …; empty: any).
    pub kind: String,
    pub required: bool,
}

/// The settings an importer's config schema names, sorted, the required ones first.
pub fn schema_settings(schema: Option<&serde_json::Value>) -> Vec<ImporterSetting> {
    let Some(schema) = schema else { return Vec::new() };
    let required: Vec<&str> = schema.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|r| r.as_str()).collect();
    let mut v: Vec<ImporterSetting> = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .into_iter()
        .flatten()
        .map(|(k, p)| ImporterSetting {
            name: k.clone(),
            kind: p.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string(),
            required: required.contains(&k.as_str()),
        })
        .collect();
    v.sort_by(|a, b| b.required.cmp(&a.required).then(a.name.cmp(&b.name)));
    v
}

/// The importers the caller may read (RBAC `data-importers`).
#[server(endpoint = "get_data_importers")]
pub async fn get_data_importers() -> Result<Vec<ImporterChoice>, ServerFnError> {
    use crate::app::server_fns::server;
    use kube::ResourceExt;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let list = crate::service::data_import::list_data_importers(&st, &caller, None).map_err(server::to_sfe)?;
    Ok(list
        .iter()
        .map(|i| ImporterChoice {
            name: i.name_any(),
            label: if i.spec.display_name.is_empty() { i.name_any() } else { i.spec.display_name.clone() },
            engines: i.spec.supported_engines.iter().map(|e| e.as_str().to_string()).collect(),
            description: i.spec.description.clone(),
            required_fields: i.spec.database_cluster_constraints.iter().flat_map(|c| c.required_fields.iter().cloned()).collect(),
            settings: schema_settings(i.spec.config.as_ref().and_then(|c| c.open_api_v3_schema.as_ref())),
        })
        .collect())
}

/// The Import step's content (the wizard renders its section, heading and buttons). `engine` is the engine
/// chosen in the first step: importers that do not support it are not offered.
#[component]
pub fn ImportStep(engine: Signal<String>, field_error: Signal<Option<FieldError>>) -> impl IntoView {
    let importers = Resource::new(|| (), |_| get_data_importers());
    let chosen = RwSignal::new(String::new());
    let error_for = move |field: &'static str| {
        move || {
            field_error.get().filter(|e| e.field == field).map(|e| view! { <p role="alert" id=format!("{field}-error") class="mt-1 text-sm text-red-700">{e.message}</p> })
        }
    };
    let text = move |id: &'static str, label: &'static str, kind: &'static str, placeholder: &'static str, help: &'static str| {
        view! {
            <div>
                <label for=id class=LABEL>{label}</label>
                <input id=id name=id type=kind placeholder=placeholder autocomplete="off" class=INPUT
                    aria-describedby=format!("{id}-help {id}-error")/>
                <p id=format!("{id}-help") class=HELP>{help}</p>
                {error_for(id)}
            </div>
        }
    };
    view! {
        <p class="text-sm text-slate-600">
            "The database is created empty; once it is ready, the importer loads the file into it. Until that finishes the database shows as importing."
        </p>
        <input type="hidden" name="import" value="on"/>
        <Transition fallback=|| view! { <p role="status">"Loading importers…"</p> }>
            {move || Suspend::new(async move {
                match importers.await {
                    Err(e) => view! { <p role="alert" class="text-sm text-red-700">{crate::app::components::error_text(&e)}</p> }.into_any(),
                    Ok(list) => {
                        let list = std::sync::Arc::new(list);
                        let offered = {
                            let list = list.clone();
                            move || {
                                let e = engine.get();
                                list.iter().filter(|i| i.engines.contains(&e)).cloned().collect::<Vec<ImporterChoice>>()
                            }
                        };
                        // The importer picked, or the first offered for this engine.
                        let current = {
                            let offered = offered.clone();
                            move || {
                                let o = offered();
                                let want = chosen.get();
                                o.iter().find(|i| i.name == want).or(o.first()).cloned()
                            }
                        };
                        view! {
                            <div>
                                <label for="import_importer" class=LABEL>"Data importer"</label>
                                <select id="import_importer" name="import_importer" class=INPUT aria-describedby="import_importer-error"
                                    on:change=move |ev| chosen.set(event_target_value(&ev))>
                                    {
                                        let (offered, current) = (offered.clone(), current.clone());
                                        move || {
                                            let o = offered();
                                            let now = current().map(|c| c.name).unwrap_or_default();
                                            if o.is_empty() {
                                                view! { <option value="">"No importer supports this engine"</option> }.into_any()
                                            } else {
                                                o.into_iter().map(|i| {
                                                    let selected = i.name == now;
                                                    view! { <option value=i.name.clone() selected=selected>{i.label.clone()}</option> }
                                                }).collect_view().into_any()
                                            }
                                        }
                                    }
                                </select>
                                {error_for("import_importer")}
                            </div>
                            {move || current().map(|i| view! { <ImporterDetails i/> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <fieldset class="grid gap-4 sm:grid-cols-2">
            <legend class="mb-2 text-sm font-medium">"Where the data is (S3)"</legend>
            {text("import_bucket", "Bucket", "text", "my-dumps", "The S3 bucket that holds the file.")}
            {text("import_region", "Region", "text", "us-east-1", "The bucket's region.")}
            {text("import_endpoint", "Endpoint URL", "url", "https://s3.amazonaws.com", "The S3 service's URL.")}
            {text("import_path", "File path", "text", "/dumps/backup.sql", "The file's path in the bucket, starting with /.")}
            {text("import_access_key", "Access key", "text", "", "Kept in a Secret, never shown again.")}
            {text("import_secret_key", "Secret key", "password", "", "Kept in a Secret, never shown again.")}
            <label class="flex items-center gap-2 text-sm">
                <input id="import_verify_tls" name="import_verify_tls" type="checkbox" value="on" checked=true/>
                "Verify TLS certificate"
            </label>
            <label class="flex items-center gap-2 text-sm">
                <input id="import_force_path_style" name="import_force_path_style" type="checkbox" value="on"/>
                "Force path-style URLs"
            </label>
        </fieldset>
        {error_for("import_config")}
        // The source database's administrator: a physical backup brings its users and their passwords, so the
        // new database is created with the same (its users Secret, written before it).
        <fieldset class="grid gap-4 sm:grid-cols-2">
            <legend class="mb-2 text-sm font-medium">"Database credentials (of the database the data comes from)"</legend>
            <Show when=move || engine.get() == "psmdb">
                {text("import_db_user", "Administrator user", "text", "databaseAdmin", "MongoDB's database administrator in the source.")}
            </Show>
            {text("import_db_password", "Administrator password", "password", "",
                "MySQL: root's, PostgreSQL: postgres's, MongoDB: the administrator's. Empty: new passwords are generated.")}
        </fieldset>
    }
}

/// The users Secret's data for the Import step's credentials (`password` of the administrator; `user` for
/// MongoDB, `databaseAdmin` when empty), in each engine's keys (those the operators and Cairn's credentials
/// read); None without a password.
pub fn import_users_secret(engine: &str, user: Option<&str>, password: Option<&str>) -> Option<std::collections::BTreeMap<String, String>> {
    let pw = password.filter(|p| !p.is_empty())?.to_string();
    let pairs: Vec<(&str, String)> = match engine {
        "pxc" => vec![("root", pw)],
        "postgresql" => vec![("password", pw)],
        "psmdb" => vec![
            ("MONGODB_DATABASE_ADMIN_USER", user.map(str::trim).filter(|u| !u.is_empty()).unwrap_or("databaseAdmin").to_string()),
            ("MONGODB_DATABASE_ADMIN_PASSWORD", pw),
        ],
        _ => return None,
    };
    Some(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// What the chosen importer does, what it requires of the database, and its settings (a JSON object
/// checked against the importer's schema, only when it has one).
#[component]
fn ImporterDetails(i: ImporterChoice) -> impl IntoView {
    let required = i.required_fields.clone();
    let settings = i.settings.clone();
    view! {
        <section aria-label=format!("Importer {}", i.label) class="space-y-2 rounded-md border border-slate-200 bg-slate-50 p-3 text-sm">
            {(!i.description.is_empty()).then(|| view! { <p>{i.description.clone()}</p> })}
            {if required.is_empty() {
                view! { <p class="text-slate-600">"It requires nothing more of the database."</p> }.into_any()
            } else {
                view! {
                    <div>
                        <p class="font-medium">"Required of the database:"</p>
                        <ul aria-label="Required fields" class="ml-5 list-disc">
                            {required.into_iter().map(|f| {
                                let note = required_field_note(&f);
                                view! { <li><code>{f}</code>{note.map(|n| format!(" — {n}"))}</li> }
                            }).collect_view()}
                        </ul>
                    </div>
                }.into_any()
            }}
            {(!settings.is_empty()).then(|| {
                let placeholder = format!(
                    "{{{}}}",
                    settings.iter().filter(|s| s.required).map(|s| format!("\"{}\": …", s.name)).collect::<Vec<_>>().join(", ")
                );
                view! {
                    <div>
                        <label for="import_config" class=LABEL>"Importer settings (JSON)"</label>
                        <ul aria-label="Importer settings" class="ml-5 list-disc text-slate-700">
                            {settings.into_iter().map(|s| view! {
                                <li><code>{s.name.clone()}</code>{format!(" ({}{})", if s.kind.is_empty() { "any" } else { s.kind.as_str() }, if s.required { ", required" } else { "" })}</li>
                            }).collect_view()}
                        </ul>
                        <textarea id="import_config" name="import_config" rows="3" class=format!("{INPUT} font-mono text-sm")
                            placeholder=placeholder aria-describedby="import_config-error"></textarea>
                    </div>
                }
            })}
        </section>
    }
}

/// What a required field means for the person filling the form (the ones Cairn fills itself).
pub fn required_field_note(path: &str) -> Option<&'static str> {
    match path.trim_start_matches('.') {
        "spec.engine.userSecretsName" => Some("Cairn fills it (the database's users Secret; with the administrator password below, it holds the source's)"),
        "spec.engine.version" => Some("the version chosen in the first step"),
        _ => None,
    }
}

/// `spec.dataSource.dataImport` from the Import step's inputs (`None` when the form has no Import step).
/// Settings that are not JSON are refused beside their input; the service checks the rest.
#[cfg(feature = "ssr")]
pub fn data_import_from_form(get: impl Fn(&str) -> Option<String>) -> Result<Option<crate::crd::DataImportJobTemplate>, FieldError> {
    use crate::crd::*;
    if get("import").as_deref() != Some("on") {
        return Ok(None);
    }
    let config = match get("import_config") {
        None => None,
        Some(c) => Some(serde_json::from_str::<serde_json::Value>(&c).map_err(|e| FieldError {
            field: "import_config".into(),
            message: format!("Importer settings: not a JSON object ({e})"),
        })?),
    };
    Ok(Some(DataImportJobTemplate {
        data_importer_name: get("import_importer"),
        source: Some(DataImportSource {
            s3: Some(DataImportS3 {
                bucket: get("import_bucket").unwrap_or_default(),
                region: get("import_region").unwrap_or_default(),
                endpoint_url: get("import_endpoint").unwrap_or_default(),
                access_key_id: get("import_access_key"),
                secret_access_key: get("import_secret_key"),
                // Checkboxes: absent when unticked.
                verify_tls: Some(get("import_verify_tls").as_deref() == Some("on")),
                force_path_style: Some(get("import_force_path_style").as_deref() == Some("on")),
                ..Default::default()
            }),
            path: get("import_path"),
        }),
        config,
    }))
}

/// The Import part's input for a field the service refused, with its label.
#[cfg(feature = "ssr")]
pub fn import_input(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "spec.dataSource.dataImport.dataImporterName" => ("import_importer", "Data importer"),
        "spec.dataSource.dataImport.source.path" => ("import_path", "File path"),
        "spec.dataSource.dataImport.source.s3.bucket" => ("import_bucket", "Bucket"),
        "spec.dataSource.dataImport.source.s3.endpointURL" => ("import_endpoint", "Endpoint URL"),
        "spec.dataSource.dataImport.source.s3.credentialsSecretName" => ("import_access_key", "Access key"),
        p if p.starts_with("spec.dataSource.dataImport.config") => ("import_config", "Importer settings"),
        _ => return None,
    })
}
