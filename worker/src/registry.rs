//! The task registry: task name → handler and its effective options. Unknown names are not an
//! error here; the consumer answers them `NotRegistered` and rejects the message.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::{ConfigError, RawTask};
use crate::task::{Task, TaskOptions};

/// Why a task could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two tasks with one name.
    #[error("task {name:?} is registered twice")]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// A registered task with the options it runs under.
pub(crate) struct Entry {
    pub(crate) task: Arc<dyn Task>,
    pub(crate) options: TaskOptions,
}

/// Task name → task. Built before the worker starts, read-only afterwards.
#[derive(Default)]
pub struct Registry {
    tasks: HashMap<String, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the built-in `celery.*` tasks (see [`crate::tasks`]).
    pub fn with_builtins() -> Self {
        let mut r = Self::new();
        for task in crate::tasks::builtins() {
            r.tasks.insert(
                task.name().to_owned(),
                Entry {
                    options: task.options(),
                    task,
                },
            );
        }
        r
    }

    /// Adds a task.
    ///
    /// # Errors
    /// [`RegistryError::Duplicate`] if the name is taken.
    pub fn register(&mut self, task: impl Task) -> Result<&mut Self, RegistryError> {
        let name = task.name().to_owned();
        if self.tasks.contains_key(&name) {
            return Err(RegistryError::Duplicate { name });
        }
        let options = task.options();
        self.tasks.insert(
            name,
            Entry {
                task: Arc::new(task),
                options,
            },
        );
        Ok(self)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tasks.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Entry> {
        self.tasks.get(name)
    }

    /// Applies the config file's per-task settings; settings for unknown tasks are reported.
    pub(crate) fn apply_overrides(
        &mut self,
        overrides: &BTreeMap<String, RawTask>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        for (name, raw) in overrides {
            match self.tasks.get_mut(name) {
                Some(entry) => entry.options = entry.options.apply(name, raw)?,
                None => unknown.push(name.clone()),
            }
        }
        Ok(unknown)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::task::task_fn;

    #[test]
    fn builtins_duplicates_and_overrides() {
        let mut r = Registry::with_builtins();
        assert!(r.names().contains(&"celery.accumulate"));
        let t = || {
            task_fn("x.y", TaskOptions::default(), |_, _| async {
                Ok(serde_json::Value::Null)
            })
        };
        r.register(t()).unwrap();
        assert!(matches!(
            r.register(t()),
            Err(RegistryError::Duplicate { .. })
        ));
        let mut o = BTreeMap::new();
        o.insert(
            "x.y".to_owned(),
            RawTask {
                max_retries: Some(7),
                ..RawTask::default()
            },
        );
        o.insert("nope".to_owned(), RawTask::default());
        assert_eq!(r.apply_overrides(&o).unwrap(), ["nope"]);
        assert_eq!(r.get("x.y").unwrap().options.max_retries, Some(7));
    }
}
