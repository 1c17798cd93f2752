//! Why a task did not return a value: [`TaskError`] (fail, retry, reject, bad arguments, time
//! limit, panic), the Python exception it is answered with ([`Failure`]), and [`RetryDelay`].

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use celeriac_protocol::{ExceptionInfo, PyException};
use serde_json::Value;

/// A Python exception as the rpc backend carries it: `{exc_type, exc_message, exc_module}`.
#[derive(Debug)]
pub struct Failure {
    /// Class name, e.g. `ValueError` or `BackupFailed`.
    pub exc_type: String,
    /// Module, e.g. `builtins`; a module Python cannot import makes it synthesise the class.
    pub exc_module: String,
    /// The exception's message (its single argument).
    pub message: String,
    /// The Rust error behind it, kept for the log line.
    pub source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Failure {
    /// An exception of `module.exc_type` with `message`.
    pub fn new(
        exc_type: impl Into<String>,
        exc_module: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            exc_type: exc_type.into(),
            exc_module: exc_module.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A Python builtin exception (`ValueError`, `TypeError`, `RuntimeError`...).
    pub fn builtin(exc_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(exc_type, "builtins", message)
    }

    /// An exception class Python knows by name (builtins and `celery.exceptions`).
    pub fn python(kind: PyException, message: impl Into<String>) -> Self {
        Self::new(kind.type_name(), kind.module(), message)
    }

    /// The exception dict sent in FAILURE and RETRY replies.
    pub fn to_exception_info(&self) -> ExceptionInfo {
        ExceptionInfo::custom(
            self.exc_module.clone(),
            self.exc_type.clone(),
            vec![Value::String(self.message.clone())],
        )
    }

    /// Keeps the Rust error behind this failure (logged, not sent).
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.exc_module, self.exc_type, self.message)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// When to run a retry.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDelay {
    /// The task's `default_retry_delay`.
    Default,
    /// Exactly this long from now.
    Countdown(Duration),
    /// The task's exponential backoff for the current retry count.
    Backoff,
}

/// Why a task did not return a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// Answered FAILURE with this exception; the message is acked (or rejected, per
    /// `acks_on_failure`).
    #[error("task failed with {}", .0.exc_type)]
    Fail(#[source] Failure),
    /// Run again later, up to `max_retries`; past it the task fails with `cause`.
    #[error("task asked to be retried")]
    Retry {
        /// When.
        delay: RetryDelay,
        /// The error that caused the retry (the FAILURE once retries are exhausted).
        #[source]
        cause: Option<Failure>,
    },
    /// The arguments do not fit the task: answered FAILURE `TypeError`, rejected without requeue.
    #[error("invalid task arguments")]
    InvalidArguments(#[source] Failure),
    /// Rejected without requeue (a dead-letter exchange can catch it); no reply.
    #[error("task rejected the message: {reason}")]
    Reject {
        /// Why, for the log.
        reason: String,
    },
    /// The hard time limit passed (the worker produces this; answered `TimeLimitExceeded`).
    #[error("hard time limit of {limit:?} exceeded")]
    TimeLimit {
        /// The limit that passed.
        limit: Duration,
    },
    /// The task (or its blocking part) panicked.
    #[error("task panicked")]
    Panicked,
}

impl TaskError {
    /// FAILURE with a Python builtin exception type.
    pub fn builtin(exc_type: &str, message: impl Into<String>) -> Self {
        TaskError::Fail(Failure::builtin(exc_type, message))
    }

    /// FAILURE with `module.exc_type`.
    pub fn fail(exc_type: &str, exc_module: &str, message: impl Into<String>) -> Self {
        TaskError::Fail(Failure::new(exc_type, exc_module, message))
    }

    /// Wrong arguments: Python `TypeError`, and the message is rejected without requeue.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        TaskError::InvalidArguments(Failure::builtin("TypeError", message))
    }

    /// Retry after `countdown` because of `cause`.
    pub fn retry_in(countdown: Duration, cause: Option<Failure>) -> Self {
        TaskError::Retry {
            delay: RetryDelay::Countdown(countdown),
            cause,
        }
    }

    /// Retry with the task's exponential backoff because of `cause`.
    pub fn retry_with_backoff(cause: Option<Failure>) -> Self {
        TaskError::Retry {
            delay: RetryDelay::Backoff,
            cause,
        }
    }
}
