//! One module per engine. Each exposes pure functions: `desired()` (our spec → upstream CR) and `status()`
//! (upstream status → our status). Reconcilers gather inputs, call them and apply the result.
pub mod postgresql;
pub mod psmdb;
pub mod pxc;
pub mod quantity;
pub mod versions;

/// Turns a bare IP into a CIDR (/32 or /128), as OpenEverest does for `ipSourceRanges`.
pub fn normalize_source_range(s: &str) -> String {
    let s = s.trim();
    if s.contains('/') {
        s.to_string()
    } else if s.contains(':') {
        format!("{s}/128")
    } else {
        format!("{s}/32")
    }
}
