//! The chart's CRDs are generated from the Rust types (`cairn crd --dir charts/cairn/crds`); this fails when
//! they drift.
#[test]
fn chart_crds_match_the_rust_types() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/cairn/crds");
    let files = cairn::crd::render_files().unwrap();
    assert!(files.iter().any(|(n, _)| n == "everest.percona.com_databaseengines.yaml"));
    for (name, text) in files {
        let path = format!("{dir}/{name}");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(on_disk, text, "{path} is stale or missing: run `cairn crd --dir {dir}`");
    }
}
