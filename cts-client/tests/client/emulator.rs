//! End to end against the in-process cts-emulator: an independent reading
//! of the spec, with real IAM tokens, AK/SK signatures and pagination.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cts_client::{
    ApiVersion, CtsClient, CtsClientBuilder, RetryConfig, Trace, TraceQuery, TraceRating,
};
use cts_emulator::{Emulator, EmulatorConfig, Faults, V2StatusField};
use futures::TryStreamExt;
use otc_auth::{AuthProvider, CloudConfig, Credentials, DomainRef, UserRef};

use crate::support::{FakeClock, FixedRandom};

const HISTORY: usize = 450;

async fn start(cfg: EmulatorConfig) -> Emulator {
    Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

async fn builder(emu: &Emulator, aksk: bool) -> CtsClientBuilder {
    let project = emu.projects().into_iter().next().expect("a project");
    let c = emu.credentials();
    let credentials = if aksk {
        Credentials::AkSk {
            access_key: c.ak.clone(),
            secret_key: otc_auth::Secret::new(c.sk.expose()),
            security_token: None,
        }
    } else {
        Credentials::Password {
            user: UserRef::Name {
                name: c.username.clone(),
                domain: DomainRef::Name(emu.domain().name),
            },
            password: otc_auth::Secret::new(c.password.expose()),
        }
    };
    let mut cloud = CloudConfig::new("emu", emu.iam_url(), project.region.clone(), credentials);
    cloud.project_name = Some(project.name.clone());
    let provider = Arc::new(AuthProvider::new(cloud).expect("provider"));
    CtsClient::builder_from_provider(provider)
        .await
        .expect("catalog has cts")
}

fn everything() -> TraceQuery {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    TraceQuery::new()
        .window_ms(now - 2 * 86_400_000, now + 60_000)
        .limit(37)
}

async fn pull(client: &CtsClient, q: TraceQuery) -> Vec<Trace> {
    client.traces(q).try_collect().await.expect("pull succeeds")
}

fn id_set(traces: &[Trace]) -> HashSet<String> {
    let ids: Vec<String> = traces
        .iter()
        .map(|t| t.trace_id.clone().expect("id"))
        .collect();
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "no trace twice");
    set
}

#[tokio::test]
async fn every_version_and_auth_kind_pulls_exactly_the_emulators_traces() {
    let emu = start(EmulatorConfig {
        history_count: HISTORY,
        ..EmulatorConfig::default()
    })
    .await;
    let project = emu.projects()[0].id.clone();
    let truth: HashSet<String> = emu.visible_trace_ids(&project).into_iter().collect();
    assert_eq!(truth.len(), HISTORY);
    for aksk in [false, true] {
        for version in [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3] {
            let client = builder(&emu, aksk)
                .await
                .api_version(version)
                .build()
                .expect("client");
            assert_eq!(client.endpoint().project_id(), project);
            let traces = pull(&client, everything()).await;
            assert_eq!(id_set(&traces), truth, "{version} aksk={aksk}");
            let times: Vec<i64> = traces
                .iter()
                .map(|t| t.record_time.expect("record_time"))
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] >= w[1]),
                "newest first ({version})"
            );
        }
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn server_side_filters_match_filtering_the_full_pull() {
    let emu = start(EmulatorConfig {
        history_count: HISTORY,
        ..EmulatorConfig::default()
    })
    .await;
    for version in [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3] {
        let client = builder(&emu, false)
            .await
            .api_version(version)
            .build()
            .expect("client");
        let all = pull(&client, everything()).await;
        let sample = &all[all.len() / 2];
        let service = sample.service_type.clone().expect("service_type");
        let want: HashSet<String> = id_set(
            &all.iter()
                .filter(|t| t.service_type.as_deref() == Some(&service))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let got = pull(&client, everything().service_type(service.clone())).await;
        assert_eq!(id_set(&got), want, "service_type={service} on {version}");

        let want: HashSet<String> = id_set(
            &all.iter()
                .filter(|t| t.trace_rating == Some(TraceRating::Warning))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let got = pull(&client, everything().trace_rating(TraceRating::Warning)).await;
        assert!(!want.is_empty(), "the emulator produces warnings");
        assert_eq!(id_set(&got), want, "trace_rating=warning on {version}");
    }
    emu.shutdown().await;
}

/// v2 names the status `trace_status` (the emulator's default, what the
/// OTC SDK reads) or `trace_rating` (the current v2 page): the client reads
/// either into `trace_rating`, equal to what v3 says for the same trace.
#[tokio::test]
async fn the_v2_status_is_read_under_either_field_name() {
    for field in [V2StatusField::TraceStatus, V2StatusField::TraceRating] {
        let emu = start(EmulatorConfig {
            history_count: 300,
            v2_status_field: field,
            ..EmulatorConfig::default()
        })
        .await;
        let pull_version = |version| {
            let emu = &emu;
            async move {
                let client = builder(emu, false)
                    .await
                    .api_version(version)
                    .build()
                    .expect("client");
                pull(&client, everything()).await
            }
        };
        let v2 = pull_version(ApiVersion::V2).await;
        let v3 = pull_version(ApiVersion::V3).await;
        assert_eq!(v2.len(), 300);
        let rating_of = |traces: &[Trace]| {
            traces
                .iter()
                .map(|t| (t.trace_id.clone().expect("id"), t.trace_rating.clone()))
                .collect::<std::collections::HashMap<_, _>>()
        };
        let (r2, r3) = (rating_of(&v2), rating_of(&v3));
        assert!(
            r2.values().all(Option::is_some),
            "{field:?}: every v2 trace has a status"
        );
        assert_eq!(r2, r3, "{field:?}: v2 status equals v3 trace_rating");
        assert!(r2.values().any(|r| *r == Some(TraceRating::Warning)));
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn marker_on_the_last_page_ends_cleanly() {
    let emu = start(EmulatorConfig {
        history_count: 74,
        marker_on_last_page: true,
        ..EmulatorConfig::default()
    })
    .await;
    let client = builder(&emu, false).await.build().expect("client");
    let pages: Vec<_> = client
        .pages(everything())
        .try_collect()
        .await
        .expect("no loop error");
    assert_eq!(pages.len(), 2, "74 traces in pages of 37");
    assert!(pages.iter().all(|p| p.marker.is_some()));
    emu.shutdown().await;
}

#[tokio::test]
async fn injected_throttling_and_server_errors_are_ridden_out() {
    let faults = Faults {
        rate_limited_share: 0.15,
        retry_after_secs: 1,
        server_error_share: 0.15,
        ..Faults::default()
    };
    let emu = start(EmulatorConfig {
        history_count: HISTORY,
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let clock = Arc::new(FakeClock::default());
    let client = builder(&emu, true)
        .await
        .clock(clock.clone())
        .random_source(Arc::new(FixedRandom(0.5)))
        .retry(RetryConfig {
            max_attempts: 12,
            ..RetryConfig::default()
        })
        .build()
        .expect("client");
    let traces = pull(&client, everything()).await;
    let truth: HashSet<String> = emu
        .visible_trace_ids(&emu.projects()[0].id)
        .into_iter()
        .collect();
    assert_eq!(id_set(&traces), truth);
    let sleeps = clock.sleeps();
    assert!(!sleeps.is_empty(), "some requests were retried");
    assert!(
        sleeps.contains(&Duration::from_secs(1)),
        "Retry-After: 1 was honoured: {sleeps:?}"
    );
    emu.shutdown().await;
}
