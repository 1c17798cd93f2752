//! What `celeriac verify` and `celeriac restore` show while they read, on a terminal: one
//! progress bar per object read (bytes of bytes, rate, time left), named by store and key. The
//! read side of the backup library reports no events; the bars come from [`Watched`], a store
//! that passes every call to the real one and counts the bytes of each object it opens. A
//! restore that checks a copy's digest before decrypting it reads that copy twice: two bars.
//! Nothing is drawn when stderr is not a terminal or with `--json`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use celeriac_store::{
    ByteStream, ObjectInfo, ObjectKey, ObjectPrefix, Store, StoreError, StoreId, StoreKind,
    StoredObject, Upload,
};
use futures::StreamExt as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cmd::progress::Display;

/// Where the bars of one command are drawn (`None`: no bars).
#[derive(Clone)]
pub(crate) struct Reading(Option<MultiProgress>);

impl Reading {
    /// Bars when `display` is [`Display::Bars`].
    pub(crate) fn new(display: Display) -> Self {
        Reading(
            (display == Display::Bars)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        )
    }

    /// `store`, watched when bars are drawn.
    pub(crate) fn watch(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        match &self.0 {
            Some(bars) => Arc::new(Watched {
                inner: store,
                bars: bars.clone(),
            }),
            None => store,
        }
    }
}

/// A store whose opened objects draw a bar as they are read.
#[derive(Debug)]
struct Watched {
    inner: Arc<dyn Store>,
    bars: MultiProgress,
}

/// Finishes its bar when the stream is dropped (read to the end, or given up).
struct Finish(ProgressBar);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl Watched {
    fn bar(&self, key: &ObjectKey, size: Option<u64>) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::no_length());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("reading {}:{}", self.inner.id(), key));
        if let Some(size) = size {
            bar.set_length(size);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

#[async_trait]
impl Store for Watched {
    fn id(&self) -> &StoreId {
        self.inner.id()
    }

    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }

    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError> {
        self.inner.begin(key).await
    }

    async fn put_small(&self, key: &ObjectKey, data: Bytes) -> Result<StoredObject, StoreError> {
        self.inner.put_small(key, data).await
    }

    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        // The size for the bar's length; a failed HEAD only costs the bar its length.
        let size = self.inner.head(key).await.ok().flatten().map(|i| i.size);
        let stream = self.inner.open(key).await?;
        let finish = Finish(self.bar(key, size));
        Ok(stream
            .inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    finish.0.inc(chunk.len() as u64);
                }
            })
            .boxed())
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        self.inner.head(key).await
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }

    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.read_sidecar(key).await
    }
}
