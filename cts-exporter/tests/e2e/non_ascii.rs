//! Non-ASCII text on the CTS side: a `CTS_USER` or `CTS_RESOURCE_NAME` filter
//! holding umlauts, other scripts, spaces and right-to-left marks travels in
//! the signed query (AK/SK) and selects exactly the traces the emulator has
//! for it.

use std::collections::HashSet;
use std::time::Duration;

use cts_client::Trace;
use cts_emulator::{AuthKind, EmulatorConfig};

use crate::support::exporter::Exporter;
use crate::support::sink::TestSink;
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(60);

fn config() -> EmulatorConfig {
    EmulatorConfig {
        seed: 27,
        ..history(400, Duration::from_secs(600))
    }
}

/// Runs the exporter with one extra filter and checks that exactly `want`
/// arrives.
async fn only(world: &World, filter: (&str, &str), want: &HashSet<String>) {
    eprintln!("{filter:?} selects {} traces", want.len());
    assert!(!want.is_empty());
    let sink = TestSink::start().await;
    let env = env_with(world.env(&sink.url()), &[("CTS_FROM", "15"), filter]);
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    sink.wait_until(
        LONG,
        &format!("{} traces for {filter:?}", want.len()),
        |s| s.accepted().len() >= want.len(),
    )
    .await;
    // A poll interval's worth of time for anything that should not come.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: HashSet<String> = sink.accepted().into_keys().collect();
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(&got, want, "traces for {filter:?}");
}

fn ids<'a>(traces: impl Iterator<Item = &'a Trace>) -> HashSet<String> {
    traces.filter_map(|t| t.trace_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_user_and_resource_name_filters_select_exactly_their_traces() {
    let world = World::start(config(), AuthKind::AkSk).await;
    let traces = world.all_traces().await;
    let user_of = |t: &Trace| t.user.as_ref().and_then(|u| u.name.clone());

    // The busiest user whose name is not ASCII, and one with a right-to-left
    // mark or a space if the sample has one.
    let mut users: Vec<(String, usize)> = Vec::new();
    for name in traces.values().filter_map(user_of) {
        if name.is_ascii() {
            continue;
        }
        match users.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => users.push((name, 1)),
        }
    }
    users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut picked: Vec<String> = users.iter().take(1).map(|(n, _)| n.clone()).collect();
    if let Some((n, _)) = users
        .iter()
        .find(|(n, _)| n.contains('\u{200F}') || n.contains(' '))
    {
        picked.push(n.clone());
    }
    assert!(!picked.is_empty(), "the sample has no non-ASCII user");
    for name in &picked {
        let want = ids(traces
            .values()
            .filter(|t| user_of(t).as_ref() == Some(name)));
        only(&world, ("CTS_USER", name), &want).await;
    }

    // A resource name with a right-to-left override and CJK.
    let name = traces
        .values()
        .filter_map(|t| t.resource_name.clone())
        .find(|n| n.contains('\u{202E}'))
        .expect("the sample has a name with U+202E");
    let want = ids(traces
        .values()
        .filter(|t| t.resource_name.as_deref() == Some(&name)));
    only(&world, ("CTS_RESOURCE_NAME", &name), &want).await;
}
