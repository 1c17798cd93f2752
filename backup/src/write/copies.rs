//! Settling one artifact's copies after the fan-out: read every published copy back (size and
//! SHA-256 against the producer's own figures), apply the deep check of the stream, and retry
//! every copy that is not verified from one that is. Produces the report's [`CopyReport`]s.
//!
//! The deep check ran on the stream itself, during the fan-out (a tap of the same chunks the
//! stores received): a copy whose bytes read back SHA-256-equal to that stream decrypts and
//! walks exactly as the stream did, so a passed check marks every verified copy `deep_verified`
//! and a failed one fails every copy.

use std::sync::Arc;
use std::time::Duration;

use celeriac_store::{Store, StoreError, StoreKind, StoredObject};
use futures::future::join_all;
use tokio::time::Instant;

use crate::config::options::RetryPolicy;
use crate::manifest::Bundle;
use crate::progress::{Progress, ProgressEvent};
use crate::read::open::Expected;
use crate::read::verify::{VerifyError, verify_artifact};
use crate::report::{CopyError, CopyOrigin, CopyReport};
use crate::write::fanout::StreamOutcome;
use crate::write::retry::RetryJob;

/// One store's copy while it is being settled.
struct CopyState {
    outcome: StreamOutcome,
    stored: Option<StoredObject>,
    verified: bool,
    deep: bool,
    attempts: u32,
    origin: Option<CopyOrigin>,
    error: Option<VerifyError>,
    /// The deep check of the stream failed: no copy of this artifact is good.
    corrupt: Option<CopyError>,
}

/// What settling needs besides the copies.
pub(crate) struct Settle<'a> {
    pub(crate) bundle: Bundle,
    pub(crate) expected: Expected,
    /// The deep check's verdict on the stream, when one ran.
    pub(crate) deep: Option<Result<(), CopyError>>,
    pub(crate) retry: &'a RetryPolicy,
    pub(crate) progress: &'a Progress,
}

/// Time spent verifying and retrying.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SettleTimes {
    pub(crate) verify: Duration,
    pub(crate) retry: Duration,
}

impl Settle<'_> {
    /// Verifies, deep-checks and retries; returns one report per copy, in store order.
    pub(crate) async fn run(&self, outcomes: Vec<StreamOutcome>) -> (Vec<CopyReport>, SettleTimes) {
        let mut states: Vec<CopyState> = outcomes.into_iter().map(initial).collect();
        let start = Instant::now();
        join_all(states.iter_mut().map(|s| self.verify(s))).await;
        if let Some(Err(corrupt)) = &self.deep {
            for state in &mut states {
                state.verified = false;
                state.corrupt = Some(corrupt.clone());
            }
        }
        let verify = start.elapsed();
        let start = Instant::now();
        let sources = verified_sources(&states);
        join_all(
            states
                .iter_mut()
                .filter(|s| !s.verified)
                .map(|s| self.retry(s, &sources)),
        )
        .await;
        if let Some(Ok(())) = &self.deep {
            for state in states.iter_mut().filter(|s| s.verified) {
                state.deep = true;
            }
        }
        let times = SettleTimes {
            verify,
            retry: start.elapsed(),
        };
        (states.into_iter().map(report).collect(), times)
    }

    async fn verify(&self, state: &mut CopyState) {
        if state.stored.is_none() {
            return;
        }
        let store = state.outcome.store.as_ref();
        match verify_artifact(store, &state.outcome.key, Some(self.expected), None).await {
            Ok(_) => {
                state.verified = true;
                self.progress.emit(ProgressEvent::CopyVerified {
                    bundle: self.bundle,
                    store: store.id().clone(),
                });
            }
            Err(e) => self.failed(state, e),
        }
    }

    async fn retry(&self, state: &mut CopyState, sources: &[Arc<dyn Store>]) {
        let Some(first) = state.error.take() else {
            return;
        };
        let own = state.outcome.store.id().clone();
        let sources: Vec<Arc<dyn Store>> =
            sources.iter().filter(|s| *s.id() != own).cloned().collect();
        let job = RetryJob {
            dest: state.outcome.store.as_ref(),
            key: &state.outcome.key,
            expected: self.expected,
            sources: &sources,
            policy: self.retry,
            progress: self.progress,
            bundle: self.bundle,
        };
        let retried = job.run(first).await;
        state.attempts = retried.attempts;
        match retried.result {
            Ok((stored, origin)) => {
                state.stored = Some(stored);
                state.verified = true;
                state.origin = Some(origin);
            }
            Err(e) => state.error = Some(e),
        }
    }

    fn failed(&self, state: &mut CopyState, e: VerifyError) {
        self.progress.emit(ProgressEvent::CopyFailed {
            bundle: self.bundle,
            store: state.outcome.store.id().clone(),
            transient: matches!(&e, VerifyError::Store(s) if s.is_transient()),
        });
        state.error = Some(e);
    }
}

fn initial(mut outcome: StreamOutcome) -> CopyState {
    let (stored, error) = match std::mem::replace(&mut outcome.result, Ok(None)) {
        Ok(Some(stored)) => (Some(stored), None),
        // The digest arrived, so every live upload was told to finish: an abandoned one is a
        // failed one.
        Ok(None) => (
            None,
            Some(VerifyError::Store(StoreError::UploadFailed {
                store: outcome.store.id().clone(),
                key: outcome.key.clone(),
            })),
        ),
        Err(e) => (None, Some(VerifyError::Store(e))),
    };
    CopyState {
        outcome,
        stored,
        verified: false,
        deep: false,
        attempts: 1,
        origin: None,
        error,
        corrupt: None,
    }
}

/// Stores with a verified copy, local ones first (cheapest and most reliable to read).
fn verified_sources(states: &[CopyState]) -> Vec<Arc<dyn Store>> {
    let mut sources: Vec<&CopyState> = states.iter().filter(|s| s.verified).collect();
    sources.sort_by_key(|s| s.outcome.store.kind() != StoreKind::Local);
    sources
        .iter()
        .map(|s| Arc::clone(&s.outcome.store))
        .collect()
}

fn report(state: CopyState) -> CopyReport {
    let verified = state.verified;
    CopyReport {
        store: state.outcome.store.id().clone(),
        kind: state.outcome.store.kind(),
        key: state.outcome.key.clone(),
        state: crate::report::CopyState::of(state.stored.is_some(), verified, state.deep),
        attempts: state.attempts,
        origin: if verified {
            Some(state.origin.unwrap_or(CopyOrigin::Stream))
        } else {
            None
        },
        error: if verified {
            None
        } else {
            state
                .corrupt
                .or_else(|| state.error.as_ref().map(VerifyError::to_copy_error))
        },
    }
}
