//! Property-based fuzzing of create, update and login against the running server (Cairn's whole router over
//! a socket, on a real API server, reconcilers and simulator running): whatever the input, no 5xx, no
//! dropped connection, no panic in its Cairn (a panic hook counts those on its threads), and nothing stored that
//! the service's own validation would refuse.
//!
//! Bounded: `CAIRN_FUZZ_CASES` cases per property (default 40), run with a fixed seed and then a random one.
//! Both are printed first; `CAIRN_FUZZ_SEED=<hex>` replays one seed only.
use crate::common;

use cairn::crd::{DatabaseCluster, EngineType};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const FIXED_SEED: u64 = 0x00c0_ffee_0009;

/// Panics on the threads of the Cairn this test runs (handlers, reconcilers). The test binary runs other
/// tests in the same process, whose failures panic too: those are theirs, not counted here.
static PANICS: AtomicUsize = AtomicUsize::new(0);
static CAIRN_THREADS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn count_panics(env: &TestEnv) {
    CAIRN_THREADS.set(env.cairn_thread_name()).expect("one fuzz test per process");
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == CAIRN_THREADS.get().map(String::as_str) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));
}

/// Numbers, and things that are not numbers, where a number is expected.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![-1i64, 0, 1, 2, 3, 4, 5, 7, 9, 99, 1000, 2147483647, -2147483648, 4294967296, i64::MAX]).prop_map(Value::from),
        2 => any::<i32>().prop_map(Value::from),
        1 => prop::sample::select(vec![json!("3"), Value::Null, json!(1.5), json!(1e300), json!(true), json!([]), json!({})]),
    ]
}

/// Strings of every kind: empty, huge, unicode, path-like, plausible names.
fn text() -> impl Strategy<Value = Value> {
    let plausible = prop::collection::vec(prop::sample::select("abcdefghijklmnopqrstuvwxyz0123456789-".chars().collect::<Vec<_>>()), 1..70)
        .prop_map(|c| Value::from(c.into_iter().collect::<String>()));
    prop_oneof![
        3 => plausible,
        2 => prop::sample::select(vec![
            "", "../../etc/passwd", "ünïcødé-✓", "standard", "everest-secrets-other", "kube-system/x", "a\u{0}b",
            "UPPER", "-lead", "trail-", "1e1000", "null", "%2e%2e%2f",
        ])
        .prop_map(Value::from),
        1 => prop::collection::vec(any::<char>(), 0..40).prop_map(|c| Value::from(c.into_iter().collect::<String>())),
        1 => prop::sample::select(vec![300usize, 70_000, 1_100_000, 2_100_000]).prop_map(|n| Value::from("x".repeat(n))),
        1 => number(),
    ]
}

/// Kubernetes quantities, valid and not.
fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "2G", "1e1000", "-1G", "", "abc", "1Ei", "99999999999999999999999Gi", "0.5", "1m", "2Gi", "3.5G", "1e9",
            "+1G", "NaN", "Infinity", "10E", "0", "4G", "1000Ti", "1.5e308",
        ])
        .prop_map(Value::from),
        1 => number(),
        1 => text(),
    ]
}

/// Where to put what: a JSON pointer into a DatabaseCluster and a value for it.
fn mutation() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        (Just("/spec/engine/replicas"), number()),
        (Just("/spec/engine/storage/size"), quantity()),
        (Just("/spec/engine/storage/class"), text()),
        (Just("/spec/engine/resources/cpu"), quantity()),
        (Just("/spec/engine/resources/memory"), quantity()),
        (Just("/spec/engine/userSecretsName"), text()),
        (Just("/spec/engine/config"), text()),
        (Just("/spec/engine/version"), prop_oneof![prop::sample::select(vec!["17.5.2", "16.9", "8.0.42-33.1", "8.0.12-4", "1.0", ""]).prop_map(Value::from), text()]),
        (Just("/spec/engine/type"), prop_oneof![prop::sample::select(vec!["postgresql", "pxc", "psmdb", "oracle", ""]).prop_map(Value::from), number()]),
        (Just("/spec/engine/crVersion"), text()),
        (Just("/spec/proxy/replicas"), number()),
        (Just("/spec/proxy/type"), prop_oneof![prop::sample::select(vec!["pgbouncer", "haproxy", "proxysql", "mongos", "x"]).prop_map(Value::from), number()]),
        (Just("/spec/proxy/expose/type"), prop_oneof![prop::sample::select(vec!["internal", "external", "LoadBalancer", "ClusterIP", "x"]).prop_map(Value::from), number()]),
        (Just("/spec/proxy/expose/ipSourceRanges"), prop::collection::vec(text(), 0..4).prop_map(Value::from)),
        (Just("/spec/proxy/expose/loadBalancerConfigName"), text()),
        (Just("/spec/sharding/enabled"), prop_oneof![any::<bool>().prop_map(Value::from), number()]),
        (Just("/spec/sharding/shards"), number()),
        (Just("/spec/sharding/configServer/replicas"), number()),
        (Just("/spec/podSchedulingPolicyName"), text()),
        (Just("/spec/paused"), prop_oneof![any::<bool>().prop_map(Value::from), text()]),
        (Just("/spec/unknownField"), text()),
        (Just("/metadata/name"), text()),
        (Just("/metadata/namespace"), text()),
        (Just("/metadata/resourceVersion"), text()),
        (Just("/metadata/labels"), prop_oneof![Just(json!({"a": "b"})), Just(json!({"../x": "y"})), text()]),
        (Just("/spec"), prop_oneof![Just(json!(null)), Just(json!([])), text()]),
    ]
}

/// Sets `pointer` in `v`, creating the objects on the way (and replacing non-objects there).
fn set(v: &mut Value, pointer: &str, value: Value) {
    let mut node = v;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for part in &parts[..parts.len() - 1] {
        if !node.get(*part).is_some_and(Value::is_object) {
            if !node.is_object() {
                *node = json!({});
            }
            node[*part] = json!({});
        }
        node = node.get_mut(*part).unwrap();
    }
    if !node.is_object() {
        *node = json!({});
    }
    node[parts[parts.len() - 1]] = value;
}

fn engine(i: usize) -> EngineType {
    [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb][i % 3]
}

/// A body for `POST /v1/session`: the right shape with odd strings, or anything at all.
fn login_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    let json_body = |v: Value| ("application/json".to_string(), v.to_string().into_bytes());
    prop_oneof![
        3 => (text(), text()).prop_map(move |(u, p)| json_body(json!({"username": u, "password": p}))),
        1 => prop::sample::select(vec![json!({}), json!({"username": "admin"}), json!([]), json!(null), json!("admin"), json!({"username": "admin", "password": 1})])
            .prop_map(json_body),
        1 => (prop::sample::select(vec!["application/json", "text/plain", "application/x-www-form-urlencoded", ""]), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(ct, b)| (ct.to_string(), b)),
    ]
}

/// proptest's runner is synchronous: each case waits for its requests on the test's runtime.
fn wait<F: std::future::Future>(handle: &tokio::runtime::Handle, f: F) -> F::Output {
    tokio::task::block_in_place(|| handle.block_on(f))
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("CAIRN_FUZZ_SEED") {
        return vec![u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("CAIRN_FUZZ_SEED is hex")];
    }
    let random = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    vec![FIXED_SEED, random]
}

fn runner(seed: u64) -> TestRunner {
    let cases = std::env::var("CAIRN_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(40);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `check` for every generated case; on failure, the seed and the (shrunk) input are added to
/// `failures` (every property runs, so one report shows every bug found).
fn run<S: Strategy>(seed: u64, what: &str, strategy: S, failures: &mut Vec<String>, check: impl Fn(S::Value) -> Result<(), String>)
where
    S::Value: std::fmt::Debug,
{
    let mut r = runner(seed);
    if let Err(e) = r.run(&strategy, |v| check(v).map_err(TestCaseError::fail)) {
        failures.push(format!("fuzz {what} failed with seed {seed:#x} (replay: CAIRN_FUZZ_SEED={seed:x}): {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_and_login_never_crash_or_store_invalid_objects() {
    let env = TestEnv::start().await;
    count_panics(&env);
    let pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    env.start_simulator();
    let cairn = env.spawn_cairn().await;
    env.engines_installed(&cairn.state, env.db_ns()).await;
    let addr = cairn.addr;
    let token = eventually(30, "admin logs in", || async {
        let a = http_call(addr, "POST", "/v1/session", None, Some(&json!({"username": "admin", "password": pw}))).await.ok()?;
        (a.status == 200).then(|| a.body["token"].as_str().unwrap().to_string())
    })
    .await;
    let base = format!("/v1/namespaces/{}/database-clusters", env.db_ns());
    // One database per engine for the updates to work on.
    for i in 0..3 {
        let d = db(&format!("base-{i}"), engine(i), "", 1);
        let a = http_call(addr, "POST", &base, Some(&token), Some(&serde_json::to_value(&d).unwrap())).await.unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // What each accepted write sent, by name (to report the input behind an invalid stored object).
    let accepted: Arc<Mutex<BTreeMap<String, Vec<Value>>>> = Default::default();
    let handle = tokio::runtime::Handle::current();
    let seeds = seeds();
    eprintln!("fuzz seeds: {}", seeds.iter().map(|s| format!("{s:#x}")).collect::<Vec<_>>().join(", "));

    // Statuses seen per operation (printed, and checked below: a generator that only ever produces
    // refused, or only accepted, inputs would test little).
    let seen: Mutex<BTreeMap<(String, u16), usize>> = Default::default();
    // An answer must exist and be below 500.
    let judge = |what: &str, input: &dyn std::fmt::Debug, answer: Result<HttpAnswer, String>| -> Result<HttpAnswer, String> {
        // A body past the limit is refused (413) as soon as its length is known, and the server may close the
        // connection before the client has written all of it: the client then sees its write fail. That is a
        // refusal, not a lost answer (a crashed server shows up as refused connections and in the panic count).
        let a = match answer {
            Err(e) if e.contains("BodyWrite") => HttpAnswer { status: 413, headers: Default::default(), body: Value::Null },
            other => other.map_err(|e| format!("{what}: no answer ({e}) for {input:?}"))?,
        };
        *seen.lock().unwrap().entry((what.to_string(), a.status)).or_default() += 1;
        if a.status >= 500 {
            return Err(format!("{what}: {} {} for {input:?}", a.status, a.body));
        }
        Ok(a)
    };
    let abbreviate = |v: &Value| -> Value {
        // Keep failure messages readable: long strings are shown by length.
        fn walk(v: &Value) -> Value {
            match v {
                Value::String(s) if s.len() > 200 => Value::from(format!("<{} bytes>", s.len())),
                Value::Array(a) => Value::Array(a.iter().map(walk).collect()),
                Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), walk(v))).collect()),
                v => v.clone(),
            }
        }
        walk(v)
    };

    let mut failures = Vec::new();
    for &seed in &seeds {
        // Create: a valid database of some engine with up to four odd fields.
        let counter = AtomicUsize::new(0);
        run(seed, "create", (0..3usize, prop::collection::vec(mutation(), 0..4)), &mut failures, |(e, muts)| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let mut body = serde_json::to_value(db(&format!("fz{n}-{:x}", seed & 0xffff), engine(e), "", 1)).unwrap();
            for (p, v) in &muts {
                set(&mut body, p, v.clone());
            }
            let shown = abbreviate(&body);
            let a = wait(&handle, http_call(addr, "POST", &base, Some(&token), Some(&body)));
            let a = judge("create", &shown, a)?;
            if (200..300).contains(&a.status) {
                let name = a.body["metadata"]["name"].as_str().unwrap_or_default().to_string();
                accepted.lock().unwrap().entry(name).or_default().push(shown);
            }
            Ok(())
        });

        // Update: the current object of a base database with up to four odd fields.
        run(seed, "update", (0..3usize, prop::collection::vec(mutation(), 1..4)), &mut failures, |(e, muts)| {
            let path = format!("{base}/base-{e}");
            let current = wait(&handle, http_call(addr, "GET", &path, Some(&token), None)).map_err(|e| e.to_string())?;
            let mut body = current.body;
            // What a client would send back: the object as read, without the server's bookkeeping.
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            for (p, v) in &muts {
                set(&mut body, p, v.clone());
            }
            let shown = abbreviate(&body);
            let a = wait(&handle, http_call(addr, "PUT", &path, Some(&token), Some(&body)));
            let a = judge("update", &shown, a)?;
            if (200..300).contains(&a.status) {
                accepted.lock().unwrap().entry(format!("base-{e}")).or_default().push(shown);
            }
            Ok(())
        });

        // Login: odd credentials and bodies.
        run(seed, "login", login_body(), &mut failures, |(ct, bytes)| {
            let shown = (ct.clone(), String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>());
            let a = wait(&handle, http_raw(addr, "POST", "/v1/session", None, Some((&ct, bytes))));
            let a = judge("login", &shown, a)?;
            if a.status == 200 {
                return Err(format!("login: 200 for {shown:?}"));
            }
            Ok(())
        });
    }

    let seen = seen.into_inner().unwrap();
    eprintln!("fuzz answers (operation, status) × count: {seen:?}");
    for op in ["create", "update"] {
        let count = |ok: bool| seen.iter().filter(|((o, s), _)| o == op && (200..300).contains(s) == ok).map(|(_, n)| n).sum::<usize>();
        if count(true) == 0 || count(false) == 0 {
            failures.push(format!("{op}: the inputs were all accepted or all refused ({} accepted, {} refused)", count(true), count(false)));
        }
    }

    // Give the reconcilers time to map what was stored (a panic there counts too).
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    if !cairn.state.is_ready() {
        failures.push("Cairn is no longer ready".into());
    }
    let panics = PANICS.load(Ordering::SeqCst);
    if panics > 0 {
        failures.push(format!("{panics} panic(s) in the process (see the log above)"));
    }

    // Everything stored passes the service's validation.
    let raw: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(env.client.clone(), env.db_ns(), &kube::api::ApiResource::erase::<DatabaseCluster>(&()));
    let accepted = accepted.lock().unwrap();
    let mut invalid = Vec::new();
    for o in raw.list(&Default::default()).await.unwrap().items {
        let name = o.metadata.name.clone().unwrap_or_default();
        let verdict = serde_json::from_value::<DatabaseCluster>(serde_json::to_value(&o).unwrap())
            .map_err(|e| format!("does not even parse: {e}"))
            .and_then(|d| {
                let versions = cairn.state.catalog(d.spec.engine.type_, env.db_ns());
                cairn::service::validation::validate_new(&d, &versions)
                    .and_then(|_| cairn::service::validate_references(&cairn.state, &d))
                    .map_err(|e| e.message)
            });
        if let Err(e) = verdict {
            invalid.push(format!("{name}: {e}; accepted inputs: {:?}", accepted.get(&name)));
        }
    }
    if !invalid.is_empty() {
        failures.push(format!("invalid objects stored:\n{}", invalid.join("\n")));
    }
    assert!(failures.is_empty(), "seeds {seeds:x?}:\n\n{}", failures.join("\n\n"));
}
