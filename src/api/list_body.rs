//! The database list's response bodies, kept already serialised and compressed: a list asked again with
//! nothing changed (the same items at the same resourceVersions, the same page) is answered with the bytes
//! of the last answer, without serialising or compressing 1,000 objects again. Keyed by a digest of what
//! the body is made of, so a change of any item (or of which items the caller may see) is a new body.
//!
//! The handler compresses these bodies itself (and sets `Content-Encoding`, which the router's compression
//! layer then leaves alone): brotli or gzip as the client accepts, brotli at a lower quality for large
//! bodies, where quality 4 costs ~8 ms per 800 KB and saves little.
use axum::body::Bytes;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Br,
    Gzip,
}

impl Encoding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Br => Some("br"),
            Encoding::Gzip => Some("gzip"),
        }
    }
}

/// The encoding for an `Accept-Encoding` header: the accepted one (q > 0) with the highest weight, brotli
/// before gzip at equal weight; identity when neither is accepted. `*` stands for both.
pub fn negotiate(accept: Option<&str>) -> Encoding {
    let (mut br, mut gzip, mut any) = (None::<f32>, None::<f32>, None::<f32>);
    for part in accept.unwrap_or_default().split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => any = Some(q),
            _ => {}
        }
    }
    let br = br.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Encoding::Br
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Bodies above this size are brotli-compressed at quality 2 (else 4, as the router's layer does).
const LARGE: usize = 128 * 1024;

/// `json` in `enc`.
pub fn encode(json: &[u8], enc: Encoding) -> std::io::Result<Vec<u8>> {
    match enc {
        Encoding::Identity => Ok(json.to_vec()),
        Encoding::Br => {
            let quality = if json.len() > LARGE { 2 } else { 4 };
            let mut out = Vec::with_capacity(json.len() / 8);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
                w.write_all(json)?;
                w.flush()?;
            }
            Ok(out)
        }
        Encoding::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 8), flate2::Compression::fast());
            w.write_all(json)?;
            w.finish()
        }
    }
}

/// How many bodies are kept (per encoding and content): the lists a few clients keep asking for.
const KEPT: usize = 8;

/// The last bodies served, newest last.
#[derive(Default)]
pub struct Bodies {
    kept: Mutex<VecDeque<([u8; 16], Encoding, Bytes)>>,
}

impl Bodies {
    /// The body for `key` in `enc`: the kept one, or `make()` (the JSON) encoded and kept.
    pub fn get_or_make(&self, key: [u8; 16], enc: Encoding, make: impl FnOnce() -> std::io::Result<Vec<u8>>) -> std::io::Result<Bytes> {
        {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, b)) = kept.iter().find(|(k, e, _)| *k == key && *e == enc) {
                return Ok(b.clone());
            }
        }
        let body = Bytes::from(encode(&make()?, enc)?);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.iter().any(|(k, e, _)| *k == key && *e == enc) {
            if kept.len() == KEPT {
                kept.pop_front();
            }
            kept.push_back((key, enc, body.clone()));
        }
        Ok(body)
    }

    /// The body made of `parts` (see [`key`]), kept; None (a part is unknown): made, encoded and not kept.
    pub fn get_or_make_parts(&self, parts: Option<Vec<&[u8]>>, enc: Encoding, make: impl FnOnce() -> std::io::Result<Vec<u8>>) -> std::io::Result<Bytes> {
        match parts {
            Some(parts) => self.get_or_make(key(parts), enc, make),
            None => make().and_then(|json| encode(&json, enc)).map(Into::into),
        }
    }
}

/// A digest of the parts a body is made of (each part length-prefixed, so no two lists of parts share one).
pub fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 16] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

/// The bodies of `GET /v1/namespaces/{ns}/database-clusters` (full view), for the whole process.
pub static DATABASE_LISTS: std::sync::LazyLock<Bodies> = std::sync::LazyLock::new(Bodies::default);

/// The items of those bodies, each kept serialised under its key (its view, uid and resourceVersion, and
/// for a summary row what the caller may do with it): after one database changed, the next body serialises
/// that one item and joins the kept bytes of the others, where it serialised all 1,000 again.
pub static DATABASE_ITEMS: std::sync::LazyLock<Items> = std::sync::LazyLock::new(Items::default);

/// Serialised list items by key. It keeps the items of the lists it joined, up to twice the largest list
/// plus a little: above that it keeps only the last list's, so old revisions do not pile up.
#[derive(Default)]
pub struct Items {
    kept: Mutex<std::collections::HashMap<Vec<u8>, Bytes>>,
}

impl Items {
    /// The JSON array of the items under `keys`: each the kept bytes of its key, or `ser(i)` (the i-th item's
    /// JSON), then kept.
    pub fn join(&self, keys: &[Vec<u8>], ser: impl Fn(usize) -> std::io::Result<Vec<u8>>) -> std::io::Result<Vec<u8>> {
        let found: Vec<Option<Bytes>> = {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter().map(|k| kept.get(k).cloned()).collect()
        };
        let mut made = Vec::new();
        let mut parts = Vec::with_capacity(keys.len());
        for (i, f) in found.into_iter().enumerate() {
            parts.push(match f {
                Some(b) => b,
                None => {
                    let b = Bytes::from(ser(i)?);
                    made.push(i);
                    b
                }
            });
        }
        if !made.is_empty() {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() + made.len() > 2 * keys.len() + 64 {
                kept.clear();
                kept.extend(keys.iter().cloned().zip(parts.iter().cloned()));
            } else {
                kept.extend(made.into_iter().map(|i| (keys[i].clone(), parts[i].clone())));
            }
        }
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
        out.push(b'[');
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(p);
        }
        out.push(b']');
        Ok(out)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.lock().unwrap().len()
    }
}

/// `envelope` (a list serialised with no items, its `items` the last field: `…,"items":[]}`) with `items`
/// (a JSON array) in place of the empty one.
pub fn with_items(mut envelope: Vec<u8>, items: &[u8]) -> std::io::Result<Vec<u8>> {
    const EMPTY: &[u8] = b"\"items\":[]}";
    if !envelope.ends_with(EMPTY) {
        return Err(std::io::Error::other("the list's items are not its last field"));
    }
    envelope.truncate(envelope.len() - 3);
    envelope.reserve(items.len() + 1);
    envelope.extend_from_slice(items);
    envelope.push(b'}');
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiation_follows_the_weights() {
        assert_eq!(negotiate(None), Encoding::Identity);
        assert_eq!(negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Encoding::Br, "brotli first at equal weight");
        assert_eq!(negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.5, gzip")), Encoding::Gzip, "the higher weight");
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0")), Encoding::Identity, "q=0 refuses");
        assert_eq!(negotiate(Some("*")), Encoding::Br);
        assert_eq!(negotiate(Some("*;q=0.1, br;q=0")), Encoding::Gzip);
        assert_eq!(negotiate(Some("BR ; q=1.0")), Encoding::Br);
    }

    #[test]
    fn bodies_decode_to_the_json_in_every_encoding() {
        let json: Vec<u8> = serde_json::to_vec(&(0..20_000).map(|i| format!("item-{i}")).collect::<Vec<_>>()).unwrap();
        assert!(json.len() > LARGE, "the large-body quality is covered");
        for small in [false, true] {
            let json = if small { &json[..1000] } else { &json[..] };
            let mut out = Vec::new();
            brotli::Decompressor::new(&encode(json, Encoding::Br).unwrap()[..], 4096).read_to_end(&mut out).unwrap();
            assert_eq!(out, json);
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&encode(json, Encoding::Gzip).unwrap()[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, json);
            assert_eq!(encode(json, Encoding::Identity).unwrap(), json);
        }
    }

    #[test]
    fn a_body_is_made_once_per_key_and_encoding() {
        let b = Bodies::default();
        let calls = std::cell::Cell::new(0);
        let make = || {
            calls.set(calls.get() + 1);
            Ok(b"{\"items\":[]}".to_vec())
        };
        let k1 = key([&b"a"[..], b"1"]);
        let first = b.get_or_make(k1, Encoding::Gzip, make).unwrap();
        assert_eq!(b.get_or_make(k1, Encoding::Gzip, make).unwrap(), first);
        assert_eq!(calls.get(), 1, "the kept body");
        b.get_or_make(k1, Encoding::Identity, make).unwrap();
        assert_eq!(calls.get(), 2, "another encoding is another body");
        b.get_or_make(key([&b"a"[..], b"2"]), Encoding::Gzip, make).unwrap();
        assert_eq!(calls.get(), 3, "another key (a changed item) is another body");
        assert_ne!(key([&b"ab"[..], b""]), key([&b"a"[..], b"b"]), "parts are delimited");
        for i in 0..KEPT as u8 {
            b.get_or_make(key([&[i][..]]), Encoding::Br, make).unwrap();
        }
        b.get_or_make(k1, Encoding::Gzip, make).unwrap();
        assert_eq!(calls.get(), 3 + KEPT + 1, "the oldest bodies are dropped");
    }

    #[test]
    fn items_are_serialised_once_per_key_and_joined_as_serde_would() {
        #[derive(serde::Serialize)]
        struct L<T> {
            kind: &'static str,
            items: Vec<T>,
        }
        let items = Items::default();
        let values: Vec<serde_json::Value> = (0..5).map(|i| serde_json::json!({"name": format!("db-{i}"), "n": i})).collect();
        let keys: Vec<Vec<u8>> = (0..5).map(|i| format!("uid-{i}/1").into_bytes()).collect();
        let calls = std::cell::Cell::new(0);
        let ser = |i: usize| {
            calls.set(calls.get() + 1);
            serde_json::to_vec(&values[i]).map_err(std::io::Error::other)
        };
        let whole = serde_json::to_vec(&L { kind: "X", items: values.clone() }).unwrap();
        let envelope = serde_json::to_vec(&L::<()> { kind: "X", items: vec![] }).unwrap();
        assert_eq!(with_items(envelope.clone(), &items.join(&keys, ser).unwrap()).unwrap(), whole, "the same bytes as serde's");
        assert_eq!(calls.get(), 5);
        assert_eq!(with_items(envelope.clone(), &items.join(&keys, ser).unwrap()).unwrap(), whole);
        assert_eq!(calls.get(), 5, "all kept");
        // One item at a new revision: only it is serialised.
        let mut keys2 = keys.clone();
        keys2[3] = b"uid-3/2".to_vec();
        items.join(&keys2, ser).unwrap();
        assert_eq!(calls.get(), 6);
        assert_eq!(with_items(envelope.clone(), &items.join(&[], ser).unwrap()).unwrap(), serde_json::to_vec(&L::<()> { kind: "X", items: vec![] }).unwrap());
        assert!(with_items(b"{\"items\":[],\"kind\":\"X\"}".to_vec(), b"[1]").is_err(), "items not last: refused");
        // Old revisions do not pile up: past twice the list plus 64, only the last list's are kept.
        for rv in 3..40 {
            let keys: Vec<Vec<u8>> = (0..5).map(|i| format!("uid-{i}/{rv}").into_bytes()).collect();
            items.join(&keys, ser).unwrap();
            assert!(items.len() <= 2 * 5 + 64 + 5, "{}", items.len());
        }
    }
}
