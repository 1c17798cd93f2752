//! [`CancelCheck`]: the cooperative cancel check that the blocking stages (collect, archive)
//! consult between files. It sits below both so that neither imports the other for it.

use std::sync::Arc;

/// A cooperative cancel check, consulted between entries.
pub type CancelCheck = Arc<dyn Fn() -> bool + Send + Sync>;
