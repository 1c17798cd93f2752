//! Owns [`error_chain`], the one place the workspace turns an error and its `source()` causes
//! into one line, for log fields, reports and test failures. No dependencies, so every crate
//! (the worker, the backup pipeline, the job, the stores, the test kit) can use it.

use std::error::Error;

/// `error: cause: cause…`, each `source()` appended after `": "`, skipping a cause whose text
/// the line already contains (many errors repeat their source in their own message).
pub fn error_chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    /// An error with a fixed message and an optional cause.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn joins_every_cause() {
        let err = Layer(
            "publishing the reply",
            Some(Box::new(Layer(
                "channel closed",
                Some(Box::new(Layer("connection reset", None))),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "publishing the reply: channel closed: connection reset"
        );
    }

    #[test]
    fn skips_causes_already_in_the_message() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Layer(
            "sending request: refused",
            Some(Box::new(Layer("refused", None))),
        );
        assert_eq!(error_chain(&err), "sending request: refused");
        assert_eq!(error_chain(&refused), "refused");
    }
}
