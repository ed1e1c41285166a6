//! The search for leaked secrets in a process's output, shared by the secrets
//! tests of neo4j-sink and cts-exporter (`#[path]`-included by both).

/// Every form a secret could be printed in: as is, percent-encoded, JSON-escaped.
pub fn forms(secret: &str) -> Vec<String> {
    let percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let json = serde_json::to_string(secret).expect("json");
    vec![
        secret.to_string(),
        percent,
        json.trim_matches('"').to_string(),
    ]
}

/// The names of the secrets found in `output`, in any of their [`forms`].
pub fn leaks(output: &str, secrets: &[(&str, String)]) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, s)| forms(s).iter().any(|f| output.contains(f.as_str())))
        .map(|(name, _)| name.to_string())
        .collect()
}
