//! A database's actions menu (on its row in the list and on its page): suspend/resume, restart, delete.
//! Each is disabled, with the reason beside it, while the database's state or the user's role forbids it;
//! a database being deleted offers none. Restart and delete ask first; toasts confirm.
use super::menu::{MenuButton, MenuFrame, MenuPanel};
use super::{error_text, use_toasts, Dialog};
use crate::app::server_fns::{DeleteDatabase, RestartDatabase, SetDatabasePaused};
use crate::model::{action_availability, DbSummary};
use leptos::prelude::*;

/// The menu's button is rendered with the row; its items, the dialogs and the server actions behind them are
/// a separate wasm chunk ([`actions_menu`]), fetched the first time a menu is opened: a list page shows 50
/// rows and most visits open none of their menus.
#[component]
pub fn DatabaseActions(
    db: Signal<DbSummary>,
    /// Where to go once the delete was accepted (the page goes back to the list; the list stays).
    #[prop(optional, into)]
    after_delete: Option<String>,
    /// In a table row: a narrow button on phones.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    let loaded = RwSignal::new(false);
    let name = db.with_untracked(|d| d.name.clone());
    let label = format!("Actions for {name}");
    let context = ActionsContext { db, open, after_delete };
    view! {
        <MenuFrame open button>
            <Show when=move || !db.with(|d| d.deleting || d.status == "deleting")
                fallback=|| view! { <span class="text-sm text-slate-600">"Being deleted"</span> }>
                <MenuButton open button label=label.clone() button_text="Actions" compact=compact
                    on_click=Callback::new(move |()| loaded.set(true))/>
            </Show>
            // Outside the Show: a delete's result (its toast, the page's way back to the list) still arrives
            // when the live data already says "deleting".
            {move || loaded.get().then(|| {
                let context = context.clone();
                view! {
                    <Suspense fallback=move || view! {
                        <MenuPanel open><p class="px-3 py-2 text-sm text-slate-600">"Loading…"</p></MenuPanel>
                    }>
                        {Suspend::new(actions_menu(context))}
                    </Suspense>
                }
            })}
        </MenuFrame>
    }
    .into_any()
}

/// What the lazily loaded part of [`DatabaseActions`] works on.
#[derive(Clone)]
pub struct ActionsContext {
    db: Signal<DbSummary>,
    /// Whether the menu is open.
    open: RwSignal<bool>,
    after_delete: Option<String>,
}

/// The menu's items (suspend/resume, restart, delete), the restart and delete dialogs, and their server
/// actions with the toasts of their results.
#[leptos::lazy]
fn actions_menu(context: ActionsContext) -> AnyView {
    let ActionsContext { db, open, after_delete } = context;
    let toasts = use_toasts();
    let pause = ServerAction::<SetDatabasePaused>::new();
    let restart = ServerAction::<RestartDatabase>::new();
    let delete = ServerAction::<DeleteDatabase>::new();
    let restart_open = RwSignal::new(false);
    let delete_open = RwSignal::new(false);
    let avail = Memo::new(move |_| db.with(action_availability));
    let name = db.with_untracked(|d| d.name.clone());
    let namespace = db.with_untracked(|d| d.namespace.clone());
    let id = format!("{namespace}-{name}");

    // Toasts for the results (what was asked is remembered: the live data may already show the change).
    let asked_pause = StoredValue::new(false);
    Effect::new(move |_| match pause.value().get() {
        Some(Ok(())) => toasts.info(if asked_pause.get_value() { "Suspend requested" } else { "Resume requested" }),
        Some(Err(e)) => toasts.error(error_text(&e)),
        None => {}
    });
    Effect::new(move |_| match restart.value().get() {
        Some(Ok(())) => toasts.info("Restart requested: the database stops and starts again"),
        Some(Err(e)) => toasts.error(error_text(&e)),
        None => {}
    });
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => {
            toasts.info("Delete requested");
            delete_open.set(false);
            if let Some(to) = &after_delete {
                navigate(to, Default::default());
            }
        }
        Some(Err(e)) => toasts.error(error_text(&e)),
        None => {}
    });

    let why = move |f: fn(&crate::model::ActionAvailability) -> &Result<(), String>| Signal::derive(move || f(&avail.get()).clone().err());
    let (ns2, name2) = (namespace.clone(), name.clone());
    let do_pause = Callback::new(move |()| {
        let paused = !db.with_untracked(|d| d.paused);
        asked_pause.set_value(paused);
        pause.dispatch(SetDatabasePaused { namespace: ns2.clone(), name: name2.clone(), paused });
    });
    let pause_label = Signal::derive(move || if db.with(|d| d.paused) { "Resume" } else { "Suspend" });
    // Copy handles, so the menu's content can be rendered again and again.
    let (pause_why, restart_why, delete_why) =
        (StoredValue::new(format!("{id}-pause-why")), StoredValue::new(format!("{id}-restart-why")), StoredValue::new(format!("{id}-delete-why")));
    let (restart_title, restart_id) = (format!("Restart {name}?"), format!("{id}-restart"));
    let (delete_title, delete_id) = (format!("Delete {name}?"), format!("{id}-delete"));
    let (ns_r, name_r, ns_d, name_d) = (namespace.clone(), name.clone(), namespace, name);

    view! {
        <Show when=move || !db.with(|d| d.deleting || d.status == "deleting")>
            <MenuPanel open>
                <ActionItem label=pause_label why=why(|a| &a.suspend_or_resume) why_id=pause_why.get_value() on_run=do_pause/>
                <ActionItem label="Restart" why=why(|a| &a.restart) why_id=restart_why.get_value()
                    on_run=Callback::new(move |()| restart_open.set(true))/>
                <ActionItem label="Delete" why=why(|a| &a.delete) why_id=delete_why.get_value()
                    on_run=Callback::new(move |()| delete_open.set(true))/>
            </MenuPanel>
        </Show>
        // The dialogs exist only while open: a list of 1,000 rows would otherwise render (and hydrate) 2,000
        // closed dialogs.
        <Show when=move || restart_open.get()>
            {
                let (title, id, ns, name) = (restart_title.clone(), restart_id.clone(), ns_r.clone(), name_r.clone());
                view! {
                    <Dialog open=restart_open title=title id=id>
                        <RestartForm namespace=ns.clone() name=name.clone() restart open=restart_open/>
                    </Dialog>
                }
            }
        </Show>
        <Show when=move || delete_open.get()>
            {
                let (title, id, ns, name) = (delete_title.clone(), delete_id.clone(), ns_d.clone(), name_d.clone());
                view! {
                    <Dialog open=delete_open title=title id=id>
                        <DeleteForm namespace=ns.clone() name=name.clone() delete open=delete_open/>
                    </Dialog>
                }
            }
        </Show>
    }
    .into_any()
}

/// One item of the menu: enabled, or disabled with its reason (also its accessible description).
#[component]
fn ActionItem(#[prop(into)] label: Signal<&'static str>, why: Signal<Option<String>>, why_id: String, on_run: Callback<()>) -> impl IntoView {
    let described = why_id.clone();
    view! {
        <button type="button" class="menu-item w-full text-left" disabled=move || why.get().is_some()
            aria-describedby=move || why.get().map(|_| described.clone())
            on:click=move |_| on_run.run(())>
            {move || label.get()}
            {move || why.get().map(|w| view! { <span id=why_id.clone() class="block text-xs text-slate-600">{w}</span> })}
        </button>
    }
    .into_any()
}

/// The restart confirmation: what will happen, then Restart (Enter) or Cancel (Escape).
#[component]
fn RestartForm(namespace: String, name: String, restart: ServerAction<RestartDatabase>, open: RwSignal<bool>) -> impl IntoView {
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        restart.dispatch(RestartDatabase { namespace: namespace.clone(), name: name.clone() });
        open.set(false);
    };
    view! {
        <form on:submit=submit class="space-y-4">
            <p class="text-sm text-slate-700">
                "Every pod of the database stops and starts again; open connections are dropped. The data is kept."
            </p>
            <div class="flex justify-end gap-2">
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-primary">"Restart"</button>
            </div>
        </form>
    }
    .into_any()
}

/// The delete confirmation: type the name, choose whether the backups' data stays (it does by default, the
/// contract's `cleanupBackupStorage=false`), then Delete.
#[component]
fn DeleteForm(namespace: String, name: String, delete: ServerAction<DeleteDatabase>, open: RwSignal<bool>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let keep = RwSignal::new(true);
    let matches = {
        let name = name.clone();
        move || typed.get() == name
    };
    let ok = matches.clone();
    let (ns, n) = (namespace.clone(), name.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if ok() {
            delete.dispatch(DeleteDatabase { namespace: ns.clone(), name: n.clone(), cleanup_backup_storage: Some(!keep.get_untracked()) });
        }
    };
    let input_id = format!("{namespace}-{name}-confirm-name");
    let keep_id = format!("{namespace}-{name}-keep-backups");
    view! {
        <form on:submit=submit class="space-y-4">
            <p class="text-sm text-slate-700">
                "The database and its volumes are removed. This cannot be undone."
            </p>
            <div>
                <label for=input_id.clone() class="block text-sm font-medium">
                    "Type " <strong class="font-mono">{name.clone()}</strong> " to confirm"
                </label>
                <input id=input_id type="text" autocomplete="off" class="input mt-1"
                    on:input=move |ev| typed.set(event_target_value(&ev)) prop:value=move || typed.get()/>
            </div>
            <div class="flex items-start gap-2">
                <input id=keep_id.clone() type="checkbox" class="mt-1" prop:checked=move || keep.get()
                    on:change=move |ev| keep.set(event_target_checked(&ev))/>
                <label for=keep_id class="text-sm">
                    "Keep backups data"
                    <span class="block text-xs text-slate-600">"The backups stay in their storage and can be restored into a new database."</span>
                </label>
            </div>
            <div class="flex justify-end gap-2">
                <button type="button" class="btn-secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="btn-danger" disabled=move || !matches() || delete.pending().get()>"Delete database"</button>
            </div>
        </form>
    }
    .into_any()
}
