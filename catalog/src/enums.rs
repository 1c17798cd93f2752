//! The enumerations the catalog stores as text, one spelling each: the Rust variant, the text in
//! the database (and in Django's `choices`) and the CHECK constraint in `migrations/` agree.
//! They are exhaustive on purpose: adding a value is a migration, and every `match` over it
//! should be revisited.

use std::fmt;
use std::str::FromStr;

/// A stored text that names no variant of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {kind}")]
pub struct UnknownValue {
    /// The enum's name (`BackupStatus`, ...).
    pub kind: &'static str,
    /// The text that was found.
    pub value: String,
}

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The stored text (upper snake case, as Django's choices spell it).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

text_enum! {
    /// Where a backup run stands (`backups_backup.status`), as the platform defines it.
    BackupStatus {
        /// Recorded, not started.
        Pending = "PENDING",
        /// Running: collecting, storing or verifying.
        InProgress = "IN_PROGRESS",
        /// Stored, but at least one copy failed verification.
        Completed = "COMPLETED",
        /// Every copy stored and verified.
        Verified = "VERIFIED",
        /// Some stores hold a verified copy, others failed (our addition to the original set).
        Partial = "PARTIAL",
        /// No usable copy.
        Failed = "FAILED",
    }
}

impl BackupStatus {
    /// Whether the run is over (no further work will change it without a new verification).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            BackupStatus::Completed
                | BackupStatus::Verified
                | BackupStatus::Partial
                | BackupStatus::Failed
        )
    }
}

text_enum! {
    /// What was backed up (`backups_backup.backup_type`).
    BackupType {
        /// The platform's configuration files (the nightly job).
        Configuration = "CONFIGURATION",
    }
}

text_enum! {
    /// Who started a run (`backups_backup.trigger`).
    Trigger {
        /// The beat schedule.
        Schedule = "SCHEDULE",
        /// An administrator from the platform (`initiated_by_id` set).
        Manual = "MANUAL",
        /// `celeriac backup` on the command line.
        Cli = "CLI",
    }
}

text_enum! {
    /// The state of one copy in one store (`backups_backupcopy.status`).
    CopyStatus {
        /// Recorded, upload not finished.
        Pending = "PENDING",
        /// Uploaded, not yet read back.
        Stored = "STORED",
        /// Read back: size and SHA-256 match.
        Verified = "VERIFIED",
        /// The upload failed after its retries.
        Failed = "FAILED",
        /// Read back and found different from what was written.
        Corrupt = "CORRUPT",
        /// Removed from the store (retention or cleanup).
        Deleted = "DELETED",
    }
}

text_enum! {
    /// The kind of store a copy lives in (`backups_backupcopy.store_kind`).
    StoreKind {
        /// A local filesystem directory.
        Local = "LOCAL",
        /// An S3-compatible service (R2, B2, ...).
        S3 = "S3",
    }
}

text_enum! {
    /// What an alert is about (`backups_backupalert.alert_type`).
    AlertType {
        /// A run ended FAILED or PARTIAL.
        BackupFailure = "BACKUP_FAILURE",
        /// A stored copy does not match what was written.
        IntegrityFailure = "INTEGRITY_FAILURE",
        /// A manual run was asked for by someone who may not start one.
        AccessDenied = "ACCESS_DENIED",
        /// No verified backup within the expected interval.
        BackupMissing = "BACKUP_MISSING",
    }
}

text_enum! {
    /// How urgent an alert is (`backups_backupalert.severity`).
    Severity {
        /// Needs someone now.
        Critical = "CRITICAL",
        /// Needs a look.
        Warning = "WARNING",
        /// For the record.
        Info = "INFO",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = UnknownValue> + PartialEq + fmt::Debug,
    {
        for v in all {
            assert_eq!(v.to_string().parse::<T>(), Ok(*v));
        }
    }

    #[test]
    fn every_variant_round_trips_through_its_text() {
        round_trips(BackupStatus::ALL);
        round_trips(BackupType::ALL);
        round_trips(Trigger::ALL);
        round_trips(CopyStatus::ALL);
        round_trips(StoreKind::ALL);
        round_trips(AlertType::ALL);
        round_trips(Severity::ALL);
    }

    #[test]
    fn unknown_text_is_a_typed_error_naming_kind_and_value() {
        let err = "DONE".parse::<BackupStatus>().unwrap_err();
        assert_eq!(
            err,
            UnknownValue {
                kind: "BackupStatus",
                value: "DONE".into()
            }
        );
        assert_eq!(err.to_string(), "\"DONE\" is not a known BackupStatus");
        // Case matters: the database holds the upper-case spelling only.
        assert!("verified".parse::<BackupStatus>().is_err());
    }

    #[test]
    fn the_texts_are_the_platforms() {
        let texts: Vec<_> = BackupStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            texts,
            [
                "PENDING",
                "IN_PROGRESS",
                "COMPLETED",
                "VERIFIED",
                "PARTIAL",
                "FAILED"
            ]
        );
        assert_eq!(Trigger::Schedule.as_str(), "SCHEDULE");
        assert_eq!(AlertType::AccessDenied.as_str(), "ACCESS_DENIED");
    }

    #[test]
    fn every_text_is_allowed_by_both_migrations_check_constraints() {
        let pg = include_str!("../../migrations/postgres/20261203000001_backup_catalog.sql");
        let lite = include_str!("../../migrations/sqlite/20261203000001_backup_catalog.sql");
        let texts = BackupStatus::ALL
            .iter()
            .map(|v| v.as_str())
            .chain(Trigger::ALL.iter().map(|v| v.as_str()))
            .chain(CopyStatus::ALL.iter().map(|v| v.as_str()))
            .chain(StoreKind::ALL.iter().map(|v| v.as_str()))
            .chain(AlertType::ALL.iter().map(|v| v.as_str()))
            .chain(Severity::ALL.iter().map(|v| v.as_str()));
        for text in texts {
            let quoted = format!("'{text}'");
            assert!(pg.contains(&quoted), "postgres migration lacks {quoted}");
            assert!(lite.contains(&quoted), "sqlite migration lacks {quoted}");
        }
    }
}
