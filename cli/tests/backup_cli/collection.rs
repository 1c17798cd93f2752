//! What `celeriac backup` collects, seen from the command line: `--dry-run` (no key, no store),
//! a run that finds nothing ending FAILED with no object stored, and `restore --secrets` on a
//! backup that has no secrets bundle.

use std::path::Path;

use serde_json::Value;

use crate::run::{celeriac, keygen, output, stderr, stdout};
use crate::tree::sample_copy;

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

#[test]
fn dry_run_lists_what_would_be_collected_and_what_was_left_out_without_key_or_store() {
    let source = sample_copy();
    write(source.path(), "redis/redis.conf", "port 6379\n");
    write(source.path(), "compose.yaml", "services: {}\n");
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.path().to_str().unwrap(),
        "--dry-run",
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["dry_run"], true);
    let files = plan["files"].as_array().unwrap();
    let find = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not planned: {plan:#}"))
    };
    assert_eq!(find("compose.yaml")["category"], "docker");
    assert_eq!(find(".env")["placement"], "secrets-and-sanitized");
    assert_eq!(find("certs/test-only.key")["placement"], "secrets");
    assert_eq!(find("nginx/nginx.conf")["placement"], "main");
    assert_eq!(plan["files_collected"], files.len());
    let per_category: u64 = plan["file_categories"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_category, files.len() as u64);
    assert_eq!(plan["left_out"]["paths"][0], "redis/redis.conf");
    assert_eq!(plan["left_out"]["count"], 1);

    let text = output(celeriac().args([
        "backup",
        "--source",
        source.path().to_str().unwrap(),
        "--dry-run",
    ]));
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.contains("docker ("), "{text}");
    assert!(text.contains("  compose.yaml"), "{text}");
    assert!(text.contains("left out: 1 config-looking file"), "{text}");
    assert!(text.contains("  redis/redis.conf"), "{text}");
}

#[test]
fn a_tree_without_configuration_fails_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    write(&source, "app/models.py", "class M: pass\n");
    write(&source, "README.md", "# app\n");
    let key = dir.path().join("k");
    keygen(&key);
    let store = dir.path().join("copies");
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing to back up"), "{err}");
    assert!(
        err.contains(source.to_str().unwrap()),
        "names the root: {err}"
    );
    assert_eq!(files_under(&store), Vec::<String>::new());

    // With --json, stdout still carries one object with the status, for scripts.
    let json = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    let failed: Value = serde_json::from_str(&stdout(&json))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", stdout(&json)));
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("nothing to back up"),
        "{failed:#}"
    );

    let dry =
        output(celeriac().args(["backup", "--source", source.to_str().unwrap(), "--dry-run"]));
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("nothing would be collected"));
}

#[test]
fn restore_secrets_of_a_backup_without_a_secrets_bundle_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    write(&source, "compose.yaml", "services: {}\n");
    let key = dir.path().join("k");
    keygen(&key);
    let store = dir.path().join("copies");
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["artifacts"].as_array().unwrap().len(), 1);
    let artifact = files_under(&store)
        .into_iter()
        .find(|f| f.ends_with(".tar.gz.enc"))
        .unwrap();
    let out = output(celeriac().args([
        "restore",
        &artifact,
        "--secrets",
        "--key-file",
        key.to_str().unwrap(),
        "--to",
        dir.path().join("restored").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no secrets bundle"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("restored").exists());
}

#[test]
fn a_shared_key_file_is_warned_about_and_a_fifo_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    write(&source, "compose.yaml", "services: {}\n");
    let key = dir.path().join("k");
    keygen(&key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = format!("local:{}", dir.path().join("copies").display());
    let run = |key: &Path| {
        output(celeriac().args([
            "backup",
            "--source",
            source.to_str().unwrap(),
            "--store",
            &store,
            "--key-file",
            key.to_str().unwrap(),
            "--quiet",
        ]))
    };
    let out = run(&key);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("mode 0644"), "{}", stderr(&out));

    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = run(&fifo);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_config_file_named_relative_to_the_current_directory_loads() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "lim1.toml", "[limits]\n");
    write(dir.path(), "src/compose.yaml", "services: {}\n");
    let out = output(celeriac().current_dir(dir.path()).args([
        "backup",
        "--config",
        "lim1.toml",
        "--source",
        "src",
        "--dry-run",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("compose.yaml"), "{}", stdout(&out));
}

/// A backup of one small file into `dir/copies`, returning the artifact path.
fn small_backup(dir: &Path, key: &Path) -> String {
    let source = dir.join("src");
    write(&source, "compose.yaml", "services: {}\n");
    let store = dir.join("copies");
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    files_under(&store)
        .into_iter()
        .find(|f| f.ends_with(".tar.gz.enc"))
        .unwrap()
}

#[test]
fn a_failed_restore_leaves_no_directories_and_stale_staging_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    let artifact = small_backup(dir.path(), &key);
    let other = dir.path().join("other-key");
    keygen(&other);
    let deep = dir.path().join("a/b/restored");
    let out = output(celeriac().args([
        "restore",
        &artifact,
        "--key-file",
        other.to_str().unwrap(),
        "--to",
        deep.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dir.path().join("a").exists(), "a failed restore made a/");

    // A staging directory of a restore that was killed: its process is gone.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let stale = dir.path().join(format!(".celeriac-staging-{pid}-0000"));
    write(&stale, "plain/.env", "SECRET_KEY=x\n");
    let target = dir.path().join("restored");
    let out = output(celeriac().args([
        "restore",
        &artifact,
        "--key-file",
        key.to_str().unwrap(),
        "--to",
        target.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stale.exists(), "stale staging left behind");
    assert!(
        stderr(&out).contains("left by an interrupted restore"),
        "{}",
        stderr(&out)
    );
    assert!(target.join("compose.yaml").exists());
}

#[test]
fn sigterm_during_a_restore_removes_its_staging_and_exits_130() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    // Incompressible files, so extraction runs long enough to be caught in the middle.
    let source = dir.path().join("src");
    std::fs::create_dir_all(source.join("nginx/conf.d")).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..10 {
        let mut f =
            std::fs::File::create(source.join(format!("nginx/conf.d/big-{i}.conf"))).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..5 {
            for chunk in block.chunks_mut(8) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                chunk.copy_from_slice(&seed.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
    }
    let store = dir.path().join("copies");
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let artifact = files_under(&store)
        .into_iter()
        .find(|f| f.ends_with(".tar.gz.enc"))
        .unwrap();

    let parent = dir.path().join("restores");
    std::fs::create_dir(&parent).unwrap();
    let target = parent.join("restored");
    let mut child = celeriac()
        .args(["restore", &artifact, "--key-file", key.to_str().unwrap()])
        .arg("--to")
        .arg(&target)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let staging = || {
        std::fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".celeriac-staging-")
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while staging() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended before its staging directory was seen"
        );
        assert!(std::time::Instant::now() < deadline, "no staging directory");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert_eq!(staging(), 0, "staging left behind after SIGTERM");
    assert!(!target.exists(), "a half restore was committed");
}
