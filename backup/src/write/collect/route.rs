//! Routing of walked candidates into the two bundles: reads files, sends env files and private
//! keys to `secrets` (with a sanitized env copy for `main`; a sample env file stays in `main`
//! verbatim when nothing in it looks secret), keeps symlinks only when their
//! target is collected into the same bundle, and adds every ancestor directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::Path;

use super::read::{FileFacts, read_all};
use super::walk::{Candidate, CandidateKind, Meta, Walked};
use super::{
    CategoryCount, CollectError, CollectedRoot, Entry, EntryKind, EntrySource, SanitizeHow, Skip,
    SkipReason, SuspectedSecret, apply_policy, display_path,
};
use crate::config::spec::CollectSpec;
use crate::manifest::Category;
use crate::manifest::{
    ArchivePath, Bundle, Classification, LinkProblem, MAX_LINK_HOPS, Sha256Digest, resolve_link,
    resolve_through_links,
};
use crate::write::cancel::CancelCheck;
use crate::write::classify::{NameClass, classify_path};
use crate::write::sanitize::sanitize_env;

pub(super) struct Routed {
    pub(super) main: Vec<Entry>,
    pub(super) secrets: Vec<Entry>,
    pub(super) skipped: Vec<Skip>,
    pub(super) counts: BTreeMap<Category, CategoryCount>,
    pub(super) suspected: Vec<SuspectedSecret>,
}

pub(super) struct Router<'a> {
    spec: &'a CollectSpec,
    roots: &'a [super::CollectedRoot],
    cancel: Option<&'a CancelCheck>,
    out: Routed,
}

impl<'a> Router<'a> {
    pub(super) fn new(
        spec: &'a CollectSpec,
        roots: &'a [CollectedRoot],
        cancel: Option<&'a CancelCheck>,
    ) -> Self {
        let out = Routed {
            main: Vec::new(),
            secrets: Vec::new(),
            skipped: Vec::new(),
            counts: BTreeMap::new(),
            suspected: Vec::new(),
        };
        Self {
            spec,
            roots,
            cancel,
            out,
        }
    }

    pub(super) fn problem(
        &mut self,
        path: String,
        reason: SkipReason,
        source: Option<io::Error>,
    ) -> Result<(), CollectError> {
        // Judged by name: the content could not be read.
        let secret = !matches!(
            classify_path(&path),
            NameClass::Ordinary | NameClass::EnvSample
        );
        let skip = Skip {
            path,
            reason,
            secret,
        };
        apply_policy(
            self.spec.on_unreadable(),
            &mut self.out.skipped,
            skip,
            source,
        )
    }

    pub(super) fn route(mut self, walked: Walked) -> Result<Routed, CollectError> {
        let facts = read_all(self.roots, &walked.candidates, self.cancel);
        // Most candidates land in `main`: one allocation instead of doublings (it is shrunk to
        // fit at the end).
        self.out.main.reserve(walked.candidates.len());
        let mut links = Vec::new();
        for (candidate, facts) in walked.candidates.into_iter().zip(facts) {
            if self.cancel.is_some_and(|c| c()) {
                return Err(CollectError::Cancelled);
            }
            match candidate.kind {
                CandidateKind::File => {
                    let facts = facts.ok_or(CollectError::Cancelled)?;
                    self.file(candidate, facts)?;
                }
                CandidateKind::Symlink { ref target } => {
                    let target = target.clone();
                    links.push((candidate, target));
                }
            }
        }
        self.links(links, &walked.dirs)?;
        let Routed {
            mut main,
            mut secrets,
            mut skipped,
            counts,
            mut suspected,
        } = self.out;
        add_ancestors(&mut main, &walked.dirs);
        add_ancestors(&mut secrets, &walked.dirs);
        for list in [&mut main, &mut secrets] {
            list.sort_by(|a, b| a.path.cmp(&b.path));
            // Held for the whole run: no spare capacity.
            list.shrink_to_fit();
        }
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        suspected.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        Ok(Routed {
            main,
            secrets,
            skipped,
            counts,
            suspected,
        })
    }

    fn file(&mut self, c: Candidate, facts: io::Result<FileFacts>) -> Result<(), CollectError> {
        let rel = Path::new(c.rel());
        let facts = match facts {
            Ok(facts) => facts,
            Err(e) => {
                return self.problem(
                    display_path(self.roots, c.root, rel),
                    SkipReason::from_io(&e),
                    Some(e),
                );
            }
        };
        let name_class = match classify_path(c.path.as_str()) {
            NameClass::EnvSample => self.sample_class(facts.content.as_deref()),
            NameClass::Ordinary if facts.env_by_content => NameClass::EnvFile,
            other => other,
        };
        let secret = name_class != NameClass::Ordinary || facts.secret.is_some();
        let count = self.out.counts.entry(c.category).or_default();
        count.files += 1;
        count.bytes += facts.size;
        count.secrets += u64::from(secret);
        let entry = Entry {
            kind: EntryKind::File {
                size: facts.size,
                sha256: facts.sha256,
            },
            category: Some(c.category),
            classification: Classification::Plain,
            source: EntrySource::Disk { root: c.root },
            ..entry_meta(c.path, facts.meta)
        };
        if let Some(redaction) = &facts.redaction {
            self.out
                .suspected
                .extend(redaction.suspects.iter().map(|s| SuspectedSecret {
                    path: entry.path.as_str().to_owned(),
                    line: s.line,
                    why: s.why,
                }));
        }
        if !secret {
            match facts.redaction {
                // Inline secrets: the redacted copy to main, the file itself to secrets.
                Some(r) if r.redacted > 0 => {
                    count.secrets += 1;
                    self.out.main.push(Entry {
                        kind: EntryKind::File {
                            size: r.size,
                            sha256: r.sha256,
                        },
                        classification: Classification::Sanitized,
                        source: EntrySource::Sanitized {
                            root: c.root,
                            how: SanitizeHow::Config(r.format),
                        },
                        ..entry.clone()
                    });
                    self.out.secrets.push(Entry {
                        classification: Classification::Secret,
                        ..entry
                    });
                }
                _ => self.out.main.push(entry),
            }
            return Ok(());
        }
        if name_class == NameClass::EnvFile
            && let Some(sanitized) = facts
                .content
                .and_then(|bytes| sanitize_env(&bytes, self.spec.env_allowlist()).ok())
        {
            // Only the facts are kept: the archive stage sanitizes the file again.
            self.out.main.push(Entry {
                kind: EntryKind::File {
                    size: sanitized.content.len() as u64,
                    sha256: Sha256Digest::of(&sanitized.content),
                },
                classification: Classification::Sanitized,
                source: EntrySource::Sanitized {
                    root: c.root,
                    how: SanitizeHow::Env,
                },
                ..entry.clone()
            });
        }
        self.out.secrets.push(Entry {
            classification: Classification::Secret,
            ..entry
        });
        Ok(())
    }

    /// A sample env file stays verbatim (ordinary) unless a value in it looks secret, or it
    /// cannot be read as env lines (too big, not UTF-8): then it is handled as a real env file.
    fn sample_class(&self, content: Option<&[u8]>) -> NameClass {
        let plain = content
            .and_then(|bytes| sanitize_env(bytes, self.spec.env_allowlist()).ok())
            .is_some_and(|s| s.secret_looking == 0);
        if plain {
            NameClass::Ordinary
        } else {
            NameClass::EnvFile
        }
    }

    fn links(
        &mut self,
        links: Vec<(Candidate, Vec<u8>)>,
        dirs: &HashMap<ArchivePath, Meta>,
    ) -> Result<(), CollectError> {
        if links.is_empty() {
            return Ok(());
        }
        let mut resolved: HashMap<ArchivePath, Result<ArchivePath, LinkProblem>> = HashMap::new();
        let mut targets = HashMap::new();
        // Every link of the walk by root and path below it, for the kernel-like resolution.
        let by_rel: HashMap<(usize, &str), &str> = links
            .iter()
            .filter_map(|(c, t)| Some(((c.root, c.rel()), std::str::from_utf8(t).ok()?)))
            .collect();
        for (c, target) in &links {
            let result = std::str::from_utf8(target)
                .map_err(|_| LinkProblem::BadCharacters)
                .and_then(|t| {
                    let rel =
                        ArchivePath::parse(c.rel()).map_err(|_| LinkProblem::BadCharacters)?;
                    let lexical = resolve_link(&rel, t)?;
                    resolve_through_links(&rel, t, |at| by_rel.get(&(c.root, at)).copied())?;
                    Ok((t.to_owned(), lexical))
                })
                .and_then(|(t, r)| {
                    let prefix = self.roots[c.root].prefix.as_ref();
                    let archived = ArchivePath::under(prefix, r.as_str())
                        .map_err(|_| LinkProblem::BadCharacters)?;
                    targets.insert(c.path.clone(), t);
                    Ok(archived)
                });
            resolved.insert(c.path.clone(), result);
        }
        // Decided against the files alone (links are added after), so all at once.
        let bundles: Vec<_> = {
            let (files, dir_bundles) = (self.placed_files(), self.dir_bundles());
            let places = Places {
                files: &files,
                links: &resolved,
                dirs,
                dir_bundles: &dir_bundles,
            };
            links
                .iter()
                .map(|(c, _)| match &resolved[&c.path] {
                    Err(problem) => Err(*problem),
                    Ok(target) => places.bundle_of(target),
                })
                .collect()
        };
        for ((c, _), bundle) in links.into_iter().zip(bundles) {
            let rel = Path::new(c.rel());
            let bundle = match bundle {
                Ok(bundle) => bundle,
                Err(problem) => {
                    self.problem(
                        display_path(self.roots, c.root, rel),
                        SkipReason::Symlink { problem },
                        None,
                    )?;
                    continue;
                }
            };
            let count = self.out.counts.entry(c.category).or_default();
            count.files += 1;
            count.secrets += u64::from(bundle == Bundle::Secrets);
            let target = targets.remove(&c.path).unwrap_or_default();
            let entry = Entry {
                kind: EntryKind::Symlink {
                    target: target.into_boxed_str(),
                },
                category: Some(c.category),
                classification: if bundle == Bundle::Secrets {
                    Classification::Secret
                } else {
                    Classification::Plain
                },
                source: EntrySource::None,
                ..entry_meta(c.path, c.meta)
            };
            match bundle {
                Bundle::Main => self.out.main.push(entry),
                Bundle::Secrets => self.out.secrets.push(entry),
            }
        }
        Ok(())
    }

    /// The bundle of each collected file (a `.env` with a sanitized copy counts as secret).
    fn placed_files(&self) -> HashMap<&ArchivePath, Bundle> {
        let main = self.out.main.iter().map(|e| (&e.path, Bundle::Main));
        let secrets = self.out.secrets.iter().map(|e| (&e.path, Bundle::Secrets));
        main.chain(secrets).collect()
    }

    /// Directories holding collected files, per bundle (main wins when both).
    fn dir_bundles(&self) -> HashMap<ArchivePath, Bundle> {
        let mut map = HashMap::new();
        for e in &self.out.secrets {
            for a in e.path.ancestors() {
                map.insert(a, Bundle::Secrets);
            }
        }
        for e in &self.out.main {
            for a in e.path.ancestors() {
                map.insert(a, Bundle::Main);
            }
        }
        map
    }
}

/// What a link target can be: a collected file, another link, a directory.
struct Places<'a> {
    files: &'a HashMap<&'a ArchivePath, Bundle>,
    links: &'a HashMap<ArchivePath, Result<ArchivePath, LinkProblem>>,
    dirs: &'a HashMap<ArchivePath, Meta>,
    dir_bundles: &'a HashMap<ArchivePath, Bundle>,
}

impl Places<'_> {
    /// The bundle a link target belongs to, following link chains within the collection.
    fn bundle_of(&self, target: &ArchivePath) -> Result<Bundle, LinkProblem> {
        let mut current = target.clone();
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_LINK_HOPS {
            if let Some(bundle) = self.files.get(&current) {
                return Ok(*bundle);
            }
            if let Some(next) = self.links.get(&current) {
                let next = next.clone().map_err(|_| LinkProblem::TargetNotMember)?;
                if !seen.insert(current) {
                    return Err(LinkProblem::TargetNotMember);
                }
                current = next;
                continue;
            }
            if self.dirs.contains_key(&current) {
                return self
                    .dir_bundles
                    .get(&current)
                    .copied()
                    .ok_or(LinkProblem::TargetNotMember);
            }
            return Err(LinkProblem::TargetNotMember);
        }
        Err(LinkProblem::TargetNotMember)
    }
}

fn entry_meta(path: ArchivePath, meta: Meta) -> Entry {
    Entry {
        path,
        kind: EntryKind::Dir,
        mode: meta.mode,
        mtime: meta.mtime,
        uid: meta.uid,
        gid: meta.gid,
        category: None,
        classification: Classification::Plain,
        source: EntrySource::None,
    }
}

fn add_ancestors(entries: &mut Vec<Entry>, dirs: &HashMap<ArchivePath, Meta>) {
    let mut needed: BTreeSet<ArchivePath> = BTreeSet::new();
    for e in entries.iter() {
        // A listed parent means every ancestor is listed: allocate names only for new ones.
        let parent = e.path.as_str().rsplit_once('/').map(|(p, _)| p);
        if parent.is_some_and(|p| !needed.contains(p)) {
            needed.extend(e.path.ancestors());
        }
    }
    entries.reserve_exact(needed.len());
    for path in needed {
        let meta = dirs.get(&path).copied().unwrap_or(Meta {
            mode: 0o755,
            mtime: 0,
            uid: 0,
            gid: 0,
        });
        entries.push(entry_meta(path, meta));
    }
}
