//! Types shared by the server and the browser (no server-only dependencies).
use serde::{Deserialize, Serialize};

/// One row of the databases list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DbSummary {
    pub name: String,
    pub namespace: String,
    pub engine: String,
    pub version: String,
    pub nodes: i32,
    pub status: String,
    pub hostname: String,
    pub ready: i32,
    pub size: i32,
    pub message: String,
    /// Whether the signed-in user may delete this database (RBAC); the list shows the action only then.
    #[serde(default)]
    pub can_delete: bool,
}

/// `GET /v1/permissions`: whether RBAC is enabled and the policy lines that apply to the user,
/// `[subject-or-role, resource, action, object]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Permissions {
    pub enabled: bool,
    pub permissions: Vec<[String; 4]>,
}

/// What the signed-in user may do on the databases pages (the UI hides what it may not).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UserActions {
    /// Managed namespaces where the user may create databases (empty: no "Create database").
    pub create_namespaces: Vec<String>,
}

/// What the create form offers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FormOptions {
    pub namespaces: Vec<String>,
    pub engines: Vec<EngineOption>,
}

/// One engine of the create form: its `engine.type`, the name users know, and its versions (best first).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EngineOption {
    pub engine: String,
    pub label: String,
    pub versions: Vec<String>,
}

/// A rejected form field: `field` is the form input's name, `message` the rule it broke.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// How a status reads in the UI ("resizingVolumes" → "Resizing volumes").
pub fn status_label(s: &str) -> String {
    match s {
        "" | "unknown" | "creating" => "Creating".into(),
        "resizingVolumes" => "Resizing volumes".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

pub fn engine_label(e: &str) -> &'static str {
    match e {
        "postgresql" => "PostgreSQL",
        "pxc" => "MySQL",
        "psmdb" => "MongoDB",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels() {
        assert_eq!(super::status_label("ready"), "Ready");
        assert_eq!(super::status_label(""), "Creating");
        assert_eq!(super::status_label("resizingVolumes"), "Resizing volumes");
        assert_eq!(super::engine_label("postgresql"), "PostgreSQL");
    }
}
