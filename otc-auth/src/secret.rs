//! A string that must never be printed.
//!
//! Passwords, secret keys and tokens travel through configuration, errors and logs. Wrapping them in
//! [`Secret`] makes the safe thing the default: `Debug` and `Display` print `***`, and the only way to
//! read the value is the explicit [`Secret::expose`] call at the place that sends it.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A secret string (password, secret key, token) whose `Debug` and `Display` print `***`.
///
/// ```
/// use otc_auth::Secret;
/// let pw = Secret::new("hunter2");
/// assert_eq!(format!("{pw:?} {pw}"), "*** ***");
/// assert_eq!(pw.expose(), "hunter2");
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if the secret is the empty string (treated as "not set" by the loader).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("p@ssw0rd-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:#?}", Some(s.clone())), "Some(\n    ***,\n)");
        assert_eq!(s.expose(), "p@ssw0rd-very-secret");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        let s: Secret = serde_json::from_str("\"abc\"").expect("string");
        assert_eq!(s.expose(), "abc");
        assert!(serde_json::from_str::<Secret>("12").is_err());
    }
}
