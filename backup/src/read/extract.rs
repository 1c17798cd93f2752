//! Safe extraction of our `tar.gz` archives, treating the input as hostile: one gzip member, one
//! tar parser (used only to parse: writing is ours), `MANIFEST.json` first and used as the
//! allowlist, only regular files, directories and manifest-validated relative symlinks, limits on
//! entries and sizes, no trailing bytes. Output goes to a [`Staging`] directory that
//! [`commit`] moves into place once everything validated. The manifest is parsed as it streams
//! out of the tar into a [`ManifestIndex`] (about 120 bytes per entry; the JSON text is never
//! held).
//!
//! ```text
//! R ─► gunzip (1 member, byte cap) ─► tar parse ─► MANIFEST.json ─► guards per entry ─► Staging
//!                                                  (ManifestIndex)  (list: stop here)  (dry run: hash only)
//! ```

mod commit;
mod error;
mod filter;
mod guard;
mod input;
mod staging;

use std::io::{self, Read, Write};
use std::rc::Rc;

use sha2::{Digest as _, Sha256};

#[cfg(feature = "test-util")]
pub use commit::CommitSummary;
pub use commit::{CommitPolicy, commit};
pub use error::{EntryProblem, ExtractError, FsOp, RejectedType};
pub use filter::PathFilter;
pub use staging::Staging;
pub(crate) use staging::{remove_own_staging, remove_stale_staging};

use crate::manifest::{
    Bundle, EntryType, MANIFEST_NAME, ManifestEntryRef, ManifestError, ManifestIndex, Sha256Digest,
};
use input::{Fault, Input, InputState, Trailing};

use crate::config::limits::Limits;

/// Options of [`extract`] and [`dry_run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Size limits.
    pub limits: Limits,
    /// Globs over member paths (`nginx/**`, `**/*.conf`); an entry is written when it or one
    /// of its ancestors matches. Empty: everything. Every entry is validated either way.
    pub only: Vec<String>,
    /// Refuse an archive whose manifest names another bundle.
    pub expect_bundle: Option<Bundle>,
}

/// What an extraction or dry run validated (and wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSummary {
    /// The archive's manifest, in its compact form.
    pub manifest: ManifestIndex,
    /// Entries validated (manifest excluded).
    pub entries: u64,
    /// Entries selected by [`ExtractOptions::only`] (written, unless a dry run).
    pub selected: u64,
    /// Content bytes of selected files.
    pub selected_bytes: u64,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// Reads only `MANIFEST.json`: the listing of paths, types, sizes, modes and categories.
///
/// # Errors
/// Input, manifest and limit errors of [`ExtractError`].
pub fn list<R: Read>(reader: R, limits: &Limits) -> Result<ManifestIndex, ExtractError> {
    let (input, state) = Input::new(reader, limits.decompressed_cap());
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .map_err(|e| input_error(&state, e, limits))?;
    read_manifest(&mut entries, &state, limits)
}

/// Validates the whole archive exactly as [`extract`] does, writing nothing.
///
/// # Errors
/// Any [`ExtractError`] except staging ones.
pub fn dry_run<R: Read>(reader: R, opts: &ExtractOptions) -> Result<ExtractSummary, ExtractError> {
    run(reader, None, opts)
}

/// Extracts into `staging`. On error, drop the staging directory (that removes it).
///
/// # Errors
/// Any [`ExtractError`].
pub fn extract<R: Read>(
    reader: R,
    staging: &Staging,
    opts: &ExtractOptions,
) -> Result<ExtractSummary, ExtractError> {
    run(reader, Some(staging), opts)
}

fn input_error(state: &InputState, e: io::Error, limits: &Limits) -> ExtractError {
    match state.fault.get() {
        Some(Fault::Source) => {
            let source = state.source_error.borrow_mut().take().unwrap_or(e);
            ExtractError::Source { source }
        }
        Some(Fault::Gzip) => ExtractError::Gzip { source: e },
        Some(Fault::TooLarge) => ExtractError::DecompressedTooLarge {
            limit: limits.decompressed_cap(),
        },
        None => ExtractError::Tar { source: e },
    }
}

type Entries<'a, R> = tar::Entries<'a, Input<R>>;

/// Parses the first member, which must be `MANIFEST.json`, straight from the stream into a
/// [`ManifestIndex`] (the JSON text is never held). A failure of the input below the JSON
/// parser (decryption, gzip, size cap, a truncated tar) keeps its own name.
fn read_manifest<R: Read>(
    entries: &mut Entries<'_, R>,
    state: &Rc<InputState>,
    limits: &Limits,
) -> Result<ManifestIndex, ExtractError> {
    let first = match entries.next() {
        None => return Err(ExtractError::ManifestMissing),
        Some(entry) => entry.map_err(|e| input_error(state, e, limits))?,
    };
    let is_manifest = first.path_bytes().as_ref() == MANIFEST_NAME.as_bytes()
        && first.header().entry_type() == tar::EntryType::Regular;
    if !is_manifest {
        return Err(ExtractError::ManifestMissing);
    }
    if first.size() > limits.max_manifest_bytes {
        return Err(ExtractError::ManifestTooLarge {
            size: first.size(),
            limit: limits.max_manifest_bytes,
        });
    }
    let buffered = io::BufReader::with_capacity(MANIFEST_READ_BUF, first);
    ManifestIndex::from_reader(buffered).map_err(|source| match source {
        ManifestError::Json { source } if source.is_io() || state.fault.get().is_some() => {
            input_error(state, io::Error::from(source), limits)
        }
        source => ExtractError::Manifest { source },
    })
}

/// Read buffer between the tar entry and the JSON parser.
const MANIFEST_READ_BUF: usize = 64 * 1024;

fn run<R: Read>(
    reader: R,
    staging: Option<&Staging>,
    opts: &ExtractOptions,
) -> Result<ExtractSummary, ExtractError> {
    let limits = &opts.limits;
    let filter = PathFilter::compile(&opts.only)?;
    let (input, state) = Input::new(reader, limits.decompressed_cap());
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .map_err(|e| input_error(&state, e, limits))?;
    let manifest = read_manifest(&mut entries, &state, limits)?;
    if let Some(expected) = opts.expect_bundle.filter(|b| *b != manifest.bundle()) {
        return Err(ExtractError::WrongBundle {
            expected,
            found: manifest.bundle(),
        });
    }
    // Counted here; the summary takes the manifest itself at the end (no copy of a large one).
    let (mut seen, mut picked, mut picked_bytes) = (0_u64, 0_u64, 0_u64);
    let mut writer = staging
        .map(|s| staging::StagingWriter::new(s, &manifest, manifest.bundle() == Bundle::Secrets));
    let mut plan = guard::Plan::new(&manifest, limits)?;
    for entry in &mut entries {
        let mut entry = entry.map_err(|e| input_error(&state, e, limits))?;
        let accepted = plan.accept(&mut entry)?;
        seen += 1;
        let listed = plan.entry(accepted.index);
        let chosen = filter.selects(accepted.path.as_str());
        if chosen {
            picked += 1;
            picked_bytes += accepted.size;
        }
        let writer = writer.as_mut().filter(|_| chosen);
        match listed.kind() {
            EntryType::File => copy_file(&mut entry, listed, writer, &state, limits)?,
            EntryType::Dir => {
                if let Some(w) = writer {
                    w.dir(listed)?;
                }
            }
            EntryType::Symlink => {
                if let Some(w) = writer {
                    w.symlink(listed);
                }
            }
        }
    }
    plan.ensure_complete()?;
    drop(plan);
    archive.into_inner().finish().map_err(|t| match t {
        Trailing::AfterTar => ExtractError::TrailingGarbage {
            after: "tar archive",
        },
        Trailing::AfterGzip => ExtractError::TrailingGarbage {
            after: "gzip member",
        },
        Trailing::Fault => input_error(&state, io::Error::other("input failed at the end"), limits),
    })?;
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(ExtractSummary {
        manifest,
        entries: seen,
        selected: picked,
        selected_bytes: picked_bytes,
        dry_run: staging.is_none(),
    })
}

/// Streams one file's data: hashes it and, when a writer is given, writes it to staging.
fn copy_file<R: Read>(
    entry: &mut tar::Entry<'_, Input<R>>,
    listed: ManifestEntryRef<'_>,
    writer: Option<&mut staging::StagingWriter<'_>>,
    state: &Rc<InputState>,
    limits: &Limits,
) -> Result<(), ExtractError> {
    let refuse = |problem| ExtractError::Entry {
        path: listed.path().to_owned(),
        problem,
    };
    let mut writer = writer;
    let mut file = match writer.as_mut() {
        Some(w) => Some(w.create_file(listed)?),
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(input_error(state, e, limits)),
        };
        hasher.update(&buf[..n]);
        if let Some(f) = file.as_mut() {
            f.write_all(&buf[..n])
                .map_err(|source| ExtractError::Staging {
                    op: FsOp::Write,
                    path: listed.path().to_owned(),
                    source,
                })?;
        }
    }
    if Some(Sha256Digest::from_bytes(hasher.finalize().into())) != listed.sha256() {
        return Err(refuse(EntryProblem::DigestMismatch));
    }
    if let (Some(w), Some(f)) = (writer, file) {
        w.finish_file(&f, listed)?;
    }
    Ok(())
}
