//! Python for interop tests: find the interpreter that has the pinned packages, check modules,
//! and run scripts or snippets with arguments and environment, capturing their output.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::process::{Child, Command};

/// The pinned requirements file at the repository root.
pub fn requirements_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(
        || PathBuf::from("requirements-test.txt"),
        |root| root.join("requirements-test.txt"),
    )
}

/// A Python interpreter: `CELERIAC_TEST_PYTHON` (exported by `scripts/test`) or `python3`.
///
/// ```no_run
/// # async fn demo() {
/// use celeriac_testkit::python::Python;
///
/// let python = Python::find();
/// python.require("celery");
/// let out = python.code("import sys; print(sys.argv[1])").arg("hi").success().await;
/// assert_eq!(out.stdout, "hi\n");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Python {
    interpreter: PathBuf,
}

impl Python {
    /// Locates the interpreter.
    ///
    /// # Panics
    /// If `CELERIAC_TEST_PYTHON` names a missing file, or no `python3` is on `PATH`.
    pub fn find() -> Python {
        if let Some(path) = std::env::var_os("CELERIAC_TEST_PYTHON") {
            let interpreter = PathBuf::from(path);
            assert!(
                interpreter.is_file(),
                "CELERIAC_TEST_PYTHON={} does not exist; {}",
                interpreter.display(),
                crate::service::START_HINT
            );
            return Python { interpreter };
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("python3"))
                .find(|candidate| candidate.is_file())
        });
        let Some(interpreter) = on_path else {
            panic!(
                "required test tool unavailable: python3 (not on PATH and CELERIAC_TEST_PYTHON \
                 unset); {}",
                crate::service::START_HINT
            );
        };
        Python { interpreter }
    }

    /// The interpreter's path.
    pub fn interpreter(&self) -> &Path {
        &self.interpreter
    }

    /// Fails the test unless `module` imports, naming it and the requirements file.
    ///
    /// # Panics
    /// If the module cannot be imported (or the interpreter cannot run).
    pub fn require(&self, module: &str) {
        let status = std::process::Command::new(&self.interpreter)
            .arg("-c")
            .arg(format!("import {module}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.interpreter.display()));
        if !status.success() {
            missing_module(&self.interpreter, module);
        }
    }

    /// `python <script>`; add arguments and environment on the returned command.
    pub fn script(&self, script: impl AsRef<Path>) -> PythonCommand {
        let mut command = Command::new(&self.interpreter);
        command.arg(script.as_ref());
        PythonCommand::new(
            command,
            script.as_ref().display().to_string(),
            &self.interpreter,
        )
    }

    /// The real Celery command line, `celery <args>`, run in `app_dir` so that `-A <module>`
    /// finds an app module there; add the arguments on the returned command.
    pub fn celery(&self, app_dir: impl AsRef<Path>) -> PythonCommand {
        self.code("import sys\nfrom celery.__main__ import main\nsys.exit(main())")
            .current_dir(app_dir)
    }

    /// `python -c <code>`; add arguments (they become `sys.argv[1..]`) on the returned command.
    pub fn code(&self, code: &str) -> PythonCommand {
        let mut command = Command::new(&self.interpreter);
        command.arg("-c").arg(code);
        PythonCommand::new(command, "python -c snippet".to_owned(), &self.interpreter)
    }
}

/// A Python process to run, built by [`Python::script`] or [`Python::code`].
#[derive(Debug)]
pub struct PythonCommand {
    command: Command,
    /// What runs, for messages.
    label: String,
    interpreter: PathBuf,
}

/// What a finished Python process printed.
#[derive(Debug, Clone)]
pub struct PythonOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl PythonCommand {
    fn new(mut command: Command, label: String, interpreter: &Path) -> PythonCommand {
        command.env("PYTHONUNBUFFERED", "1").kill_on_drop(true);
        PythonCommand {
            command,
            label,
            interpreter: interpreter.to_path_buf(),
        }
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> PythonCommand {
        self.command.arg(arg);
        self
    }

    /// Adds several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> PythonCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable for the process.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> PythonCommand {
        self.command.env(key, value);
        self
    }

    /// Runs the process in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> PythonCommand {
        self.command.current_dir(dir);
        self
    }

    /// Runs to completion and returns the output, whatever the exit status.
    ///
    /// # Panics
    /// If the interpreter cannot be started.
    pub async fn output(mut self) -> PythonOutput {
        let output = self
            .command
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} ({}): {e}",
                    self.label,
                    self.interpreter.display()
                )
            });
        PythonOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs to completion and fails the test unless the process exits with status 0.
    ///
    /// # Panics
    /// If it cannot start or exits non-zero; a missing module is reported with the
    /// requirements file to install.
    pub async fn success(self) -> PythonOutput {
        let interpreter = self.interpreter.clone();
        let label = self.label.clone();
        let output = self.output().await;
        if !output.status.success() {
            if let Some(module) = missing_module_name(&output.stderr) {
                missing_module(&interpreter, module);
            }
            panic!(
                "{label} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
                output.status, output.stdout, output.stderr
            );
        }
        output
    }

    /// Starts the process in the background with piped stdout/stderr; it is killed when the
    /// returned `Child` drops.
    ///
    /// # Panics
    /// If the interpreter cannot be started.
    pub fn spawn(mut self) -> Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} ({}): {e}",
                    self.label,
                    self.interpreter.display()
                )
            })
    }
}

/// The module named in a `ModuleNotFoundError: No module named 'x'` line, if any.
fn missing_module_name(stderr: &str) -> Option<&str> {
    let rest = stderr
        .split("ModuleNotFoundError: No module named '")
        .nth(1)?;
    rest.split('\'').next()
}

#[track_caller]
fn missing_module(interpreter: &Path, module: &str) -> ! {
    panic!(
        "required Python package unavailable: module `{module}` cannot be imported by {}\n\
         hint: install the pinned test requirements with `{} -m pip install -r {}` \
         (scripts/test does this), or point CELERIAC_TEST_PYTHON at an interpreter that has them",
        interpreter.display(),
        interpreter.display(),
        requirements_file().display()
    )
}

#[cfg(test)]
mod tests {
    use super::missing_module_name;

    #[test]
    fn finds_the_missing_module_in_a_traceback() {
        let stderr = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n\
                      ModuleNotFoundError: No module named 'celery'\n";
        assert_eq!(missing_module_name(stderr), Some("celery"));
        assert_eq!(missing_module_name("ValueError: nope"), None);
    }
}
