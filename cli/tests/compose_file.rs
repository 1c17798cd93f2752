//! docker-compose.yml and deploy/celeriac.toml, judged by the real parsers (no Docker engine
//! runs here): PyYAML reads the compose file; every celeriac service's command is run by the
//! real `celeriac` binary against the real config file (mounted path swapped for the
//! repository path): the worker prints its configuration, beat lists its schedule, migrate
//! creates the catalog in a fresh PostgreSQL database, and the backup sections pass a dry run.
//! Every file the compose file references exists (a never-committed env file by its
//! `.example`), and the ports and buckets agree between the services and the config file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};

use celeriac_testkit::db::TestDatabase;
use celeriac_testkit::python::Python;
use serde_json::Value;

const MOUNTED_CONFIG: &str = "/etc/celeriac/celeriac.toml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// docker-compose.yml as JSON, read by PyYAML.
async fn compose() -> Value {
    let python = Python::find();
    python.require("yaml");
    let out = python
        .code("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
        .arg(root().join("docker-compose.yml"))
        .success()
        .await;
    serde_json::from_str(&out.stdout).unwrap()
}

/// The service's command with the mounted config path replaced by the repository's file.
fn command(service: &Value) -> Vec<String> {
    let config = root().join("deploy/celeriac.toml");
    service["command"]
        .as_array()
        .unwrap_or_else(|| panic!("no command list: {service}"))
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            if a == MOUNTED_CONFIG {
                config.display().to_string()
            } else {
                a.to_owned()
            }
        })
        .collect()
}

async fn celeriac(args: &[String], home: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(args)
        .env("CELERIAC_HOME", home)
        .env_remove("CELERIAC_CONFIG")
        .env_remove("CELERIAC_DATABASE_URL")
        .output()
        .await
        .unwrap()
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_celeriac_service_command_runs_with_the_shipped_config() {
    let compose = compose().await;
    let services = compose["services"].as_object().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, service) in services {
        if service["image"] != "celeriac:latest" || service["entrypoint"].is_array() {
            continue;
        }
        let mounts: Vec<&str> = service["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            mounts.contains(&"./deploy/celeriac.toml:/etc/celeriac/celeriac.toml:ro"),
            "{name} does not mount the config file: {mounts:?}"
        );
        let mut args = command(service);
        let role = args[0].clone();
        match role.as_str() {
            "worker" => args.push("--print-config".into()),
            "beat" => args.push("--list".into()),
            "migrate" => {
                let db = TestDatabase::create().await;
                args.extend(["--database-url".into(), db.url().to_owned()]);
                ok(&celeriac(&args, home.path()).await, name);
                let mut check = vec!["check".to_owned(), "--json".to_owned()];
                check.extend([
                    "--config".into(),
                    root().join("deploy/celeriac.toml").display().to_string(),
                ]);
                check.extend(["--database-url".into(), db.url().to_owned()]);
                let out = celeriac(&check, home.path()).await;
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "a fresh catalog is stale: {out:?}"
                );
                seen.push(role);
                continue;
            }
            other => panic!("service {name} runs an unexpected command {other}"),
        }
        let out = celeriac(&args, home.path()).await;
        ok(&out, name);
        if role == "beat" {
            let listed = String::from_utf8_lossy(&out.stdout);
            for entry in [
                "configuration-backup-daily",
                "prune-backups-daily",
                "check-backups-hourly",
            ] {
                assert!(
                    listed.contains(entry),
                    "beat does not list {entry}:\n{listed}"
                );
            }
        }
        seen.push(role);
    }
    seen.sort();
    assert_eq!(seen, ["beat", "migrate", "worker"]);

    // The backup sections: a dry run over the sample project with the shipped stores and rules.
    let dry = [
        "backup",
        "--dry-run",
        "--json",
        "--config",
        &root().join("deploy/celeriac.toml").display().to_string(),
        "--source",
        &root().join("examples/sample-project").display().to_string(),
    ]
    .map(str::to_owned);
    ok(&celeriac(&dry, home.path()).await, "backup --dry-run");
}

#[tokio::test]
async fn the_health_checks_ask_the_ports_the_config_serves() {
    let compose = compose().await;
    let test = compose["services"]["worker"]["healthcheck"]["test"].to_string();
    let config = std::fs::read_to_string(root().join("deploy/celeriac.toml")).unwrap();
    assert!(
        config.contains("metrics-listen = \"0.0.0.0:9808\""),
        "{config}"
    );
    assert!(test.contains("127.0.0.1:9808/healthz"), "{test}");
    let test = compose["services"]["beat"]["healthcheck"]["test"].to_string();
    assert!(
        config.contains("metrics-listen = \"0.0.0.0:9809\""),
        "{config}"
    );
    assert!(test.contains("127.0.0.1:9809/healthz"), "{test}");
}
