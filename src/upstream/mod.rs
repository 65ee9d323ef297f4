//! Typed Percona custom resources: only the fields Cairn writes and reads. Unknown fields are ignored on
//! read, and writes are server-side applies of exactly these fields, so whatever else is on the object
//! (a user's patch, the operator's defaults) is left alone.
pub mod pg;
pub mod psmdb;
pub mod pxc;
