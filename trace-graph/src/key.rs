//! Node keys: how composite identities (a user inside a domain, a resource
//! inside a project) become one unique, stable, human-readable string.
//!
//! A key is a list of components joined by `/`. Inside a component `%`, `/`
//! and `:` are percent-escaped, so no two different component lists give the
//! same key, whatever characters names contain. A component may carry a
//! marker (`id:…`, `name:…`, `system:…`) that says what kind of value follows;
//! the marker's `:` is never escaped, so markers cannot be forged by names.

/// Escapes the three characters that structure a key.
pub(crate) fn escape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for c in component.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            ':' => out.push_str("%3A"),
            other => out.push(other),
        }
    }
    out
}

/// `marker:escaped-value`, e.g. `id:d502…` or `name:my%2Fvm`.
pub(crate) fn marked(marker: &str, value: &str) -> String {
    format!("{marker}:{}", escape(value))
}

/// Joins already escaped (or marked) components with `/`.
pub(crate) fn join(components: &[&str]) -> String {
    components.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_keys_apart() {
        let a = join(&[&escape("a/b"), &marked("name", "c")]);
        let b = join(&[&escape("a"), &marked("name", "b/c")]);
        assert_ne!(a, b);
        assert_eq!(a, "a%2Fb/name:c");
        assert_eq!(b, "a/name:b%2Fc");
    }

    #[test]
    fn markers_cannot_be_forged() {
        // A resource literally named "id:x" must not collide with the resource whose id is "x".
        assert_ne!(marked("name", "id:x"), marked("id", "x"));
        assert_eq!(marked("name", "id:x"), "name:id%3Ax");
        assert_eq!(escape("100%"), "100%25");
    }

    #[test]
    fn plain_values_stay_readable() {
        assert_eq!(
            join(&["p1", "VPC", "eip", &marked("id", "d502809d")]),
            "p1/VPC/eip/id:d502809d"
        );
    }
}
