//! Trying again what is safe to try again, when the outcome is unknown.
//!
//! A gateway under load answers 500, its ingress a 503 page, a connection
//! drops after the change was made: the outcome of such a call is unknown
//! ([`Transient`]). A call that reads, or that brings the array to a state
//! whatever it was before (a delete, an unmap, an absolute size), is repeated
//! a few times with a short, growing pause ([`idempotent`]); its "already
//! gone" answer after a lost one is the success it looks like. A create is
//! never sent twice: the driver looks the object up by its name instead.

use std::future::Future;
use std::time::Duration;

/// How many times a safe call is tried by default.
pub const ATTEMPTS: u32 = 6;
/// The first pause by default; each following one doubles, up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause between two tries.
pub const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How a client tries a safe call again: how many tries, and the first pause
/// (each following one doubles, up to [`MAX_PAUSE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// The pause after the first try.
    pub first_pause: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { attempts: ATTEMPTS, first_pause: FIRST_PAUSE }
    }
}

impl Policy {
    /// The pause before try `n + 1`.
    pub fn pause(&self, n: u32) -> Duration {
        self.first_pause.saturating_mul(1 << n.saturating_sub(1).min(16)).min(MAX_PAUSE)
    }
}

/// A failure whose outcome is unknown and which may pass: no answer, a
/// gateway-level 5xx, an ingress's page, a login the gateway could not serve.
pub trait Transient {
    /// Whether trying again may succeed (and the first try may have been applied).
    fn is_transient(&self) -> bool;
}

/// Runs `call` until it succeeds, fails for good, or `policy.attempts` tries
/// were transient; only for calls that are safe to repeat. The last error is returned.
pub async fn idempotent<T, E, F, Fut>(policy: &Policy, what: &str, mut call: F) -> Result<T, E>
where
    E: Transient + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tried = 1;
    loop {
        match call().await {
            Err(e) if e.is_transient() && tried < policy.attempts => {
                tracing::debug!(what, error = %e, attempt = tried, "outcome unknown; trying again");
                tokio::time::sleep(policy.pause(tried)).await;
                tried += 1;
            }
            other => return other,
        }
    }
}

/// Runs a creation, which must not be sent twice. When its answer is lost,
/// `find` looks the object up (by its name): found, it was made and is
/// returned; not found (or not found out), the creation's error is.
pub async fn create_or_find<T, E, C, F, FFut>(what: &str, create: C, find: F) -> Result<T, E>
where
    E: Transient + std::fmt::Display,
    C: Future<Output = Result<T, E>>,
    F: FnOnce() -> FFut,
    FFut: Future<Output = Result<Option<T>, E>>,
{
    match create.await {
        Err(e) if e.is_transient() => match find().await {
            Ok(Some(found)) => {
                tracing::warn!(what, error = %e, "the answer to a creation was lost; it was made");
                Ok(found)
            }
            _ => Err(e),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct E(bool);
    impl Transient for E {
        fn is_transient(&self) -> bool {
            self.0
        }
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "transient={}", self.0)
        }
    }

    #[test]
    fn pauses_grow_and_stop_growing() {
        let p = Policy::default();
        assert_eq!(p.pause(1), Duration::from_millis(50));
        assert_eq!(p.pause(2), Duration::from_millis(100));
        assert_eq!(p.pause(5), Duration::from_millis(800));
        assert_eq!(p.pause(6), MAX_PAUSE);
        assert_eq!(p.pause(60), MAX_PAUSE);
    }

    const QUICK: Policy = Policy { attempts: ATTEMPTS, first_pause: Duration::from_millis(1) };

    #[tokio::test]
    async fn transient_failures_are_tried_again_a_bounded_number_of_times() {
        let n = AtomicU32::new(0);
        let r: Result<(), E> = idempotent(&QUICK, "x", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(E(true))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), ATTEMPTS);

        let n = AtomicU32::new(0);
        let r = idempotent(&QUICK, "x", || async {
            match n.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(E(true)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_lost_creation_is_found_not_sent_again() {
        let found = create_or_find("v1", async { Err::<i32, _>(E(true)) }, || async { Ok(Some(4)) }).await;
        assert_eq!(found.unwrap(), 4);
        let missing = create_or_find("v1", async { Err::<i32, _>(E(true)) }, || async { Ok(None) }).await;
        assert!(missing.unwrap_err().0, "not made: the creation's error");
        let looked = std::sync::atomic::AtomicBool::new(false);
        let refused = create_or_find("v1", async { Err::<i32, _>(E(false)) }, || async {
            looked.store(true, Ordering::SeqCst);
            Ok(Some(4))
        })
        .await;
        assert!(refused.is_err() && !looked.load(Ordering::SeqCst), "a refusal is not looked up");
    }

    #[tokio::test]
    async fn a_definite_failure_is_not_tried_again() {
        let n = AtomicU32::new(0);
        let r: Result<(), E> = idempotent(&QUICK, "x", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(E(false))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
