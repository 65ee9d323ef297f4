//! `cairn settings rbac …`: check, query and store the RBAC policy.
use crate::config::RbacCommand;

/// `cairn settings rbac …`; returns the exit code: 0 valid/allowed, 1 invalid/denied, 2 any other error.
pub async fn settings_rbac(command: RbacCommand, ns: &str) -> i32 {
    use crate::auth::rbac::{self, Policy};
    // The policy to look at: a file (no `enabled` flag: taken as enabled), or the cluster's ConfigMap.
    async fn source(file: Option<&std::path::Path>, ns: &str) -> Result<(bool, String, String), String> {
        if let Some(f) = file {
            let text = std::fs::read_to_string(f).map_err(|e| format!("--policy-file {}: {e}", f.display()))?;
            return Ok((true, text, f.display().to_string()));
        }
        let client = crate::kube_client::client("cairn").await.map_err(|e| format!("cannot reach the cluster: {e}"))?;
        let where_ = format!("ConfigMap {ns}/{}", rbac::RBAC_CONFIGMAP);
        match rbac::fetch_config_map(&client, ns).await.map_err(|e| format!("cannot read {where_}: {e}"))? {
            None => Ok((false, rbac::DEFAULT_POLICY.to_string(), format!("{where_} (absent: the default policy)"))),
            Some(cm) => {
                let (enabled, csv) = rbac::read_config_map(&cm).map_err(|e| format!("{where_}: {e}"))?;
                Ok((enabled, csv, where_))
            }
        }
    }
    match command {
        RbacCommand::Validate { policy_file } => {
            let (_, csv, from) = match source(policy_file.as_deref(), ns).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            match rbac::parse_policy(&csv) {
                Ok(rules) => {
                    println!("policy is valid ({from}: {} rules)", rules.len());
                    0
                }
                Err(e) => {
                    eprintln!("invalid policy ({from}): {e}");
                    1
                }
            }
        }
        RbacCommand::Can { subject, action, resource, object, policy_file } => {
            if !rbac::is_known_resource(&resource) {
                eprintln!("error: RESOURCE: unknown resource {resource:?} (resources: {})", rbac::NAMESPACED_RESOURCES.iter().chain(rbac::GLOBAL_RESOURCES).copied().collect::<Vec<_>>().join(", "));
                return 2;
            }
            if !rbac::ACTIONS.contains(&action.as_str()) {
                eprintln!("error: ACTION: unknown action {action:?} (actions: create, read, update, delete)");
                return 2;
            }
            let object = match (object.as_str(), rbac::is_namespaced(&resource)) {
                ("all", true) => "*/*".to_string(),
                ("all", false) => "*".to_string(),
                (o, true) if !o.contains('/') => {
                    eprintln!("error: OBJECT: {resource} objects are <namespace>/<name> (or all), not {o:?}");
                    return 2;
                }
                (o, _) => o.to_string(),
            };
            let (enabled, csv, from) = match source(policy_file.as_deref(), ns).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let policy = match Policy::build(true, &csv).await {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("invalid policy ({from}): {e}");
                    return 2;
                }
            };
            if !enabled {
                eprintln!("note: RBAC is disabled in {from}: the server allows every logged-in user everything; this answer is the policy's");
            }
            if policy.allows(&subject, &resource, &action, &object) {
                println!("allowed");
                0
            } else {
                println!("denied");
                1
            }
        }
        RbacCommand::Apply { enabled, policy_file } => {
            let policy = match policy_file.as_deref().map(std::fs::read_to_string).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: --policy-file: {e}");
                    return 2;
                }
            };
            let client = match crate::kube_client::client("cairn").await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: cannot reach the cluster: {e}");
                    return 2;
                }
            };
            match rbac::store_config_map(&client, ns, enabled, policy.as_deref()).await {
                Ok((enabled, _)) => {
                    println!("ConfigMap {ns}/{} written (enabled: {enabled})", rbac::RBAC_CONFIGMAP);
                    0
                }
                Err(e) => match e.downcast_ref::<rbac::PolicyError>() {
                    Some(pe) => {
                        eprintln!("invalid policy, nothing written: {pe}");
                        1
                    }
                    None => {
                        eprintln!("error: {e}");
                        2
                    }
                },
            }
        }
    }
}
