//! Following `marker` → `next` across pages (cts-api.md §1.6).
//!
//! The loop continues while the last page had traces **and** a non-empty
//! marker, and stops otherwise: the docs promise a null marker on the last
//! page, but whether the real service sends one is unknown, so an empty
//! page also ends the walk. A marker that comes back a second time would
//! make the walk endless; it ends the stream with [`Error::MarkerLoop`].

use std::collections::HashSet;

use futures::stream::{self, Stream, TryStreamExt};

use crate::{CtsClient, Error, Trace, TracePage, TraceQuery};

struct Walk {
    client: CtsClient,
    query: TraceQuery,
    next: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    done: bool,
}

impl CtsClient {
    /// All pages of `query`, following markers. Empty pages are not yielded.
    /// The first error ends the stream (after it is yielded).
    ///
    /// `query.next`, if set, is the starting point (resuming a walk).
    pub fn pages(
        &self,
        query: TraceQuery,
    ) -> impl Stream<Item = Result<TracePage, Error>> + Send + 'static {
        let next = query.next.clone();
        let walk = Walk {
            client: self.clone(),
            seen: next.iter().cloned().collect(),
            query,
            next,
            pages: 0,
            done: false,
        };
        stream::unfold(walk, |mut w| async move {
            if w.done {
                return None;
            }
            let result = w.client.fetch_page(&w.query, w.next.as_deref()).await;
            w.pages += 1;
            let page = match result {
                Ok(page) => page,
                Err(e) => {
                    w.done = true;
                    return Some((Err(e), w));
                }
            };
            if page.traces.is_empty() {
                tracing::debug!(pages = w.pages, marker = ?page.marker, "empty page, pagination done");
                return None;
            }
            match &page.marker {
                None => w.done = true,
                Some(m) if !w.seen.insert(m.clone()) => {
                    w.done = true;
                    let err = Error::MarkerLoop {
                        marker: m.clone(),
                        page: w.pages,
                    };
                    return Some((Err(err), w));
                }
                Some(m) => w.next = Some(m.clone()),
            }
            Some((Ok(page), w))
        })
    }

    /// All traces of `query` across pages, in server order. The first error
    /// ends the stream.
    pub fn traces(
        &self,
        query: TraceQuery,
    ) -> impl Stream<Item = Result<Trace, Error>> + Send + 'static {
        self.pages(query)
            .map_ok(|page| stream::iter(page.traces.into_iter().map(Ok)))
            .try_flatten()
    }
}
