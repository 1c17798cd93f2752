//! Identifier newtypes: task ids, group ids and task names.
//!
//! Celery ids are normally UUID4 strings, but a client may pass any string as `task_id=`, so on
//! input every non-empty string is accepted and kept verbatim; [`TaskId::as_uuid`] tells whether it
//! is a UUID. Ids we generate are UUID4s in the hyphenated lowercase form Python's `uuid4()` gives.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::IdError;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Wraps a string.
            ///
            /// # Errors
            /// [`IdError::Empty`] if `s` is empty.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                if s.is_empty() {
                    return Err(IdError::Empty { kind: $kind });
                }
                Ok(Self(s))
            }

            /// The identifier as it goes on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Gives back the inner string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A task id: the `id` header, the `correlation_id` property and the rpc reply's `task_id`.
    ///
    /// Any non-empty string is accepted on input (clients may pass `task_id=`); ids we create are
    /// UUID4 strings.
    TaskId,
    "task id"
);

string_id!(
    /// A group id: the `group` header of a group member (a UUID4 string in practice).
    GroupId,
    "group id"
);

string_id!(
    /// A registered task's name, e.g. `backups.tasks.configuration_backup`.
    TaskName,
    "task name"
);

impl TaskId {
    /// A fresh random UUID4 id, as `celery.utils.uuid()` makes.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// The id of a UUID, in Python's `str(uuid)` form (hyphenated, lowercase).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid.to_string())
    }

    /// The id as a UUID, if it is one.
    pub fn as_uuid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.0).ok()
    }
}

impl From<Uuid> for TaskId {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}

impl GroupId {
    /// A fresh random UUID4 group id.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4().to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn task_id_accepts_any_non_empty_string_and_rejects_empty() {
        let id = TaskId::new("not-a-uuid").unwrap();
        assert_eq!(id.as_str(), "not-a-uuid");
        assert_eq!(id.as_uuid(), None);
        assert_eq!(TaskId::new(""), Err(IdError::Empty { kind: "task id" }));
    }

    #[test]
    fn new_v4_is_a_hyphenated_lowercase_uuid() {
        let id = TaskId::new_v4();
        let uuid = id.as_uuid().unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(id.as_str(), uuid.hyphenated().to_string());
    }

    #[test]
    fn serde_is_a_plain_string() {
        let name: TaskName = serde_json::from_str("\"tasks.add\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"tasks.add\"");
        assert!(serde_json::from_str::<TaskName>("\"\"").is_err());
    }
}
