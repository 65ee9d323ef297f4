//! The create wizard's Import part (contract §4: "Import", only when the wizard is opened from the
//! databases page's **Import**): the data importer, the S3 source (bucket, region, endpoint, keys) and the
//! file path. Its inputs post with the wizard's form (`import_*`); the service checks them as for REST
//! (`service::data_import`), and a refused one shows beside its input.
use crate::model::FieldError;
use leptos::prelude::*;

const INPUT: &str = "mt-1 w-full rounded border border-slate-300 px-3 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
const LABEL: &str = "block text-sm font-medium";
const HELP: &str = "mt-1 text-xs text-slate-500";

/// The form inputs of the Import part (the wizard's summary and preview read them too).
pub const IMPORT_FIELDS: &[&str] =
    &["import", "import_importer", "import_bucket", "import_region", "import_endpoint", "import_access_key", "import_secret_key", "import_path"];

/// One importer as the wizard offers it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImporterChoice {
    pub name: String,
    pub label: String,
    /// The engines it supports (`pxc`, `psmdb`, `postgresql`).
    pub engines: Vec<String>,
}

/// The importers the caller may read (RBAC `data-importers`).
#[server]
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
        })
        .collect())
}

/// The Import part: shown in the wizard's first step when it was opened with `?import`. `engine` is the
/// engine chosen above (importers that do not support it are not offered).
#[component]
pub fn ImportStep(engine: Signal<String>, field_error: Signal<Option<FieldError>>) -> impl IntoView {
    let importers = Resource::new(|| (), |_| get_data_importers());
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
                    aria-describedby=format!("{id}-help")/>
                <p id=format!("{id}-help") class=HELP>{help}</p>
                {error_for(id)}
            </div>
        }
    };
    view! {
        <section id="step-import" aria-labelledby="step-import-title" class="space-y-4 border-t border-slate-100 pt-4">
            <h3 id="step-import-title" class="text-base font-semibold">"Import"</h3>
            <p class="text-sm text-slate-600">
                "The database is created empty; once it is ready, the importer loads the file into it. Until that finishes the database shows as importing."
            </p>
            <input type="hidden" name="import" value="on"/>
            <div>
                <label for="import_importer" class=LABEL>"Data importer"</label>
                <Transition fallback=|| view! { <p role="status">"Loading importers…"</p> }>
                    {move || Suspend::new(async move {
                        match importers.await {
                            Err(e) => view! { <p role="alert" class="text-sm text-red-700">{crate::app::components::error_text(&e)}</p> }.into_any(),
                            Ok(list) => view! {
                                <select id="import_importer" name="import_importer" class=INPUT>
                                    {move || {
                                        let e = engine.get();
                                        let offered: Vec<ImporterChoice> = list.iter().filter(|i| i.engines.contains(&e)).cloned().collect();
                                        if offered.is_empty() {
                                            view! { <option value="">"No importer supports this engine"</option> }.into_any()
                                        } else {
                                            offered.into_iter().map(|i| view! { <option value=i.name.clone()>{i.label.clone()}</option> }).collect_view().into_any()
                                        }
                                    }}
                                </select>
                            }.into_any(),
                        }
                    })}
                </Transition>
                {error_for("import_importer")}
            </div>
            <fieldset class="grid gap-4 sm:grid-cols-2">
                <legend class="mb-2 text-sm font-medium">"Where the data is (S3)"</legend>
                {text("import_bucket", "Bucket", "text", "my-dumps", "The S3 bucket that holds the file.")}
                {text("import_region", "Region", "text", "us-east-1", "The bucket's region.")}
                {text("import_endpoint", "Endpoint URL", "url", "https://s3.amazonaws.com", "The S3 service's URL.")}
                {text("import_path", "File path", "text", "/dumps/backup.sql", "The file's path in the bucket, starting with /.")}
                {text("import_access_key", "Access key", "text", "", "Kept in a Secret, never shown again.")}
                {text("import_secret_key", "Secret key", "password", "", "Kept in a Secret, never shown again.")}
            </fieldset>
        </section>
    }
}

/// `spec.dataSource.dataImport` from the Import part's inputs (`None` when the form has no Import part).
#[cfg(feature = "ssr")]
pub fn data_import_from_form(get: impl Fn(&str) -> Option<String>) -> Option<crate::crd::DataImportJobTemplate> {
    use crate::crd::*;
    (get("import").as_deref() == Some("on")).then(|| DataImportJobTemplate {
        data_importer_name: get("import_importer"),
        source: Some(DataImportSource {
            s3: Some(DataImportS3 {
                bucket: get("import_bucket").unwrap_or_default(),
                region: get("import_region").unwrap_or_default(),
                endpoint_url: get("import_endpoint").unwrap_or_default(),
                access_key_id: get("import_access_key"),
                secret_access_key: get("import_secret_key"),
                ..Default::default()
            }),
            path: get("import_path"),
        }),
        config: None,
    })
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
        _ => return None,
    })
}
