pub mod create_database;
pub mod databases;
pub mod login;
pub mod settings_namespaces;
