//! The payload of an act confirmation: its canonical form and hash.
//!
//! A school application and Varco must hash the same payload the same way,
//! whatever order its keys were written in: the canonical form is the JSON
//! with every object's keys sorted (by their UTF-8 bytes) at every depth and
//! no whitespace, as `serde_json` writes values; the hash is the base64url
//! (no padding) SHA-256 of those bytes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// `value` with every object's keys in sorted order (whatever order the
/// JSON map of this build keeps).
#[must_use]
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The canonical text of a payload.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    sorted(value).to_string()
}

/// The base64url SHA-256 of the canonical text.
#[must_use]
pub fn payload_hash(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_json(value).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash_and_values_do() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[{"q":1,"p":2}],"x":"è"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a": {"x": "è", "y": [ {"p": 2, "q": 1} ]}, "b": 1 }"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"è","y":[{"p":2,"q":1}]},"b":1}"#);
        assert_eq!(payload_hash(&a), payload_hash(&b));
        assert_eq!(payload_hash(&a).len(), 43);
        let changed = json!({"a": {"x": "è", "y": [{"p": 2, "q": 2}]}, "b": 1});
        assert_ne!(payload_hash(&a), payload_hash(&changed));
        let reordered_array = json!({"a": {"x": "è", "y": [{"q": 1, "p": 2}]}, "b": 1});
        assert_eq!(
            payload_hash(&a),
            payload_hash(&reordered_array),
            "keys, not arrays, are sorted"
        );
        let swapped = json!([2, 1]);
        assert_ne!(
            payload_hash(&json!([1, 2])),
            payload_hash(&swapped),
            "array order matters"
        );
    }
}
