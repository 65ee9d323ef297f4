//! Settings → Storage locations (`/settings/storage-locations`, OpenEverest's URL): the S3, Azure Blob and
//! GCS buckets backups go to — list, add, edit, delete. Saving runs the live access check; what it refuses
//! (bad keys, a missing bucket, an unreachable endpoint) is shown beside the field it concerns.
use super::SettingsFrame;
use crate::app::backup_fns::{list_storage_locations, DeleteStorageLocation, SaveStorageLocation};
use crate::app::components::{error_text, ErrorText, Loading};
use crate::model::backups::StorageRow;
use crate::model::{BackupStorageDto, FieldError};
use leptos::prelude::*;
use leptos_meta::Title;

const HELP: &str = "mt-1 text-xs text-slate-600";

type Answer = Signal<Option<Result<Option<FieldError>, ServerFnError>>>;

/// The rule `field` broke in the form's last answer, beside it (`id` = `<prefix><field>-error`).
fn err_view(answer: Answer, prefix: &'static str, field: &'static str) -> impl IntoView {
    move || {
        answer.get().and_then(|r| r.ok().flatten()).filter(|e| e.field == field).map(|e| {
            view! { <p role="alert" id=format!("{prefix}{field}-error") class="field-error">{e.message}</p> }
        })
    }
}

#[component]
pub fn StorageLocationsPage() -> impl IntoView {
    let create = ServerAction::<SaveStorageLocation>::new();
    let update = ServerAction::<SaveStorageLocation>::new();
    let delete = ServerAction::<DeleteStorageLocation>::new();
    let page = Resource::new(move || (create.version().get(), update.version().get(), delete.version().get()), |_| list_storage_locations());
    let editing = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(None))) {
            editing.set(None);
        }
    });
    view! {
        <Title text="Storage locations"/>
        <SettingsFrame>
            <div class="space-y-6">
                <p class="text-sm text-slate-700">
                    "Buckets where backups and point-in-time recovery logs are kept. Cairn checks it can write, list, read and delete there before it saves a location."
                </p>
                {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorText message=error_text(&e)/> })}
                <Transition fallback=|| view! { <Loading what="storage locations"/> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Err(e) => view! { <ErrorText message=error_text(&e)/> }.into_any(),
                            Ok(p) => view! {
                                <StorageList rows=p.rows.clone() editing update delete/>
                                {if p.create_namespaces.is_empty() {
                                    view! { <p class="text-sm text-slate-600">"Your role does not allow adding storage locations."</p> }.into_any()
                                } else {
                                    view! { <AddStorage namespaces=p.create_namespaces.clone() create/> }.into_any()
                                }}
                            }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </SettingsFrame>
    }
}

#[component]
fn StorageList(
    rows: Vec<StorageRow>,
    editing: RwSignal<Option<(String, String)>>,
    update: ServerAction<SaveStorageLocation>,
    delete: ServerAction<DeleteStorageLocation>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="card text-slate-600">"No storage location yet. Add one below to back up databases."</p> }.into_any();
    }
    view! {
        <ul aria-label="Storage locations" class="space-y-3">
            {rows.into_iter().map(|r| view! { <StorageItem row=r editing update delete/> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn StorageItem(
    row: StorageRow,
    editing: RwSignal<Option<(String, String)>>,
    update: ServerAction<SaveStorageLocation>,
    delete: ServerAction<DeleteStorageLocation>,
) -> impl IntoView {
    let s = row.storage.clone();
    let ns = s.namespace.clone().unwrap_or_default();
    let key = (ns.clone(), s.name.clone());
    let key2 = key.clone();
    let is_editing = move || editing.get().as_ref() == Some(&key2);
    let kind = s.type_.clone().unwrap_or_default();
    let endpoint = s.url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| match kind.as_str() {
        "s3" => format!("Amazon S3 ({})", s.region.clone().unwrap_or_default()),
        "gcs" => "Google Cloud Storage".into(),
        _ => String::new(),
    });
    let name = s.name.clone();
    let edit_key = key.clone();
    let delete_form = (row.can_delete && !s.in_use).then(|| {
        let (ns, name) = (ns.clone(), name.clone());
        view! {
            <ActionForm action=delete>
                <input type="hidden" name="namespace" value=ns/>
                <input type="hidden" name="name" value=name.clone()/>
                <button type="submit" class="btn-secondary text-red-700" aria-label=format!("Delete {name}")>"Delete"</button>
            </ActionForm>
        }
    });
    view! {
        <li class="card">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h3 class="break-all font-semibold">{name.clone()}</h3>
                    <p class="text-sm text-slate-700">
                        <span class="badge bg-slate-100 text-slate-800">{kind.to_ascii_uppercase()}</span>
                        " " {s.bucket_name.clone().unwrap_or_default()} " · namespace " {ns.clone()}
                    </p>
                    <p class="break-all text-xs text-slate-600">{endpoint}</p>
                    {s.description.clone().filter(|d| !d.is_empty()).map(|d| view! { <p class="text-sm text-slate-700">{d}</p> })}
                    {s.in_use.then(|| view! { <p class="text-xs text-slate-600">"In use by databases or backups: it cannot be deleted."</p> })}
                </div>
                <div class="flex gap-2">
                    {row.can_update.then(|| view! {
                        <button type="button" class="btn-secondary" aria-label=format!("Edit {name}")
                            on:click=move |_| editing.set(Some(edit_key.clone()))>"Edit"</button>
                    })}
                    {delete_form}
                </div>
            </div>
            {move || is_editing().then(|| view! { <div class="mt-4 border-t border-slate-200 pt-4"><EditStorage storage=s.clone() update editing/></div> })}
        </li>
    }
    .into_any()
}

/// The connection fields both forms share.
#[component]
fn ConnectionFields(prefix: &'static str, answer: Answer, current: Option<BackupStorageDto>) -> impl IntoView {
    let editing = current.is_some();
    let c = current.unwrap_or_default();
    let id = move |f: &str| format!("{prefix}{f}");
    let keep = if editing { "empty: keep the stored key" } else { "" };
    view! {
        <div class="grid gap-4 sm:grid-cols-2">
            <div>
                <label for=id("bucket_name") class="field-label">"Bucket (or Azure container)"</label>
                <input id=id("bucket_name") name="bucket_name" type="text" class="field-input" value=c.bucket_name.clone().unwrap_or_default()/>
                {err_view(answer, prefix, "bucket_name")}
            </div>
            <div>
                <label for=id("region") class="field-label">"Region"</label>
                <input id=id("region") name="region" type="text" class="field-input" placeholder="e.g. us-east-1" value=c.region.clone().unwrap_or_default()/>
                {err_view(answer, prefix, "region")}
            </div>
        </div>
        <div>
            <label for=id("url") class="field-label">"Endpoint URL"</label>
            <input id=id("url") name="url" type="text" class="field-input" placeholder="https://s3.example.com" value=c.url.clone().unwrap_or_default()/>
            <p class=HELP>"Empty for Amazon S3. http:// endpoints are reached over plain HTTP."</p>
            {err_view(answer, prefix, "url")}
        </div>
        <div class="grid gap-4 sm:grid-cols-2">
            <div>
                <label for=id("access_key") class="field-label">"Access key (Azure: account name)"</label>
                <input id=id("access_key") name="access_key" type="text" class="field-input" autocomplete="off" placeholder=keep/>
                {err_view(answer, prefix, "access_key")}
            </div>
            <div>
                <label for=id("secret_key") class="field-label">"Secret key (Azure: account key)"</label>
                <input id=id("secret_key") name="secret_key" type="password" class="field-input" autocomplete="new-password" placeholder=keep/>
                <p class=HELP>"GCS: paste the service account's JSON key file (the access key may stay empty), or its private key with the client email as access key. MySQL cannot back up to GCS."</p>
                {err_view(answer, prefix, "secret_key")}
            </div>
        </div>
        <div class="flex flex-wrap gap-x-6 gap-y-2">
            <label class="flex items-center gap-2 text-sm">
                <input id=id("verify_tls") name="verify_tls" type="checkbox" value="on" checked=c.verify_tls.unwrap_or(true)/>
                "Verify TLS certificates"
            </label>
            <label class="flex items-center gap-2 text-sm">
                <input id=id("force_path_style") name="force_path_style" type="checkbox" value="on" checked=c.force_path_style.unwrap_or(false)/>
                "Path-style URLs (most S3-compatible servers)"
            </label>
        </div>
        <div>
            <label for=id("description") class="field-label">"Description"</label>
            <input id=id("description") name="description" type="text" class="field-input" value=c.description.clone().unwrap_or_default()/>
        </div>
    }
}

#[component]
fn AddStorage(namespaces: Vec<String>, create: ServerAction<SaveStorageLocation>) -> impl IntoView {
    let answer: Answer = Signal::derive(move || create.value().get());
    let other = move || create.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let added = move || matches!(create.value().get(), Some(Ok(None)));
    view! {
        <section aria-labelledby="add-storage-title" class="card">
            <h2 id="add-storage-title" class="mb-4 text-lg font-semibold">"Add a storage location"</h2>
            {move || added().then(|| view! { <p role="status" class="mb-2 text-sm text-green-700">"Storage location added."</p> })}
            <ActionForm action=create attr:class="space-y-4">
                <div class="grid gap-4 sm:grid-cols-3">
                    <div>
                        <label for="add-name" class="field-label">"Name"</label>
                        <input id="add-name" name="name" type="text" class="field-input" placeholder="e.g. s3-backups"/>
                        {err_view(answer, "add-", "name")}
                    </div>
                    <div>
                        <label for="add-namespace" class="field-label">"Namespace"</label>
                        <select id="add-namespace" name="namespace" class="field-input">
                            {namespaces.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="add-kind" class="field-label">"Type"</label>
                        <select id="add-kind" name="kind" class="field-input">
                            <option value="s3">"S3 (Amazon or compatible)"</option>
                            <option value="azure">"Azure Blob Storage"</option>
                            <option value="gcs">"Google Cloud Storage"</option>
                        </select>
                        {err_view(answer, "add-", "kind")}
                    </div>
                </div>
                <ConnectionFields prefix="add-" answer current=None/>
                {move || other().map(|e| view! { <ErrorText message=e/> })}
                <button type="submit" class="btn-primary" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Checking access…" } else { "Add storage location" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn EditStorage(storage: BackupStorageDto, update: ServerAction<SaveStorageLocation>, editing: RwSignal<Option<(String, String)>>) -> impl IntoView {
    let answer: Answer = Signal::derive(move || update.value().get());
    let other = move || update.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let label = format!("Edit {}", storage.name);
    view! {
        <ActionForm action=update attr:class="space-y-4" attr:aria-label=label>
            <input type="hidden" name="namespace" value=storage.namespace.clone().unwrap_or_default()/>
            <input type="hidden" name="name" value=storage.name.clone()/>
            <input type="hidden" name="edit" value="on"/>
            <ConnectionFields prefix="edit-" answer current=Some(storage.clone())/>
            {move || other().map(|e| view! { <ErrorText message=e/> })}
            <div class="flex gap-3">
                <button type="submit" class="btn-primary" disabled=move || update.pending().get()>
                    {move || if update.pending().get() { "Checking access…" } else { "Save" }}
                </button>
                <button type="button" class="btn-secondary" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </ActionForm>
    }
}
