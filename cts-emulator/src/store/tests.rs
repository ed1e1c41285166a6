//! Paging, bounds and filters of the project store.

use super::*;
use crate::generator::{Generator, TenantSpec};

/// A store with `n` traces at times 1000, 2000, ...; record_time = time + lag(i).
fn store(n: usize, lag: impl Fn(usize) -> i64) -> (ProjectStore, Vec<TraceRecord>) {
    let mut g = Generator::new(1, TenantSpec::new("OTC1", "eu-de_s", 10));
    let mut recs: Vec<TraceRecord> = (0..n)
        .map(|i| g.next_record(1000 * (i as i64 + 1)))
        .collect();
    let mut s = ProjectStore::default();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| recs[i].time + lag(i));
    for i in order {
        let rt = s.next_record_time(recs[i].time + lag(i));
        s.push(&recs[i], rt, Bytes::from(recs[i].trace_id.clone()));
    }
    recs.sort_by_key(|r| s.get(&r.trace_id).map(|t| t.record_time));
    (s, recs)
}

fn q(from: i64, to: i64, limit: usize) -> PageQuery {
    PageQuery {
        from,
        to,
        before_record_time: None,
        limit,
        filters: Filters::default(),
    }
}

fn ids(p: &Page) -> Vec<String> {
    p.items.iter().map(|(id, _)| id.to_string()).collect()
}

#[test]
fn equal_record_times_are_made_unique() {
    let (s, _) = store(50, |i| if i % 2 == 0 { 1000 } else { 0 });
    let rts: Vec<i64> = s.traces.iter().map(|t| t.record_time).collect();
    assert!(rts.windows(2).all(|w| w[0] < w[1]), "{rts:?}");
    assert!(s.traces.iter().all(|t| t.record_time >= t.time));
}

#[test]
fn pages_are_newest_first_and_bounds_exclusive() {
    let (s, recs) = store(20, |_| 0);
    let p = s.page(&q(0, i64::MAX, 5), false);
    let want: Vec<String> = recs
        .iter()
        .rev()
        .take(5)
        .map(|r| r.trace_id.clone())
        .collect();
    assert_eq!(ids(&p), want);
    assert!(p.more);
    // time 3000 and 8000 are excluded by exclusive bounds: 4000..=7000 remain.
    let p = s.page(&q(3000, 8000, 100), false);
    let times: Vec<i64> = p
        .items
        .iter()
        .map(|(id, _)| s.get(id).expect("known").time)
        .collect();
    assert_eq!(times, vec![7000, 6000, 5000, 4000]);
    assert!(!p.more);
}

#[test]
fn next_walks_all_traces_once_even_with_lag_and_ties() {
    let (s, _) = store(500, |i| ((i * 7919) % 13) as i64 * 700);
    let mut seen = Vec::new();
    let mut query = q(0, i64::MAX, 7);
    loop {
        let p = s.page(&query, false);
        seen.extend(ids(&p));
        if !p.more {
            break;
        }
        let marker = p
            .items
            .last()
            .map(|(id, _)| id.clone())
            .expect("non-empty page");
        query.before_record_time = Some(s.get(&marker).expect("marker").record_time);
    }
    let mut all = s.ids();
    all.reverse();
    assert_eq!(seen, all);
}

#[test]
fn to_bound_uses_time_not_record_time() {
    // Every trace recorded 5 s late: a trace with time < to may have record_time > to.
    let (s, _) = store(10, |_| 5000);
    let p = s.page(&q(0, 4001, 100), false);
    let times: Vec<i64> = p
        .items
        .iter()
        .map(|(id, _)| s.get(id).expect("known").time)
        .collect();
    assert_eq!(times, vec![4000, 3000, 2000, 1000]);
}

#[test]
fn filters_select_matching_traces_only() {
    let (s, recs) = store(300, |_| 0);
    let target = &recs[17];
    let mut query = q(0, i64::MAX, 200);
    query.filters.service_type = Some(target.service_type.clone());
    query.filters.rating = Some(target.rating);
    let p = s.page(&query, false);
    let want = recs
        .iter()
        .filter(|r| r.service_type == target.service_type && r.rating == target.rating)
        .count();
    assert_eq!(p.items.len(), want.min(200));
    for (id, _) in &p.items {
        let t = s.get(id).expect("known");
        assert_eq!(&*t.service_type, target.service_type);
        assert_eq!(t.rating, target.rating);
    }
    let mut by_res = q(0, i64::MAX, 200);
    by_res.filters.resource_id = Some(target.resource_id.clone());
    by_res.filters.trace_name = Some(target.trace_name.clone());
    let p = s.page(&by_res, false);
    assert!(ids(&p).contains(&target.trace_id));
    let mut by_user = q(0, i64::MAX, 200);
    by_user.filters.user = Some("nobody-with-this-name".into());
    assert!(s.page(&by_user, false).items.is_empty());
}

#[test]
fn v2_renames_only_the_status_key() {
    let mut g = Generator::new(1, TenantSpec::new("OTC1", "eu-de_s", 3));
    let r = g.next_record(10);
    // A string value that mentions the key must stay as it is.
    let json = r#"{"trace_id":"a","trace_name":"x\",\"trace_rating\":","trace_rating":"normal","request":"{\"trace_rating\":1}"}"#;
    let mut s = ProjectStore::default();
    s.push(&r, 10, Bytes::from_static(json.as_bytes()));
    let v2 = s.page(&q(0, 100, 10), true);
    assert_eq!(
        std::str::from_utf8(&v2.items[0].1).expect("utf-8"),
        json.replace(r#","trace_rating":"normal""#, r#","trace_status":"normal""#)
    );
    let v13 = s.page(&q(0, 100, 10), false);
    assert_eq!(&v13.items[0].1[..], json.as_bytes());
    // Without the key (no status rendered), nothing is changed.
    let mut s = ProjectStore::default();
    s.push(&r, 10, Bytes::from_static(b"{\"trace_id\":\"a\"}"));
    assert_eq!(
        &s.page(&q(0, 100, 10), true).items[0].1[..],
        b"{\"trace_id\":\"a\"}"
    );
}
