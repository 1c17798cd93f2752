//! [`TaskState`]: Celery's task states with their wire names and the set predicates of
//! `celery/states.py`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// The state of a task, spelled on the wire exactly as Celery spells it (`"SUCCESS"`...).
///
/// `RECEIVED` only appears in events, never in a result reply. Celery's `REJECTED` and `IGNORED`
/// states are not modelled: a Python worker never sends them to a result backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskState {
    /// Unknown to the backend (waiting, or never sent).
    Pending,
    /// Received by a worker (events only).
    Received,
    /// Started executing (only with `task_track_started`).
    Started,
    /// Finished with a return value.
    Success,
    /// Finished with an exception.
    Failure,
    /// Will be retried; the result is the exception that caused the retry.
    Retry,
    /// Revoked, expired or terminated.
    Revoked,
}

impl TaskState {
    /// Every state, in the order above.
    pub const ALL: [TaskState; 7] = [
        TaskState::Pending,
        TaskState::Received,
        TaskState::Started,
        TaskState::Success,
        TaskState::Failure,
        TaskState::Retry,
        TaskState::Revoked,
    ];

    /// The wire name, e.g. `"SUCCESS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Received => "RECEIVED",
            TaskState::Started => "STARTED",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Retry => "RETRY",
            TaskState::Revoked => "REVOKED",
        }
    }

    /// `READY_STATES`: the task has finished (SUCCESS, FAILURE, REVOKED).
    pub fn is_ready(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Revoked
        )
    }

    /// `UNREADY_STATES`: not finished yet (PENDING, RECEIVED, STARTED, RETRY).
    pub fn is_unready(self) -> bool {
        !self.is_ready()
    }

    /// `EXCEPTION_STATES`: the result is an exception (RETRY, FAILURE, REVOKED).
    pub fn is_exception(self) -> bool {
        matches!(
            self,
            TaskState::Retry | TaskState::Failure | TaskState::Revoked
        )
    }

    /// `PROPAGATE_STATES`: `AsyncResult.get()` raises (FAILURE, REVOKED).
    pub fn propagates(self) -> bool {
        matches!(self, TaskState::Failure | TaskState::Revoked)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, DecodeError> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| DecodeError::UnknownState {
                state: s.to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>().unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert!(matches!(
            "success".parse::<TaskState>(),
            Err(DecodeError::UnknownState { .. })
        ));
    }

    #[test]
    fn predicates_match_celery_state_sets() {
        let ready: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.is_ready())
            .collect();
        assert_eq!(
            ready,
            [TaskState::Success, TaskState::Failure, TaskState::Revoked]
        );
        let exc: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.is_exception())
            .collect();
        assert_eq!(
            exc,
            [TaskState::Failure, TaskState::Retry, TaskState::Revoked]
        );
        let prop: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.propagates())
            .collect();
        assert_eq!(prop, [TaskState::Failure, TaskState::Revoked]);
        assert!(TaskState::Started.is_unready());
    }
}
