//! A small undo stack for multi-step operations.
//!
//! Each step that creates something (a volume, a snapshot, a mapping, a host
//! entity, an NVMe session) pushes the action that removes it, as soon as the
//! array may have made it (a create whose answer was lost included: such an
//! action finds the object by its name). If a later step fails,
//! [`Reverter::revert`] runs the actions newest first; on success
//! [`Reverter::success`] drops them.
//!
//! Undo actions are removals, safe to repeat ("already gone" counts as done),
//! so one that fails with a transient error (a lost answer, a 5xx, a session
//! lost on the way) or on a volume still busy with a copy is tried again, a
//! bounded number of times with a growing pause ([`crate::retry`]); LXD runs
//! each once and drops its error. What still fails is logged and returned;
//! [`Reverter::finish`] reports it together with the original error
//! ([`Error::RevertFailed`]), which it never hides.

use std::future::Future;
use std::pin::Pin;

use crate::alletra::WsapiCode;
use crate::error::Error;
use crate::retry::{self, Transient};

type UndoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;
type Undo = Box<dyn Fn() -> UndoFuture + Send>;

/// How many times one undo action is tried: longer than [`retry::ATTEMPTS`],
/// so that an Alletra copy task still running (it holds its volumes busy) can end.
pub const UNDO_ATTEMPTS: u32 = retry::ATTEMPTS + 2;

/// Whether a failed undo action is worth another try.
fn worth_retrying(e: &Error) -> bool {
    e.is_transient() || e.wsapi_code() == Some(WsapiCode::VolumeBusy)
}

/// The undo stack.
#[derive(Default)]
pub struct Reverter {
    steps: Vec<(String, Undo)>,
}

impl Reverter {
    /// An empty stack.
    pub fn new() -> Reverter {
        Reverter::default()
    }

    /// Pushes the undo action for something just created (or perhaps
    /// created); it may be run more than once, so it is a `Fn`.
    pub fn add<F, Fut>(&mut self, what: impl Into<String>, undo: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.steps.push((what.into(), Box::new(move || Box::pin(undo()))));
    }

    /// How many undo actions are pending.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no undo action is pending.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Keeps everything: the operation succeeded.
    pub fn success(mut self) {
        self.steps.clear();
    }

    /// Runs the undo actions, newest first, each tried again while it fails
    /// transiently; returns those that failed for good.
    pub async fn revert(mut self) -> Vec<(String, Error)> {
        let mut failed = Vec::new();
        while let Some((what, undo)) = self.steps.pop() {
            tracing::info!(step = %what, "reverting");
            let mut tried = 1;
            let outcome = loop {
                match undo().await {
                    Err(e) if worth_retrying(&e) && tried < UNDO_ATTEMPTS => {
                        tracing::debug!(step = %what, error = %e, attempt = tried, "revert step failed; trying again");
                        tokio::time::sleep(retry::Policy::default().pause(tried)).await;
                        tried += 1;
                    }
                    other => break other,
                }
            };
            if let Err(e) = outcome {
                tracing::warn!(step = %what, error = %e, "revert step failed");
                failed.push((what, e));
            }
        }
        failed
    }

    /// Finishes an operation: keeps everything on success, reverts on failure.
    /// The original error is returned as it is when every undo step worked;
    /// otherwise it comes wrapped in [`Error::RevertFailed`] with the steps that
    /// failed, so the caller can report what may be left behind.
    pub async fn finish<T>(self, result: Result<T, Error>) -> Result<T, Error> {
        match result {
            Ok(v) => {
                self.success();
                Ok(v)
            }
            Err(error) => {
                let failed = self.revert().await;
                if failed.is_empty() {
                    return Err(error);
                }
                let undo_failures = failed.into_iter().map(|(what, e)| format!("{what}: {e}")).collect();
                Err(Error::RevertFailed { error: Box::new(error), undo_failures })
            }
        }
    }
}

impl Drop for Reverter {
    fn drop(&mut self) {
        if !self.steps.is_empty() {
            tracing::error!(pending = self.steps.len(), "reverter dropped with pending undo steps; they were not run");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn reverts_newest_first_and_reports_failures() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut r = Reverter::new();
        for i in 0..3 {
            let log = log.clone();
            r.add(format!("step {i}"), move || {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(i);
                    if i == 1 {
                        Err(Error::Invalid("boom".into()))
                    } else {
                        Ok(())
                    }
                }
            });
        }
        assert_eq!(r.len(), 3);
        let failed = r.revert().await;
        assert_eq!(*log.lock().unwrap(), vec![2, 1, 0]);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "step 1");
    }

    #[tokio::test]
    async fn finish_reports_undo_failures_with_the_original_error() {
        let mut r = Reverter::new();
        r.add("remove volume v1", || async { Err(Error::Invalid("gateway unreachable".into())) });
        r.add("unmap v1", || async { Ok(()) });
        let err = r.finish::<()>(Err(Error::Attached { name: "v1".into() })).await.unwrap_err();
        assert!(matches!(err.original(), Error::Attached { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with("volume v1 is attached"), "{msg}");
        assert!(msg.contains("remove volume v1: gateway unreachable"), "{msg}");
        assert!(!msg.contains("unmap"), "only failed steps are named: {msg}");

        // A clean revert gives the original error back as it was.
        let mut r = Reverter::new();
        r.add("x", || async { Ok(()) });
        let err = r.finish::<()>(Err(Error::Invalid("boom".into()))).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn transient_undo_failures_are_tried_again_definite_ones_not() {
        use crate::powerflex::client::ClientError;
        let tries = Arc::new(Mutex::new((0, 0)));
        let mut r = Reverter::new();
        let t = tries.clone();
        r.add("remove volume v1", move || {
            let t = t.clone();
            async move {
                let mut t = t.lock().unwrap();
                t.0 += 1;
                if t.0 < 3 {
                    Err(ClientError::Status { path: "/api".into(), status: 503, body: "<html>".into() }.into())
                } else {
                    Ok(())
                }
            }
        });
        let t = tries.clone();
        r.add("unmap v1", move || {
            let t = t.clone();
            async move {
                t.lock().unwrap().1 += 1;
                Err(Error::Invalid("refused".into()))
            }
        });
        let failed = r.revert().await;
        assert_eq!(*tries.lock().unwrap(), (3, 1), "the 503 twice then done; the refusal once");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "unmap v1");
    }

    #[tokio::test]
    async fn success_runs_nothing() {
        let log = Arc::new(Mutex::new(Vec::<i32>::new()));
        let mut r = Reverter::new();
        let l = log.clone();
        r.add("x", move || {
            let l = l.clone();
            async move {
                l.lock().unwrap().push(1);
                Ok(())
            }
        });
        let out: Result<i32, Error> = r.finish(Ok(5)).await;
        assert_eq!(out.unwrap(), 5);
        assert!(log.lock().unwrap().is_empty());
    }
}
