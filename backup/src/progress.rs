//! Progress events for progress bars and logs: [`ProgressEvent`] and the sink (an
//! `Arc<dyn Fn(&ProgressEvent) + Send + Sync>`) the pipeline calls (from its blocking thread and from async tasks alike).

use std::sync::Arc;
use std::time::Duration;

use celeriac_store::StoreId;

use crate::manifest::Bundle;

/// Something the pipeline just did. Events carry counts and names, never file contents or keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// Collection finished.
    Collected {
        /// Files and symlinks collected, both bundles.
        files: u64,
        /// Bytes of those files.
        bytes: u64,
        /// Matched files left out.
        skipped: u64,
    },
    /// An artifact started streaming.
    ArchiveStarted {
        /// Which artifact.
        bundle: Bundle,
        /// Tar members to write (the manifest not counted).
        entries: u64,
    },
    /// One more tar member is about to be written (`done` members are written already).
    EntryArchived {
        /// Which artifact.
        bundle: Bundle,
        /// Members written.
        done: u64,
        /// Members in total.
        total: u64,
    },
    /// Another chunk of the encrypted artifact went to the stores.
    BytesStreamed {
        /// Which artifact.
        bundle: Bundle,
        /// Encrypted bytes handed to the fan-out so far.
        stored_bytes: u64,
    },
    /// The artifact is complete on the producer side.
    ArchiveFinished {
        /// Which artifact.
        bundle: Bundle,
        /// Its size.
        stored_bytes: u64,
    },
    /// A store published its copy.
    CopyStored {
        /// Which artifact.
        bundle: Bundle,
        /// Which store.
        store: StoreId,
    },
    /// A store's copy failed (upload or verification).
    CopyFailed {
        /// Which artifact.
        bundle: Bundle,
        /// Which store.
        store: StoreId,
        /// Whether another attempt may succeed.
        transient: bool,
    },
    /// A copy was read back and matched.
    CopyVerified {
        /// Which artifact.
        bundle: Bundle,
        /// Which store.
        store: StoreId,
    },
    /// A failed copy is uploaded again from a verified copy after `after`.
    Retrying {
        /// Which artifact.
        bundle: Bundle,
        /// Which store.
        store: StoreId,
        /// The attempt about to run (the streamed upload was attempt 1).
        attempt: u32,
        /// The backoff before it.
        after: Duration,
    },
}

/// Receives [`ProgressEvent`]s. Called synchronously on pipeline threads: keep it quick.
pub(crate) type ProgressSink = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// An optional sink.
#[derive(Clone, Default)]
pub(crate) struct Progress(Option<ProgressSink>);

impl Progress {
    pub(crate) fn new(sink: Option<ProgressSink>) -> Self {
        Self(sink)
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "events are built at the call site; taking them by value reads better"
    )]
    pub(crate) fn emit(&self, event: ProgressEvent) {
        if let Some(sink) = &self.0 {
            sink(&event);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(sink)"
        } else {
            "Progress(none)"
        })
    }
}
