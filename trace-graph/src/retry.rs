//! Retrying whole transactions: what is worth retrying (classification) is
//! kept apart from how (the loop), so both are tested without a server.
//!
//! neo4rs retries only auto-commit queries; explicit transactions, which the
//! writer uses, are retried here as a unit: on a transient failure the whole
//! transaction is run again from the start after a jittered, bounded backoff.

use std::future::Future;
use std::time::Duration;

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Deadlock, `Neo.TransientError.*`, dropped connection: run the transaction again.
    Retry,
    /// The transaction is too big (memory limit, message size): split the batch.
    TooLarge,
    /// Credentials refused or permission missing.
    Auth,
    /// Bad URI, unknown database, wrong protocol: the configuration is wrong.
    Config,
    /// Anything else: retrying will not help.
    Fatal,
}

/// A classified failure: the class, the Neo4j code (or `driver`) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub class: Class,
    pub code: String,
    pub message: String,
}

/// Sorts a driver error into a [`Class`].
pub(crate) fn classify(e: &neo4rs::Error) -> Failure {
    use neo4rs::Error as E;
    let (class, code, message) = match e {
        E::Neo4j(n) => (
            classify_code(n.code()),
            n.code().to_owned(),
            n.message().to_owned(),
        ),
        // rustls refused the server's certificate: retrying may help (a server about to get its
        // new certificate), but the fix is usually on this side, so the message says what to do.
        E::IOError { .. } if e.to_string().contains("certificate") => (
            Class::Retry,
            "tls".to_owned(),
            format!(
                "{e}; the server's TLS certificate was refused: set the CA certificate (ca_cert) \
                 to the PEM file of the CA that signed it, check that the URI's host is a name \
                 the certificate is for, or use the +ssc scheme to encrypt without verifying"
            ),
        ),
        E::IOError { .. }
        | E::ConnectionError
        | E::ConnectionTimedOut
        | E::IncompleteBoltExchange
        | E::ServerUnavailableError(_)
        | E::RoutingTableError(_)
        | E::RoutingTableRefreshFailed(_)
        | E::RequestIgnoredError
        | E::Ignored(_) => (Class::Retry, "driver".to_owned(), e.to_string()),
        E::StringTooLong | E::MapTooBig | E::BytesTooBig | E::ListTooLong => {
            (Class::TooLarge, "driver".to_owned(), e.to_string())
        }
        E::AuthenticationError(m) => (Class::Auth, "driver".to_owned(), m.clone()),
        E::UrlParseError(_)
        | E::UnsupportedScheme(_)
        | E::InvalidDnsName(_)
        | E::InvalidConfig
        | E::UnsupportedVersion(..)
        | E::ProtocolMismatch(_) => (Class::Config, "driver".to_owned(), e.to_string()),
        _ => (Class::Fatal, "driver".to_owned(), e.to_string()),
    };
    Failure {
        class,
        code,
        message,
    }
}

/// Classifies a Neo4j status code such as `Neo.TransientError.Transaction.DeadlockDetected`.
pub(crate) fn classify_code(code: &str) -> Class {
    // Memory limits and transaction timeouts: a smaller transaction can pass.
    if code.contains("OutOfMemory")
        || code.contains("MemoryLimit")
        || code.contains("TooLarge")
        || code.contains("TransactionTimedOut")
    {
        return Class::TooLarge;
    }
    match code {
        // Stopped by the server (shutdown, leader switch, admin): run it again.
        "Neo.TransientError.Transaction.Terminated"
        | "Neo.ClientError.Transaction.Terminated"
        | "Neo.TransientError.Transaction.LockClientStopped"
        | "Neo.ClientError.Transaction.LockClientStopped"
        | "Neo.ClientError.Cluster.NotALeader"
        | "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"
        | "Neo.ClientError.Security.AuthorizationExpired" => return Class::Retry,
        "Neo.ClientError.Database.DatabaseNotFound" => return Class::Config,
        _ => {}
    }
    if code.starts_with("Neo.TransientError.") {
        Class::Retry
    } else if code.starts_with("Neo.ClientError.Security.") {
        Class::Auth
    } else {
        Class::Fatal
    }
}

/// Bounded exponential backoff with "equal jitter": the delay for attempt
/// `n` lies in `[d/2, d]` where `d = min(max, initial * 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32, rng: &mut impl rand::Rng) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.initial.saturating_mul(factor).min(self.max);
        let half = ceiling / 2;
        let jitter_ns = rng.gen_range(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter_ns)
    }

    /// Runs `op` until it succeeds, fails with a non-retryable class, or the
    /// retries are used up. `op` gets the attempt number (0-based). Returns the
    /// value, or the number of attempts and the last failure.
    pub async fn run<T, Op, Fut, Sleep, SleepFut>(
        &self,
        mut op: Op,
        mut sleep: Sleep,
    ) -> Result<T, (u32, Failure)>
    where
        Op: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
        Sleep: FnMut(Duration) -> SleepFut,
        SleepFut: Future<Output = ()>,
    {
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(f) if f.class == Class::Retry && attempt < self.max_retries => {
                    let delay = self.delay(attempt, &mut rand::thread_rng());
                    tracing::debug!(attempt, code = %f.code, error = %f.message, ?delay, "retrying transaction");
                    sleep(delay).await;
                    attempt += 1;
                }
                Err(f) => return Err((attempt + 1, f)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::cell::RefCell;

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        }
    }

    fn fail(class: Class) -> Failure {
        Failure {
            class,
            code: "Neo.TransientError.Transaction.DeadlockDetected".into(),
            message: "deadlock".into(),
        }
    }

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify_code("Neo.TransientError.Transaction.DeadlockDetected"),
            Class::Retry
        );
        assert_eq!(
            classify_code("Neo.TransientError.General.DatabaseUnavailable"),
            Class::Retry
        );
        assert_eq!(
            classify_code("Neo.TransientError.General.MemoryPoolOutOfMemoryError"),
            Class::TooLarge
        );
        assert_eq!(
            classify_code("Neo.ClientError.General.TransactionOutOfMemoryError"),
            Class::TooLarge
        );
        assert_eq!(
            classify_code("Neo.ClientError.Security.Unauthorized"),
            Class::Auth
        );
        assert_eq!(
            classify_code("Neo.ClientError.Security.AuthorizationExpired"),
            Class::Retry
        );
        assert_eq!(
            classify_code("Neo.ClientError.Cluster.NotALeader"),
            Class::Retry
        );
        assert_eq!(
            classify_code("Neo.ClientError.Database.DatabaseNotFound"),
            Class::Config
        );
        assert_eq!(
            classify_code("Neo.ClientError.Statement.SyntaxError"),
            Class::Fatal
        );
        assert_eq!(
            classify_code("Neo.ClientError.Transaction.Terminated"),
            Class::Retry
        );
        assert_eq!(
            classify_code("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"),
            Class::TooLarge
        );
        assert_eq!(
            classify_code("Neo.DatabaseError.General.UnknownError"),
            Class::Fatal
        );
    }

    #[test]
    fn driver_errors_are_classified() {
        assert_eq!(
            classify(&neo4rs::Error::ConnectionError).class,
            Class::Retry
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(classify(&neo4rs::Error::from(io)).class, Class::Retry);
        assert_eq!(classify(&neo4rs::Error::ListTooLong).class, Class::TooLarge);
        assert_eq!(
            classify(&neo4rs::Error::AuthenticationError("no".into())).class,
            Class::Auth
        );
        assert_eq!(
            classify(&neo4rs::Error::UnsupportedScheme("http".into())).class,
            Class::Config
        );
    }

    #[test]
    fn delays_grow_are_bounded_and_jittered() {
        let p = policy(10);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 0..12 {
            let ceiling = (Duration::from_millis(100) * 2u32.pow(attempt.min(10)))
                .min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = p.delay(attempt, &mut rng);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {attempt}: {d:?} not in [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
            }
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| p.delay(3, &mut rng)).collect();
        assert!(spread.len() > 10, "jitter varies the delay");
        assert!(p.delay(u32::MAX, &mut rng) <= Duration::from_secs(1));
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn transient_failures_are_retried_then_succeed() {
        let slept = RefCell::new(Vec::new());
        let result = block_on(policy(5).run(
            |attempt| async move {
                if attempt < 3 {
                    Err(fail(Class::Retry))
                } else {
                    Ok(attempt)
                }
            },
            |d| {
                slept.borrow_mut().push(d);
                async {}
            },
        ));
        assert_eq!(result, Ok(3));
        assert_eq!(slept.borrow().len(), 3);
    }

    #[test]
    fn retries_are_bounded() {
        let calls = RefCell::new(0);
        let result: Result<(), _> = block_on(policy(2).run(
            |_| {
                *calls.borrow_mut() += 1;
                async { Err(fail(Class::Retry)) }
            },
            |_| async {},
        ));
        assert_eq!(*calls.borrow(), 3);
        assert_eq!(
            result.map_err(|(n, f)| (n, f.class)),
            Err((3, Class::Retry))
        );
    }

    #[test]
    fn other_failures_are_not_retried() {
        for class in [Class::Fatal, Class::Auth, Class::TooLarge, Class::Config] {
            let calls = RefCell::new(0);
            let result: Result<(), _> = block_on(policy(5).run(
                |_| {
                    *calls.borrow_mut() += 1;
                    async move { Err(fail(class)) }
                },
                |_| async {},
            ));
            assert_eq!(*calls.borrow(), 1, "{class:?}");
            assert_eq!(result.map_err(|(n, f)| (n, f.class)), Err((1, class)));
        }
    }
}
