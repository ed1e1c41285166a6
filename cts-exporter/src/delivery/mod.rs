//! Getting events to the sink: one attempt ([`transport`]), whether and when
//! to try again ([`retry`]), many at once with a bound ([`pipeline`]), the
//! sink's OIDC token ([`token`]) and the file of refused events ([`dead_letter`]).

pub mod dead_letter;
pub mod pipeline;
pub mod retry;
pub mod token;
pub mod transport;
