//! The operations port: `/healthz` and `/metrics`, on an address of their own
//! so that probes and scrapes never compete with event delivery.
//!
//! [`router`] is separate from [`serve`] so tests drive it without a socket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::metrics::Registry;

#[derive(Clone)]
struct Ops {
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
}

/// The routes: `GET /healthz` (200 while running, 503 once shutting down)
/// and `GET /metrics` (Prometheus text format).
pub fn router(registry: Arc<Registry>, shutdown: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(Ops { registry, shutdown })
}

async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    if *ops.shutdown.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    let body = ops.registry.render(chrono::Utc::now().timestamp_millis());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// Binds `addr` and serves until shutdown. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(registry, shutdown.clone());
    let mut stop = shutdown;
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cts_client::follow::stopped(&mut stop).await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the /healthz and /metrics server failed");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `app` on a loopback port and GETs `path` from it.
    async fn get_text(app: Router, path: &str) -> (StatusCode, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let resp = reqwest::get(format!("http://{addr}{path}"))
            .await
            .expect("get");
        let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
        (status, resp.text().await.expect("body"))
    }

    #[tokio::test]
    async fn healthz_follows_shutdown_and_metrics_are_scraped() {
        let registry = Arc::new(Registry::default());
        registry
            .poller("prod")
            .acked
            .fetch_add(4, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        let (s, body) = get_text(router(Arc::clone(&registry), rx.clone()), "/healthz").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "ok\n"));
        let (s, body) = get_text(router(Arc::clone(&registry), rx.clone()), "/metrics").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            body.contains("cts_exporter_events_acknowledged_total{cloud=\"prod\"} 4"),
            "{body}"
        );
        tx.send(true).expect("send");
        let (s, _) = get_text(router(registry, rx), "/healthz").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    }
}
