//! The Restores tab: the database's restores with their state (live), "Restore" and delete; and the
//! restore dialog the Backups tab shares: from a backup as it was, to the latest restorable moment, or to a
//! point in time inside the window, into this database or into a new one (the create form, prefilled with
//! the backup as its data source). "Restore from a path" restores from a backup in a storage location by its
//! path (a backup of any database, e.g. one deleted since), into this database or a new one.
use crate::app::backup_fns::{DeleteRestore, RestoreBackup, RestoreFromPath};
use crate::app::components::{error_text, use_toasts, Dialog, RelativeTime};
use crate::model::backups::*;
use crate::model::DbDetail;
use leptos::prelude::*;

#[component]
pub fn RestoresTab(d: RwSignal<DbDetail>) -> impl IntoView {
    let v = Memo::new(move |_| d.with(|d| d.backups.clone()));
    let open = RwSignal::new(false);
    let backup = RwSignal::new(String::new());
    let delete = ServerAction::<DeleteRestore>::new();
    let toasts = use_toasts();
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => toasts.info("Restore deleted"),
        Some(Err(e)) => toasts.error(error_text(&e)),
        None => {}
    });
    let why_not = move || {
        v.with(|v| {
            if !v.can_restore {
                Some("Your role does not allow restoring this database.".to_string())
            } else if !v.backups.iter().any(|b| b.state == "Succeeded") {
                Some("There is no successful backup to restore yet.".to_string())
            } else {
                None
            }
        })
    };
    let path_open = RwSignal::new(false);
    // From a path: any storage location of the namespace will do, no backup of this database is needed.
    let path_why_not = move || {
        v.with(|v| {
            if !v.can_restore {
                Some("Your role does not allow restoring this database.".to_string())
            } else if v.storages.is_empty() {
                Some("Add a storage location first (Settings → Storage locations).".to_string())
            } else {
                None
            }
        })
    };
    let ns = d.with_untracked(|d| d.summary.namespace.clone());
    view! {
        <section aria-labelledby="restores-title" class="card">
            <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
                <h2 id="restores-title" class="text-lg font-semibold">"Restores"</h2>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class="btn-secondary" disabled=move || path_why_not().is_some()
                        title=move || path_why_not().unwrap_or_default()
                        on:click=move |_| path_open.set(true)>"Restore from a path"</button>
                    <button type="button" class="btn-primary" disabled=move || why_not().is_some()
                        on:click=move |_| {
                            backup.set(v.with_untracked(|v| v.backups.iter().find(|b| b.state == "Succeeded").map(|b| b.name.clone()).unwrap_or_default()));
                            open.set(true);
                        }>"Restore"</button>
                </div>
            </div>
            {move || why_not().map(|w| view! { <p class="mb-2 text-sm text-slate-600">{w}</p> })}
            {move || {
                let rows = v.with(|v| v.restores.clone());
                if rows.is_empty() {
                    return view! { <p class="text-sm text-slate-600">"No restores yet."</p> }.into_any();
                }
                let ns = ns.clone();
                view! {
                    <ul aria-label="Restores" class="divide-y divide-slate-200">
                        {rows.into_iter().map(|r| view! { <RestoreItem r ns=ns.clone() delete/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <RestoreDialog d open backup/>
        <Dialog open=path_open title="Restore from a path" id="path-restore-dialog">
            <PathRestoreForm d open=path_open/>
        </Dialog>
    }
    .into_any()
}

/// The end of both restore dialogs: "Into" this database (unless `blocked` says why not) or a new one, and
/// Cancel / Restore ("Continue" for a new one: the create form opens).
#[component]
fn IntoAndButtons(prefix: &'static str, target: RwSignal<String>, blocked: Option<String>, open: RwSignal<bool>, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    let radio = move |value: &'static str, label: &'static str, enabled: bool| {
        let id = format!("{prefix}-target-{value}");
        view! {
            <label for=id.clone() class="flex items-start gap-2 text-sm" class=("text-slate-500", !enabled)>
                <input id=id.clone() type="radio" name=format!("{prefix}-target") value=value disabled=!enabled prop:checked=move || target.get() == value
                    on:change=move |_| target.set(value.to_string())/>
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="space-y-2">
            <legend class="field-label">"Into"</legend>
            {radio("this", "This database (its current data is replaced)", blocked.is_none())}
            {blocked.clone().map(|b| view! { <p class="ml-6 text-xs text-slate-600">{b}</p> })}
            {radio("new", "A new database (opens the create form)", true)}
        </fieldset>
        <div class="flex justify-end gap-2">
            <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
            <button type="submit" class="btn-primary" disabled=move || pending.get()>
                {move || if target.get() == "new" { "Continue" } else { "Restore" }}
            </button>
        </div>
    }
    .into_any()
}

/// A restore dialog's outcome: started (a toast, the dialog closes), or failed (the error as a toast; a
/// refused input stays in the dialog, beside the input).
fn close_once_started(value: impl Fn() -> Option<Result<Option<crate::model::FieldError>, ServerFnError>> + Send + Sync + 'static, open: RwSignal<bool>) {
    let toasts = use_toasts();
    Effect::new(move |_| match value() {
        Some(Ok(None)) => {
            toasts.info("Restore started: the database shows Restoring until it is done");
            open.set(false);
        }
        Some(Err(e)) => toasts.error(error_text(&e)),
        _ => {}
    });
}

/// A backup in a storage location, by its path: which storage, which path, into this database or a new one.
#[component]
fn PathRestoreForm(d: RwSignal<DbDetail>, open: RwSignal<bool>) -> impl IntoView {
    let action = ServerAction::<RestoreFromPath>::new();
    close_once_started(move || action.value().get(), open);
    let (ns, name, engine) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone(), d.summary.engine.clone()));
    let v = d.with_untracked(|d| d.backups.clone());
    let storage = RwSignal::new(v.storages.first().cloned().unwrap_or_default());
    let path = RwSignal::new(String::new());
    // No window is known for a path (its database may be gone): any moment, checked by the operator against
    // the logs in the storage.
    let point = RwSignal::new("backup".to_string());
    let date = RwSignal::new(String::new());
    let target = RwSignal::new(if v.restore_blocked.is_some() { "new" } else { "this" }.to_string());
    let blocked = v.restore_blocked.clone();
    // A refusal of the form itself (before the server is asked) or the server's, beside its input.
    let local = RwSignal::new(None::<crate::model::FieldError>);
    let error_for = move |field: &'static str| {
        move || {
            local.get().or_else(|| action.value().get().and_then(|r| r.ok().flatten())).filter(|e| e.field == field).map(|e| {
                view! { <p role="alert" id=format!("path-restore-{field}-error") class="field-error">{e.message}</p> }
            })
        }
    };
    let navigate = leptos_router::hooks::use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (s, p) = (storage.get_untracked(), path.get_untracked().trim().to_string());
        if p.is_empty() {
            local.set(Some(crate::model::FieldError { field: "path".into(), message: "enter the backup's path in the storage location".into() }));
            return;
        }
        let (at, when) = (point.get_untracked(), date.get_untracked());
        if at == "date" && when.is_empty() {
            local.set(Some(crate::model::FieldError { field: "date".into(), message: "choose the point in time (UTC) to restore to".into() }));
            return;
        }
        local.set(None);
        if target.get_untracked() == "new" {
            let q = crate::model::percent_encode;
            let mut url = format!("/databases/new?namespace={}&engine={}&from_storage={}&from_path={}", q(&ns), q(&engine), q(&s), q(&p));
            if at != "backup" {
                url.push_str(&format!("&from_pitr_type={}", q(&at)));
            }
            if at == "date" {
                url.push_str(&format!("&from_pitr_date={}", q(&when)));
            }
            navigate(&url, Default::default());
        } else {
            let date = (at == "date").then_some(when);
            action.dispatch(RestoreFromPath { namespace: ns.clone(), name: name.clone(), storage: s, path: p, point: at, date });
        }
    };
    view! {
        <form on:submit=submit class="space-y-4" novalidate>
            <div>
                <label for="path-restore-storage" class="field-label">"Storage location"</label>
                <select id="path-restore-storage" class="field-input" aria-describedby="path-restore-storage-error"
                    on:change=move |ev| storage.set(event_target_value(&ev))>
                    {v.storages.iter().map(|s| {
                        let s2 = s.clone();
                        view! { <option value=s.clone() selected=move || storage.get() == s2>{s.clone()}</option> }
                    }).collect_view()}
                </select>
                {error_for("storage")}
            </div>
            <div>
                <label for="path-restore-path" class="field-label">"Backup path"</label>
                <input id="path-restore-path" type="text" class="field-input font-mono text-sm" autocomplete="off"
                    placeholder="s3://bucket/db/backup" aria-describedby="path-restore-path-help path-restore-path-error"
                    prop:value=move || path.get() on:input=move |ev| path.set(event_target_value(&ev))/>
                <p id="path-restore-path-help" class="mt-1 text-xs text-slate-600">
                    "The backup's location as a Backups tab shows it (s3://bucket/…), or its path inside the bucket."
                </p>
                {error_for("path")}
            </div>
            <fieldset class="space-y-2">
                <legend class="field-label">"Restore to"</legend>
                {[("backup", "The moment of the backup"), ("latest", "The latest moment its logs reach (point-in-time recovery)"), ("date", "A chosen moment (UTC)")]
                    .into_iter()
                    .map(|(value, label)| {
                        let id = format!("path-restore-point-{value}");
                        view! {
                            <label for=id.clone() class="flex items-start gap-2 text-sm">
                                <input id=id.clone() type="radio" name="path-restore-point" value=value prop:checked=move || point.get() == value
                                    on:change=move |_| point.set(value.to_string())/>
                                {label}
                            </label>
                        }
                    })
                    .collect_view()}
                <Show when=move || point.get() == "date">
                    <div>
                        <label for="path-restore-date" class="field-label">"Moment to restore to (UTC)"</label>
                        <input id="path-restore-date" type="datetime-local" step="1" class="field-input" aria-describedby="path-restore-date-help path-restore-date-error"
                            prop:value=move || date.get() on:input=move |ev| date.set(event_target_value(&ev))/>
                        <p id="path-restore-date-help" class="mt-1 text-xs text-slate-600">
                            "Read from the logs point-in-time recovery uploaded beside the backup (its database must have had it on); the restore fails if they do not reach that moment."
                        </p>
                        {error_for("date")}
                    </div>
                </Show>
            </fieldset>
            <IntoAndButtons prefix="path-restore" target blocked=blocked.clone() open pending=action.pending()/>
        </form>
    }
    .into_any()
}

#[component]
fn RestoreItem(r: RestoreRow, ns: String, delete: ServerAction<DeleteRestore>) -> impl IntoView {
    let point = match r.point_in_time.as_str() {
        "" => "as backed up".to_string(),
        "latest" => "to the latest restorable moment".to_string(),
        t => format!("to {}", parse_utc(t).map(format_utc).unwrap_or_else(|| t.to_string())),
    };
    let state = if r.state.is_empty() { "Waiting".to_string() } else { r.state.clone() };
    let name = r.name.clone();
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-3">
            <div class="min-w-0">
                <p class="flex flex-wrap items-center gap-2">
                    <span class="break-all font-medium">{r.name.clone()}</span>
                    <span class=state_badge_class(&r.state)>{state}</span>
                </p>
                <p class="text-sm text-slate-700">{format!("From {} {point}", r.source)}</p>
                <p class="text-xs text-slate-600">"Started " <RelativeTime unix=r.created/> " · finished " <RelativeTime unix=r.completed/></p>
                {(!r.message.is_empty()).then(|| view! { <p class="mt-1 text-sm text-red-800">{r.message.clone()}</p> })}
            </div>
            {r.can_delete.then(|| view! {
                <button type="button" class="btn-secondary text-red-700" aria-label=format!("Delete {name}")
                    on:click={ let (ns, n) = (ns.clone(), name.clone()); move |_| { delete.dispatch(DeleteRestore { namespace: ns.clone(), restore: n.clone() }); } }>
                    "Delete"
                </button>
            })}
        </li>
    }
    .into_any()
}

/// The restore dialog (Backups and Restores tabs): which backup, which moment, where to.
#[component]
pub fn RestoreDialog(d: RwSignal<DbDetail>, open: RwSignal<bool>, backup: RwSignal<String>) -> impl IntoView {
    view! {
        <Dialog open title="Restore" id="restore-dialog">
            <RestoreForm d open backup/>
        </Dialog>
    }
    .into_any()
}

#[component]
fn RestoreForm(d: RwSignal<DbDetail>, open: RwSignal<bool>, backup: RwSignal<String>) -> impl IntoView {
    let action = ServerAction::<RestoreBackup>::new();
    close_once_started(move || action.value().get(), open);
    let (ns, name, engine) = d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone(), d.summary.engine.clone()));
    let v = d.with_untracked(|d| d.backups.clone());
    let point = RwSignal::new("backup".to_string());
    let target = RwSignal::new(if v.restore_blocked.is_some() { "new" } else { "this" }.to_string());
    let window = v.pitr_window.clone();
    let (min, max) = window.as_ref().map(|w| (datetime_local(w.earliest), datetime_local(w.latest))).unwrap_or_default();
    let date = RwSignal::new(max.clone());
    let has_pitr = v.pitr_enabled;
    let blocked = v.restore_blocked.clone();
    let backups: Vec<String> = v.backups.iter().filter(|b| b.state == "Succeeded").map(|b| b.name.clone()).collect();
    let field_error = move || action.value().get().and_then(|r| r.ok().flatten()).map(|e| e.message);
    let navigate = leptos_router::hooks::use_navigate();
    let (ns2, engine2) = (ns.clone(), engine.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = point.get_untracked();
        if target.get_untracked() == "new" {
            let mut url = format!("/databases/new?namespace={ns2}&engine={engine2}&from_backup={}", backup.get_untracked());
            if p != "backup" {
                url.push_str(&format!("&from_pitr_type={p}"));
            }
            if p == "date" {
                url.push_str(&format!("&from_pitr_date={}", date.get_untracked()));
            }
            navigate(&url, Default::default());
        } else {
            action.dispatch(RestoreBackup {
                namespace: ns.clone(),
                name: name.clone(),
                backup: backup.get_untracked(),
                point: p.clone(),
                date: (p == "date").then(|| date.get_untracked()),
            });
        }
    };
    let radio = move |group: &'static str, sig: RwSignal<String>, value: &'static str, label: &'static str, enabled: bool| {
        let id = format!("restore-{group}-{value}");
        view! {
            <label for=id.clone() class="flex items-start gap-2 text-sm" class=("text-slate-500", !enabled)>
                <input id=id.clone() type="radio" name=group value=value disabled=!enabled prop:checked=move || sig.get() == value
                    on:change=move |_| sig.set(value.to_string())/>
                {label}
            </label>
        }
    };
    view! {
        <form on:submit=submit class="space-y-4">
            <div>
                <label for="restore-backup" class="field-label">"Backup"</label>
                <select id="restore-backup" class="field-input" on:change=move |ev| backup.set(event_target_value(&ev))>
                    {backups.into_iter().map(|b| {
                        let b2 = b.clone();
                        view! { <option value=b.clone() selected=move || backup.get() == b2>{b.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <fieldset class="space-y-2">
                <legend class="field-label">"Restore to"</legend>
                {radio("point", point, "backup", "The moment of the backup", true)}
                {radio("point", point, "latest", "The latest restorable moment (point-in-time recovery)", has_pitr)}
                {radio("point", point, "date", "A point in time inside the window (UTC)", window.is_some())}
                <Show when=move || point.get() == "date">
                    <div>
                        <label for="restore-date" class="field-label">"Point in time (UTC)"</label>
                        <input id="restore-date" type="datetime-local" step="1" class="field-input" min=min.clone() max=max.clone()
                            prop:value=move || date.get() on:input=move |ev| date.set(event_target_value(&ev))/>
                        {window.clone().map(|w| view! { <p class="mt-1 text-xs text-slate-600">{format!("Window: {} to {}", format_utc(w.earliest), format_utc(w.latest))}</p> })}
                        {move || field_error().map(|e| view! { <p role="alert" class="field-error">{e}</p> })}
                    </div>
                </Show>
            </fieldset>
            <IntoAndButtons prefix="restore" target blocked=blocked.clone() open pending=action.pending()/>
        </form>
    }
    .into_any()
}
