//! The human-readable form of a [`BackupReport`] (what `celeriac backup` prints without
//! `--json`).

use std::fmt;

use super::{ArtifactReport, BackupReport};
use crate::manifest::Bundle;

/// The human-readable summary (`celeriac backup` without `--json`).
impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.collection;
        writeln!(f, "backup {} {}", self.backup_id, self.status)?;
        writeln!(
            f,
            "collected {} files ({} bytes), {} skipped",
            c.files_collected,
            c.bytes,
            c.skipped.len()
        )?;
        for (category, count) in &c.categories {
            writeln!(
                f,
                "  {category:<11} {:>5} files {:>10} bytes{}",
                count.files,
                count.bytes,
                if count.secrets > 0 {
                    format!(" ({} to secrets)", count.secrets)
                } else {
                    String::new()
                }
            )?;
        }
        for skip in &c.skipped {
            writeln!(f, "  skipped {}: {}", skip.path, skip.reason)?;
        }
        let missing = c.skipped.iter().filter(|s| s.is_missing_secret()).count();
        if missing > 0 {
            writeln!(
                f,
                "  {missing} secret file(s) could not be read: the secrets bundle is incomplete, \
                 so the run is at best PARTIAL"
            )?;
        }
        for a in &self.artifacts {
            write_artifact(f, a)?;
        }
        let t = &self.timings;
        writeln!(
            f,
            "timings: collect {} ms, stream {} ms (+{} ms secrets), verify {} ms, retry {} ms, total {} ms",
            t.collect_ms.as_millis(),
            t.stream_main_ms.as_millis(),
            t.stream_secrets_ms.as_millis(),
            t.verify_ms.as_millis(),
            t.retry_ms.as_millis(),
            t.total_ms.as_millis()
        )
    }
}

fn write_artifact(f: &mut fmt::Formatter<'_>, a: &ArtifactReport) -> fmt::Result {
    let bundle = match a.bundle {
        Bundle::Main => "main",
        Bundle::Secrets => "secrets",
    };
    let keys: Vec<String> = a.key_ids.iter().map(ToString::to_string).collect();
    writeln!(f, "{bundle} artifact {}", a.file_name)?;
    writeln!(
        f,
        "  {} entries, tar {} bytes, gzip {} bytes (ratio {}), stored {} bytes",
        a.entries, a.sizes.tar_bytes, a.sizes.gz_bytes, a.compression_ratio, a.sizes.stored_bytes
    )?;
    writeln!(f, "  sha256 {}  key {}", a.sha256, keys.join(","))?;
    for copy in &a.copies {
        let state = if copy.state.is_verified() {
            "verified"
        } else if copy.state.is_stored() {
            "stored, NOT verified"
        } else {
            "FAILED"
        };
        write!(
            f,
            "  {:<8} {state} (attempts {}) {}",
            copy.store, copy.attempts, copy.key
        )?;
        if let Some(e) = &copy.error {
            write!(f, ": {}", e.message)?;
        }
        writeln!(f)?;
    }
    Ok(())
}
