//! Maps `object_store` errors to [`StoreError`] variants, which decide retryability.
//!
//! object_store already turns 404, 409/412/304, 403 and 401 into their own variants, and retries
//! transport errors, 5xx and 429 itself before giving up. What it does not expose is the HTTP
//! status of the rest (its `RetryError` type is private), so a `Generic` error is classified
//! by its cause: a transport failure anywhere in the source chain (refused, reset, timeout,
//! interrupted body) is `Unavailable`; anything else that is `Generic` is also `Unavailable`,
//! because in practice it is a 5xx or throttling that outlived the client's retries. The rare
//! other 4xx (400, 411, 413) then cost a bounded number of extra attempts, whereas the opposite
//! choice would cancel a whole backup run on a passing 503.

use crate::error::{Operation, StoreError};
use crate::id::StoreId;
use crate::key::ObjectKey;

/// Converts an object_store error for `op` on `key`.
pub(super) fn classify(
    store: &StoreId,
    op: Operation,
    key: Option<&ObjectKey>,
    error: object_store::Error,
) -> StoreError {
    use object_store::Error as E;
    let store = store.clone();
    let key_owned = key.cloned();
    match (error, key_owned) {
        (E::NotFound { .. }, Some(key)) => StoreError::NotFound { store, key },
        (E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. }, Some(key)) => {
            StoreError::AlreadyExists { store, key }
        }
        (e @ (E::PermissionDenied { .. } | E::Unauthenticated { .. }), key) => StoreError::Denied {
            store,
            op,
            key,
            source: Box::new(e),
        },
        (e @ E::Generic { .. }, key) => StoreError::Unavailable {
            store,
            op,
            key,
            source: Box::new(e),
        },
        (e, key) => StoreError::Rejected {
            store,
            op,
            key,
            source: Box::new(e),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use object_store::client::{HttpError, HttpErrorKind};

    fn store() -> StoreId {
        StoreId::new("b2").unwrap()
    }

    fn key() -> ObjectKey {
        ObjectKey::new("k").unwrap()
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reset by peer")]
    struct Reset;

    #[test]
    fn transport_failure_is_transient() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Connect, Reset)),
        };
        let mapped = classify(&store(), Operation::Write, Some(&key()), e);
        assert!(mapped.is_transient(), "{mapped:?}");
        assert_eq!(mapped.store().as_str(), "b2");
    }

    #[test]
    fn status_variants_are_typed_and_permanent() {
        let nf = object_store::Error::NotFound {
            path: "k".into(),
            source: Box::new(Reset),
        };
        assert!(classify(&store(), Operation::Read, Some(&key()), nf).is_not_found());
        let pre = object_store::Error::Precondition {
            path: "k".into(),
            source: Box::new(Reset),
        };
        let exists = classify(&store(), Operation::PutSmall, Some(&key()), pre);
        assert!(exists.is_already_exists() && !exists.is_transient());
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: Box::new(Reset),
        };
        let denied = classify(&store(), Operation::Head, Some(&key()), denied);
        assert!(matches!(denied, StoreError::Denied { .. }) && !denied.is_transient());
        let unsupported = object_store::Error::NotSupported {
            source: Box::new(Reset),
        };
        assert!(!classify(&store(), Operation::List, None, unsupported).is_transient());
    }
}
