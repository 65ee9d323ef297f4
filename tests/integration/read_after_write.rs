//! What a person writes is in what the page reads right after it, while Cairn's cache lags the API server:
//! the watches of Cairn's client deliver the test namespace's databases and monitoring endpoints 1 s late
//! (as under load). The database page's Monitoring card reads the database again from the cache as soon
//! as the toggle returns, and the endpoints page reads its list as soon as a delete returns; without the
//! wait for the cache, each showed the state from before the write (the Playwright monitoring spec saw
//! "Off" after "Turn monitoring on" when the suite ran beside the integration tests).
use crate::common;
use crate::status_writes::lagging_client;

use cairn::crd::*;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::Api;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_in_the_read_that_follows_while_the_cache_lags() {
    let env = TestEnv::start().await;
    let client = lagging_client(&env, Duration::from_millis(1000), Default::default(), &["databaseclusters", "monitoringconfigs"]).await;
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), Duration::from_secs(3600));
    let opts = cairn::controller::database_cluster::RunOptions { resync: cairn::controller::DEFAULT_RESYNC, ..Default::default() };
    let state = run_cairn_with(client, env.state_options(vs, true), opts).await;
    let ns = env.db_ns();
    let admin = cairn::service::Caller { username: "admin".into() };

    // An endpoint and a database, written past Cairn (as kubectl would), then seen in its cache.
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    let creds = Secret {
        metadata: ObjectMeta { name: Some("raw-pmm".into()), ..Default::default() },
        string_data: Some([("username".to_string(), "api_key".to_string()), ("apiKey".to_string(), "k".to_string())].into()),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &creds).await.unwrap();
    let spec = MonitoringConfigSpec {
        type_: MonitoringType::Pmm,
        credentials_secret_name: "raw-pmm".into(),
        pmm: Some(PmmConfig { url: "http://127.0.0.1:9".into(), image: String::new() }),
        ..Default::default()
    };
    let mcs: Api<MonitoringConfig> = Api::namespaced(env.client.clone(), ns);
    mcs.create(&PostParams::default(), &MonitoringConfig::new("raw-pmm", spec)).await.unwrap();
    let mut d = db("raw-monitored", EngineType::Postgresql, "17.5.2", 1);
    cairn::service::defaults::fill(&mut d);
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), ns);
    dbs.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "the endpoint and the database in Cairn's cache", || async {
        let mc = state.monitoring_configs.get(&ObjectRef::new("raw-pmm").within(ns));
        let db = state.dbs.get(&ObjectRef::new("raw-monitored").within(ns));
        (mc.is_some() && db.is_some()).then_some(())
    })
    .await;

    // On, then off: the card's read right after each shows it.
    cairn::service::monitoring::set_database_monitoring(&state, &admin, ns, "raw-monitored", Some("raw-pmm".into())).await.unwrap();
    let card = cairn::service::monitoring::database_monitoring(&state, &admin, ns, "raw-monitored").unwrap();
    assert_eq!(card.current, "raw-pmm", "monitoring is on in the read after turning it on");
    cairn::service::monitoring::set_database_monitoring(&state, &admin, ns, "raw-monitored", None).await.unwrap();
    let card = cairn::service::monitoring::database_monitoring(&state, &admin, ns, "raw-monitored").unwrap();
    assert_eq!(card.current, "", "monitoring is off in the read after turning it off");

    // The endpoint, no longer used, deleted: the list read after it no longer shows it.
    cairn::service::monitoring::delete(&state, &admin, ns, "raw-pmm").await.unwrap();
    let listed = state.monitoring_configs.get(&ObjectRef::new("raw-pmm").within(ns));
    assert!(listed.is_none_or(|m| m.metadata.deletion_timestamp.is_some()), "the deleted endpoint is gone from the read after the delete");
}
