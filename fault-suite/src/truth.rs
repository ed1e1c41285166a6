//! The verdict on traces: what the emulator made visible (its ground truth,
//! `GET /_emulator/truth`) against the `Action` nodes in Neo4j.
//!
//! The emulator keeps generating traces until it is stopped, so "expected" is
//! a cut-off: every id visible at the moment the suite stops injecting faults.
//! The exporters are then allowed to drain until their watermark passes that
//! moment, which by their contract means every one of those ids was
//! acknowledged, i.e. committed. Traces that became visible after the cut-off
//! may or may not be in Neo4j; they must still be known to the emulator at the
//! end, or they are "extra".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

/// The emulator's answer for one project.
#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    /// Project id.
    pub project_id: String,
    /// Ids of every visible trace, in ingestion order.
    pub trace_ids: Vec<String>,
    /// Generated traces not visible yet.
    pub pending_count: usize,
    /// The trace time (epoch ms) of each id of `trace_ids`, same order.
    #[serde(default)]
    pub trace_times_ms: Vec<i64>,
}

/// Fetches the truth of `project_id` (the route has no injected faults, but
/// a busy machine can be slow: three tries).
pub async fn fetch(
    http: &reqwest::Client,
    base_url: &str,
    project_id: &str,
) -> anyhow::Result<Truth> {
    let url = format!(
        "{}/_emulator/truth?project_id={project_id}",
        base_url.trim_end_matches('/')
    );
    let mut last = None;
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                let t: Truth = r
                    .json()
                    .await
                    .with_context(|| format!("decoding the truth of {project_id}"))?;
                if t.project_id != project_id {
                    bail!(
                        "asked the emulator for the truth of {project_id}, got {}",
                        t.project_id
                    );
                }
                return Ok(t);
            }
            Ok(r) => last = Some(format!("status {}", r.status())),
            Err(e) => last = Some(e.to_string()),
        }
    }
    bail!(
        "the emulator's truth for {project_id} failed: {}",
        last.unwrap_or_default()
    )
}

/// Sets of trace ids per project id.
pub type IdSets = BTreeMap<String, HashSet<String>>;

/// Turns truths into sets, refusing a truth that lists an id twice.
pub fn id_sets(truths: &[Truth]) -> anyhow::Result<IdSets> {
    let mut out = IdSets::new();
    for t in truths {
        let set: HashSet<String> = t.trace_ids.iter().cloned().collect();
        if set.len() != t.trace_ids.len() {
            bail!(
                "the emulator's truth for {} lists {} ids but only {} distinct ones",
                t.project_id,
                t.trace_ids.len(),
                set.len()
            );
        }
        out.insert(t.project_id.clone(), set);
    }
    Ok(out)
}

/// Like [`id_sets`], keeping per project only the ids whose trace time is
/// after that project's lower edge in `after` (the exporter's first start
/// owes nothing older); a project without an edge keeps every id. Also
/// returns, per project, the ids left out.
pub fn id_sets_after(
    truths: &[Truth],
    after: &BTreeMap<String, i64>,
) -> anyhow::Result<(IdSets, IdSets)> {
    let mut kept = Vec::new();
    let mut left_out = IdSets::new();
    for t in truths {
        let Some(edge) = after.get(&t.project_id) else {
            kept.push(t.clone());
            continue;
        };
        if t.trace_times_ms.len() != t.trace_ids.len() {
            bail!(
                "the emulator's truth for {} gives {} trace times for {} ids; rebuild cts-emulator (it reports `trace_times_ms`)",
                t.project_id,
                t.trace_times_ms.len(),
                t.trace_ids.len()
            );
        }
        let mut k = t.clone();
        k.trace_ids.clear();
        k.trace_times_ms.clear();
        let out = left_out.entry(t.project_id.clone()).or_default();
        for (id, time) in t.trace_ids.iter().zip(&t.trace_times_ms) {
            if time > edge {
                k.trace_ids.push(id.clone());
                k.trace_times_ms.push(*time);
            } else {
                out.insert(id.clone());
            }
        }
        kept.push(k);
    }
    Ok((id_sets(&kept)?, left_out))
}

/// One `Action` in Neo4j: its trace id and project id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAction {
    /// `traceId`.
    pub trace_id: String,
    /// `projectId` (absent would itself be a defect).
    pub project_id: Option<String>,
}

/// The comparison of the graph with the truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Ids visible at the cut-off.
    pub expected: usize,
    /// Distinct `traceId`s of the `Action` nodes.
    pub found: usize,
    /// Expected ids without an `Action` of their project in Neo4j (sorted).
    pub missing: Vec<String>,
    /// Ids in Neo4j the emulator never showed for that project by the end (sorted).
    pub extra: Vec<String>,
    /// `traceId`s held by more than one `Action` node, with their count.
    pub duplicated: Vec<(String, usize)>,
    /// Ids visible only after the cut-off that made it into Neo4j anyway.
    pub after_cutoff: usize,
}

impl Comparison {
    /// Compares `found` with `expected` (the truth at the cut-off) and with
    /// `at_end` (the truth once every exporter had stopped).
    pub fn new(expected: &IdSets, at_end: &IdSets, found: &[FoundAction]) -> Comparison {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for a in found {
            *count.entry(a.trace_id.as_str()).or_default() += 1;
        }
        let mut duplicated: Vec<(String, usize)> = count
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| ((*id).to_string(), *n))
            .collect();
        duplicated.sort();

        let mut extra = Vec::new();
        let mut after_cutoff = 0usize;
        let mut seen = HashSet::new();
        for a in found {
            if !seen.insert(a.trace_id.as_str()) {
                continue;
            }
            let known_at_end = a
                .project_id
                .as_ref()
                .and_then(|p| at_end.get(p))
                .is_some_and(|s| s.contains(&a.trace_id));
            if !known_at_end {
                extra.push(a.trace_id.clone());
                continue;
            }
            let expected_now = a
                .project_id
                .as_ref()
                .and_then(|p| expected.get(p))
                .is_some_and(|s| s.contains(&a.trace_id));
            if !expected_now {
                after_cutoff += 1;
            }
        }
        extra.sort();

        let mut stored: HashSet<(&str, &str)> = HashSet::new();
        for a in found {
            if let Some(p) = &a.project_id {
                stored.insert((p.as_str(), a.trace_id.as_str()));
            }
        }
        let mut missing: Vec<String> = expected
            .iter()
            .flat_map(|(p, ids)| ids.iter().map(move |id| (p, id)))
            .filter(|(p, id)| !stored.contains(&(p.as_str(), id.as_str())))
            .map(|(_, id)| id.clone())
            .collect();
        missing.sort();

        Comparison {
            expected: expected.values().map(HashSet::len).sum(),
            found: count.len(),
            missing,
            extra,
            duplicated,
            after_cutoff,
        }
    }

    /// True when nothing is missing, extra or duplicated.
    #[cfg(test)]
    pub fn exact(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.duplicated.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(items: &[(&str, &[&str])]) -> IdSets {
        items
            .iter()
            .map(|(p, ids)| (p.to_string(), ids.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn act(id: &str, p: &str) -> FoundAction {
        FoundAction {
            trace_id: id.into(),
            project_id: Some(p.into()),
        }
    }

    #[test]
    fn equal_sets_are_exact_and_late_ones_are_counted_apart() {
        let expected = sets(&[("a", &["1", "2"]), ("b", &["3"])]);
        let at_end = sets(&[("a", &["1", "2", "4"]), ("b", &["3", "5"])]);
        let found = [act("1", "a"), act("2", "a"), act("3", "b"), act("4", "a")];
        let c = Comparison::new(&expected, &at_end, &found);
        assert!(c.exact(), "{c:?}");
        assert_eq!((c.expected, c.found, c.after_cutoff), (3, 4, 1));
    }

    #[test]
    fn missing_extra_and_duplicates_are_named() {
        let expected = sets(&[("a", &["1", "2"]), ("b", &["3"])]);
        let at_end = sets(&[("a", &["1", "2"]), ("b", &["3"])]);
        let found = [
            act("1", "a"),
            act("1", "a"),
            act("9", "a"),
            // the right id under the wrong project is not the trace the emulator showed
            act("3", "a"),
            FoundAction {
                trace_id: "2".into(),
                project_id: None,
            },
        ];
        let c = Comparison::new(&expected, &at_end, &found);
        assert!(!c.exact());
        // "2" has no project and "3" the wrong one: neither counts as stored
        assert_eq!(c.missing, vec!["2", "3"]);
        assert_eq!(c.extra, vec!["2", "3", "9"]);
        assert_eq!(c.duplicated, vec![("1".to_string(), 2)]);
        let none = Comparison::new(&expected, &at_end, &[]);
        assert_eq!(none.missing, vec!["1", "2", "3"]);
        assert_eq!(none.found, 0);
    }

    #[test]
    fn a_truth_with_a_repeated_id_is_refused() {
        let t = Truth {
            project_id: "a".into(),
            trace_ids: vec!["1".into(), "1".into()],
            pending_count: 0,
            trace_times_ms: vec![1, 1],
        };
        assert!(id_sets(&[t]).is_err());
    }

    #[test]
    fn ids_at_or_before_the_lower_edge_are_not_owed() {
        let t = |p: &str, ids: &[(&str, i64)]| Truth {
            project_id: p.into(),
            trace_ids: ids.iter().map(|(i, _)| i.to_string()).collect(),
            pending_count: 0,
            trace_times_ms: ids.iter().map(|(_, t)| *t).collect(),
        };
        let truths = [
            t("a", &[("1", 99), ("2", 100), ("3", 101)]),
            t("b", &[("4", 5)]),
        ];
        let edges: BTreeMap<String, i64> = [("a".to_string(), 100)].into();
        let (kept, out) = id_sets_after(&truths, &edges).expect("sets");
        assert_eq!(kept, sets(&[("a", &["3"]), ("b", &["4"])]));
        assert_eq!(out, sets(&[("a", &["1", "2"])]));
        let mut no_times = truths[0].clone();
        no_times.trace_times_ms.clear();
        let e = id_sets_after(&[no_times], &edges).expect_err("no times");
        assert!(e.to_string().contains("rebuild cts-emulator"), "{e}");
    }
}
