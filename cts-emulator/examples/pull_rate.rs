//! Measures how fast a client can pull traces through the emulator's v3
//! trace list: starts an emulator with a large history, then walks all
//! pages (limit 200) with a token, parsing every page as JSON.
//!
//! ```text
//! cargo run --release -p cts-emulator --example pull_rate -- [history] [parallel walkers]
//! ```

use std::time::{Duration, Instant};

use cts_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

async fn walk(
    client: reqwest::Client,
    base: String,
    token: String,
    from: i64,
    to: i64,
) -> anyhow::Result<usize> {
    let mut next: Option<String> = None;
    let mut n = 0;
    loop {
        let mut url = format!("{base}?limit=200&from={from}&to={to}");
        if let Some(m) = &next {
            url.push_str(&format!("&next={m}"));
        }
        let body = client
            .get(&url)
            .header("X-Auth-Token", &token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let v: Value = serde_json::from_slice(&body)?;
        let traces = v["traces"].as_array().map(Vec::len).unwrap_or(0);
        n += traces;
        match v["meta_data"]["marker"].as_str() {
            Some(m) if traces > 0 => next = Some(m.to_owned()),
            _ => return Ok(n),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let history: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let walkers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let t0 = Instant::now();
    let cfg = EmulatorConfig {
        history_count: history,
        history_span: Duration::from_secs(6 * 86_400),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse()?).await?;
    println!(
        "history of {history} traces generated and served after {:.2?}",
        t0.elapsed()
    );
    let p = emu.projects()[0].clone();
    let c = emu.credentials();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": c.username, "password": c.password.expose(), "domain": {"name": emu.domain().name}}}},
        "scope": {"project": {"id": p.id}}}});
    let client = reqwest::Client::new();
    let r = client
        .post(emu.iam_url().join("v3/auth/tokens")?)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let token = r.headers()["x-subject-token"].to_str()?.to_owned();
    let base = emu
        .base_url()
        .join(&format!("v3/{}/traces", p.id))?
        .to_string();
    let now = chrono::Utc::now().timestamp_millis();
    // Split the window into equal slices, one walker each.
    let (from, to) = (now - 7 * 86_400_000, now + 1);
    let step = (to - from) / walkers as i64;
    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..walkers as i64 {
        let hi = if i == walkers as i64 - 1 {
            to
        } else {
            from + (i + 1) * step + 1
        };
        tasks.push(tokio::spawn(walk(
            client.clone(),
            base.clone(),
            token.clone(),
            from + i * step,
            hi,
        )));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "pulled {total} traces with {walkers} walker(s) in {secs:.2} s: {:.0} traces/s",
        total as f64 / secs
    );
    emu.shutdown().await;
    Ok(())
}
