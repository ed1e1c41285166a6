//! Encrypted Bolt against the real server: `scripts/neo4j-local` starts Neo4j with a test CA and a
//! certificate for localhost/127.0.0.1 (TLS optional on the same port) and exports the CA's path as
//! `NEO4J_LOCAL_CA_CERT`.

use crate::db;
use trace_graph::{GraphConfig, GraphWriter};

/// The server's settings plus the CA file and port, or `None` (after printing why) to skip.
fn tls_env(test: &str) -> Option<(db::Env, std::path::PathBuf, u16)> {
    let env = db::env(test)?;
    if env.container {
        eprintln!(
            "{test}: skipped: the TLS tests need the TLS listener of scripts/neo4j-local; \
             the testcontainers Neo4j has none"
        );
        return None;
    }
    let ca = match std::env::var("NEO4J_LOCAL_CA_CERT") {
        Ok(ca) if !ca.trim().is_empty() => std::path::PathBuf::from(ca),
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
    let port = env
        .uri
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(7687);
    Some((env, ca, port))
}

fn config(env: &db::Env, uri: String, ca: Option<&std::path::Path>) -> GraphConfig {
    let mut cfg = GraphConfig::new(uri, env.user.clone(), env.password.clone());
    cfg.ca_cert = ca.map(Into::into);
    cfg.connect_timeout = std::time::Duration::from_secs(10);
    cfg
}

#[tokio::test]
async fn bolt_s_and_neo4j_s_with_the_private_ca_write_and_read_back() {
    let Some((env, ca, port)) = tls_env("bolt_s_and_neo4j_s_with_the_private_ca") else {
        return;
    };
    let Some((_, graph)) = db::writer("bolt_s_and_neo4j_s_with_the_private_ca").await else {
        return;
    };
    for scheme in ["bolt+s", "neo4j+s"] {
        let run = db::run_id("tls");
        let writer = GraphWriter::connect(config(
            &env,
            format!("{scheme}://localhost:{port}"),
            Some(&ca),
        ))
        .await
        .unwrap_or_else(|e| panic!("{scheme} with the CA: {e}"));
        writer.ensure_schema().await.expect("schema over TLS");
        let records = crate::synth::traces(&run, 25);
        let report = writer.write(&records).await.expect("write over TLS");
        assert_eq!(report.written, 25, "{scheme}: {report:?}");
        // Read back over the plain connection: the same server, the same data.
        assert_eq!(db::counts(&graph, &run).await.0, 25, "{scheme}");
        db::cleanup(&graph, &run).await;
    }
}

#[tokio::test]
async fn bolt_ssc_encrypts_without_checking_the_certificate() {
    let Some((env, _, port)) = tls_env("bolt_ssc_encrypts_without_checking_the_certificate") else {
        return;
    };
    for uri in [
        format!("bolt+ssc://127.0.0.1:{port}"),
        format!("neo4j+ssc://localhost:{port}"),
    ] {
        let writer = GraphWriter::connect(config(&env, uri.clone(), None))
            .await
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        writer.ping().await.expect("ping");
    }
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_clearly() {
    let Some((env, _, port)) = tls_env("a_certificate_from_an_unknown_ca_is_refused_clearly")
    else {
        return;
    };
    // The system's roots do not include the test CA.
    let err = GraphWriter::connect(config(&env, format!("bolt+s://localhost:{port}"), None))
        .await
        .expect_err("unknown CA refused");
    let text = err.to_string();
    println!("{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("set the CA certificate (ca_cert)"), "{text}");
    assert!(
        !text.contains(&env.password) || env.password.is_empty(),
        "{text}"
    );
}
