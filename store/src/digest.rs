//! The [`Sha256Digest`] newtype and the `sha256sum` sidecar text format.
//!
//! A sidecar is one line, exactly what `sha256sum` prints for the object's file:
//! `"<64 lowercase hex>  <basename>\n"` (two spaces: text mode), so an operator can run
//! `sha256sum -c <key>.sha256` next to a downloaded copy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest; shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest([u8; 32]);

/// Why a string is not a SHA-256 hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hexadecimal digits")]
pub struct DigestParseError;

impl Sha256Digest {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hashes `data` in one call. Meant for small buffers; hash big streams on a blocking
    /// thread (see [`read_back`](crate::read_back)).
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestParseError);
        }
        let mut out = [0_u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| DigestParseError)?;
        Ok(Self(out))
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = DigestParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> Self {
        d.to_hex()
    }
}

/// Why a sidecar's text is not what this crate writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SidecarError {
    /// Not `"<hex>  <name>\n"`.
    #[error("sidecar is not one `sha256sum` line")]
    Malformed,
    /// The file name in the line is not the object's basename.
    #[error("sidecar names another file")]
    WrongName,
}

/// Renders the sidecar line for an object named `basename`.
pub(crate) fn render_sidecar(digest: &Sha256Digest, basename: &str) -> String {
    format!("{digest}  {basename}\n")
}

/// Parses a sidecar line and checks it names `basename`.
pub(crate) fn parse_sidecar(text: &[u8], basename: &str) -> Result<Sha256Digest, SidecarError> {
    let text = std::str::from_utf8(text).map_err(|_| SidecarError::Malformed)?;
    let line = text.strip_suffix('\n').ok_or(SidecarError::Malformed)?;
    let (hex, name) = line.split_once("  ").ok_or(SidecarError::Malformed)?;
    let digest = hex
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| SidecarError::Malformed)?;
    if name != basename {
        return Err(SidecarError::WrongName);
    }
    Ok(digest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    // sha256("abc"), FIPS 180-2 appendix B.1.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_answer_and_hex_round_trip() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(d.to_string(), ABC);
        assert_eq!(ABC.parse::<Sha256Digest>(), Ok(d));
        assert!("xyz".parse::<Sha256Digest>().is_err());
        assert!(ABC[..63].parse::<Sha256Digest>().is_err());
        assert!(format!("{ABC}0").parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn sidecar_round_trip_matches_sha256sum_format() {
        let d = Sha256Digest::of(b"abc");
        let line = render_sidecar(&d, "x.tar.gz.enc");
        assert_eq!(line, format!("{ABC}  x.tar.gz.enc\n"));
        assert_eq!(parse_sidecar(line.as_bytes(), "x.tar.gz.enc"), Ok(d));
        assert_eq!(
            parse_sidecar(line.as_bytes(), "y"),
            Err(SidecarError::WrongName)
        );
        for bad in [
            "",
            "\n",
            &format!("{ABC} x\n"),
            &format!("{ABC}  x"),
            "zz  x\n",
        ] {
            assert_eq!(
                parse_sidecar(bad.as_bytes(), "x"),
                Err(SidecarError::Malformed),
                "{bad:?}"
            );
        }
    }
}
