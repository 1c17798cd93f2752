//! What `celeriac backup` shows while it runs, on stderr: an indicatif progress bar per artifact
//! on a terminal, plain lines otherwise (one per milestone, none per file); and the warning log
//! of the backup commands.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use celeriac_backup::Bundle;
use celeriac_backup::ProgressEvent;

/// What `Pipeline::with_progress` takes: called on pipeline threads for each event.
pub(crate) type Sink = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;

/// Installs a stderr log for the backup commands: warnings by default (copies skipped during a
/// restore, failed aborts), more with `RUST_LOG`.
pub(crate) fn init_log() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Display {
    /// Progress bars (stderr is a terminal).
    Bars,
    /// One line per milestone.
    Lines,
    /// Nothing.
    Quiet,
}

impl Display {
    /// Bars on a terminal, plain lines otherwise; nothing when `quiet`.
    pub(crate) fn detect(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Lines
        }
    }
}

/// A sink for the pipeline's progress events, drawing in the chosen way.
pub(crate) fn sink(display: Display) -> Option<Sink> {
    match display {
        Display::Quiet => None,
        Display::Lines => Some(Arc::new(|event: &ProgressEvent| {
            if let Some(line) = milestone(event) {
                eprintln!("{line}");
            }
        })),
        Display::Bars => {
            let bars = Bars::default();
            Some(Arc::new(move |event: &ProgressEvent| bars.show(event)))
        }
    }
}

/// The line for a milestone event; `None` for the frequent ones (per file, per chunk).
fn milestone(event: &ProgressEvent) -> Option<String> {
    Some(match event {
        ProgressEvent::Collected {
            files,
            bytes,
            skipped,
        } => format!("collected {files} files ({bytes} bytes), {skipped} skipped"),
        ProgressEvent::ArchiveStarted { bundle, entries } => {
            format!("{}: archiving {entries} entries", name(*bundle))
        }
        ProgressEvent::ArchiveFinished {
            bundle,
            stored_bytes,
        } => format!("{}: {stored_bytes} bytes encrypted and sent", name(*bundle)),
        ProgressEvent::CopyStored { bundle, store } => {
            format!("{}: stored in {store}", name(*bundle))
        }
        ProgressEvent::CopyVerified { bundle, store } => {
            format!("{}: verified in {store}", name(*bundle))
        }
        ProgressEvent::CopyFailed {
            bundle,
            store,
            transient,
        } => format!(
            "{}: copy in {store} FAILED ({})",
            name(*bundle),
            if *transient { "transient" } else { "permanent" }
        ),
        ProgressEvent::Retrying {
            bundle,
            store,
            attempt,
            after,
        } => format!(
            "{}: retrying {store} (attempt {attempt}) in {:.1} s",
            name(*bundle),
            after.as_secs_f64()
        ),
        _ => return None,
    })
}

fn name(bundle: Bundle) -> &'static str {
    match bundle {
        Bundle::Main => "main archive",
        Bundle::Secrets => "secrets bundle",
    }
}

/// The bar of the artifact being written; milestones print above it.
#[derive(Default)]
struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn show(&self, event: &ProgressEvent) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            ProgressEvent::ArchiveStarted { bundle, entries } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                *current = Some(new_bar(*bundle, *entries));
            }
            ProgressEvent::EntryArchived { done, .. } => {
                if let Some(bar) = current.as_ref() {
                    bar.set_position(*done);
                }
            }
            ProgressEvent::BytesStreamed { stored_bytes, .. } => {
                if let Some(bar) = current.as_ref() {
                    bar.set_message(format!("{} MiB sent", stored_bytes / (1024 * 1024)));
                }
            }
            _ => {
                if let Some(line) = milestone(event) {
                    match current.as_ref() {
                        Some(bar) => bar.println(line),
                        None => eprintln!("{line}"),
                    }
                }
                if let ProgressEvent::ArchiveFinished { .. } = event
                    && let Some(bar) = current.take()
                {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

fn new_bar(bundle: Bundle, entries: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(entries), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix:>14} [{bar:30}] {pos}/{len} entries, {msg} ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name(bundle));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use celeriac_store::StoreId;

    use super::*;

    #[test]
    fn milestones_name_the_store_and_skip_per_file_events() {
        let store = StoreId::new("r2").unwrap();
        let line = milestone(&ProgressEvent::CopyFailed {
            bundle: Bundle::Main,
            store,
            transient: true,
        });
        assert_eq!(
            line.as_deref(),
            Some("main archive: copy in r2 FAILED (transient)")
        );
        let per_file = ProgressEvent::EntryArchived {
            bundle: Bundle::Secrets,
            done: 1,
            total: 2,
        };
        assert_eq!(milestone(&per_file), None);
    }
}
