//! The Backups tab: the database's backups (name, state, started, finished, storage, size) with "Back up
//! now", restore and delete per backup; its schedules (add, edit, disable, delete) with the frequency
//! picker; point-in-time recovery on/off with its storage and the restorable window. Everything comes from
//! the page's live data (the database's event stream), so states change on screen without a reload.
use super::restores::RestoreDialog;
use crate::app::backup_fns::{BackUpNow, DeleteBackup, DeleteSchedule, SaveSchedule, SetPitr, SetScheduleEnabled};
use crate::app::components::frequency::FrequencyPicker;
use crate::app::components::time::now_secs;
use crate::app::components::{error_text, use_toasts, Dialog, RelativeTime};
use crate::model::backups::*;
use crate::model::{DbDetail, FieldError};
use leptos::prelude::*;

#[component]
pub fn BackupsTab(d: RwSignal<DbDetail>) -> impl IntoView {
    let v = Memo::new(move |_| d.with(|d| d.backups.clone()));
    let restore_open = RwSignal::new(false);
    let restore_from = RwSignal::new(String::new());
    view! {
        <div class="space-y-4">
            <BackupList d v restore_open restore_from/>
            <Schedules d v/>
            <PitrCard d v/>
        </div>
        <RestoreDialog d open=restore_open backup=restore_from/>
    }
    .into_any()
}

fn ids(d: RwSignal<DbDetail>) -> (String, String) {
    d.with_untracked(|d| (d.summary.namespace.clone(), d.summary.name.clone()))
}

/// A server action's outcome as a toast (`ok` on success); returns nothing.
fn toast_outcome<T: Clone + Send + Sync + 'static>(value: impl Get<Value = Option<Result<T, ServerFnError>>> + 'static, ok: impl Fn(&T) -> Option<String> + 'static) {
    let toasts = use_toasts();
    Effect::new(move |_| match value.get() {
        Some(Ok(x)) => {
            if let Some(m) = ok(&x) {
                toasts.info(m)
            }
        }
        Some(Err(e)) => toasts.error(error_text(&e)),
        None => {}
    });
}

#[component]
fn BackupList(d: RwSignal<DbDetail>, v: Memo<BackupsView>, restore_open: RwSignal<bool>, restore_from: RwSignal<String>) -> impl IntoView {
    let now_open = RwSignal::new(false);
    let delete_open = RwSignal::new(false);
    let deleting = RwSignal::new(String::new());
    let why_not = move || {
        v.with(|v| {
            if !v.can_backup {
                Some("Your role does not allow backing up this database.")
            } else if v.storages.is_empty() {
                Some("Add a storage location first (Settings → Storage locations).")
            } else {
                None
            }
        })
    };
    view! {
        <section aria-labelledby="backups-title" class="card">
            <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
                <h2 id="backups-title" class="text-lg font-semibold">"Backups"</h2>
                <button type="button" class="btn-primary" disabled=move || why_not().is_some()
                    aria-describedby=move || why_not().map(|_| "backup-now-why") on:click=move |_| now_open.set(true)>
                    "Back up now"
                </button>
            </div>
            {move || why_not().map(|w| view! { <p id="backup-now-why" class="mb-2 text-sm text-slate-600">{w}</p> })}
            {move || {
                let rows = v.with(|v| v.backups.clone());
                if rows.is_empty() {
                    return view! { <p class="text-sm text-slate-600">"No backups yet."</p> }.into_any();
                }
                view! {
                    <ul aria-label="Backups" class="divide-y divide-slate-200">
                        {rows.into_iter().map(|b| view! { <BackupItem b v restore_open restore_from delete_open deleting/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <Dialog open=now_open title="Back up now" id="backup-now">
            <BackUpNowForm d v open=now_open/>
        </Dialog>
        <Dialog open=delete_open title="Delete backup" id="delete-backup">
            <DeleteBackupForm d name=deleting open=delete_open/>
        </Dialog>
    }
    .into_any()
}

#[component]
fn BackupItem(
    b: BackupRow,
    v: Memo<BackupsView>,
    restore_open: RwSignal<bool>,
    restore_from: RwSignal<String>,
    delete_open: RwSignal<bool>,
    deleting: RwSignal<String>,
) -> impl IntoView {
    let restorable = b.state == "Succeeded";
    let can_restore = move || v.with(|v| v.can_restore) && restorable;
    let (n1, n2) = (b.name.clone(), b.name.clone());
    let label = b.name.clone();
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-3">
            <div class="min-w-0">
                <p class="flex flex-wrap items-center gap-2">
                    <span class="break-all font-medium">{b.name.clone()}</span>
                    <span class=state_badge_class(&b.state)>{backup_state_label(&b.state).to_string()}</span>
                </p>
                <dl class="mt-1 grid grid-cols-[auto_1fr] gap-x-3 text-sm text-slate-700 sm:grid-cols-[auto_1fr_auto_1fr]">
                    <dt class="text-slate-600">"Started"</dt><dd><RelativeTime unix=b.started/></dd>
                    <dt class="text-slate-600">"Finished"</dt><dd><RelativeTime unix=b.finished/></dd>
                    <dt class="text-slate-600">"Storage"</dt><dd class="break-all">{b.storage.clone()}</dd>
                    <dt class="text-slate-600">"Size"</dt><dd>{if b.size.is_empty() { "—".to_string() } else { b.size.clone() }}</dd>
                    {(!b.location.is_empty()).then(|| view! {
                        <dt class="text-slate-600">"Location"</dt><dd class="break-all font-mono text-xs sm:col-span-3" data-testid="backup-location">{b.location.clone()}</dd>
                    })}
                </dl>
                {(!b.message.is_empty()).then(|| view! { <p class="mt-1 text-sm text-red-800">{b.message.clone()}</p> })}
            </div>
            <div class="flex gap-2">
                <Show when=can_restore>
                    <button type="button" class="btn-secondary" aria-label=format!("Restore from {label}")
                        on:click={ let n = n1.clone(); move |_| { restore_from.set(n.clone()); restore_open.set(true); } }>"Restore"</button>
                </Show>
                <Show when=move || v.with(|v| v.can_backup) && !b.in_use>
                    <button type="button" class="btn-secondary text-red-700" aria-label=format!("Delete {}", n2.clone())
                        on:click={ let n = n2.clone(); move |_| { deleting.set(n.clone()); delete_open.set(true); } }>"Delete"</button>
                </Show>
            </div>
        </li>
    }
    .into_any()
}

#[component]
fn BackUpNowForm(d: RwSignal<DbDetail>, v: Memo<BackupsView>, open: RwSignal<bool>) -> impl IntoView {
    let action = ServerAction::<BackUpNow>::new();
    toast_outcome(action.value(), |name: &String| Some(format!("Backup {name} started")));
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            open.set(false);
        }
    });
    let (ns, name) = ids(d);
    let storages = v.with_untracked(|v| v.storages.clone());
    let preferred = v.with_untracked(|v| v.schedules.first().map(|s| s.storage.clone()).or_else(|| Some(v.pitr_storage.clone()).filter(|s| !s.is_empty())));
    view! {
        <ActionForm action attr:class="space-y-4">
            <input type="hidden" name="namespace" value=ns/>
            <input type="hidden" name="name" value=name/>
            <div>
                <label for="backup-now-storage" class="field-label">"Storage location"</label>
                <select id="backup-now-storage" name="storage" class="field-input">
                    {storages.into_iter().map(|s| {
                        let selected = preferred.as_ref() == Some(&s);
                        view! { <option value=s.clone() selected=selected>{s.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="flex justify-end gap-2">
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-primary" disabled=move || action.pending().get()>"Start backup"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn DeleteBackupForm(d: RwSignal<DbDetail>, name: RwSignal<String>, open: RwSignal<bool>) -> impl IntoView {
    let action = ServerAction::<DeleteBackup>::new();
    toast_outcome(action.value(), |_: &()| Some("Backup deleted".into()));
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            open.set(false);
        }
    });
    let (ns, _) = ids(d);
    let keep = RwSignal::new(true);
    view! {
        <ActionForm action attr:class="space-y-4">
            <input type="hidden" name="namespace" value=ns/>
            <input type="hidden" name="backup" value=move || name.get()/>
            <p class="text-sm text-slate-700">"Delete backup " <strong class="break-all">{move || name.get()}</strong> "?"</p>
            <div class="flex items-start gap-2">
                <input id="delete-backup-data" type="checkbox" class="mt-1" prop:checked=move || !keep.get()
                    on:change=move |ev| keep.set(!event_target_checked(&ev))/>
                <label for="delete-backup-data" class="text-sm">
                    "Also delete its data in the storage"
                    <span class="block text-xs text-slate-600">"Unchecked: the data stays in the bucket."</span>
                </label>
            </div>
            <input type="hidden" name="delete_data" value=move || if keep.get() { "off" } else { "on" }/>
            <div class="flex justify-end gap-2">
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-danger" disabled=move || action.pending().get()>"Delete backup"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn Schedules(d: RwSignal<DbDetail>, v: Memo<BackupsView>) -> impl IntoView {
    let save = ServerAction::<SaveSchedule>::new();
    let toggle = ServerAction::<SetScheduleEnabled>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    toast_outcome(save.value(), |r: &Option<FieldError>| r.is_none().then(|| "Schedule saved".to_string()));
    toast_outcome(toggle.value(), |_: &()| Some("Schedule updated".into()));
    toast_outcome(delete.value(), |_: &()| Some("Schedule deleted".into()));
    let open = RwSignal::new(false);
    let editing = RwSignal::new(None::<ScheduleView>);
    let may = move || v.with(|v| v.can_backup && v.can_update && !v.storages.is_empty());
    let (ns, name) = ids(d);
    view! {
        <section aria-labelledby="schedules-title" class="card">
            <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
                <h2 id="schedules-title" class="text-lg font-semibold">"Schedules"</h2>
                <button type="button" class="btn-secondary" disabled=move || !may()
                    on:click=move |_| { editing.set(None); open.set(true); }>"Add schedule"</button>
            </div>
            {move || {
                let list = v.with(|v| v.schedules.clone());
                if list.is_empty() {
                    return view! { <p class="text-sm text-slate-600">"No scheduled backups."</p> }.into_any();
                }
                let (ns, name) = (ns.clone(), name.clone());
                view! {
                    <ul aria-label="Schedules" class="divide-y divide-slate-200">
                        {list.into_iter().map(|s| view! {
                            <ScheduleItem s ns=ns.clone() db=name.clone() may=Signal::derive(may) toggle delete open editing/>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <Dialog open title="Backup schedule" id="schedule-dialog">
            <ScheduleForm d v save open editing/>
        </Dialog>
    }
    .into_any()
}

#[component]
fn ScheduleItem(
    s: ScheduleView,
    ns: String,
    db: String,
    may: Signal<bool>,
    toggle: ServerAction<SetScheduleEnabled>,
    delete: ServerAction<DeleteSchedule>,
    open: RwSignal<bool>,
    editing: RwSignal<Option<ScheduleView>>,
) -> impl IntoView {
    let runs = Frequency::parse(&s.schedule).map(|f| f.next_runs(now_secs(), 3).into_iter().map(format_utc).collect::<Vec<_>>().join(", "));
    let (ns2, db2, n2) = (ns.clone(), db.clone(), s.name.clone());
    let enabled = s.enabled;
    let edit = s.clone();
    let label = s.name.clone();
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-3">
            <div class="min-w-0">
                <p class="flex flex-wrap items-center gap-2">
                    <span class="break-all font-medium">{s.name.clone()}</span>
                    <span class=if enabled { "badge bg-green-100 text-green-800" } else { "badge bg-slate-100 text-slate-700" }>
                        {if enabled { "Enabled" } else { "Disabled" }}
                    </span>
                </p>
                <p class="text-sm text-slate-800">{describe_cron(&s.schedule)}</p>
                {runs.filter(|_| enabled).map(|r| view! { <p class="text-xs text-slate-600">"Next: " {r}</p> })}
                <p class="text-xs text-slate-600">
                    {format!("Keeps {} · storage {}", if s.retention_copies > 0 { format!("{} copies", s.retention_copies) } else { "every copy".into() }, s.storage)}
                </p>
            </div>
            <Show when=move || may.get()>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class="btn-secondary" aria-label=format!("{} {label}", if enabled { "Disable" } else { "Enable" })
                        on:click={ let (ns, db, n) = (ns.clone(), db.clone(), s.name.clone());
                            move |_| { toggle.dispatch(SetScheduleEnabled { namespace: ns.clone(), name: db.clone(), schedule: n.clone(), enabled: !enabled }); } }>
                        {if enabled { "Disable" } else { "Enable" }}
                    </button>
                    <button type="button" class="btn-secondary" aria-label=format!("Edit {}", n2.clone())
                        on:click={ let e = edit.clone(); move |_| { editing.set(Some(e.clone())); open.set(true); } }>"Edit"</button>
                    <button type="button" class="btn-secondary text-red-700" aria-label=format!("Delete {}", n2.clone())
                        on:click={ let (ns, db, n) = (ns2.clone(), db2.clone(), n2.clone());
                            move |_| { delete.dispatch(DeleteSchedule { namespace: ns.clone(), name: db.clone(), schedule: n.clone() }); } }>"Delete"</button>
                </div>
            </Show>
        </li>
    }
    .into_any()
}

/// Add or edit a schedule: its name, the frequency picker, the copies to keep and the storage.
#[component]
fn ScheduleForm(d: RwSignal<DbDetail>, v: Memo<BackupsView>, save: ServerAction<SaveSchedule>, open: RwSignal<bool>, editing: RwSignal<Option<ScheduleView>>) -> impl IntoView {
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(None))) {
            open.set(false);
        }
    });
    let error = Signal::derive(move || save.value().get().and_then(|r| r.ok().flatten()));
    let err = move |field: &'static str| {
        move || error.get().filter(|e| e.field == field).map(|e| view! { <p role="alert" id=format!("sched-{field}-error") class="field-error">{e.message}</p> })
    };
    let (ns, name) = ids(d);
    let cur = editing.get_untracked();
    let storages = v.with_untracked(|v| v.storages.clone());
    let cur_storage = cur.as_ref().map(|c| c.storage.clone());
    view! {
        <ActionForm action=save attr:class="space-y-4">
            <input type="hidden" name="namespace" value=ns/>
            <input type="hidden" name="name" value=name/>
            <input type="hidden" name="replaces" value=cur.as_ref().map(|c| c.name.clone()).unwrap_or_default()/>
            <div>
                <label for="sched-schedule_name" class="field-label">"Name"</label>
                <input id="sched-schedule_name" name="schedule_name" type="text" class="field-input" placeholder="e.g. nightly"
                    value=cur.as_ref().map(|c| c.name.clone()).unwrap_or_default()/>
                {err("schedule_name")}
            </div>
            <FrequencyPicker prefix="sched-" initial=cur.as_ref().and_then(|c| Frequency::parse(&c.schedule)).unwrap_or(Frequency::Daily { hour: 0, minute: 0 }) error/>
            <div class="grid gap-4 sm:grid-cols-2">
                <div>
                    <label for="sched-schedule_retention" class="field-label">"Copies to keep"</label>
                    <input id="sched-schedule_retention" name="schedule_retention" type="number" min="0" class="field-input"
                        value=cur.as_ref().map(|c| c.retention_copies.to_string()).unwrap_or_else(|| "7".into())/>
                    <p class="mt-1 text-xs text-slate-600">"0 keeps every copy."</p>
                    {err("schedule_retention")}
                </div>
                <div>
                    <label for="sched-schedule_storage" class="field-label">"Storage location"</label>
                    <select id="sched-schedule_storage" name="schedule_storage" class="field-input">
                        {storages.into_iter().map(|s| {
                            let selected = cur_storage.as_ref() == Some(&s);
                            view! { <option value=s.clone() selected=selected>{s.clone()}</option> }
                        }).collect_view()}
                    </select>
                    {err("schedule_storage")}
                </div>
            </div>
            <label class="flex items-center gap-2 text-sm">
                <input type="checkbox" name="schedule_enabled" value="on" checked=cur.as_ref().is_none_or(|c| c.enabled)/>
                "Enabled"
            </label>
            {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p role="alert" class="field-error">{error_text(&e)}</p> })}
            <div class="flex justify-end gap-2">
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-primary" disabled=move || save.pending().get()>"Save schedule"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn PitrCard(d: RwSignal<DbDetail>, v: Memo<BackupsView>) -> impl IntoView {
    let action = ServerAction::<SetPitr>::new();
    toast_outcome(action.value(), |r: &Option<FieldError>| r.is_none().then(|| "Point-in-time recovery updated".to_string()));
    let (ns, name) = ids(d);
    let (ns, name) = (StoredValue::new(ns), StoredValue::new(name));
    let on = RwSignal::new(v.with_untracked(|v| v.pitr_enabled));
    Effect::new(move |_| on.set(v.with(|v| v.pitr_enabled)));
    let may = move || v.with(|v| v.can_backup && v.can_update);
    let error = move || action.value().get().and_then(|r| r.ok().flatten()).map(|e| e.message).or_else(|| action.value().get().and_then(|r| r.err()).map(|e| error_text(&e)));
    view! {
        <section aria-labelledby="pitr-title" class="card">
            <h2 id="pitr-title" class="mb-2 text-lg font-semibold">"Point-in-time recovery"</h2>
            <p class="text-sm text-slate-700">
                {move || v.with(|v| if v.pitr_enabled {
                    format!("On: the database's logs go to {} continuously, so it can be restored to any moment of the window.", v.pitr_storage)
                } else {
                    "Off: restores bring back a backup as it was taken.".to_string()
                })}
            </p>
            <p class="mt-1 text-sm text-slate-700">
                {move || v.with(|v| match (&v.pitr_window, v.pitr_enabled) {
                    (Some(w), _) => format!("Restorable window: {} to {}{}", format_utc(w.earliest), format_utc(w.latest), if w.gaps { " (the logs have gaps)" } else { "" }),
                    (None, true) => "No restorable window yet: it starts with the first successful backup.".to_string(),
                    (None, false) => String::new(),
                })}
            </p>
            <Show when=may fallback=|| view! { <p class="mt-2 text-xs text-slate-600">"Your role does not allow changing backups of this database."</p> }>
                <ActionForm action attr:class="mt-3 flex flex-wrap items-end gap-3">
                    <input type="hidden" name="namespace" value=ns.get_value()/>
                    <input type="hidden" name="name" value=name.get_value()/>
                    <label class="flex items-center gap-2 text-sm">
                        <input id="pitr-on" type="checkbox" name="pitr" value="on" prop:checked=move || on.get()
                            on:change=move |ev| on.set(event_target_checked(&ev))/>
                        "Enable point-in-time recovery"
                    </label>
                    <div class="min-w-48">
                        <label for="pitr-storage" class="field-label">"Storage for the logs"</label>
                        <select id="pitr-storage" name="pitr_storage" class="field-input">
                            {move || v.with(|v| {
                                let cur = v.pitr_storage.clone();
                                v.storages.iter().map(|s| view! { <option value=s.clone() selected=*s == cur>{s.clone()}</option> }).collect_view()
                            })}
                        </select>
                    </div>
                    <button type="submit" class="btn-secondary" disabled=move || action.pending().get()>"Save"</button>
                </ActionForm>
                {move || error().map(|e| view! { <p role="alert" class="field-error">{e}</p> })}
            </Show>
        </section>
    }
    .into_any()
}
