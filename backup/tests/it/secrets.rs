//! Secrets: nothing secret in the main archive's bytes or manifest; the sanitized `.env` keeps
//! every key and hides the values; the secrets bundle restores the real files byte for byte.

use anyhow::Result;
use celeriac_backup::Bundle;
use celeriac_backup::internals::Classification;
use celeriac_backup::internals::ExtractOptions;

use crate::fixture::{archive, collect_dir, gunzip, restore, sample_copy};

/// Values from the sample `.env`, key files and the fake Kubernetes secret.
fn secret_values(root: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    let mut values: Vec<Vec<u8>> = [
        "django-insecure-FAKE-k3y-0nly-f0r-th3-s4mpl3-pr0j3ct",
        "FakeDbPassw0rd",
        "FakeRedisPass",
        "FAKEfakeFAKEfakeFAKEfakeFAKEfake0123",
        "fake-mail-password",
        "fakepublickey",
        "k8s-fake-secret-value",
        "PRIVATE KEY",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for (key, cert) in [
        ("certs/test-only.key", "certs/test-only.crt"),
        (
            "letsencrypt/archive/example.test/privkey1.pem",
            "letsencrypt/archive/example.test/cert1.pem",
        ),
    ] {
        let pem = std::fs::read_to_string(root.join(key))?;
        let public = std::fs::read_to_string(root.join(cert))?;
        // The base64 body lines of the key, except a line that happens to carry only public-key
        // bytes that the certificate holds too.
        values.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && !public.contains(*l))
                .map(|l| l.as_bytes().to_vec()),
        );
    }
    Ok(values)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn main_archive_plaintext_and_manifest_hold_no_secret() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let tar = gunzip(&archive(&c, Bundle::Main)?)?;
    for value in secret_values(dir.path())? {
        assert!(
            !contains(&tar, &value),
            "main archive leaks {:?}",
            String::from_utf8_lossy(&value)
        );
    }
    let manifest = c.manifest(Bundle::Main);
    for e in manifest
        .entries
        .iter()
        .filter(|e| e.classification == Classification::MovedToSecrets)
    {
        assert!(e.sha256.is_none() && e.size.is_none(), "{e:?}");
    }
    let moved: Vec<&str> = manifest
        .entries
        .iter()
        .filter(|e| e.classification == Classification::MovedToSecrets)
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(
        moved,
        [
            "certs/test-only.key",
            "k8s/base/secret.yaml",
            "letsencrypt/archive/example.test/privkey1.pem",
            "letsencrypt/live/example.test/privkey.pem"
        ]
    );
    // Debug output of the collection shows no digest of a secret either.
    let debug = format!("{c:?}");
    for e in &c.secrets {
        if let celeriac_backup::internals::EntryKind::File { sha256, .. } = &e.kind {
            assert!(!debug.contains(&sha256.to_hex()));
        }
    }
    Ok(())
}

#[test]
fn sanitized_env_keeps_keys_and_hides_values() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let out = tempfile::tempdir()?;
    let target = out.path().join("restored");
    restore(
        &archive(&c, Bundle::Main)?,
        &target,
        &ExtractOptions::default(),
    )?;
    let env = std::fs::read_to_string(target.join(".env"))?;
    // Comment lines are dropped (free text can hold anything).
    let expected = "\
DEBUG=False
ALLOWED_HOSTS=sample.test,www.sample.test
TIME_ZONE=Europe/Paris
SECRET_KEY='<redacted>'
DATABASE_URL=<redacted>
DB_HOST=db
DB_PORT=5432
REDIS_URL=<redacted>
export AWS_SECRET_ACCESS_KEY=\"<redacted>\"
EMAIL_HOST_PASSWORD=<redacted>
SENTRY_DSN=<redacted>
";
    assert_eq!(env, expected);
    // The sample's DATABASE_URL carries URL credentials (a placeholder, but secret-looking by
    // the rule), so the sample is handled like a real env file.
    assert_eq!(
        std::fs::read_to_string(target.join(".env.example"))?,
        "DEBUG=False\nALLOWED_HOSTS=localhost\nSECRET_KEY=<redacted>\nDATABASE_URL=<redacted>\n"
    );
    assert!(!target.join("certs/test-only.key").exists());
    Ok(())
}

#[test]
fn secrets_bundle_restores_the_real_files_owner_only() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let bundle = archive(&c, Bundle::Secrets)?;
    let out = tempfile::tempdir()?;
    let target = out.path().join("secrets");
    let opts = ExtractOptions {
        expect_bundle: Some(Bundle::Secrets),
        ..ExtractOptions::default()
    };
    restore(&bundle, &target, &opts)?;
    for file in [
        ".env",
        "certs/test-only.key",
        "k8s/base/secret.yaml",
        "letsencrypt/archive/example.test/privkey1.pem",
    ] {
        assert_eq!(
            std::fs::read(target.join(file))?,
            std::fs::read(dir.path().join(file))?,
            "{file}"
        );
        let mode = std::fs::metadata(target.join(file))?.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{file} mode {mode:o}");
    }
    let link = std::fs::read_link(target.join("letsencrypt/live/example.test/privkey.pem"))?;
    assert_eq!(
        link.to_string_lossy(),
        "../../archive/example.test/privkey1.pem"
    );
    // The main archive refuses to pose as the secrets bundle and vice versa.
    let wrong = ExtractOptions {
        expect_bundle: Some(Bundle::Main),
        ..ExtractOptions::default()
    };
    assert!(celeriac_backup::internals::dry_run(bundle.as_slice(), &wrong).is_err());
    Ok(())
}
