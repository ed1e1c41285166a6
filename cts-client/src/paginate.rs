//! Following `marker` → `next` across pages (the `next` parameter of <https://github.com/opentelekomcloud-docs/cloud-trace-service/blob/main/api-ref/source/v3_apis_recommended/trace_management/querying_a_trace_list.rst>).
//!
//! The loop continues while the last page had traces **and** a non-empty
//! marker, and stops otherwise: the docs promise a null marker on the last
//! page, but whether the real service sends one is unknown, so an empty
//! page also ends the walk. A marker that comes back a second time would
//! make the walk endless; it ends the stream with [`Error::MarkerLoop`],
//! yielded **after** the page that repeated the marker: that page's traces
//! were read and may be new, so they are not thrown away.

use std::collections::{HashSet, VecDeque};

use futures::stream::{self, Stream, StreamExt};

use crate::{CtsClient, Error, Trace, TracePage, TraceQuery};

struct Walk {
    client: CtsClient,
    query: TraceQuery,
    next: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    done: bool,
    /// An error to yield after the page just yielded (a marker loop).
    pending: Option<Error>,
}

impl CtsClient {
    /// All pages of `query`, following markers. Empty pages are not yielded.
    /// The first error ends the stream (after it is yielded).
    ///
    /// A page whose marker was already followed is yielded first, then
    /// [`Error::MarkerLoop`] ends the stream, so its traces are not lost.
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
            pending: None,
        };
        stream::unfold(walk, |mut w| async move {
            if let Some(err) = w.pending.take() {
                return Some((Err(err), w));
            }
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
            if page.traces.is_empty() && page.undecodable.is_empty() {
                tracing::debug!(pages = w.pages, marker = ?page.marker, "empty page, pagination done");
                return None;
            }
            match &page.marker {
                None => w.done = true,
                Some(m) if !w.seen.insert(m.clone()) => {
                    w.done = true;
                    w.pending = Some(Error::MarkerLoop {
                        marker: m.clone(),
                        page: w.pages,
                    });
                }
                Some(m) => w.next = Some(m.clone()),
            }
            Some((Ok(page), w))
        })
    }

    /// All traces of `query` across pages, in server order. The first error
    /// ends the stream; on a marker loop the looping page's traces come
    /// before the error.
    ///
    /// A trace the model cannot read is not skipped: after the readable
    /// traces of its page, the stream ends with [`Error::UndecodableTrace`].
    /// Use [`pages`](Self::pages) to get past such traces
    /// ([`TracePage::undecodable`]).
    pub fn traces(
        &self,
        query: TraceQuery,
    ) -> impl Stream<Item = Result<Trace, Error>> + Send + 'static {
        let pages = Box::pin(self.pages(query));
        let start = (pages, VecDeque::new(), false);
        stream::unfold(start, |(mut pages, mut ready, mut done)| async move {
            loop {
                if let Some(item) = ready.pop_front() {
                    return Some((item, (pages, ready, done)));
                }
                if done {
                    return None;
                }
                match pages.next().await? {
                    Err(e) => {
                        done = true;
                        ready.push_back(Err(e));
                    }
                    Ok(page) => {
                        ready.extend(page.traces.into_iter().map(Ok));
                        if let Some(u) = page.undecodable.into_iter().next() {
                            // Stop here: no further page is fetched.
                            done = true;
                            ready.push_back(Err(Error::UndecodableTrace(Box::new(u))));
                        }
                    }
                }
            }
        })
    }
}
