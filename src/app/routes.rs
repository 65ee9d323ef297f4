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
lazy_page!(/// `/settings/storage-locations`.
    StorageLocationsRoute => view! { <pages::settings::storage_locations::StorageLocationsPage/> });
lazy_page!(/// `/settings/monitoring-endpoints`.
    MonitoringEndpointsRoute => view! { <pages::monitoring_endpoints::MonitoringEndpointsPage/> });
lazy_page!(/// `/settings/operator-upgrades`.
    OperatorUpgradesRoute => view! { <pages::settings_namespaces::SettingsNamespacesPage/> });
lazy_page!(/// `/settings`, `/settings/namespaces[/:namespace]`.
    NamespacesRoute => view! { <pages::settings::namespaces::NamespacesPage/> });
lazy_page!(/// `/settings/policies`.
    PoliciesRoute => view! { <pages::settings::policies::PoliciesPage/> });
lazy_page!(/// `/settings/policies/details/pod-scheduling`.
    SchedulingPoliciesRoute => view! { <pages::settings::policies::PoliciesPage lists=Lists::Scheduling/> });
lazy_page!(/// `/settings/policies/details/pod-scheduling/:name`.
    SchedulingPolicyRoute => view! { <pages::settings::policies::SchedulingPolicyPage/> });
lazy_page!(/// `/settings/policies/details/load-balancer-configuration`.
    LoadBalancersRoute => view! { <pages::settings::policies::PoliciesPage lists=Lists::LoadBalancers/> });
lazy_page!(/// `/settings/policies/details/load-balancer-configuration/:name`.
    LoadBalancerConfigRoute => view! { <pages::settings::policies::LoadBalancerConfigPage/> });
lazy_page!(/// `/settings/policies/details/split-horizon`.
    SplitHorizonRoute => view! { <pages::settings::split_horizon::SplitHorizonSettingsPage/> });
