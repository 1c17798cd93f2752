//! `ArchivePath`: a validated relative `/`-separated UTF-8 path inside an archive, and the lexical
//! resolution of symlink targets against it. Owns every rule about which names are acceptable.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Why a path is not acceptable as an archive member name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PathProblem {
    /// The name is empty (or only `/`).
    Empty,
    /// The name is not valid UTF-8.
    NotUtf8,
    /// The name contains a NUL byte.
    Nul,
    /// The name contains a backslash (a Windows separator on some extractors).
    Backslash,
    /// The name starts with `/`.
    Absolute,
    /// The first component looks like a Windows drive (`C:`).
    DriveLetter,
    /// A component is `.`.
    CurDir,
    /// A component is `..`.
    ParentDir,
    /// Two separators in a row (`a//b`).
    EmptyComponent,
    /// The name is longer than [`ArchivePath::MAX_LEN`] bytes.
    TooLong,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty name",
            Self::NotUtf8 => "not valid utf-8",
            Self::Nul => "contains a nul byte",
            Self::Backslash => "contains a backslash",
            Self::Absolute => "absolute path",
            Self::DriveLetter => "windows drive prefix",
            Self::CurDir => "`.` component",
            Self::ParentDir => "`..` component",
            Self::EmptyComponent => "empty component",
            Self::TooLong => "too long",
        })
    }
}

/// A relative member name: UTF-8, `/`-separated, no empty, `.` or `..` components, no NUL, no
/// backslash, no drive prefix. Ordering is byte-wise, so parents sort before their children.
/// Held as a boxed `str` (no spare capacity): collections keep one per entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchivePath(Box<str>);

/// A string in JSON.
impl Serialize for ArchivePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A string in JSON, validated as [`ArchivePath::parse`] does.
impl<'de> Deserialize<'de> for ArchivePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl ArchivePath {
    /// Longest accepted name in bytes (Linux `PATH_MAX`).
    pub const MAX_LEN: usize = 4096;

    /// Validates `s` as a member name.
    ///
    /// # Errors
    /// The first [`PathProblem`] found.
    pub fn parse(s: &str) -> Result<Self, PathProblem> {
        if s.is_empty() {
            return Err(PathProblem::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(PathProblem::TooLong);
        }
        if s.contains('\0') {
            return Err(PathProblem::Nul);
        }
        if s.contains('\\') {
            return Err(PathProblem::Backslash);
        }
        if s.starts_with('/') {
            return Err(PathProblem::Absolute);
        }
        let first = s.split('/').next().unwrap_or_default().as_bytes();
        if first.len() >= 2 && first[0].is_ascii_alphabetic() && first[1] == b':' {
            return Err(PathProblem::DriveLetter);
        }
        for component in s.split('/') {
            match component {
                "" => return Err(PathProblem::EmptyComponent),
                "." => return Err(PathProblem::CurDir),
                ".." => return Err(PathProblem::ParentDir),
                _ => {}
            }
        }
        Ok(Self(s.into()))
    }

    /// Validates a raw tar name. One trailing `/` (the tar convention for directories) is
    /// dropped; anything else must satisfy [`ArchivePath::parse`].
    ///
    /// # Errors
    /// The first [`PathProblem`] found.
    pub fn from_tar_bytes(bytes: &[u8]) -> Result<Self, PathProblem> {
        if bytes.contains(&0) {
            return Err(PathProblem::Nul);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| PathProblem::NotUtf8)?;
        let s = s.strip_suffix('/').unwrap_or(s);
        Self::parse(s)
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The parent member name, or `None` for a top-level name.
    pub fn parent(&self) -> Option<ArchivePath> {
        self.0.rsplit_once('/').map(|(p, _)| Self(p.into()))
    }

    /// Every proper ancestor, outermost first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> Vec<ArchivePath> {
        self.0
            .match_indices('/')
            .map(|(i, _)| Self(self.0[..i].into()))
            .collect()
    }

    /// `self/rest`, validated.
    ///
    /// # Errors
    /// The first [`PathProblem`] of the joined name.
    pub fn join(&self, rest: &str) -> Result<ArchivePath, PathProblem> {
        Self::parse(&format!("{}/{rest}", self.0))
    }

    /// `prefix/rest` where `prefix` may be absent.
    ///
    /// # Errors
    /// The first [`PathProblem`] of the joined name.
    pub fn under(prefix: Option<&ArchivePath>, rest: &str) -> Result<ArchivePath, PathProblem> {
        match prefix {
            Some(p) => p.join(rest),
            None => Self::parse(rest),
        }
    }

    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// The key used to detect duplicates: the NFC normalisation of the name, so that two
    /// spellings of the same visible name (`é` precomposed or not) count as one path.
    pub fn collision_key(&self) -> String {
        self.0.nfc().collect()
    }
}

/// [`ArchivePath::collision_key`] of any name, borrowed when the name is ASCII (its own NFC
/// form), which most names are.
pub(crate) fn collision_key(name: &str) -> std::borrow::Cow<'_, str> {
    if name.is_ascii() {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(name.nfc().collect())
    }
}

/// Sets and maps of names can be searched with a `&str` (same ordering, equality and hash).
impl std::borrow::Borrow<str> for ArchivePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a symlink target is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LinkProblem {
    /// The target is empty.
    Empty,
    /// The target is absolute.
    Absolute,
    /// The target contains NUL, a backslash or is not UTF-8.
    BadCharacters,
    /// After normalisation the target leaves the archive root.
    Escapes,
    /// The target resolves to the archive root itself.
    ResolvesToRoot,
    /// The target resolves to the link itself.
    SelfReference,
    /// The target is not a member of the same archive.
    TargetNotMember,
    /// The target is a member that is not collected into the same bundle.
    TargetElsewhere,
    /// Following the target through the other links takes more than
    /// `MAX_LINK_HOPS` hops (a loop).
    TooManyHops,
    /// Lexically inside, but the kernel, which applies `..` after following an intermediate
    /// link, would resolve the target outside the root.
    EscapesThroughLinks,
}

/// Most links followed while resolving one target (Linux stops at 40).
pub(crate) const MAX_LINK_HOPS: usize = 40;

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty target",
            Self::Absolute => "absolute target",
            Self::BadCharacters => "target has forbidden characters",
            Self::Escapes => "target escapes the root",
            Self::ResolvesToRoot => "target is the root itself",
            Self::SelfReference => "target is the link itself",
            Self::TargetNotMember => "target is not a member of the archive",
            Self::TargetElsewhere => "target is not in the same bundle",
            Self::TooManyHops => "target resolves through a loop of links",
            Self::EscapesThroughLinks => "target escapes the root through another link",
        })
    }
}

/// Resolves a relative symlink `target` stored at `link` lexically (without touching any
/// filesystem): `..` pops a component of the link's parent, `.` and empty components are
/// ignored. The result must stay strictly inside the root and differ from the link.
///
/// # Errors
/// The [`LinkProblem`] that makes the target unacceptable.
pub(crate) fn resolve_link(link: &ArchivePath, target: &str) -> Result<ArchivePath, LinkProblem> {
    if target.is_empty() {
        return Err(LinkProblem::Empty);
    }
    if target.contains('\0') || target.contains('\\') {
        return Err(LinkProblem::BadCharacters);
    }
    if target.starts_with('/') {
        return Err(LinkProblem::Absolute);
    }
    let mut stack: Vec<&str> = link.components().collect();
    stack.pop();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(LinkProblem::Escapes);
                }
            }
            name => stack.push(name),
        }
    }
    if stack.is_empty() {
        return Err(LinkProblem::ResolvesToRoot);
    }
    let resolved = ArchivePath::parse(&stack.join("/")).map_err(|problem| match problem {
        PathProblem::DriveLetter | PathProblem::TooLong => LinkProblem::BadCharacters,
        _ => LinkProblem::Escapes,
    })?;
    if &resolved == link {
        return Err(LinkProblem::SelfReference);
    }
    Ok(resolved)
}

/// Follows `target` of the link at `link` the way the kernel would: component by component,
/// substituting each component that is itself a link (`link_target` gives the target of the
/// link at an archive path, if there is one) before applying the `..` that follow it. Fails
/// when the walk leaves the root or loops; the final component is followed too.
///
/// # Errors
/// [`LinkProblem::EscapesThroughLinks`], [`LinkProblem::TooManyHops`], or
/// [`LinkProblem::Absolute`] for an absolute target met on the way.
pub(crate) fn resolve_through_links<'t>(
    link: &ArchivePath,
    target: &str,
    link_target: impl Fn(&str) -> Option<&'t str>,
) -> Result<(), LinkProblem> {
    let mut stack: Vec<String> = link.components().map(str::to_owned).collect();
    stack.pop();
    let mut queue: std::collections::VecDeque<String> =
        target.split('/').map(str::to_owned).collect();
    let mut hops = 0;
    while let Some(component) = queue.pop_front() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(LinkProblem::EscapesThroughLinks);
                }
            }
            _ => {
                stack.push(component);
                let Some(next) = link_target(&stack.join("/")) else {
                    continue;
                };
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(LinkProblem::TooManyHops);
                }
                if next.starts_with('/') {
                    return Err(LinkProblem::Absolute);
                }
                stack.pop();
                for part in next.split('/').rev() {
                    queue.push_front(part.to_owned());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn links_are_followed_before_their_dot_dots() {
        let links = std::collections::HashMap::from([
            ("docker/a/b/c/up", "../../../../docker"),
            ("docker/a/b/c/evil", "up/../../../../../docker/x.conf"),
            ("loop/a", "b"),
            ("loop/b", "a"),
            ("ok/link", "../ok/file"),
        ]);
        let lookup = |p: &str| links.get(p).copied();
        let check = |link: &str| {
            let path = ArchivePath::parse(link).unwrap();
            resolve_through_links(&path, links[link], lookup)
        };
        // Lexically `evil` stays inside; through `up` it leaves the root.
        assert!(
            resolve_link(
                &ArchivePath::parse("docker/a/b/c/evil").unwrap(),
                links["docker/a/b/c/evil"]
            )
            .is_ok()
        );
        assert_eq!(
            check("docker/a/b/c/evil"),
            Err(LinkProblem::EscapesThroughLinks)
        );
        assert_eq!(check("docker/a/b/c/up"), Ok(()));
        assert_eq!(check("loop/a"), Err(LinkProblem::TooManyHops));
        assert_eq!(check("ok/link"), Ok(()));
    }

    #[test]
    fn parse_rejects_each_problem() {
        let cases = [
            ("", PathProblem::Empty),
            ("/etc/passwd", PathProblem::Absolute),
            ("a/../b", PathProblem::ParentDir),
            ("..", PathProblem::ParentDir),
            ("./a", PathProblem::CurDir),
            ("a//b", PathProblem::EmptyComponent),
            ("a\\b", PathProblem::Backslash),
            ("C:/x", PathProblem::DriveLetter),
            ("a\0b", PathProblem::Nul),
        ];
        for (input, problem) in cases {
            assert_eq!(ArchivePath::parse(input), Err(problem), "{input:?}");
        }
        assert!(ArchivePath::parse("a/b.c/..d").is_ok());
    }

    #[test]
    fn tar_names_drop_one_trailing_slash_only() {
        assert_eq!(
            ArchivePath::from_tar_bytes(b"dir/").map(|p| p.to_string()),
            Ok("dir".into())
        );
        assert_eq!(
            ArchivePath::from_tar_bytes(b"dir//"),
            Err(PathProblem::EmptyComponent)
        );
        assert_eq!(ArchivePath::from_tar_bytes(b"/"), Err(PathProblem::Empty));
        assert_eq!(
            ArchivePath::from_tar_bytes(b"\xff"),
            Err(PathProblem::NotUtf8)
        );
    }

    #[test]
    fn ancestors_and_parent() {
        let p = ArchivePath::parse("a/b/c").unwrap();
        let anc: Vec<String> = p.ancestors().into_iter().map(|p| p.to_string()).collect();
        assert_eq!(anc, ["a", "a/b"]);
        assert_eq!(p.parent().map(|p| p.to_string()), Some("a/b".into()));
        assert_eq!(p.file_name(), "c");
    }

    #[test]
    fn link_resolution() {
        let link = ArchivePath::parse("le/live/site/cert.pem").unwrap();
        let ok = resolve_link(&link, "../../archive/site/cert1.pem").unwrap();
        assert_eq!(ok.as_str(), "le/archive/site/cert1.pem");
        assert_eq!(
            resolve_link(&link, "../../../../x"),
            Err(LinkProblem::Escapes)
        );
        assert_eq!(
            resolve_link(&link, "../../.."),
            Err(LinkProblem::ResolvesToRoot)
        );
        assert_eq!(
            resolve_link(&link, "/etc/shadow"),
            Err(LinkProblem::Absolute)
        );
        assert_eq!(resolve_link(&link, ""), Err(LinkProblem::Empty));
        assert_eq!(
            resolve_link(&link, "./cert.pem"),
            Err(LinkProblem::SelfReference)
        );
    }
}
