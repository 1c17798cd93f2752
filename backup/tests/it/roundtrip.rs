//! Round trips collect → archive → extract → commit, byte-identical including modes, mtimes and
//! symlinks; readability by stock `tar`; reproducibility; filters, listing and dry runs; files
//! that change during the backup; commit policies.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::Classification;
use celeriac_backup::internals::CommitPolicy;
use celeriac_backup::internals::EntryKind;
use celeriac_backup::internals::Limits;
use celeriac_backup::internals::{ArchiveError, Change, ExtractError};
use celeriac_backup::internals::{
    ArchiveOptions, ExtractOptions, Staging, commit, dry_run, extract, list, write_archive,
};
use proptest::prelude::*;

use crate::fixture::{
    Node, archive, collect_dir, gunzip, listing, restore, sample_copy, set_mtime, small_blocks,
    snapshot,
};

/// The restored tree must equal the source for every plain member of the main archive.
fn assert_plain_members_identical(
    source: &std::path::Path,
    restored: &std::path::Path,
    c: &celeriac_backup::internals::Collection,
) -> Result<()> {
    let src = snapshot(source)?;
    let out = snapshot(restored)?;
    let members: Vec<&celeriac_backup::internals::Entry> = c.main.iter().collect();
    let restored_paths: Vec<&String> = out.keys().collect();
    let member_paths: Vec<String> = members.iter().map(|e| e.path.to_string()).collect();
    ensure!(
        restored_paths
            .iter()
            .map(|s| s.as_str())
            .eq(member_paths.iter().map(String::as_str)),
        "restored {restored_paths:?}\nmembers {member_paths:?}"
    );
    for e in members
        .iter()
        .filter(|e| e.classification == Classification::Plain)
    {
        let key = e.path.to_string();
        ensure!(
            src.get(&key) == out.get(&key),
            "{key} differs:\n{:?}\n{:?}",
            src.get(&key),
            out.get(&key)
        );
    }
    Ok(())
}

#[test]
fn sample_project_round_trip_is_byte_identical() -> Result<()> {
    let dir = sample_copy()?;
    set_mtime(&dir.path().join("nginx/nginx.conf"), 1_600_000_000)?;
    set_mtime(
        &dir.path().join("letsencrypt/live/example.test/cert.pem"),
        1_500_000_000,
    )?;
    let c = collect_dir(dir.path())?;
    let out = tempfile::tempdir()?;
    let target = out.path().join("restored");
    let summary = restore(
        &archive(&c, Bundle::Main)?,
        &target,
        &ExtractOptions::default(),
    )?;
    ensure!(summary.entries == c.main.len() as u64 && summary.selected == summary.entries);
    assert_plain_members_identical(dir.path(), &target, &c)?;
    ensure!(
        listing(out.path())? == ["restored"],
        "staging left behind: {:?}",
        listing(out.path())?
    );
    Ok(())
}

#[test]
fn stock_tar_and_gzip_read_the_archive() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let tar_gz = archive(&c, Bundle::Main)?;
    let out = tempfile::tempdir()?;
    let mut child = Command::new("tar")
        .args(["-xzf", "-", "-C"])
        .arg(out.path())
        .stdin(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(&tar_gz)?;
    ensure!(child.wait()?.success(), "tar xzf failed");
    for e in c
        .main
        .iter()
        .filter(|e| e.classification == Classification::Plain)
    {
        if let EntryKind::File { .. } = e.kind {
            ensure!(
                std::fs::read(out.path().join(e.path.as_str()))?
                    == std::fs::read(dir.path().join(e.path.as_str()))?
            );
        }
    }
    let listing = Command::new("sh")
        .arg("-c")
        .arg("gzip -dc | tar -tf - | head -1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut listing = listing;
    listing.stdin.take().context("stdin")?.write_all(&tar_gz)?;
    let first = String::from_utf8(listing.wait_with_output()?.stdout)?;
    ensure!(first == "MANIFEST.json\n", "{first:?}");
    Ok(())
}

#[test]
fn archives_are_reproducible_across_runs_and_thread_counts() -> Result<()> {
    let dir = sample_copy()?;
    let one = archive(&collect_dir(dir.path())?, Bundle::Main)?;
    let mut opts = ArchiveOptions::default();
    opts.gzip.threads = std::num::NonZeroUsize::MIN;
    opts.gzip.block_size = 32 * 1024;
    let two = write_archive(&collect_dir(dir.path())?, Bundle::Main, Vec::new(), &opts)?.0;
    ensure!(one == two, "same tree, different bytes");
    Ok(())
}

/// The archive stage writes `MANIFEST.json` straight from the collection; its bytes must be
/// exactly `Manifest::to_json` of `Collection::manifest`, with the digest the summary reports.
#[test]
fn streamed_manifest_is_the_manifest_json() -> Result<()> {
    use std::io::Read as _;
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    for bundle in [Bundle::Main, Bundle::Secrets] {
        let (tar_gz, summary) = write_archive(&c, bundle, Vec::new(), &small_blocks())?;
        let tar = gunzip(&tar_gz)?;
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut first = archive.entries()?.next().context("a first member")??;
        ensure!(first.path_bytes().as_ref() == b"MANIFEST.json");
        let mut json = Vec::new();
        first.read_to_end(&mut json)?;
        let expected = c.manifest(bundle);
        ensure!(json == expected.to_json(), "{bundle:?}: other bytes");
        ensure!(summary.manifest_sha256 == celeriac_backup::internals::Sha256Digest::of(&json));
        let moved = expected
            .entries
            .iter()
            .filter(|e| e.classification == Classification::MovedToSecrets)
            .count();
        ensure!(
            (bundle == Bundle::Main) == (moved > 0),
            "{bundle:?}: {moved} moved"
        );
    }
    Ok(())
}

#[test]
fn list_filter_and_dry_run() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let tar_gz = archive(&c, Bundle::Main)?;
    let manifest = list(tar_gz.as_slice(), &Limits::default())?;
    ensure!(manifest.to_manifest() == c.manifest(Bundle::Main));
    let nginx = manifest
        .entries()
        .find(|e| e.path() == "nginx/nginx.conf")
        .context("listed")?;
    ensure!(
        nginx.category() == Some(celeriac_backup::internals::Category::Nginx)
            && nginx.size().is_some()
            && nginx.mode() == 0o644
    );

    let out = tempfile::tempdir()?;
    let before = listing(out.path())?;
    let summary = dry_run(tar_gz.as_slice(), &ExtractOptions::default())?;
    ensure!(summary.dry_run && summary.entries == c.main.len() as u64);
    ensure!(listing(out.path())? == before);

    let target = out.path().join("only-nginx");
    let opts = ExtractOptions {
        only: vec!["nginx".into(), "**/*.ini".into()],
        ..ExtractOptions::default()
    };
    restore(&tar_gz, &target, &opts)?;
    let got: Vec<String> = snapshot(&target)?.into_keys().collect();
    ensure!(
        got == [
            "nginx",
            "nginx/conf.d",
            "nginx/conf.d/app.conf",
            "nginx/nginx.conf",
            "pytest.ini"
        ],
        "{got:?}"
    );
    Ok(())
}

#[test]
fn a_file_changed_after_collection_fails_the_archive() -> Result<()> {
    for (change, expected) in [
        ("grow", Change::Grew),
        ("shrink", Change::Shrank),
        ("edit", Change::Content),
    ] {
        let dir = sample_copy()?;
        let c = collect_dir(dir.path())?;
        let path = dir.path().join("requirements.txt");
        let original = std::fs::read(&path)?;
        let mut changed = original.clone();
        match change {
            "grow" => changed.extend_from_slice(b"requests==2\n"),
            "shrink" => changed.truncate(5),
            _ => changed[0] ^= 0x20,
        }
        std::fs::write(&path, changed)?;
        let err = write_archive(&c, Bundle::Main, Vec::new(), &ArchiveOptions::default())
            .expect_err("must fail");
        ensure!(
            matches!(&err, ArchiveError::FileChanged { path, change } if path.as_str() == "requirements.txt" && *change == expected),
            "{err:?}"
        );
    }
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    std::fs::remove_file(dir.path().join("Makefile"))?;
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("Makefile"))?;
    let err = write_archive(&c, Bundle::Main, Vec::new(), &ArchiveOptions::default())
        .expect_err("must fail");
    ensure!(
        matches!(
            err,
            ArchiveError::FileChanged {
                change: Change::Replaced,
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

/// The sanitized `.env` is made again when the main archive is written (nothing of it is held
/// in between): an edit that changes the sanitized copy fails the archive; one that changes only
/// a redacted value does not change the main archive (the secrets bundle would catch it).
#[test]
fn the_sanitized_env_is_made_again_and_checked() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let before = archive(&c, Bundle::Main)?;
    let env = dir.path().join(".env");
    let original = std::fs::read_to_string(&env)?;
    let (key, _) = original
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.contains("SECRET"))
        .context("a secret assignment in the sample .env")?;
    std::fs::write(&env, format!("{original}{key}=another-secret-value\n"))?;
    let err = write_archive(&c, Bundle::Main, Vec::new(), &small_blocks())
        .expect_err("an added line changes the sanitized copy");
    ensure!(
        matches!(&err, ArchiveError::FileChanged { path, change: Change::Content } if path.as_str() == ".env"),
        "{err:?}"
    );
    let secret_line = original
        .lines()
        .find(|l| l.starts_with(key))
        .context("the secret line")?;
    // Same shape (quotes, length), other secret.
    let flipped: String = secret_line
        .char_indices()
        .map(|(i, ch)| match ch {
            'a'..='y' if i > key.len() => char::from(ch as u8 + 1),
            other => other,
        })
        .collect();
    ensure!(flipped != secret_line);
    let edited = original.replacen(secret_line, &flipped, 1);
    std::fs::write(&env, edited)?;
    ensure!(
        archive(&c, Bundle::Main)? == before,
        "only a redacted value changed"
    );
    let err = write_archive(&c, Bundle::Secrets, Vec::new(), &small_blocks())
        .expect_err("the real file changed");
    ensure!(matches!(err, ArchiveError::FileChanged { .. }), "{err:?}");
    Ok(())
}

#[test]
fn commit_refuses_a_non_empty_target_and_merges_without_replacing() -> Result<()> {
    let dir = sample_copy()?;
    let tar_gz = archive(&collect_dir(dir.path())?, Bundle::Main)?;
    let out = tempfile::tempdir()?;
    let target = out.path().join("t");
    std::fs::create_dir_all(target.join("nginx"))?;
    std::fs::write(target.join("keep.txt"), "mine")?;

    let staging = Staging::create_in(out.path())?;
    extract(tar_gz.as_slice(), &staging, &ExtractOptions::default())?;
    let err = commit(staging, &target, CommitPolicy::NewOrEmpty).expect_err("not empty");
    ensure!(
        matches!(err, ExtractError::TargetNotEmpty { .. }),
        "{err:?}"
    );
    ensure!(
        listing(out.path())? == ["t"],
        "staging not removed: {:?}",
        listing(out.path())?
    );

    std::fs::write(target.join("Makefile"), "mine")?;
    let staging = Staging::create_in(out.path())?;
    extract(tar_gz.as_slice(), &staging, &ExtractOptions::default())?;
    let err = commit(staging, &target, CommitPolicy::MergeNoReplace).expect_err("conflict");
    ensure!(
        matches!(&err, ExtractError::Conflict { path } if path.ends_with("Makefile")),
        "{err:?}"
    );
    ensure!(
        listing(&target)? == ["Makefile", "keep.txt", "nginx"],
        "moved before refusing"
    );

    std::fs::remove_file(target.join("Makefile"))?;
    let staging = Staging::create_in(out.path())?;
    extract(tar_gz.as_slice(), &staging, &ExtractOptions::default())?;
    commit(staging, &target, CommitPolicy::MergeNoReplace)?;
    ensure!(std::fs::read_to_string(target.join("keep.txt"))? == "mine");
    ensure!(target.join("nginx/nginx.conf").is_file() && target.join("Makefile").is_file());
    ensure!(listing(out.path())? == ["t"]);
    Ok(())
}

/// Sizes around the tar 512-byte records and the 32 KiB gzip blocks used by the tests.
fn interesting_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![
            0usize, 1, 511, 512, 513, 1023, 1024, 1025, 32_767, 32_768, 32_769, 65_535, 65_536,
            65_537, 98_304
        ]),
        0usize..140_000,
    ]
}

fn file_strategy() -> impl Strategy<Value = (usize, u32, i64, u8)> {
    (
        interesting_size(),
        prop::sample::select(vec![0o600u32, 0o640, 0o644, 0o700, 0o750, 0o755, 0o444]),
        0i64..4_000_000_000,
        any::<u8>(),
    )
}

fn content(size: usize, seed: u8) -> Vec<u8> {
    // Half text, half pseudo-random bytes: compressible and not.
    let mut state = u32::from(seed) | 1;
    (0..size)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if (i / 4096) % 2 == 0 {
                b"key: value\n"[i % 11]
            } else {
                state.to_le_bytes()[0]
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_preserves_content_modes_mtimes_and_symlinks(
        files in prop::collection::vec(file_strategy(), 1..6),
        dir_mode in prop::sample::select(vec![0o700u32, 0o750, 0o755, 0o555]),
        dir_mtime in 0i64..4_000_000_000,
    ) {
        let result: Result<()> = (|| {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir()?;
            let root = dir.path().join("p");
            let sub = root.join("docker/conf");
            std::fs::create_dir_all(&sub)?;
            for (i, (size, mode, mtime, seed)) in files.iter().enumerate() {
                let path = sub.join(format!("f{i}.data"));
                std::fs::write(&path, content(*size, *seed))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
                set_mtime(&path, *mtime)?;
            }
            std::os::unix::fs::symlink("f0.data", sub.join("link"))?;
            set_mtime(&sub.join("link"), 1_234_567_890)?;
            std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(dir_mode))?;
            set_mtime(&sub, dir_mtime)?;
            let c = collect_dir(&root)?;
            let out = tempfile::tempdir()?;
            let target = out.path().join("r");
            restore(&archive(&c, Bundle::Main)?, &target, &ExtractOptions::default())?;
            let src: BTreeMap<String, Node> = snapshot(&root)?;
            let got = snapshot(&target)?;
            // The project root itself is not a member; everything below must match.
            ensure!(src.len() == got.len() && src.iter().all(|(k, v)| k == "docker" && matches!(v, Node::Dir { .. }) || got.get(k) == Some(v)),
                "trees differ:\n{src:#?}\n{got:#?}");
            Ok(())
        })();
        prop_assert!(result.is_ok(), "{:?}", result.err());
    }
}
