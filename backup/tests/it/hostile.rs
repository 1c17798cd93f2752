//! The hostile-tar corpus: archives crafted byte by byte, each refused with its typed error,
//! with nothing left beside the target (the staging directory is removed, the parent directory
//! is as it was) and nothing written outside.

use std::io::Write as _;

use anyhow::{Context, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::ExtractOptions;
use celeriac_backup::internals::Limits;
use celeriac_backup::internals::{
    ArchivePath, EntryType, LinkProblem, Manifest, ManifestEntry, ManifestError, PathProblem,
    Sha256Digest,
};
use celeriac_backup::internals::{Category, Classification};
use celeriac_backup::internals::{EntryProblem, ExtractError, RejectedType};

use crate::fixture::{listing, restore};

/// One crafted tar member.
#[derive(Clone, Default)]
struct Member {
    name: Vec<u8>,
    kind: u8,
    mode: u32,
    data: Vec<u8>,
    link: Vec<u8>,
    /// ustar size field when it should differ from `data.len()`.
    declared: Option<u64>,
}

fn file(name: &str, data: &[u8]) -> Member {
    Member {
        name: name.into(),
        kind: b'0',
        mode: 0o644,
        data: data.to_vec(),
        ..Member::default()
    }
}

fn dir(name: &str) -> Member {
    Member {
        name: name.into(),
        kind: b'5',
        mode: 0o755,
        ..Member::default()
    }
}

fn link(name: &str, kind: u8, target: &str) -> Member {
    Member {
        name: name.into(),
        kind,
        mode: 0o777,
        link: target.into(),
        ..Member::default()
    }
}

/// An octal numeric field, or GNU base-256 when the value does not fit.
fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}\0", width = field.len() - 1);
    if text.len() == field.len() {
        field.copy_from_slice(text.as_bytes());
    } else {
        field.fill(0);
        field[0] = 0x80;
        let n = field.len();
        field[n - 8..].copy_from_slice(&value.to_be_bytes());
    }
}

fn header(name: &[u8], kind: u8, mode: u32, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    if kind == b'S' {
        // GNU header: magic, no sparse map entries, real size 0.
        h[257..265].copy_from_slice(b"ustar  \0");
        octal(&mut h[483..495], 0);
    } else {
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
    }
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn push(tar: &mut Vec<u8>, m: &Member) {
    tar.extend_from_slice(&header(
        &m.name,
        m.kind,
        m.mode,
        m.declared.unwrap_or(m.data.len() as u64),
        &m.link,
    ));
    tar.extend_from_slice(&m.data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// A PAX extended header carrying `records`, applying to the next member.
fn pax(records: &[(&str, &[u8])]) -> Member {
    let mut data = Vec::new();
    for (key, value) in records {
        let body_len = key.len() + value.len() + 3;
        let mut len = body_len + 1;
        while format!("{len}").len() + body_len != len {
            len += 1;
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    Member {
        name: b"././@PaxHeader".to_vec(),
        kind: b'x',
        mode: 0o644,
        data,
        ..Member::default()
    }
}

fn entry(path: &str, kind: EntryType, data: &[u8], target: Option<&str>) -> ManifestEntry {
    let file = kind == EntryType::File;
    ManifestEntry {
        path: ArchivePath::parse(path).expect("valid manifest path"),
        kind,
        category: (kind != EntryType::Dir).then_some(Category::Nginx),
        classification: Classification::Plain,
        mode: match kind {
            EntryType::File => 0o644,
            EntryType::Dir => 0o755,
            EntryType::Symlink => 0o777,
        },
        mtime: 1_700_000_000,
        size: file.then_some(data.len() as u64),
        sha256: file.then(|| Sha256Digest::of(data)),
        target: target.map(str::to_owned),
    }
}

/// A `tar.gz` of `MANIFEST.json` (listing `listed`) followed by `members`, plus `tail` after the
/// end-of-archive blocks.
fn craft(listed: Vec<ManifestEntry>, members: &[Member]) -> Vec<u8> {
    let mut tar = Vec::new();
    push(
        &mut tar,
        &file(
            "MANIFEST.json",
            &Manifest::new(Bundle::Main, listed).to_json(),
        ),
    );
    for m in members {
        push(&mut tar, m);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    gzip(&tar)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("in-memory write");
    gz.finish().expect("in-memory finish")
}

/// Restores `tar_gz` beside a sentinel file and expects a refusal; checks that the parent
/// directory is unchanged (no staging left, nothing written outside the target).
fn refused_with(tar_gz: &[u8], opts: &ExtractOptions) -> Result<ExtractError> {
    let out = tempfile::tempdir()?;
    let parent = out.path().join("parent");
    std::fs::create_dir(&parent)?;
    std::fs::write(parent.join("sentinel"), "untouched")?;
    let before = listing(&parent)?;
    let outside_before = listing(out.path())?;
    let err = restore(tar_gz, &parent.join("target"), opts)
        .err()
        .context("extraction must be refused")?;
    ensure!(
        listing(&parent)? == before,
        "parent changed: {:?}",
        listing(&parent)?
    );
    ensure!(
        listing(out.path())? == outside_before,
        "outside changed: {:?}",
        listing(out.path())?
    );
    ensure!(std::fs::read_to_string(parent.join("sentinel"))? == "untouched");
    err.downcast::<ExtractError>().context("typed error")
}

fn refused(tar_gz: &[u8]) -> Result<ExtractError> {
    refused_with(tar_gz, &ExtractOptions::default())
}

fn entry_problem(err: &ExtractError) -> Option<EntryProblem> {
    match err {
        ExtractError::Entry { problem, .. } => Some(*problem),
        _ => None,
    }
}

#[test]
fn parent_dir_traversal_and_absolute_names() -> Result<()> {
    let e = refused(&craft(vec![], &[file("../evil", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::ParentDir)),
        "{e:?}"
    );
    let e = refused(&craft(vec![], &[file("a/../../evil", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::ParentDir)),
        "{e:?}"
    );
    let e = refused(&craft(vec![], &[file("/tmp/celeriac-abs", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::Absolute)),
        "{e:?}"
    );
    ensure!(!std::path::Path::new("/tmp/celeriac-abs").exists());
    let e = refused(&craft(vec![], &[file("a\\..\\b", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::Backslash)),
        "{e:?}"
    );
    let e = refused(&craft(vec![], &[file("C:/x", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::DriveLetter)),
        "{e:?}"
    );
    let e = refused(&craft(
        vec![],
        &[pax(&[("path", b"ok\0/../../x")]), file("ok", b"x")],
    ))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::Nul)),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn symlink_then_file_with_the_same_name() -> Result<()> {
    let listed = vec![
        entry("nginx.conf", EntryType::File, b"a", None),
        entry("cfg", EntryType::Symlink, b"", Some("nginx.conf")),
    ];
    let e = refused(&craft(
        listed,
        &[
            link("cfg", b'2', "nginx.conf"),
            file("nginx.conf", b"a"),
            file("cfg", b"owned"),
        ],
    ))?;
    ensure!(entry_problem(&e) == Some(EntryProblem::Duplicate), "{e:?}");
    Ok(())
}

#[test]
fn symlink_to_parent_then_a_file_through_it() -> Result<()> {
    let listed = vec![
        entry("up", EntryType::Symlink, b"", Some("..")),
        entry("up/x", EntryType::File, b"x", None),
    ];
    let e = refused(&craft(
        listed,
        &[link("up", b'2', ".."), file("up/x", b"x")],
    ))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::BadLink {
                    problem: LinkProblem::Escapes,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    // Even a link that stays inside cannot have members below it.
    let listed = vec![
        entry("d", EntryType::Dir, b"", None),
        entry("up", EntryType::Symlink, b"", Some("d")),
        entry("up/x", EntryType::File, b"x", None),
    ];
    let e = refused(&craft(
        listed,
        &[dir("d"), link("up", b'2', "d"), file("up/x", b"x")],
    ))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::AncestorNotDir { .. }
            }
        ),
        "{e:?}"
    );
    let listed = vec![
        entry("d", EntryType::Dir, b"", None),
        entry("d/up", EntryType::Symlink, b"", Some("..")),
    ];
    let e = refused(&craft(listed, &[dir("d"), link("d/up", b'2', "..")]))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::BadLink {
                    problem: LinkProblem::ResolvesToRoot,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    let listed = vec![entry("up", EntryType::Symlink, b"", Some("../.."))];
    let e = refused(&craft(listed, &[link("up", b'2', "../..")]))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::BadLink {
                    problem: LinkProblem::Escapes,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    // Unlisted, the link is refused by the manifest allowlist.
    let e = refused(&craft(
        vec![],
        &[link("up", b'2', ".."), file("up/x", b"x")],
    ))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::NotInManifest),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn directory_symlink_collision_cannot_chmod_outside() -> Result<()> {
    // CVE-2026-33056: a symlink and a directory entry with one path, the directory's mode
    // applied through the link.
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir()?;
    let victim = out.path().join("victim");
    std::fs::create_dir(&victim)?;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700))?;
    let listed = vec![
        entry("sub", EntryType::Dir, b"", None),
        entry("d", EntryType::Symlink, b"", Some("sub")),
    ];
    let mut d = dir("d");
    d.mode = 0o777;
    let e = refused(&craft(
        listed,
        &[dir("sub"), link("d", b'2', "sub"), d.clone()],
    ))?;
    ensure!(entry_problem(&e) == Some(EntryProblem::Duplicate), "{e:?}");
    let listed = vec![entry("d", EntryType::Symlink, b"", Some("../victim"))];
    let e = refused(&craft(listed, &[link("d", b'2', "../victim"), d]))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::BadLink {
                    problem: LinkProblem::Escapes,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    ensure!(std::fs::metadata(&victim)?.permissions().mode() & 0o777 == 0o700);
    Ok(())
}

#[test]
fn pax_size_disagreeing_with_the_header_is_refused() -> Result<()> {
    // CVE-2026-33055 / TARmageddon: the PAX size hides a smuggled member inside the data.
    let inner = {
        let mut t = Vec::new();
        push(&mut t, &file("smuggled", b"evil"));
        t
    };
    let mut carrier = file("carrier", &inner);
    carrier.declared = Some(0);
    let listed = vec![entry("carrier", EntryType::File, &inner, None)];
    let size = inner.len().to_string();
    let e = refused(&craft(
        listed,
        &[pax(&[("size", size.as_bytes())]), carrier],
    ))?;
    ensure!(
        matches!(
            entry_problem(&e),
            Some(EntryProblem::PaxSizeDisagreement { ustar: 0, .. })
        ),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn hardlinks_devices_fifos_and_sparse_files_are_refused() -> Result<()> {
    let cases: Vec<(Vec<Member>, RejectedType)> = vec![
        (
            vec![link("hl", b'1', "../../etc/passwd")],
            RejectedType::Hardlink,
        ),
        (
            vec![file("f", b"x"), link("s", b'2', "f"), link("h", b'1', "s")],
            RejectedType::Hardlink,
        ),
        (
            vec![Member {
                name: b"fifo".to_vec(),
                kind: b'6',
                mode: 0o644,
                ..Member::default()
            }],
            RejectedType::Fifo,
        ),
        (
            vec![Member {
                name: b"tty".to_vec(),
                kind: b'3',
                mode: 0o644,
                ..Member::default()
            }],
            RejectedType::CharDevice,
        ),
        (
            vec![Member {
                name: b"sda".to_vec(),
                kind: b'4',
                mode: 0o644,
                ..Member::default()
            }],
            RejectedType::BlockDevice,
        ),
        (
            vec![Member {
                name: b"sp".to_vec(),
                kind: b'S',
                mode: 0o644,
                ..Member::default()
            }],
            RejectedType::Sparse,
        ),
        (
            vec![pax(&[("GNU.sparse.major", b"1")]), file("sp", b"x")],
            RejectedType::Sparse,
        ),
        (
            vec![Member {
                name: b"g".to_vec(),
                kind: b'g',
                mode: 0o644,
                ..Member::default()
            }],
            RejectedType::PaxGlobalHeader,
        ),
    ];
    for (members, rejected) in cases {
        let listed = vec![
            entry("f", EntryType::File, b"x", None),
            entry("s", EntryType::Symlink, b"", Some("f")),
        ];
        let e = refused(&craft(listed, &members))?;
        ensure!(
            entry_problem(&e) == Some(EntryProblem::RejectedType(rejected)),
            "{rejected:?}: {e:?}"
        );
    }
    Ok(())
}

#[test]
fn empty_names_and_empty_link_targets() -> Result<()> {
    // cpython#149486: a chain of empty-name symlinks.
    let e = refused(&craft(vec![], &[link("", b'2', "."), link("", b'2', "..")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::UnsafePath(PathProblem::Empty)),
        "{e:?}"
    );
    let listed = vec![entry("a", EntryType::Symlink, b"", Some(""))];
    let e = refused(&craft(listed, &[link("a", b'2', "")]))?;
    ensure!(
        matches!(
            e,
            ExtractError::Manifest {
                source: ManifestError::BadLink {
                    problem: LinkProblem::Empty,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn huge_declared_sizes_are_refused_before_reading() -> Result<()> {
    let mut big = file("big", b"");
    big.declared = Some(1 << 40);
    let e = refused(&craft(
        vec![entry("big", EntryType::File, b"", None)],
        &[big.clone()],
    ))?;
    ensure!(
        matches!(entry_problem(&e), Some(EntryProblem::TooLarge { size, .. }) if size == 1 << 40),
        "{e:?}"
    );
    let mut listed = entry("big", EntryType::File, b"", None);
    listed.size = Some(1 << 40);
    let e = refused(&craft(vec![listed], &[big]))?;
    ensure!(
        matches!(entry_problem(&e), Some(EntryProblem::TooLarge { .. })),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn one_entry_above_the_limit_is_refused() -> Result<()> {
    let limits = Limits {
        max_entries: 50,
        ..Limits::default()
    };
    let opts = ExtractOptions {
        limits,
        ..ExtractOptions::default()
    };
    let names: Vec<String> = (0..51).map(|i| format!("f{i:03}")).collect();
    let members: Vec<Member> = names.iter().map(|n| file(n, b"")).collect();
    let listed: Vec<ManifestEntry> = names[..50]
        .iter()
        .map(|n| entry(n, EntryType::File, b"", None))
        .collect();
    let e = refused_with(&craft(listed.clone(), &members), &opts)?;
    ensure!(
        matches!(e, ExtractError::TooManyEntries { limit: 50 }),
        "{e:?}"
    );
    let all: Vec<ManifestEntry> = names
        .iter()
        .map(|n| entry(n, EntryType::File, b"", None))
        .collect();
    let e = refused_with(&craft(all, &members), &opts)?;
    ensure!(
        matches!(e, ExtractError::TooManyEntries { limit: 50 }),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn gzip_bombs_stop_at_the_decompressed_cap() -> Result<()> {
    let limits = Limits {
        max_entries: 10,
        max_file_bytes: 1 << 20,
        max_total_bytes: 1 << 20,
        max_manifest_bytes: 1 << 20,
    };
    let opts = ExtractOptions {
        limits,
        ..ExtractOptions::default()
    };
    // A 64 MiB PAX record of zeros: a few KiB compressed.
    let huge = vec![b'a'; 64 << 20];
    let e = refused_with(
        &craft(vec![], &[pax(&[("comment", &huge)]), file("x", b"")]),
        &opts,
    )?;
    ensure!(
        matches!(e, ExtractError::DecompressedTooLarge { .. }),
        "{e:?}"
    );
    // 64 MiB of zeros after the end-of-archive blocks.
    let mut tar = Vec::new();
    push(
        &mut tar,
        &file(
            "MANIFEST.json",
            &Manifest::new(Bundle::Main, vec![]).to_json(),
        ),
    );
    tar.resize(tar.len() + (64 << 20), 0);
    let e = refused_with(&gzip(&tar), &opts)?;
    ensure!(
        matches!(
            e,
            ExtractError::TrailingGarbage {
                after: "tar archive"
            } | ExtractError::DecompressedTooLarge { .. }
        ),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn trailing_garbage_after_the_gzip_member_or_the_tar_end() -> Result<()> {
    let listed = vec![entry("a", EntryType::File, b"x", None)];
    let mut data = craft(listed.clone(), &[file("a", b"x")]);
    data.extend_from_slice(b"garbage");
    let e = refused(&data)?;
    ensure!(
        matches!(
            e,
            ExtractError::TrailingGarbage {
                after: "gzip member"
            }
        ),
        "{e:?}"
    );
    let mut two = craft(listed.clone(), &[file("a", b"x")]);
    two.extend(gzip(b"second member"));
    let e = refused(&two)?;
    ensure!(
        matches!(
            e,
            ExtractError::TrailingGarbage {
                after: "gzip member"
            }
        ),
        "{e:?}"
    );
    let mut tar = Vec::new();
    push(
        &mut tar,
        &file(
            "MANIFEST.json",
            &Manifest::new(Bundle::Main, listed).to_json(),
        ),
    );
    push(&mut tar, &file("a", b"x"));
    tar.extend_from_slice(&[0u8; 1024]);
    tar.extend_from_slice(b"hidden after the end");
    let e = refused(&gzip(&tar))?;
    ensure!(
        matches!(
            e,
            ExtractError::TrailingGarbage {
                after: "tar archive"
            }
        ),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn entries_must_match_the_manifest() -> Result<()> {
    let e = refused(&craft(vec![], &[file("unlisted", b"x")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::NotInManifest),
        "{e:?}"
    );
    let e = refused(&craft(
        vec![entry("a", EntryType::File, b"expected", None)],
        &[file("a", b"tampered")],
    ))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::DigestMismatch),
        "{e:?}"
    );
    let e = refused(&craft(
        vec![entry("a", EntryType::File, b"x", None)],
        &[file("a", b"longer")],
    ))?;
    ensure!(
        matches!(
            entry_problem(&e),
            Some(EntryProblem::SizeMismatch {
                listed: 1,
                found: 6
            })
        ),
        "{e:?}"
    );
    let e = refused(&craft(
        vec![entry("a", EntryType::File, b"", None)],
        &[dir("a")],
    ))?;
    ensure!(
        matches!(entry_problem(&e), Some(EntryProblem::TypeMismatch { .. })),
        "{e:?}"
    );
    let e = refused(&craft(
        vec![
            entry("a", EntryType::File, b"x", None),
            entry("b", EntryType::File, b"y", None),
        ],
        &[file("a", b"x")],
    ))?;
    ensure!(
        matches!(e, ExtractError::MissingEntries { count: 1, .. }),
        "{e:?}"
    );
    let mut moved = entry("k.key", EntryType::File, b"", None);
    (moved.classification, moved.size, moved.sha256) = (Classification::MovedToSecrets, None, None);
    let e = refused(&craft(vec![moved], &[file("k.key", b"")]))?;
    ensure!(
        entry_problem(&e) == Some(EntryProblem::NotInManifest),
        "{e:?}"
    );
    let mut tar = Vec::new();
    push(&mut tar, &file("a", b"x"));
    tar.extend_from_slice(&[0u8; 1024]);
    let e = refused(&gzip(&tar))?;
    ensure!(matches!(e, ExtractError::ManifestMissing), "{e:?}");
    Ok(())
}

#[test]
fn corrupt_or_truncated_gzip_is_refused() -> Result<()> {
    let listed = vec![entry("a", EntryType::File, &[7u8; 5000], None)];
    let good = craft(listed, &[file("a", &[7u8; 5000])]);
    let e = refused(&good[..good.len() - 4])?;
    ensure!(
        matches!(e, ExtractError::Gzip { .. } | ExtractError::Tar { .. }),
        "{e:?}"
    );
    let mut flipped = good.clone();
    let at = flipped.len() - 6;
    flipped[at] ^= 1;
    let e = refused(&flipped)?;
    ensure!(matches!(e, ExtractError::Gzip { .. }), "{e:?}");
    Ok(())
}

#[test]
fn setuid_setgid_and_sticky_bits_are_cleared() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut listed = entry("tool", EntryType::File, b"#!/bin/sh\n", None);
    listed.mode = 0o6755;
    let mut member = file("tool", b"#!/bin/sh\n");
    member.mode = 0o6755;
    let mut sticky_listed = entry("tmp", EntryType::Dir, b"", None);
    sticky_listed.mode = 0o1777;
    let mut sticky = dir("tmp");
    sticky.mode = 0o1777;
    let out = tempfile::tempdir()?;
    let target = out.path().join("t");
    restore(
        &craft(vec![listed, sticky_listed], &[member, sticky]),
        &target,
        &ExtractOptions::default(),
    )?;
    ensure!(std::fs::metadata(target.join("tool"))?.permissions().mode() & 0o7777 == 0o755);
    ensure!(std::fs::metadata(target.join("tmp"))?.permissions().mode() & 0o7777 == 0o777);
    Ok(())
}
