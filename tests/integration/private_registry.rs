//! An air-gapped cluster's mirror (`cairn serve --image-registry`, `--image-pull-secrets`): every image the
//! reconciler writes into the three Percona clusters (database, proxy, backup, PMM client) comes from the
//! mirror, and the pull Secrets sit where each operator reads them; the real CRDs accept and keep both.
use crate::common;

use cairn::crd::*;
use cairn::engine::images::ImageOptions;
use common::*;
use kube::Api;
use serde_json::Value;

/// Every `image` string under `v`, with its JSON path.
fn images(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == "image" => out.push((format!("{path}.{k}"), s.clone())),
                    _ => images(x, &format!("{path}.{k}"), out),
                }
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| images(x, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_database_image_comes_from_the_mirror_with_its_pull_secrets() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    state.images.set(ImageOptions { registry: Some("registry.example.com/mirror".into()), pull_secrets: vec!["regcred".into()] }).unwrap();
    env.start_simulator();
    let ns = env.db_ns().to_string();
    env.engines_installed(&state, &ns).await;
    let caller = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut my = db("reg-my", EngineType::Pxc, "8.0.42-33.1", 3);
    my.spec.proxy = Some(Proxy { type_: Some(ProxyType::Haproxy), replicas: Some(2), ..Default::default() });
    for d in [my, db("reg-mongo", EngineType::Psmdb, "8.0.12-4", 1), db("reg-pg", EngineType::Postgresql, "17.5.2", 1)] {
        cairn::service::create_database(&state, &caller, d).await.unwrap();
    }
    let secrets = serde_json::json!([{"name": "regcred"}]);
    for (name, engine) in [("reg-my", EngineType::Pxc), ("reg-mongo", EngineType::Psmdb), ("reg-pg", EngineType::Postgresql)] {
        wait_state(&dbs, name, AppState::Ready).await;
        // As stored by the API server (the real CRD kept every field).
        let up = match engine {
            EngineType::Pxc => raw::<cairn::upstream::pxc::PerconaXtraDBCluster>(&env.client, name).await,
            EngineType::Psmdb => raw::<cairn::upstream::psmdb::PerconaServerMongoDB>(&env.client, name).await,
            EngineType::Postgresql => raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, name).await,
        };
        let mut found = Vec::new();
        images(&up["spec"], "spec", &mut found);
        assert!(found.len() >= 2, "{name}: {found:?}");
        for (path, image) in &found {
            assert!(image.starts_with("registry.example.com/mirror/percona/"), "{name}: {path} = {image}");
        }
        match engine {
            EngineType::Pxc => {
                for part in ["pxc", "haproxy"] {
                    assert_eq!(up["spec"][part]["imagePullSecrets"], secrets, "{name}: spec.{part}");
                }
            }
            _ => assert_eq!(up["spec"]["imagePullSecrets"], secrets, "{name}"),
        }
    }
}
