//! `CELERIAC_HOME`: where the embedded default keeps its state when nothing else is configured
//! (the SQLite catalog `catalog.db`, the local store `store/`, the generated key
//! `keys/main.key`). Default: the per-user data directory, `$XDG_DATA_HOME/celeriac`, else
//! `$HOME/.local/share/celeriac`. Created owner-only (0700) when first needed.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::cmd::status::Coded;

/// The environment variable naming the home directory.
pub(crate) const HOME_ENV: &str = "CELERIAC_HOME";

/// The home directory as configured (not created): `CELERIAC_HOME`, else the per-user data
/// directory. A configuration error (exit 78) when neither it nor `HOME` is set.
pub(crate) fn dir() -> anyhow::Result<PathBuf> {
    resolve(
        std::env::var_os(HOME_ENV).map(PathBuf::from),
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
    .map_err(Coded::config)
}

fn resolve(
    celeriac_home: Option<PathBuf>,
    xdg_data_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    let non_empty = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = non_empty(celeriac_home) {
        return std::path::absolute(&dir)
            .with_context(|| format!("cannot resolve {HOME_ENV}={}", dir.display()));
    }
    // The XDG spec ignores a relative XDG_DATA_HOME.
    if let Some(data) = non_empty(xdg_data_home).filter(|p| p.is_absolute()) {
        return Ok(data.join("celeriac"));
    }
    if let Some(home) = non_empty(home) {
        return Ok(home.join(".local/share/celeriac"));
    }
    Err(anyhow!(
        "no place for celeriac's own files: set {HOME_ENV} (or HOME)"
    ))
}

/// The home directory, created (0700) when missing.
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    let dir = dir()?;
    ensure_private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` and its missing parents with mode 0700; an existing `dir` is left as it is.
pub(crate) fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    // The umask may have taken bits away, never added: make sure of 0700 all the same.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn celeriac_home_then_xdg_then_home() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            resolve(p("/srv/c"), p("/x"), p("/home/u")).unwrap(),
            Path::new("/srv/c")
        );
        assert_eq!(
            resolve(None, p("/x"), p("/home/u")).unwrap(),
            Path::new("/x/celeriac")
        );
        assert_eq!(
            resolve(p(""), p("relative"), p("/home/u")).unwrap(),
            Path::new("/home/u/.local/share/celeriac")
        );
        assert!(resolve(None, None, None).is_err());
    }

    #[test]
    fn created_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
