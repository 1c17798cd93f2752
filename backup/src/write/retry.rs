//! Second chances for a copy that failed: upload it again from a **verified** copy in another
//! store (a rewindable source, unlike the live stream), with exponential backoff, until it
//! verifies, a permanent error ends the attempts, or the attempts run out. A key that turns out
//! to be taken (an earlier attempt published the object but failed afterwards) is accepted when
//! the existing object reads back with the expected size and SHA-256.

use std::sync::Arc;

use celeriac_store::{ObjectKey, Store, StoreError, StoredObject, Upload};
use futures::StreamExt as _;

use crate::config::options::RetryPolicy;
use crate::manifest::Bundle;
use crate::progress::{Progress, ProgressEvent};
use crate::read::open::Expected;
use crate::read::verify::{VerifyError, verify_artifact};
use crate::report::CopyOrigin;

/// A retry's end state.
#[derive(Debug)]
pub(crate) struct Retried {
    /// Attempts made in total (the streamed one included).
    pub(crate) attempts: u32,
    /// The verified copy and how it was made, or the last error.
    pub(crate) result: Result<(StoredObject, CopyOrigin), VerifyError>,
}

/// What a retry works with.
pub(crate) struct RetryJob<'a> {
    pub(crate) dest: &'a dyn Store,
    pub(crate) key: &'a ObjectKey,
    pub(crate) expected: Expected,
    /// Stores holding a verified copy under the same key, best first.
    pub(crate) sources: &'a [Arc<dyn Store>],
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) progress: &'a Progress,
    pub(crate) bundle: Bundle,
}

impl RetryJob<'_> {
    /// Runs the attempts after the first one, which failed with `first`.
    pub(crate) async fn run(self, first: VerifyError) -> Retried {
        let mut attempts = 1;
        let mut last = first;
        if is_taken(&last) {
            match self.existing().await {
                Ok(stored) => return self.done(attempts, stored, CopyOrigin::Existing),
                Err(e) => last = e,
            }
        }
        while is_retryable(&last) && attempts < self.policy.attempts {
            let Some(source) = self.sources.first() else {
                break;
            };
            attempts += 1;
            let after = self.policy.backoff(attempts);
            self.progress.emit(ProgressEvent::Retrying {
                bundle: self.bundle,
                store: self.dest.id().clone(),
                attempt: attempts,
                after,
            });
            tokio::time::sleep(after).await;
            let outcome = match self.reupload(source.as_ref()).await {
                Ok(_) => self.existing().await.map(|s| {
                    (
                        s,
                        CopyOrigin::Retry {
                            from: source.id().clone(),
                        },
                    )
                }),
                Err(e) if e.is_already_exists() => {
                    self.existing().await.map(|s| (s, CopyOrigin::Existing))
                }
                Err(e) => Err(VerifyError::Store(e)),
            };
            match outcome {
                Ok((stored, origin)) => return self.done(attempts, stored, origin),
                Err(e) => last = e,
            }
        }
        Retried {
            attempts,
            result: Err(last),
        }
    }

    fn done(&self, attempts: u32, stored: StoredObject, origin: CopyOrigin) -> Retried {
        self.progress.emit(ProgressEvent::CopyVerified {
            bundle: self.bundle,
            store: self.dest.id().clone(),
        });
        Retried {
            attempts,
            result: Ok((stored, origin)),
        }
    }

    /// Reads the object now under the key back and checks it.
    async fn existing(&self) -> Result<StoredObject, VerifyError> {
        let report = verify_artifact(self.dest, self.key, Some(self.expected), None).await?;
        Ok(StoredObject {
            key: self.key.clone(),
            size: report.size,
            sha256: report.sha256,
        })
    }

    /// Streams the verified copy in `source` into a new upload.
    async fn reupload(&self, source: &dyn Store) -> Result<StoredObject, StoreError> {
        let mut stream = source.open(self.key).await?;
        let mut upload = self.dest.begin(self.key).await?;
        while let Some(chunk) = stream.next().await {
            let put = match chunk {
                Ok(chunk) => upload.put(chunk).await,
                Err(e) => Err(e),
            };
            if let Err(e) = put {
                abort(upload).await;
                return Err(e);
            }
        }
        upload.finish(self.expected.sha256).await
    }
}

async fn abort(upload: Upload) {
    if let Err(e) = upload.abort().await {
        tracing::warn!(error = %celeriac_error_chain::error_chain(&e), "aborting a retried upload failed");
    }
}

fn is_taken(e: &VerifyError) -> bool {
    matches!(e, VerifyError::Store(e) if e.is_already_exists())
}

/// Worth another upload: the store was unavailable, or an interrupted local write.
fn is_retryable(e: &VerifyError) -> bool {
    matches!(e, VerifyError::Store(e) if e.is_transient())
}
