//! Typed Percona custom resources: only the fields Cairn writes and reads. Unknown fields are ignored on
//! read, and writes are server-side applies of exactly these fields, so whatever else is on the object
//! (a user's patch, the operator's defaults) is left alone.
pub mod pg;
pub mod psmdb;
pub mod pxc;

/// The `spec.pmm` section the three Percona operators share (PXC, PSMDB and PG name the same fields; only PG
/// reads its key from `secret`, the others from the users Secret).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pmm {
    pub enabled: bool,
    pub image: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_host: String,
    /// PG only: the Secret holding the PMM key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    /// PG only: where query analytics come from (`pgstatmonitor`, the CRD's default, written so that all of
    /// the section is Cairn's and turning monitoring off removes all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_source: Option<String>,
}

/// An upstream status condition (the operators' own condition types; only what Cairn reads).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct UpstreamCondition {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
