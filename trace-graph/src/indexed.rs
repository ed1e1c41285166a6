//! Values longer than a Neo4j index entry may hold: how the writer stores
//! them so that every trace is kept in full and can still be found.
//!
//! Neo4j 5 refuses to index a string of more than 8164 UTF-8 bytes in a
//! range index (the index behind every uniqueness constraint too): the whole
//! transaction fails with "Property value is too large to index". An audit
//! store must not lose such a trace, so every *indexed* property (a node key
//! or a property with a range index) follows one rule:
//!
//! - a value of at most [`MAX_INDEXED_BYTES`] (4096) UTF-8 bytes is stored as
//!   it is, exactly as before this rule existed;
//! - a longer value is stored **in full** in a companion property named
//!   `<property>Full` (for example `nameFull`), which has no index, and the
//!   indexed property holds its [`index_form`]: the longest prefix of at most
//!   4096 bytes that ends on a character boundary, then `…sha256:` and the
//!   SHA-256 of the whole value in lower-case hex.
//!
//! An index form is always longer than 4096 bytes and at most
//! [`MAX_FORM_BYTES`] (4170), so it fits an index entry with room to spare and
//! can never equal a value stored as it is. The same long value always gives
//! the same form (so `MERGE` stays idempotent and two traces naming the same
//! long resource share one node); two long values that differ anywhere, even
//! after a common 4 KB prefix, give different forms.
//!
//! Properties without an index always hold the full value; so does every
//! copy an `Action` keeps of its neighbours' values (`resourceName`,
//! `userName`, `sourceIp`, …).
//!
//! To find a node by a value that may be long, without computing the form:
//! `n.p = $v OR (n.p STARTS WITH left($v, 1024) AND n.pFull = $v)`. The first
//! 1024 characters of a value are at most 4096 bytes, so they are a prefix of
//! the stored form; both parts are index seeks (see <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/graph-model.md>).

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Longest value, in UTF-8 bytes, that an indexed property stores as it is.
///
/// Half of Neo4j's limit for one range-index entry (8164 bytes for a string
/// on Neo4j 5.26, measured; <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/graph-model.md>), far above any real CTS
/// value. A longer value is stored in index form (see [`index_form`]).
pub const MAX_INDEXED_BYTES: usize = 4096;

/// What separates the prefix from the hash in an index form.
pub const FORM_SEPARATOR: &str = "…sha256:";

/// Longest index form, in UTF-8 bytes: 4096 + the separator + 64 hex digits.
pub const MAX_FORM_BYTES: usize = MAX_INDEXED_BYTES + FORM_SEPARATOR.len() + 64;

/// How many leading characters of a value are always a prefix of its index
/// form: 1024 characters take at most 4096 bytes in UTF-8. Queries use it as
/// `left($value, 1024)` to seek an index by prefix.
pub const PREFIX_CHARS: usize = MAX_INDEXED_BYTES / 4;

/// The suffix of the property that holds the full value of a shortened one
/// (`name` → `nameFull`).
pub const FULL_SUFFIX: &str = "Full";

/// The value an indexed property holds for `value`: `value` itself when it is
/// at most [`MAX_INDEXED_BYTES`] bytes long, else its shortened, hashed form.
///
/// Deterministic and never cuts a character in half.
///
/// ```
/// use trace_graph::indexed::{index_form, MAX_INDEXED_BYTES, MAX_FORM_BYTES};
/// assert_eq!(index_form("web-1"), "web-1");
/// let long = "é".repeat(3000); // 6000 bytes
/// let form = index_form(&long);
/// assert!(form.len() > MAX_INDEXED_BYTES && form.len() <= MAX_FORM_BYTES);
/// assert!(form.starts_with(&long[..4096]));
/// assert_eq!(form, index_form(&long));
/// ```
pub fn index_form(value: &str) -> Cow<'_, str> {
    if !is_shortened(value) {
        return Cow::Borrowed(value);
    }
    let mut cut = MAX_INDEXED_BYTES;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + FORM_SEPARATOR.len() + 64);
    out.push_str(&value[..cut]);
    out.push_str(FORM_SEPARATOR);
    for byte in Sha256::digest(value.as_bytes()) {
        let _ = write!(out, "{byte:02x}");
    }
    Cow::Owned(out)
}

/// True when `value` is too long to be indexed as it is, i.e. when an indexed
/// property stores [`index_form`] of it and keeps the value in `<property>Full`.
pub fn is_shortened(value: &str) -> bool {
    value.len() > MAX_INDEXED_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_as_they_are() {
        for v in ["", "alice", "ü", &"x".repeat(MAX_INDEXED_BYTES)] {
            assert!(matches!(index_form(v), Cow::Borrowed(s) if s == v));
            assert!(!is_shortened(v));
        }
    }

    #[test]
    fn a_value_one_byte_over_is_shortened_and_longer_than_any_kept_value() {
        let v = "x".repeat(MAX_INDEXED_BYTES + 1);
        let form = index_form(&v);
        assert!(form.len() > MAX_INDEXED_BYTES, "{}", form.len());
        assert_eq!(form.len(), MAX_FORM_BYTES);
        assert!(form.starts_with(&v[..MAX_INDEXED_BYTES]));
        let hex = form.rsplit(FORM_SEPARATOR).next().expect("hash");
        assert_eq!(hex.len(), 64);
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn the_cut_never_splits_a_character() {
        // 1, 2, 3 and 4-byte characters, with the 4096-byte boundary falling
        // at every position inside a character.
        for ch in ['a', 'é', '€', '😀'] {
            for lead in 0..4 {
                let v = format!("{}{}", "a".repeat(lead), ch.to_string().repeat(5000));
                let form = index_form(&v);
                let prefix = form.split(FORM_SEPARATOR).next().expect("prefix");
                assert!(v.starts_with(prefix));
                assert!(prefix.len() <= MAX_INDEXED_BYTES);
                assert!(
                    prefix.len() + ch.len_utf8() > MAX_INDEXED_BYTES,
                    "{ch} {lead}"
                );
                assert!(form.len() > MAX_INDEXED_BYTES && form.len() <= MAX_FORM_BYTES);
            }
        }
    }

    #[test]
    fn forms_are_deterministic_and_tell_apart_values_with_the_same_prefix() {
        let common = "p".repeat(5000);
        let a = format!("{common}a");
        let b = format!("{common}b");
        assert_eq!(index_form(&a), index_form(&a.clone()));
        assert_ne!(index_form(&a), index_form(&b));
        assert_eq!(
            index_form(&a).split(FORM_SEPARATOR).next(),
            index_form(&b).split(FORM_SEPARATOR).next(),
            "same prefix, told apart by the hash"
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_value() {
        // Computed independently: `printf 'a%.0s' $(seq 5000) | sha256sum`.
        let form = index_form(&"a".repeat(5000)).into_owned();
        assert_eq!(
            form,
            format!(
                "{}…sha256:c526c6222044dab5674de9c4ac7f4566ebb5e4d8bf9d8ea34c9cc8a7cc3c869c",
                "a".repeat(4096)
            )
        );
        // Python: hashlib.sha256(('é' * 3000).encode()).hexdigest(); the cut falls at 4096 bytes.
        let form = index_form(&"é".repeat(3000)).into_owned();
        assert!(form
            .ends_with("…sha256:557bf944b8c2f7b5ac98cd9894438f6b645f006e4f726e74fd307871d8d3c87a"));
    }

    #[test]
    fn the_first_prefix_chars_are_always_a_prefix_of_the_form() {
        for ch in ['a', 'é', '€', '😀'] {
            let v = ch.to_string().repeat(5000);
            let left: String = v.chars().take(PREFIX_CHARS).collect();
            assert!(index_form(&v).starts_with(&left), "{ch}");
        }
    }
}
