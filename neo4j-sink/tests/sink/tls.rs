//! The sink over encrypted Bolt: `scripts/neo4j-local` serves TLS on the same port with a test CA
//! (`NEO4J_LOCAL_CA_CERT`), so `neo4j+s://localhost:<port>` reaches the same database.

use crate::common::*;

/// The server settings with a `+s` URI, and the CA file; `None` (after saying why) to skip.
fn tls_env(test: &str, scheme: &str) -> Option<(Env, String)> {
    let plain = env(test)?;
    if plain.container {
        eprintln!(
            "{test}: skipped: the TLS tests need the TLS listener of scripts/neo4j-local; \
             the testcontainers Neo4j has none"
        );
        return None;
    }
    let ca = match std::env::var("NEO4J_LOCAL_CA_CERT") {
        Ok(ca) if !ca.trim().is_empty() => ca,
        _ => {
            if std::env::var("NEO4J_REQUIRED").as_deref() == Ok("1") {
                panic!(
                    "{test}: NEO4J_REQUIRED=1 but NEO4J_LOCAL_CA_CERT is not set; start Neo4j \
                     with scripts/neo4j-local (TLS on, needs openssl) and eval its env"
                );
            }
            eprintln!("{test}: skipped: NEO4J_LOCAL_CA_CERT not set");
            return None;
        }
    };
    let port = plain
        .uri
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
        .unwrap_or(7687);
    let env = Env {
        uri: format!("{scheme}://localhost:{port}"),
        user: plain.user,
        password: plain.password,
        container: false,
    };
    Some((env, ca))
}

#[tokio::test]
async fn neo4j_s_with_the_private_ca_stores_what_it_acknowledges() {
    let test = "neo4j_s_with_the_private_ca_stores_what_it_acknowledges";
    let Some((tls, ca)) = tls_env(test, "neo4j+s") else {
        return;
    };
    let plain = env(test).expect("env");
    let sink = TestSink::ready(&tls, &[&format!("--neo4j-ca-cert={ca}")]).await;
    let run = run_id();
    let id = format!("{run}-tls");
    let r = sink
        .binary(&event(&id, &run))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    // Read back over plain Bolt: the TLS connection wrote to the same database.
    assert_eq!(actions(&graph(&plain), &id).await, 1);
    assert_eq!(sink.stop().await, neo4j_sink::Shutdown::Drained);
}

#[tokio::test]
async fn an_untrusted_certificate_keeps_the_sink_unready_and_says_what_to_set() {
    let test = "an_untrusted_certificate_keeps_the_sink_unready_and_says_what_to_set";
    let Some((tls, _)) = tls_env(test, "bolt+s") else {
        return;
    };
    // No NEO4J_CA_CERT: the system's roots do not know the test CA.
    let sink = TestSink::start(&tls, &["--neo4j-connect-timeout-secs=5"]).await;
    let body = wait_not_ready_because(&sink, "UnknownIssuer").await;
    let error = body["error"].as_str().expect("error");
    assert!(error.contains("NEO4J_CA_CERT"), "{error}");
    assert!(
        !error.contains(&tls.password) || tls.password.is_empty(),
        "{error}"
    );
    let run = run_id();
    let r = sink
        .binary(&event(&format!("{run}-untrusted"), &run))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503, "nothing is acknowledged while not ready");
    assert_eq!(sink.stop().await, neo4j_sink::Shutdown::Drained);
}
