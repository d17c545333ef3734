//! A small undo stack for multi-step operations.
//!
//! Each step that creates something (a volume, a snapshot, a mapping, a host
//! entity, an NVMe session) pushes the action that removes it. If a later
//! step fails, [`Reverter::revert`] runs the actions newest first; on success
//! [`Reverter::success`] drops them. Failures while reverting are logged and
//! returned; [`Reverter::finish`] reports them together with the original
//! error ([`Error::RevertFailed`]), which they never hide.

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;

type UndoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;
type Undo = Box<dyn FnOnce() -> UndoFuture + Send>;

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

    /// Pushes the undo action for something just created.
    pub fn add<F, Fut>(&mut self, what: impl Into<String>, undo: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
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

    /// Runs the undo actions, newest first; returns those that failed.
    pub async fn revert(mut self) -> Vec<(String, Error)> {
        let mut failed = Vec::new();
        while let Some((what, undo)) = self.steps.pop() {
            tracing::info!(step = %what, "reverting");
            if let Err(e) = undo().await {
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
            r.add(format!("step {i}"), move || async move {
                log.lock().unwrap().push(i);
                if i == 1 {
                    Err(Error::Invalid("boom".into()))
                } else {
                    Ok(())
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
    async fn success_runs_nothing() {
        let log = Arc::new(Mutex::new(Vec::<i32>::new()));
        let mut r = Reverter::new();
        let l = log.clone();
        r.add("x", move || async move {
            l.lock().unwrap().push(1);
            Ok(())
        });
        let out: Result<i32, Error> = r.finish(Ok(5)).await;
        assert_eq!(out.unwrap(), 5);
        assert!(log.lock().unwrap().is_empty());
    }
}
