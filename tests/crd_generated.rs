//! The chart's CRDs are generated from the Rust types (`cairn crd`); this fails when they drift.
#[test]
fn chart_crds_match_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/cairn/crds/everest.percona.com_databaseclusters.yaml");
    let on_disk = std::fs::read_to_string(path).expect("chart CRD file");
    assert_eq!(
        on_disk,
        cairn::crd::render_yaml().unwrap(),
        "charts/cairn/crds is stale: run `cairn crd > {path}`"
    );
}
