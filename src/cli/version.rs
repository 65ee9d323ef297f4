//! `cairn version`: this binary's version, and the version Cairn runs in the cluster when it is reachable
//! (read from the `cairn` Deployment of the system namespace; no port-forward needed).
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    pub client: Client,
    /// The server's version, absent when the cluster or the Deployment cannot be read.
    pub server: Option<Server>,
    /// Why the server's version is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub version: String,
    /// The control-plane chart this binary installs.
    pub chart_version: String,
    /// The operator versions this binary installs (postgresql, mysql, mongodb).
    pub operators: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub namespace: String,
    /// The image tag Cairn runs (the chart's appVersion unless overridden).
    pub version: String,
    pub image: String,
}

pub async fn versions(system_ns: &str, client_only: bool) -> Versions {
    let client = Client {
        version: env!("CARGO_PKG_VERSION").into(),
        chart_version: super::charts::cairn_chart_version(),
        operators: super::charts::pinned_operators().into_iter().map(|o| (super::namespaces::cli_name(&o.alias).to_string(), o.app_version)).collect(),
    };
    if client_only {
        return Versions { client, server: None, server_error: None };
    }
    let server = async {
        let kc = crate::kube_client::client("cairn").await?;
        let d = Api::<Deployment>::namespaced(kc, system_ns)
            .get_opt(super::RELEASE)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no Deployment {system_ns}/cairn (is Cairn installed there? --system-namespace)"))?;
        let image = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default();
        anyhow::Ok(Server { namespace: system_ns.into(), version: crate::controller::database_engine::image_tag(&d), image })
    }
    .await;
    match server {
        Ok(s) => Versions { client, server: Some(s), server_error: None },
        Err(e) => Versions { client, server: None, server_error: Some(format!("{e:#}")) },
    }
}

impl Versions {
    pub fn text(&self) -> String {
        let ops: Vec<String> = self.client.operators.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let mut out = format!("client: cairn {} (chart {}; operators {})", self.client.version, self.client.chart_version, ops.join(", "));
        match (&self.server, &self.server_error) {
            (Some(s), _) => out.push_str(&format!("\nserver: cairn {} in namespace {} ({})", s.version, s.namespace, s.image)),
            (None, Some(e)) => out.push_str(&format!("\nserver: unknown ({e})")),
            (None, None) => {}
        }
        out
    }
}
