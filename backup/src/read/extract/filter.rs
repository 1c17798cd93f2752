//! The `--path` selection of restore and listing: globs over archive paths.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::ExtractError;

/// Which archive entries a restore (or a listing) takes: all of them, or those matching one of
/// the globs. `*` stays within one path component (`**` crosses them), and an entry is selected
/// when it or one of its ancestor directories matches, so `nginx` takes the whole directory.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    set: Option<GlobSet>,
}

impl PathFilter {
    /// Compiles `globs`; no globs selects everything (the public constructor, `new`, is in
    /// `read::restore`: its error is the restore's).
    ///
    /// # Errors
    /// `ExtractError::InvalidGlob` naming the first pattern that does not compile.
    pub(crate) fn compile(globs: &[String]) -> Result<Self, ExtractError> {
        if globs.is_empty() {
            return Ok(Self::default());
        }
        let mut set = GlobSetBuilder::new();
        for pattern in globs {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|source| ExtractError::InvalidGlob {
                    pattern: pattern.clone(),
                    source,
                })?;
            set.add(glob);
        }
        let set = set.build().map_err(|source| ExtractError::InvalidGlob {
            pattern: globs.join(" "),
            source,
        })?;
        Ok(Self { set: Some(set) })
    }

    /// Whether the entry at archive path `path` (`a/b/c`) is selected.
    #[must_use]
    pub fn selects(&self, path: &str) -> bool {
        self.set.as_ref().is_none_or(|set| {
            set.is_match(path)
                || path
                    .match_indices('/')
                    .any(|(at, _)| set.is_match(&path[..at]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(globs: &[&str]) -> PathFilter {
        let globs: Vec<String> = globs.iter().map(|g| (*g).to_owned()).collect();
        PathFilter::new(&globs).expect("valid globs")
    }

    #[test]
    fn no_globs_selects_everything() {
        assert!(filter(&[]).selects("a/b/c"));
    }

    #[test]
    fn a_matching_ancestor_selects_the_whole_subtree() {
        let f = filter(&["nginx"]);
        assert!(f.selects("nginx"));
        assert!(f.selects("nginx/sites/default.conf"));
        assert!(!f.selects("nginx-old/x.conf"));
        assert!(!f.selects("docker/nginx"));
    }

    #[test]
    fn star_stays_within_one_component() {
        let f = filter(&["k8s/*.yaml"]);
        assert!(f.selects("k8s/app.yaml"));
        assert!(!f.selects("k8s/base/app.yaml"));
        assert!(filter(&["k8s/**/*.yaml"]).selects("k8s/base/app.yaml"));
    }

    #[test]
    fn an_invalid_glob_is_named() {
        let err = PathFilter::compile(&["ok/*".to_owned(), "bad/[".to_owned()]).unwrap_err();
        assert!(
            matches!(&err, ExtractError::InvalidGlob { pattern, .. } if pattern == "bad/["),
            "{err:?}"
        );
    }
}
