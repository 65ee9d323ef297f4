//! The database list's options beyond OpenEverest (all optional; without them the list is OpenEverest's):
//! a page (`limit`, `continue`), filters (`engine`, `status`) and the summary view (`view=summary`, the
//! UI's rows without the spec). Items come from the cache as shared references: nothing is copied.
use super::authz::{self, res};
use super::{Caller, DbSummary};
use crate::crd::{AppState, DatabaseCluster, EngineType};
use crate::error::ApiError;
use crate::state::State;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Arc;

/// The most items one page may ask for.
pub const MAX_LIMIT: usize = 10_000;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    /// At most this many items (the rest: `metadata.continue`).
    pub limit: Option<usize>,
    /// The `metadata.continue` of the previous page: items after it.
    pub continue_after: Option<(String, String)>,
    pub engine: Option<EngineType>,
    /// The status as the list shows it (`creating` for none yet).
    pub status: Option<String>,
    pub summary: bool,
}

const STATES: [AppState; 14] = [
    AppState::Creating,
    AppState::Initializing,
    AppState::Paused,
    AppState::Pausing,
    AppState::Stopping,
    AppState::Ready,
    AppState::Error,
    AppState::Restoring,
    AppState::Deleting,
    AppState::Upgrading,
    AppState::ResizingVolumes,
    AppState::Importing,
    AppState::Unknown,
    AppState::New,
];

/// The list's query parameters as the OpenAPI document describes them ([`ListQuery::parse`] reads them from
/// the query string, so a bad value is an error naming its key; a unit test keeps the two in step).
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub struct ListParams {
    /// At most this many items; the rest are announced by `metadata.continue` and `metadata.remainingItemCount`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    /// The `metadata.continue` of the previous page (`<namespace>/<name>`): the items after it.
    #[serde(default, rename = "continue")]
    #[schemars(regex(pattern = r"^[^/]*/.*$"))]
    pub continue_: Option<String>,
    /// Only databases of this engine.
    #[serde(default)]
    pub engine: Option<EngineType>,
    /// Only databases in this status (as the list shows it: `creating` before the first one).
    #[serde(default)]
    #[schemars(schema_with = "status_schema")]
    pub status: Option<String>,
    /// `summary`: the UI's rows (no spec) in a `DatabaseClusterSummaryList`; `full` (default): the objects.
    #[serde(default)]
    pub view: Option<ListView>,
}

/// `view=` of the database list.
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ListView {
    Full,
    Summary,
}

fn status_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = STATES.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect();
    schemars::json_schema!({"type": "string", "enum": names})
}

impl ListQuery {
    /// The query string's options; an unknown key is ignored, a bad value is an error naming the key.
    pub fn parse(q: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
        let mut out = ListQuery::default();
        if let Some(l) = q.get("limit") {
            let n = l.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n));
            out.limit = Some(n.ok_or_else(|| ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")))?);
        }
        if let Some(c) = q.get("continue").filter(|c| !c.is_empty()) {
            let (ns, name) = c.split_once('/').ok_or_else(|| ApiError::invalid("continue", "must be the metadata.continue of a previous page"))?;
            out.continue_after = Some((ns.to_string(), name.to_string()));
        }
        if let Some(e) = q.get("engine") {
            out.engine = Some(match e.as_str() {
                "postgresql" => EngineType::Postgresql,
                "pxc" => EngineType::Pxc,
                "psmdb" => EngineType::Psmdb,
                _ => return Err(ApiError::invalid("engine", "must be one of postgresql, pxc, psmdb")),
            });
        }
        if let Some(s) = q.get("status") {
            if !STATES.iter().any(|st| !st.as_str().is_empty() && st.as_str() == s) {
                return Err(ApiError::invalid("status", "must be a database status (creating, ready, error, …)"));
            }
            out.status = Some(s.clone());
        }
        match q.get("view").map(String::as_str) {
            None | Some("full") => {}
            Some("summary") => out.summary = true,
            Some(_) => return Err(ApiError::invalid("view", "must be full or summary")),
        }
        Ok(out)
    }

    fn keeps(&self, d: &DatabaseCluster) -> bool {
        self.engine.is_none_or(|e| d.spec.engine.type_ == e)
            && self.status.as_deref().is_none_or(|s| status_of(d) == s)
    }
}

/// The status the list shows.
fn status_of(d: &DatabaseCluster) -> &'static str {
    d.status.as_ref().map(|s| s.status).unwrap_or_default().with_creating().as_str()
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Arc<DatabaseCluster>>,
    /// Where the next page starts (`<namespace>/<name>` of the last item), when there is one.
    pub next: Option<String>,
    /// Items after this page.
    pub remaining: usize,
}

/// The databases in managed namespaces (optionally one) that the caller may read (RBAC per item) and the
/// query keeps, sorted by namespace and name, one page of them.
pub fn page(state: &State, caller: &Caller, namespace: Option<&str>, q: &ListQuery) -> Page {
    let managed = state.managed_namespaces();
    let policy = state.rbac.policy();
    let mut all: Vec<Arc<DatabaseCluster>> = state
        .dbs
        .state()
        .into_iter()
        .filter(|d| {
            let ns = d.metadata.namespace.as_deref().unwrap_or_default();
            managed.iter().any(|m| m == ns)
                && namespace.is_none_or(|want| want == ns)
                && q.keeps(d)
                && policy.can(caller.subject(), res::DATABASE_CLUSTERS, "read", &authz::object(ns, &d.name_any()))
        })
        .collect();
    all.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    let start = match &q.continue_after {
        None => 0,
        Some((ns, name)) => all.partition_point(|d| {
            (d.metadata.namespace.as_deref().unwrap_or_default(), d.metadata.name.as_deref().unwrap_or_default()) <= (ns.as_str(), name.as_str())
        }),
    };
    let end = q.limit.map_or(all.len(), |l| (start + l).min(all.len()));
    let remaining = all.len() - end;
    let items: Vec<_> = all.drain(start..end).collect();
    let next = (remaining > 0).then(|| items.last().map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))).flatten();
    Page { items, next, remaining }
}

/// What the caller may do with a database: delete it, reveal its credentials, change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPermissions {
    pub delete: bool,
    pub reveal: bool,
    pub update: bool,
}

impl RowPermissions {
    pub fn of(state: &State, caller: &Caller, d: &DatabaseCluster) -> Self {
        let policy = state.rbac.policy();
        let object = authz::object(d.metadata.namespace.as_deref().unwrap_or_default(), d.metadata.name.as_deref().unwrap_or_default());
        RowPermissions {
            delete: policy.can(caller.subject(), res::DATABASE_CLUSTERS, "delete", &object),
            reveal: policy.can(caller.subject(), res::DATABASE_CLUSTER_CREDENTIALS, "read", &object),
            update: policy.can(caller.subject(), res::DATABASE_CLUSTERS, "update", &object),
        }
    }

    /// The three as one of 8 values (for keys).
    pub fn bits(self) -> usize {
        usize::from(self.delete) << 2 | usize::from(self.reveal) << 1 | usize::from(self.update)
    }

    /// The UI's row of `d` with these permissions.
    pub fn row(self, d: &DatabaseCluster) -> DbSummary {
        let mut row = DbSummary::from(d);
        row.can_delete = self.delete;
        row.can_reveal = self.reveal;
        row.can_update = self.update;
        row
    }
}

/// The UI's row of a database, saying what the caller may do with it.
pub fn summary(state: &State, caller: &Caller, d: &DatabaseCluster) -> DbSummary {
    RowPermissions::of(state, caller, d).row(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        ListQuery::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn options_parse_and_bad_values_name_the_key() {
        assert_eq!(q(&[]).unwrap(), ListQuery::default(), "OpenEverest's list");
        let got = q(&[("limit", "50"), ("continue", "ns/db-7"), ("engine", "pxc"), ("status", "ready"), ("view", "summary"), ("x", "ignored")]).unwrap();
        assert_eq!(got.limit, Some(50));
        assert_eq!(got.continue_after, Some(("ns".into(), "db-7".into())));
        assert_eq!(got.engine, Some(EngineType::Pxc));
        assert_eq!(got.status.as_deref(), Some("ready"));
        assert!(got.summary);
        for (k, v) in [("limit", "0"), ("limit", "x"), ("limit", "10001"), ("continue", "nope"), ("engine", "mysql"), ("status", "fine"), ("view", "big")] {
            let e = q(&[(k, v)]).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(k), "{k}={v}: {e:?}");
        }
    }

    /// The document's parameters are the ones `parse` reads, with the values it accepts.
    #[test]
    fn the_documented_parameters_are_the_parsed_ones() {
        let schema = schemars::schema_for!(ListParams).to_value();
        let props = schema["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["continue", "engine", "limit", "status", "view"]);
        assert!(schema.get("required").is_none_or(|r| r.as_array().unwrap().is_empty()), "all optional: {schema}");
        for st in props["status"]["enum"].as_array().unwrap() {
            assert!(q(&[("status", st.as_str().unwrap())]).is_ok(), "{st}");
        }
        assert_eq!(props["limit"]["maximum"], MAX_LIMIT);
        assert!(q(&[("limit", &MAX_LIMIT.to_string())]).is_ok());
        assert!(q(&[("view", "full")]).is_ok() && q(&[("view", "summary")]).is_ok());
    }
}
