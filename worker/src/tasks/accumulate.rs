//! `celery.accumulate`: returns its positional arguments as a list, or `args[index]` when the
//! `index` keyword is given (Python indexing: negative counts from the end).

use serde_json::Value;

use crate::task::{Task, TaskArgs, TaskContext, TaskError, TaskFuture, TaskOptions};

/// Celery's built-in `celery.accumulate` (`celery/app/builtins.py`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Accumulate;

impl Task for Accumulate {
    fn name(&self) -> &'static str {
        "celery.accumulate"
    }

    fn options(&self) -> TaskOptions {
        TaskOptions::default()
    }

    fn run(&self, _ctx: TaskContext, args: TaskArgs) -> TaskFuture {
        Box::pin(std::future::ready(accumulate(args)))
    }
}

fn accumulate(mut args: TaskArgs) -> Result<Value, TaskError> {
    let index = match args.kwargs.get("index") {
        None | Some(Value::Null) => return Ok(Value::Array(args.args)),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(not_an_index)?,
        Some(Value::Bool(b)) => i64::from(*b), // Python bools are ints
        Some(_) => return Err(not_an_index()),
    };
    let len = i64::try_from(args.args.len()).unwrap_or(i64::MAX);
    let at = if index < 0 { index + len } else { index };
    usize::try_from(at)
        .ok()
        .filter(|&i| i < args.args.len())
        .map(|i| args.args.swap_remove(i))
        .ok_or_else(|| TaskError::builtin("IndexError", "tuple index out of range"))
}

fn not_an_index() -> TaskError {
    TaskError::builtin("TypeError", "tuple indices must be integers or slices")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    fn call(args: Value, kwargs: Value) -> Result<Value, TaskError> {
        let (Value::Array(args), Value::Object(kwargs)) = (args, kwargs) else {
            panic!("test inputs are a list and a dict");
        };
        accumulate(TaskArgs { args, kwargs })
    }

    #[test]
    fn follows_python_semantics() {
        assert_eq!(
            call(json!([1, "a", [2]]), json!({})).unwrap(),
            json!([1, "a", [2]])
        );
        assert_eq!(call(json!([]), json!({})).unwrap(), json!([]));
        assert_eq!(
            call(json!([1, 2, 3]), json!({"index": 1})).unwrap(),
            json!(2)
        );
        assert_eq!(
            call(json!([1, 2, 3]), json!({"index": -1})).unwrap(),
            json!(3)
        );
        assert_eq!(
            call(json!([1, 2, 3]), json!({"index": null})).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(
            call(json!([1, 2, 3]), json!({"index": true})).unwrap(),
            json!(2)
        );
        let e = call(json!([1]), json!({"index": 5})).unwrap_err();
        assert!(matches!(e, TaskError::Fail(f) if f.exc_type == "IndexError"));
        let e = call(json!([1]), json!({"index": -2})).unwrap_err();
        assert!(matches!(e, TaskError::Fail(f) if f.exc_type == "IndexError"));
        let e = call(json!([1]), json!({"index": "0"})).unwrap_err();
        assert!(matches!(e, TaskError::Fail(f) if f.exc_type == "TypeError"));
    }
}
