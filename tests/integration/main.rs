//! Cairn's integration tests: one test binary (one link, and one shared control plane per process:
//! kube-apiserver + etcd from testenv/, a namespace per test). Each module was a test binary of its own
//! before; they are one now because each binary cost a ~200 MB link and a control-plane start (~10 s).
//! Run one module with `cargo test --features sim --test integration <module>::`.

mod common;
mod helm_util;

mod accounts;
mod admission_webhook;
mod apply_on_change;
mod backup_mirror;
mod backup_storage;
mod backup_storage_in_use;
mod backup_watches;
mod backups;
mod charts;
mod crd_bounds;
mod crd_generated;
mod crd_rules;
mod credentials;
mod data_import;
mod data_import_kubectl;
mod data_import_webhook;
mod data_source_pitr;
mod database_engine;
mod database_page;
mod engines;
mod faults;
mod fuzz;
mod fuzz_api;
mod golden;
mod hardening_api;
mod hardening_ctl;
mod install;
mod kubectl_compat;
mod list_bodies;
mod monitoring;
mod namespaces_remove;
mod openapi_doc;
mod operator_generations;
mod operator_upgrade;
mod operator_upgrade_rbac;
mod pg_custom_tls;
mod policies_rest;
mod postgresql;
mod psmdb;
mod pxc;
mod rbac;
mod rbac_backups;
mod readme_install;
mod rest_compat;
mod rest_update;
mod restores;
mod restores_api;
mod restores_psmdb;
mod sandbox_operator_upgrade;
mod schedules;
mod sessions;
mod simulator;
mod split_horizon;
mod split_horizon_tls;
mod status_writes;
mod upgrade_approval;
mod upgrade_plan;
mod upstream_accepted;
mod web_security;
