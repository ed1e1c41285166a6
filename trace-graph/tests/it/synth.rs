//! A small deterministic trace generator for the database tests: few users,
//! resources and IPs shared by many traces, so concurrent writers contend.

use serde_json::json;
use trace_graph::{TraceContext, TraceRecord};

pub const USERS: usize = 6;
pub const RESOURCES: usize = 30;

/// `n` traces in the run's namespace; trace `i` is the same on every call.
pub fn traces(run: &str, n: usize) -> Vec<TraceRecord> {
    let services = ["VPC", "ECS", "IAM", "OBS"];
    let ratings = ["normal", "normal", "normal", "warning", "incident"];
    let types = ["ApiCall", "ConsoleAction", "SystemAction"];
    (0..n)
        .map(|i| {
            let system = i % 17 == 0;
            let service = services[i % services.len()];
            let user = if system {
                json!(null)
            } else {
                json!({"id": format!("uid{}", i % USERS), "name": format!("user{}", i % USERS),
                       "domain": {"id": format!("{run}dom"), "name": "dom"}})
            };
            let trace = json!({
                "trace_id": format!("{run}{i:06}"),
                "trace_name": format!("op{}", i % 9),
                "trace_rating": ratings[i % ratings.len()],
                "trace_type": if system { "SystemAction" } else { types[i % 2] },
                "code": if i % 5 == 3 { "403" } else { "200" },
                "time": 1_717_000_000_000_i64 + i as i64 * 1000,
                "record_time": 1_717_000_000_500_i64 + i as i64 * 1000,
                "user": user,
                "service_type": service,
                "resource_type": "thing",
                "resource_id": format!("res{}", i % RESOURCES),
                "resource_name": format!("name{}", i % RESOURCES),
                "source_ip": if system { json!(null) } else { json!(format!("10.0.{}.{}", i % 3, i % 8)) },
                "request_id": format!("req{i}"),
                "request": format!("{{\"n\":{i}}}"),
            });
            let ctx = TraceContext::new(format!("{run}proj{}", i % 2), "eu-de")
                .with_domain(format!("{run}dom"), Some("dom".into()));
            TraceRecord::new(serde_json::from_value(trace).expect("synthetic trace"), ctx)
        })
        .collect()
}
