//! Python helpers: the pinned interpreter runs scripts and snippets; missing modules fail loudly.

use celeriac_testkit::python::{Python, requirements_file};

#[tokio::test]
async fn runs_a_snippet_with_arguments_and_environment() {
    let out = Python::find()
        .code("import os, sys; print(sys.argv[1:], os.environ['CELERIAC_PROBE'])")
        .args(["a", "b c"])
        .env("CELERIAC_PROBE", "probe-value")
        .success()
        .await;
    assert_eq!(out.stdout, "['a', 'b c'] probe-value\n");
}

#[tokio::test]
async fn runs_a_script_and_reports_its_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("exit3.py");
    std::fs::write(
        &script,
        "import sys\nprint('to stderr', file=sys.stderr)\nsys.exit(3)\n",
    )
    .unwrap();
    let out = Python::find().script(&script).output().await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stderr, "to stderr\n");
}

#[test]
fn the_pinned_celery_is_importable() {
    let python = Python::find();
    python.require("celery");
    let pinned = std::fs::read_to_string(requirements_file()).unwrap();
    assert!(
        pinned.lines().any(|l| l.starts_with("celery==")),
        "celery is pinned"
    );
}

#[test]
#[should_panic(expected = "module `celeriac_no_such_module` cannot be imported")]
fn a_missing_module_names_the_requirements_file() {
    Python::find().require("celeriac_no_such_module");
}

#[tokio::test]
#[should_panic(expected = "requirements-test.txt")]
async fn a_script_failing_on_a_missing_module_names_the_requirements_file() {
    Python::find()
        .code("import celeriac_no_such_module")
        .success()
        .await;
}
