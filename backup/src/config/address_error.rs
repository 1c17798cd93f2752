//! [`AddressError`]: why a store address, an artifact address or an artifact name does not
//! parse. Below both `address` and `naming`, which report it.

use celeriac_store::{KeyError, StoreIdError};

/// Why a store or artifact address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not `local:PATH` or `s3:NAME` (for artifacts: `s3:NAME/KEY` or a path).
    #[error("{text:?} is not a store address (expected local:PATH or s3:NAME)")]
    UnknownScheme {
        /// The text as given.
        text: String,
    },
    /// `local:` with nothing after it.
    #[error("{text:?} names no path")]
    EmptyPath {
        /// The text as given.
        text: String,
    },
    /// The store name is not a valid store id.
    #[error("invalid store name in {text:?}")]
    StoreName {
        /// The text as given.
        text: String,
        /// Why.
        #[source]
        source: StoreIdError,
    },
    /// `s3:NAME/KEY` without a key.
    #[error("{text:?} names no object key (expected s3:NAME/KEY)")]
    MissingKey {
        /// The text as given.
        text: String,
    },
    /// The key or path does not end in `<backup id>/backup_configuration_<time>[.secrets].tar.gz.enc`.
    #[error(
        "{name:?} is not an artifact name \
         (<backup id>/backup_configuration_<YYYYMMDD>_<HHMMSS>[.secrets].tar.gz.enc)"
    )]
    NotArtifactName {
        /// The name as given.
        name: String,
    },
    /// The object key (or a local file name) is not a valid key.
    #[error("invalid object key in {text:?}")]
    Key {
        /// The text as given.
        text: String,
        /// Why.
        #[source]
        source: KeyError,
    },
}
