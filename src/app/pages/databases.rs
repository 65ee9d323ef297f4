use crate::app::components::database_actions::DatabaseActions;
use crate::app::components::{error_text, ErrorText, Header, Loading, RelativeTime};
use crate::app::server_fns::list_databases;
use crate::model::{engine_label, status_label, DbPage, DbSummary, DATABASES_PAGE_SIZE};
use leptos::prelude::*;
use leptos_meta::Title;

/// The databases list (`/` and `/databases`, `?page=N` for the rows after the first
/// [`DATABASES_PAGE_SIZE`]). Rendered on the server from the watch cache (also without JavaScript), then
/// kept current by server-sent events from the same cache: no polling, no reload.
#[component]
pub fn DatabasesPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let page = Memo::new(move |_| query.with(|q| q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1)));
    let initial = Resource::new(move || page.get(), list_databases);

    view! {
        <Title text="Databases"/>
        <Header/>
        <main id="main" class="mx-auto max-w-6xl p-4 sm:p-6">
            <div class="mb-6 flex flex-wrap items-center justify-between gap-3">
                <h1 class="text-2xl font-semibold">"Databases"</h1>
                // Only for users who may create databases somewhere (RBAC); the others see why not.
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match initial.await {
                            Ok(p) if p.can_create => view! {
                                <div class="flex gap-2">
                                    <a href="/databases/new?import" class="btn-secondary">"Import"</a>
                                    <a href="/databases/new" class="btn-primary">"Create database"</a>
                                </div>
                            }.into_any(),
                            Ok(_) => view! {
                                <p class="text-sm text-slate-600">"Your role does not allow creating databases."</p>
                            }.into_any(),
                            Err(_) => ().into_any(),
                        }
                    })}
                </Transition>
            </div>
            <Transition fallback=|| view! { <Loading what="databases"/> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(first) => view! { <LiveTable first/> }.into_any(),
                        Err(e) => view! { <ErrorText message=error_text(&e)/> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
    .into_any()
}

/// The table of one page, fed first by the server's render and then by the live stream (the caller's whole
/// list, of which it shows its page). Rows are keyed by database, so a row's open menu or dialog survives
/// updates of the others (and of itself).
#[component]
fn LiveTable(first: DbPage) -> impl IntoView {
    let page = first.page;
    let total = RwSignal::new(first.total);
    let rows = RwSignal::new(first.rows);
    // Where each database is in `rows`, so a row finds its own value in one step (a scan per row made the
    // first render of 1,000 rows a million comparisons, and every live update as many again).
    let index = Memo::new(move |_| {
        rows.with(|rs| rs.iter().enumerate().map(|(i, r)| ((r.namespace.clone(), r.name.clone()), i)).collect::<std::collections::HashMap<_, _>>())
    });
    #[cfg(feature = "hydrate")]
    crate::app::components::live::subscribe("/v1/events/database-clusters", &["databases"], move |_, data| {
        if let Ok(mut all) = serde_json::from_str::<Vec<DbSummary>>(&data) {
            let (_, range) = DbPage::range(page, all.len());
            total.set(all.len());
            rows.set(all.drain(range).collect());
        }
    });
    let th = "px-2 py-2 font-medium sm:px-3";
    let th_wide = "hidden px-3 py-2 font-medium md:table-cell";
    view! {
        <Show when=move || total.with(|t| *t != 0)
            fallback=|| view! {
                <div class="card text-center">
                    <p class="font-medium">"No databases yet"</p>
                    <p class="mt-1 text-sm text-slate-600">"Create one with “Create database”: it appears here and turns Ready by itself."</p>
                </div>
            }>
            // No horizontal scroll container (it would clip the row menus): on a phone only the name, the status
            // and the actions show, and long names wrap.
            <div class="rounded-lg border border-slate-200 bg-white shadow-sm">
                <table aria-label="Databases" class="w-full text-left text-sm">
                    <thead class="bg-slate-100 text-slate-700">
                        <tr>
                            <th scope="col" class=th>"Name"</th>
                            <th scope="col" class=th_wide>"Namespace"</th>
                            <th scope="col" class="hidden px-3 py-2 font-medium sm:table-cell">"Engine"</th>
                            <th scope="col" class=th_wide>"Version"</th>
                            <th scope="col" class=th_wide>"Nodes"</th>
                            <th scope="col" class=th>"Status"</th>
                            <th scope="col" class="hidden px-3 py-2 font-medium lg:table-cell">"Created"</th>
                            <th scope="col" class="hidden px-3 py-2 font-medium lg:table-cell">"Hostname"</th>
                            <th scope="col" class="hidden px-3 py-2 font-medium lg:table-cell">"Monitoring"</th>
                            <th scope="col" class=th><span class="sr-only">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || rows.get() key=|r| (r.namespace.clone(), r.name.clone()) let:r>
                            <DbRow row=row_signal(rows, index, &r)/>
                        </For>
                    </tbody>
                </table>
                <Pager page total/>
            </div>
        </Show>
    }
    .into_any()
}

/// "51–100 of 1,000" with links to the previous and next pages; nothing while one page holds them all.
#[component]
fn Pager(page: usize, total: RwSignal<usize>) -> impl IntoView {
    move || {
        let total = total.get();
        if total <= DATABASES_PAGE_SIZE {
            return ().into_any();
        }
        let (page, range) = DbPage::range(page, total);
        let pages = DbPage::pages(total);
        let link = |to: usize, label: &'static str, rel: &'static str| match (1..=pages).contains(&to) && to != page {
            true => view! { <a href=format!("?page={to}") rel=rel class="btn-secondary">{label}</a> }.into_any(),
            false => view! { <span class="btn-secondary pointer-events-none opacity-50" aria-disabled="true">{label}</span> }.into_any(),
        };
        view! {
            <nav aria-label="Pages" class="flex flex-wrap items-center justify-between gap-2 border-t border-slate-100 px-3 py-2 text-sm">
                <span class="text-slate-600">{format!("{}–{} of {total}", range.start + 1, range.end)}</span>
                <span class="flex gap-2">
                    {link(page.wrapping_sub(1), "Previous", "prev")}
                    {link(page + 1, "Next", "next")}
                </span>
            </nav>
        }
        .into_any()
    }
}

/// The current value of one row (by namespace and name) within the live rows.
fn row_signal(rows: RwSignal<Vec<DbSummary>>, index: Memo<std::collections::HashMap<(String, String), usize>>, first: &DbSummary) -> Signal<DbSummary> {
    let first = first.clone();
    let key = (first.namespace.clone(), first.name.clone());
    let memo = Memo::new(move |_| {
        let at = index.with(|m| m.get(&key).copied());
        rows.with(|rs| at.and_then(|i| rs.get(i)).cloned().unwrap_or_else(|| first.clone()))
    });
    memo.into()
}

/// A status as a coloured badge (the upstream message as its title).
pub fn status_badge_class(status: &str) -> &'static str {
    match status {
        "ready" => "badge bg-green-100 text-green-900",
        "error" => "badge bg-red-100 text-red-900",
        "paused" | "stopping" => "badge bg-slate-200 text-slate-800",
        "deleting" => "badge bg-red-50 text-red-900",
        _ => "badge bg-amber-100 text-amber-900",
    }
}

#[component]
fn DbRow(row: Signal<DbSummary>) -> impl IntoView {
    let (ns, name) = row.with_untracked(|r| (r.namespace.clone(), r.name.clone()));
    let href = format!("/databases/{ns}/{name}/overview");
    let wide = "hidden px-3 py-2 md:table-cell";
    view! {
        <tr class="border-t border-slate-100">
            <td class="break-all px-2 py-2 font-medium sm:px-3">
                <a href=href class="text-indigo-700 hover:underline">{name.clone()}</a>
            </td>
            <td class=wide>{ns.clone()}</td>
            // The cells that follow the database, rendered again together when it changes: one reactive
            // view per row rather than one per cell (less code in the page's wasm, and a row changes as one).
            {move || row.with(|r| {
                let status = r.effective_status().to_string();
                let monitoring = if r.monitoring.is_empty() { "—".to_string() } else { r.monitoring.clone() };
                view! {
                    <td class="hidden px-3 py-2 sm:table-cell">{engine_label(&r.engine)}</td>
                    <td class=wide>{r.version.clone()}</td>
                    <td class=wide>{r.nodes}</td>
                    <td class="px-2 py-2 sm:px-3">
                        <span class=status_badge_class(&status) title=r.message.clone()>{status_label(&status)}</span>
                    </td>
                    <td class="hidden px-3 py-2 text-slate-600 lg:table-cell"><RelativeTime unix=r.created/></td>
                    <td class="hidden break-all px-3 py-2 font-mono text-xs lg:table-cell">{r.hostname.clone()}</td>
                    <td class="hidden px-3 py-2 text-xs lg:table-cell">{monitoring}</td>
                }
                .into_any()
            })}
            <td class="px-2 py-2 text-right sm:px-3">
                <DatabaseActions db=row compact=true/>
            </td>
        </tr>
    }
    .into_any()
}
