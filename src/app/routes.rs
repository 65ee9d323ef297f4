//! Every page is a lazy route: in the browser its code is a separate wasm chunk (cargo-leptos `--split`),
//! fetched when the page is first shown, so the first load of a page downloads the shell (router, layout,
//! shared components) plus that page only, not the code of every other page. On the server nothing changes:
//! the page renders in full before it is sent.
//!
//! One unit struct per page; `lazy_page!` writes its `LazyRoute` impl. `#[lazy_route]` names the chunk after
//! the struct, so each name must be unique in the crate.
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use super::pages;
use pages::settings::policies::Lists;

macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $view:expr) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                $view.into_any()
            }
        }
    };
}

lazy_page!(/// `/login`.
    LoginRoute => view! { <pages::login::LoginPage/> });
lazy_page!(/// `/` and `/databases`.
    DatabasesRoute => view! { <pages::databases::DatabasesPage/> });
lazy_page!(/// `/databases/new`.
    CreateDatabaseRoute => view! { <pages::create_database::CreateDatabasePage/> });
lazy_page!(/// `/databases/:namespace/:name/:tab`.
    DatabaseRoute => view! { <pages::database::DatabasePage/> });
lazy_page!(/// Every settings page (`/settings/...`, the paths in `settings_page`).
    SettingsRoute => settings_page());

/// The settings page of the current path. All settings pages are ONE lazy route, so one wasm chunk set: with a
/// split per page, the code two pages share goes into a chunk per combination of pages that use it, and the
/// databases list loaded 63 small chunks (each with its own imports and exports, compressed on its own). The
/// paths are those `App` routes to `SettingsRoute`; the route's parameters are read by the pages themselves.
fn settings_page() -> impl IntoView {
    let path = leptos_router::hooks::use_location().pathname.get_untracked();
    let path = path.trim_end_matches('/');
    let lb = "/settings/policies/details/load-balancer-configuration";
    let psp = "/settings/policies/details/pod-scheduling";
    match path {
        "/settings/storage-locations" => view! { <pages::settings::storage_locations::StorageLocationsPage/> }.into_any(),
        "/settings/monitoring-endpoints" => view! { <pages::monitoring_endpoints::MonitoringEndpointsPage/> }.into_any(),
        "/settings/operator-upgrades" => view! { <pages::settings_namespaces::SettingsNamespacesPage/> }.into_any(),
        "/settings/policies" => view! { <pages::settings::policies::PoliciesPage/> }.into_any(),
        "/settings/policies/details/split-horizon" => view! { <pages::settings::split_horizon::SplitHorizonSettingsPage/> }.into_any(),
        p if p == psp => view! { <pages::settings::policies::PoliciesPage lists=Lists::Scheduling/> }.into_any(),
        p if p.starts_with(psp) => view! { <pages::settings::policies::SchedulingPolicyPage/> }.into_any(),
        p if p == lb => view! { <pages::settings::policies::PoliciesPage lists=Lists::LoadBalancers/> }.into_any(),
        p if p.starts_with(lb) => view! { <pages::settings::policies::LoadBalancerConfigPage/> }.into_any(),
        // `/settings`, `/settings/namespaces`, `/settings/namespaces/:namespace`.
        _ => view! { <pages::settings::namespaces::NamespacesPage/> }.into_any(),
    }
}
