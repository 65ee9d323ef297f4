//! Private registries: every image Cairn writes into the Percona clusters (database, proxy, backup, PMM
//! client) pulled from a mirror instead of its public registry, and the database pods given pull Secrets.
//! Pure: applied to the desired upstream object, after the engine's own mapping.
use crate::crd::EngineType;
use serde_json::Value;

/// `cairn serve --image-registry`, `--image-pull-secrets`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageOptions {
    /// A registry host, optionally with a path (`registry.example.com/mirror`), that replaces each image's
    /// own registry (Docker Hub when the image names none).
    pub registry: Option<String>,
    /// Secrets (in each database namespace) the database pods pull their images with.
    pub pull_secrets: Vec<String>,
}

impl ImageOptions {
    pub fn is_empty(&self) -> bool {
        self.registry.is_none() && self.pull_secrets.is_empty()
    }
}

/// The rules of the options, each refusal naming its flag: a registry is a host (and path) without a scheme
/// or a tag; a pull Secret's name is a DNS subdomain.
pub fn validate(o: &ImageOptions) -> Result<(), String> {
    if let Some(r) = &o.registry {
        let ok = !r.is_empty()
            && !r.contains("://")
            && !r.contains('@')
            && !r.ends_with('/')
            && !r.starts_with('/')
            && r.chars().all(|c| c.is_ascii_alphanumeric() || "-._:/".contains(c));
        if !ok {
            return Err(format!("--image-registry (CAIRN_IMAGE_REGISTRY): {r:?} is not a registry host with an optional path, like registry.example.com/mirror"));
        }
    }
    for s in &o.pull_secrets {
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !l.starts_with('-') && !l.ends_with('-'));
        if !ok {
            return Err(format!("--image-pull-secrets (CAIRN_IMAGE_PULL_SECRETS): {s:?} is not a Secret name (lowercase letters, digits, '-', '.')"));
        }
    }
    Ok(())
}

/// `image` pulled from `registry`: its own registry (a first path segment with a '.' or a ':', or
/// `localhost`; Docker Hub when there is none) replaced. `percona/percona-xtradb-cluster:8.0.42` →
/// `registry.example.com/mirror/percona/percona-xtradb-cluster:8.0.42`.
pub fn relocate(image: &str, registry: &str) -> String {
    let image = image.trim();
    if image.is_empty() {
        return String::new();
    }
    let rest = match image.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => rest,
        _ => image,
    };
    // Docker Hub's official images live under `library/`.
    let rest = if rest.contains('/') { rest.to_string() } else { format!("library/{rest}") };
    format!("{}/{rest}", registry.trim_end_matches('/'))
}

fn relocate_all(v: &mut Value, registry: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if k == "image" && !s.is_empty() => *s = relocate(s, registry),
                    _ => relocate_all(x, registry),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relocate_all(x, registry)),
        _ => {}
    }
}

/// The options applied to an upstream cluster's JSON: every `image` relocated, and the pull Secrets where
/// each operator takes them (PXC: per component, `pxc`, `haproxy`, `proxysql`, `backup`; PSMDB and PG: the
/// spec's `imagePullSecrets`, for every pod).
pub fn apply(v: &mut Value, engine: EngineType, o: &ImageOptions) {
    if let Some(r) = &o.registry {
        if let Some(spec) = v.get_mut("spec") {
            relocate_all(spec, r);
        }
    }
    if o.pull_secrets.is_empty() {
        return;
    }
    let secrets = Value::Array(o.pull_secrets.iter().map(|s| serde_json::json!({"name": s})).collect());
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else { return };
    match engine {
        EngineType::Pxc => {
            for part in ["pxc", "haproxy", "proxysql", "backup"] {
                if let Some(p) = spec.get_mut(part).and_then(Value::as_object_mut) {
                    p.insert("imagePullSecrets".into(), secrets.clone());
                }
            }
        }
        EngineType::Psmdb | EngineType::Postgresql => {
            spec.insert("imagePullSecrets".into(), secrets);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_move_to_the_mirror() {
        let r = "registry.example.com/mirror";
        assert_eq!(relocate("percona/percona-xtradb-cluster:8.0.42-33.1", r), "registry.example.com/mirror/percona/percona-xtradb-cluster:8.0.42-33.1");
        assert_eq!(relocate("docker.io/percona/pmm-client:3.1.0", r), "registry.example.com/mirror/percona/pmm-client:3.1.0");
        assert_eq!(relocate("quay.io/org/img@sha256:abc", r), "registry.example.com/mirror/org/img@sha256:abc");
        assert_eq!(relocate("localhost:5000/percona/x:1", r), "registry.example.com/mirror/percona/x:1");
        assert_eq!(relocate("localhost/percona/x:1", "reg:5000/"), "reg:5000/percona/x:1");
        assert_eq!(relocate("haproxy:2.8", r), "registry.example.com/mirror/library/haproxy:2.8", "an official image");
    }

    #[test]
    fn options_are_checked_naming_the_flag() {
        assert!(validate(&ImageOptions { registry: Some("registry.example.com:5000/mirror".into()), pull_secrets: vec!["regcred".into()] }).is_ok());
        for bad in ["https://registry.example.com", "registry.example.com/", "", "reg istry"] {
            let e = validate(&ImageOptions { registry: Some(bad.into()), ..Default::default() }).unwrap_err();
            assert!(e.starts_with("--image-registry"), "{bad}: {e}");
        }
        let e = validate(&ImageOptions { pull_secrets: vec!["Reg_Cred".into()], ..Default::default() }).unwrap_err();
        assert!(e.starts_with("--image-pull-secrets"), "{e}");
    }

    #[test]
    fn each_engine_gets_the_secrets_where_its_operator_reads_them() {
        let o = ImageOptions { registry: Some("mirror.local".into()), pull_secrets: vec!["regcred".into()] };
        let mut pxc = serde_json::json!({"spec": {"pxc": {"image": "percona/pxc:8"}, "haproxy": {"image": "percona/haproxy:2"}, "backup": {"image": "percona/xb:8"},
            "pmm": {"image": "percona/pmm-client:3"}}});
        apply(&mut pxc, EngineType::Pxc, &o);
        assert_eq!(pxc["spec"]["pxc"], serde_json::json!({"image": "mirror.local/percona/pxc:8", "imagePullSecrets": [{"name": "regcred"}]}));
        assert_eq!(pxc["spec"]["haproxy"]["imagePullSecrets"], serde_json::json!([{"name": "regcred"}]));
        assert_eq!(pxc["spec"]["pmm"], serde_json::json!({"image": "mirror.local/percona/pmm-client:3"}), "PMM runs in the pxc pods");
        assert!(pxc["spec"].get("proxysql").is_none(), "no section made up");
        let mut pg = serde_json::json!({"spec": {"image": "percona/pg:17", "backups": {"pgbackrest": {"image": "percona/pgbackrest:2"}}}});
        apply(&mut pg, EngineType::Postgresql, &o);
        assert_eq!(pg["spec"]["imagePullSecrets"], serde_json::json!([{"name": "regcred"}]));
        assert_eq!(pg["spec"]["backups"]["pgbackrest"]["image"], "mirror.local/percona/pgbackrest:2");
        let mut none = pg.clone();
        apply(&mut none, EngineType::Postgresql, &ImageOptions::default());
        assert_eq!(none, pg, "no options, no change");
    }
}
