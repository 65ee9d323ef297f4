//! The database list's kept bodies (src/api/list_body.rs): the list answers in the encoding the client
//! accepts (brotli, gzip or none), every encoding decodes to the same JSON, and a changed database (or one
//! more) is in the very next list: a kept body never outlives what it was made of.
use crate::common;

use common::rest::Rest;
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::Value;
use std::io::Read;
use tower::ServiceExt;

/// The list as `accept` asks for it: (Content-Encoding, Vary, the body decoded as JSON).
async fn list(rest: &Rest, ns: &str, accept: Option<&str>) -> (Option<String>, Option<String>, Value) {
    list_view(rest, ns, "", accept).await
}

/// The list with `query` (e.g. `?view=summary`), as [`list`].
async fn list_view(rest: &Rest, ns: &str, query: &str, accept: Option<&str>) -> (Option<String>, Option<String>, Value) {
    let mut b = http::Request::builder()
        .uri(format!("/v1/namespaces/{ns}/database-clusters{query}"))
        .header(http::header::AUTHORIZATION, format!("Bearer {}", rest.token("admin")));
    if let Some(a) = accept {
        b = b.header(http::header::ACCEPT_ENCODING, a);
    }
    let mut req = b.body(axum::body::Body::empty()).unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 0, 0, 1], 40000))));
    let resp = rest.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let header = |h: http::HeaderName| resp.headers().get(h).map(|v| v.to_str().unwrap().to_string());
    let (enc, vary) = (header(http::header::CONTENT_ENCODING), header(http::header::VARY));
    let raw = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    let mut json = Vec::new();
    match enc.as_deref() {
        Some("br") => drop(brotli::Decompressor::new(&raw[..], 4096).read_to_end(&mut json).unwrap()),
        Some("gzip") => drop(flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut json).unwrap()),
        None => json = raw.to_vec(),
        Some(other) => panic!("unexpected encoding {other}"),
    }
    (enc, vary, serde_json::from_slice(&json).unwrap())
}

fn names(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|d| d["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn list_bodies_follow_every_change_in_every_encoding() {
    let env = TestEnv::start().await;
    // No reconcilers: nothing but the test changes the databases.
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), std::time::Duration::from_secs(3600));
    let (state, _) = cairn::state::State::start(env.client.clone(), env.state_options(vs, false));
    tokio::time::timeout(std::time::Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let rest = Rest::new(&state);
    let ns = env.db_ns().to_string();
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    // (Short names: a DatabaseCluster name has at most 22 characters; the namespace is the test's own.)
    let (a, b) = ("lb-a".to_string(), "lb-b".to_string());
    dbs.create(&PostParams::default(), &db(&a, cairn::crd::EngineType::Postgresql, "17.5.2", 1)).await.unwrap();
    eventually(30, "the first database listed", || async { names(&list(&rest, &ns, None).await.2).contains(&a).then_some(()) }).await;

    let accepts = [(Some("gzip, deflate, br"), Some("br")), (Some("gzip"), Some("gzip")), (Some("br;q=0, gzip;q=0"), None), (None, None)];
    let (_, _, plain) = list(&rest, &ns, Some("identity")).await;
    for (accept, want) in accepts {
        for _ in 0..2 {
            // Twice: the second answer is the kept body.
            let (enc, vary, json) = list(&rest, &ns, accept).await;
            assert_eq!(enc.as_deref(), want, "Accept-Encoding {accept:?}");
            assert_eq!(vary.as_deref(), Some("accept-encoding"));
            assert_eq!(json, plain, "Accept-Encoding {accept:?}: the same list");
        }
    }
    assert_eq!(plain["kind"], "DatabaseClusterList");
    assert_eq!(plain["items"][0]["status"]["status"], "creating", "a status on every item, as before");
    // The summary view is kept too (apart from the full one), in every encoding.
    let (_, _, rows) = list_view(&rest, &ns, "?view=summary", Some("identity")).await;
    assert_eq!(rows["kind"], "DatabaseClusterSummaryList");
    assert_eq!(rows["items"][0]["nodes"], 1);
    assert_eq!(rows["items"][0]["can_delete"], true, "what the admin may do is in the row");
    for (accept, want) in accepts {
        for _ in 0..2 {
            let (enc, vary, json) = list_view(&rest, &ns, "?view=summary", accept).await;
            assert_eq!((enc.as_deref(), vary.as_deref()), (want, Some("accept-encoding")), "summary, Accept-Encoding {accept:?}");
            assert_eq!(json, rows, "summary, Accept-Encoding {accept:?}: the same rows");
        }
    }

    // A change of one database, then one more database: the next list of each encoding has it.
    dbs.patch(&a, &PatchParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"labels": {"list-bodies": "changed"}}}))).await.unwrap();
    for (accept, _) in accepts {
        eventually(30, "the changed database listed", || async {
            let (_, _, json) = list(&rest, &ns, accept).await;
            let item = json["items"].as_array().unwrap().iter().find(|d| d["metadata"]["name"] == a.as_str())?.clone();
            (item["metadata"]["labels"]["list-bodies"] == "changed").then_some(())
        })
        .await;
    }
    let cached = state.dbs.get(&kube::runtime::reflector::ObjectRef::new(&a).within(&ns)).unwrap();
    assert_eq!(cached.labels().get("list-bodies").map(String::as_str), Some("changed"));
    // A change the summary shows (the node count): the next summary of each encoding has it.
    dbs.patch(&a, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"engine": {"replicas": 3}}}))).await.unwrap();
    for (accept, _) in accepts {
        eventually(30, "the changed node count in the summary", || async {
            let (_, _, json) = list_view(&rest, &ns, "?view=summary", accept).await;
            (json["items"][0]["nodes"] == 3).then_some(())
        })
        .await;
    }
    dbs.create(&PostParams::default(), &db(&b, cairn::crd::EngineType::Pxc, "8.0.42-33.1", 1)).await.unwrap();
    eventually(30, "the second database in the cache", || async {
        state.dbs.get(&kube::runtime::reflector::ObjectRef::new(&b).within(&ns)).map(|_| ())
    })
    .await;
    for (accept, _) in accepts {
        let (_, _, json) = list(&rest, &ns, accept).await;
        assert!(names(&json).contains(&b), "Accept-Encoding {accept:?}: the new database is in the list at once: {:?}", names(&json));
    }
}

use kube::ResourceExt;
