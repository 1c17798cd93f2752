//! The errors' parts: the stage and input errors that the API's own errors ([`crate::BackupError`],
//! [`crate::RestoreError`], [`crate::VerifyError`]) carry as sources, gathered where a caller
//! can name them. Each is defined in the room that raises it.

pub use crate::read::extract::{EntryProblem, ExtractError, FsOp, RejectedType};
pub use crate::write::archive::{ArchiveError, Change};
pub use crate::write::collect::CollectError;
pub use crate::write::error::Stage;
pub use crate::write::pargz::GzipError;
