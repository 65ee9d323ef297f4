//! Unit tests of the UI's pure functions (form parsing, names, formatting). They live here, not beside the
//! code: the library's unit-test build leaves the UI out (`src/lib.rs`), and this binary links the whole
//! library as the server does. No control plane.
use cairn::app::backup_fns::{backup_from_form, restore_input, schedule_input};
use cairn::app::pages::settings_namespaces::NamespacePlan;

fn form(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_backup_step_writes_a_schedule_pitr_and_the_data_source() {
    let f = form(&[
        ("backup_schedule", "on"),
        ("schedule_kind", "weekly"),
        ("schedule_time", "03:15"),
        ("schedule_weekday", "6"),
        ("schedule_retention", "4"),
        ("schedule_storage", "s3"),
        ("pitr", "on"),
        ("pitr_storage", "s3"),
        ("from_backup", "b1"),
        ("from_pitr_type", "date"),
        ("from_pitr_date", "2026-11-28T02:30"),
    ]);
    let (backup, source) = backup_from_form(&f).unwrap();
    let backup = backup.unwrap();
    let s = &backup.schedules[0];
    assert_eq!((s.name.as_str(), s.schedule.as_str(), s.retention_copies, s.enabled), ("weekly-backup", "15 3 * * 6", Some(4), true));
    assert_eq!(backup.pitr.unwrap().backup_storage_name.as_deref(), Some("s3"));
    let source = source.unwrap();
    assert_eq!(source.db_cluster_backup_name.as_deref(), Some("b1"));
    assert_eq!(source.pitr.unwrap().date.as_deref(), Some("2026-11-28T02:30:00Z"), "datetime-local becomes the contract's date");

    assert_eq!(backup_from_form(&form(&[("schedule_kind", "daily")])).unwrap(), (None, None), "nothing ticked: nothing written");
    let bad = backup_from_form(&form(&[("backup_schedule", "on"), ("schedule_kind", "monthly"), ("schedule_time", "01:00"), ("schedule_day", "30")]));
    assert_eq!(bad.unwrap_err().field, "schedule_day");
    assert_eq!(schedule_input("spec.backup.schedules[0].schedule"), Some("schedule_time"));
    assert_eq!(schedule_input("spec.backup.pitr.backupStorageName"), Some("pitr_storage"));
    assert_eq!(schedule_input("spec.engine.replicas"), None);
}

#[test]
fn the_backup_step_starts_from_a_path_in_a_storage() {
    let (_, source) = backup_from_form(&form(&[("from_storage", "s3"), ("from_path", " s3://bucket/db/b1 ")])).unwrap();
    let source = source.unwrap();
    let s = source.backup_source.unwrap();
    assert_eq!((s.backup_storage_name.as_str(), s.path.as_str()), ("s3", "s3://bucket/db/b1"));
    assert_eq!(source.db_cluster_backup_name, None);
    // One without the other is refused beside the missing one.
    assert_eq!(backup_from_form(&form(&[("from_storage", "s3"), ("from_path", "  ")])).unwrap_err().field, "from_path");
    assert_eq!(backup_from_form(&form(&[("from_path", "db/b1")])).unwrap_err().field, "from_storage");
    // With a point in time: the latest moment the logs reach, or a date (UTC); "" is as backed up.
    let at = |t: &str, d: &str| backup_from_form(&form(&[("from_storage", "s3"), ("from_path", "db/b1"), ("from_pitr_type", t), ("from_pitr_date", d)])).unwrap().1.unwrap().pitr;
    assert_eq!(at("latest", ""), Some(cairn::crd::Pitr { type_: cairn::crd::PitrType::Latest, date: None }));
    assert_eq!(at("date", "2026-11-28T02:30:15"), Some(cairn::crd::Pitr { type_: cairn::crd::PitrType::Date, date: Some("2026-11-28T02:30:15Z".into()) }));
    assert_eq!(at("", "2026-11-28T02:30"), None);
    assert_eq!(schedule_input("spec.dataSource.pitr.date"), Some("from_pitr_date"));
    // The service's rules land on the same inputs.
    assert_eq!(schedule_input("spec.dataSource.backupSource.path"), Some("from_path"));
    assert_eq!(schedule_input("spec.dataSource.backupSource.backupStorageName"), Some("from_storage"));
    assert_eq!(schedule_input("spec.dataSource.dbClusterBackupName"), Some("from_backup"));
    assert_eq!(restore_input("spec.dataSource.backupSource.path"), Some("path"));
    assert_eq!(restore_input("spec.dataSource.backupSource.backupStorageName"), Some("storage"));
    assert_eq!(restore_input("spec.dataSource.pitr.date"), Some("date"));
    assert_eq!(restore_input("spec.dbClusterName"), None);
}

#[test]
fn iso_dates() {
    use cairn::app::components::time::iso8601;
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
}

#[test]
fn a_plan_says_what_blocks_it_and_what_it_waits_for() {
    let mut p = NamespacePlan {
        namespace: "ns".into(),
        upgrades: vec![("percona-postgresql-operator".into(), "2.7.0".into(), "2.8.2".into())],
        checks: vec![("a".into(), "ready".into(), "ok".into()), ("b".into(), "notReady".into(), "initializing".into())],
        in_progress: vec![],
    };
    assert_eq!(p.blocked().as_deref(), Some("1 database(s) must be handled first (see the checks)."));
    assert_eq!(p.progress(), None);
    p.checks.truncate(1);
    assert_eq!(p.blocked(), None);
    p.in_progress = vec![("percona-postgresql-operator".into(), "2.8.2".into())];
    let m = p.progress().unwrap();
    assert!(m.contains("percona-postgresql-operator 2.8.2") && m.contains("changes in ns wait"), "{m}");
}

#[test]
fn hashed_names_and_form_errors() {
    use cairn::server::{html_escape, is_hashed_name, server_fn_message};
    assert!(is_hashed_name("/pkg/cairn.a1b2c3d4e5f6a7b8.wasm"));
    assert!(!is_hashed_name("/pkg/cairn.wasm"));
    assert!(!is_hashed_name("/pkg/cairn_bg.wasm"));
    assert_eq!(server_fn_message("ServerError|Invalid username or password"), "Invalid username or password");
    assert_eq!(server_fn_message("plain text"), "plain text");
    assert_eq!(html_escape("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
}

#[test]
fn ui_compression_takes_the_favicon_not_compressed_images_nor_event_streams() {
    use tower_http::compression::Predicate;
    let p = cairn::server::ui_compression();
    let resp = |ct: &str| http::Response::builder().header(http::header::CONTENT_TYPE, ct).body(String::from("x").repeat(100)).unwrap();
    for ct in ["image/x-icon", "image/vnd.microsoft.icon", "image/svg+xml", "text/html; charset=utf-8", "application/wasm", "text/css"] {
        assert!(p.should_compress(&resp(ct)), "{ct} should be compressed");
    }
    for ct in ["image/png", "image/jpeg", "image/webp", "text/event-stream"] {
        assert!(!p.should_compress(&resp(ct)), "{ct} should not be compressed");
    }
}

#[test]
fn the_import_step_lists_an_importers_settings_and_writes_its_config() {
    use cairn::app::pages::create_database_import::{data_import_from_form, import_input, required_field_note, schema_settings};
    let schema = serde_json::json!({"properties": {"threads": {"type": "integer"}, "tables": {"type": "array"}, "any": {}}, "required": ["threads"]});
    let s = schema_settings(Some(&schema));
    let names: Vec<(&str, &str, bool)> = s.iter().map(|s| (s.name.as_str(), s.kind.as_str(), s.required)).collect();
    assert_eq!(names, [("threads", "integer", true), ("any", "", false), ("tables", "array", false)], "required first, then by name");
    assert!(schema_settings(None).is_empty());

    let form = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    assert_eq!(data_import_from_form(form(&[("import_importer", "x")])).unwrap(), None, "no Import step: no import");
    let t = data_import_from_form(form(&[("import", "on"), ("import_importer", "x"), ("import_path", "/d.sql"), ("import_config", r#"{"threads": 4}"#)]))
        .unwrap()
        .unwrap();
    assert_eq!(t.data_importer_name.as_deref(), Some("x"));
    assert_eq!(t.config, Some(serde_json::json!({"threads": 4})));
    let source = t.source.unwrap();
    assert_eq!(source.path.as_deref(), Some("/d.sql"));
    let s3 = source.s3.unwrap();
    assert_eq!((s3.verify_tls, s3.force_path_style), (Some(false), Some(false)), "unticked boxes are absent from the form");
    let t = data_import_from_form(form(&[("import", "on"), ("import_verify_tls", "on"), ("import_force_path_style", "on")])).unwrap().unwrap();
    let s3 = t.source.unwrap().s3.unwrap();
    assert_eq!((s3.verify_tls, s3.force_path_style), (Some(true), Some(true)));
    let bad = data_import_from_form(form(&[("import", "on"), ("import_config", "{threads: 4")])).unwrap_err();
    assert_eq!(bad.field, "import_config");
    assert_eq!(import_input("spec.dataSource.dataImport.config.threads"), Some(("import_config", "Importer settings")));
    assert_eq!(required_field_note(".spec.engine.userSecretsName"), Some("Cairn fills it (the database's users Secret; with the administrator password below, it holds the source's)"));
}

/// The Import step's administrator credentials land in each engine's users-Secret keys (those the operators
/// and Cairn's credentials endpoint read); no password, no Secret.
#[test]
fn the_import_step_credentials_are_each_engines_users_secret() {
    use cairn::app::pages::create_database_import::import_users_secret;
    let keys = |e: &str, u: Option<&str>| import_users_secret(e, u, Some("pw")).unwrap().into_iter().collect::<Vec<_>>();
    assert_eq!(keys("pxc", None), [("root".to_string(), "pw".to_string())]);
    assert_eq!(keys("postgresql", None), [("password".to_string(), "pw".to_string())]);
    assert_eq!(
        keys("psmdb", Some(" admin ")),
        [("MONGODB_DATABASE_ADMIN_PASSWORD".to_string(), "pw".to_string()), ("MONGODB_DATABASE_ADMIN_USER".to_string(), "admin".to_string())]
    );
    assert_eq!(keys("psmdb", Some(""))[1].1, "databaseAdmin", "MongoDB's administrator by default");
    assert_eq!(import_users_secret("pxc", None, Some("")), None);
    assert_eq!(import_users_secret("pxc", None, None), None);
}
