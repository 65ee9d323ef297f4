pub mod create_database;
pub mod database;
pub mod databases;
pub mod login;
pub mod not_found;
pub mod monitoring_endpoints;
pub mod settings;
pub mod settings_namespaces;
