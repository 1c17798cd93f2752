//! [`BackupKeys`]: the key that encrypts the main archive, the optional separate key of the
//! secrets bundle, and the keyring that reads them back (verification and restore).

use std::fmt;

use celeriac_crypto::{Key, KeyId, Keyring};

use crate::manifest::Bundle;

/// The keys of a backup run. Holds [`Key`]s (zeroized on drop, redacted in `Debug`).
pub struct BackupKeys {
    ring: Keyring,
    main: KeyId,
    secrets: Option<KeyId>,
}

impl BackupKeys {
    /// Both artifacts under `main` (until [`with_secrets_key`](Self::with_secrets_key)).
    pub fn new(main: Key) -> Self {
        let id = main.id();
        Self {
            ring: Keyring::from(main),
            main: id,
            secrets: None,
        }
    }

    /// Encrypts the secrets bundle under `secrets` instead of the main key. Giving the main key
    /// again is allowed and changes nothing.
    #[must_use]
    pub fn with_secrets_key(mut self, secrets: Key) -> Self {
        let id = secrets.id();
        self.ring.insert(secrets);
        self.secrets = (id != self.main).then_some(id);
        self
    }

    /// The id of the main archive's key.
    pub fn main_id(&self) -> KeyId {
        self.main
    }

    /// The id of the key the secrets bundle is encrypted under (the main key's when no separate
    /// secrets key is configured).
    pub fn secrets_id(&self) -> KeyId {
        self.secrets.unwrap_or(self.main)
    }

    /// Whether the secrets bundle has a key of its own.
    pub fn has_separate_secrets_key(&self) -> bool {
        self.secrets.is_some()
    }

    /// The id of the key for `bundle`.
    pub fn id_for(&self, bundle: Bundle) -> KeyId {
        match bundle {
            Bundle::Main => self.main_id(),
            Bundle::Secrets => self.secrets_id(),
        }
    }

    /// The key for `bundle`.
    pub(crate) fn key_for(&self, bundle: Bundle) -> &Key {
        let id = self.id_for(bundle);
        // Both ids were inserted by the constructors; a miss would be a bug in this type.
        self.ring
            .get(&id)
            .unwrap_or_else(|| unreachable!("key {id} was inserted at construction"))
    }

    /// Every key, for reading the artifacts back.
    pub fn keyring(&self) -> &Keyring {
        &self.ring
    }
}

impl fmt::Debug for BackupKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupKeys")
            .field("main", &self.main)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn secrets_key_is_optional_and_debug_shows_ids_only() {
        let main = Key::generate().unwrap();
        let main_id = main.id();
        let keys = BackupKeys::new(main);
        assert_eq!(keys.secrets_id(), main_id);
        assert!(!keys.has_separate_secrets_key());
        let secrets = Key::generate().unwrap();
        let secrets_id = secrets.id();
        let keys = keys.with_secrets_key(secrets);
        assert_eq!(keys.id_for(Bundle::Secrets), secrets_id);
        assert_eq!(keys.key_for(Bundle::Main).id(), main_id);
        assert_eq!(keys.keyring().len(), 2);
        let debug = format!("{keys:?}");
        assert!(debug.contains(&main_id.to_string()), "{debug}");
    }
}
