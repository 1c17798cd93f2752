//! Secrets outside `.env` files (issue 9 item 2): inline values in Django settings, Compose
//! and Kubernetes YAML are redacted in the main archive and kept whole in the secrets bundle;
//! files that are secrets by nature go only to the secrets bundle; lines the scanner cannot
//! settle are reported, and `on-suspected-secret = "fail"` refuses to publish.

use std::path::Path;

use serde_json::Value;

use crate::run::{celeriac, keygen, output, stderr, stdout};

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Every file's bytes under `dir`, by path relative to it.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// The secret values planted in the tree; none may reach the main archive.
const PLANTED: &[&str] = &[
    "dj-secret-9Qx",
    "db-pass-hunter2",
    "compose-pw-77",
    "list-item-pw-88",
    "k8s-env-pw-99",
    "netrc-pw-55",
    "pgpass-pw-44",
    "bXlzZWNyZXRwYXNz",
    "DER-KEY-BYTES",
    "P12-KEY-BYTES",
    "htpasswd-hash-33",
    "conf-env-pw-66",
];

fn tree(source: &Path) {
    write(
        source,
        "app/settings.py",
        "import os\nDEBUG = False\nSECRET_KEY = 'dj-secret-9Qx'\nDATABASES = {'default': {\n    'NAME': 'app',\n    'PASSWORD': 'db-pass-hunter2',\n}}\nEMAIL_HOST_PASSWORD = os.environ['EMAIL_HOST_PASSWORD']\nCHECKSUM = 'a8f5f167f44f4964e6c998dee827110c'\n",
    );
    write(
        source,
        "docker-compose.yml",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: compose-pw-77\n      POSTGRES_DB: app\n  web:\n    environment:\n      - DB_PASSWORD=list-item-pw-88\n      - DEBUG=0\n",
    );
    write(
        source,
        "k8s/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          env:\n            - name: DB_PASSWORD\n              value: k8s-env-pw-99\n",
    );
    write(
        source,
        "k8s/all.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret # from kubectl get -o yaml\n  data:\n    password: bXlzZWNyZXRwYXNz\n",
    );
    // An env file under another name (Compose's `env_file: docker/web.conf`).
    write(
        source,
        "docker/web.conf",
        "DEBUG=0\nDB_PASSWORD=conf-env-pw-66\n",
    );
    write(
        source,
        "postgresql/.pgpass",
        "db:5432:app:app:pgpass-pw-44\n",
    );
    write(source, "nginx/htpasswd", "admin:htpasswd-hash-33\n");
    write(
        source,
        "nginx/.netrc",
        "machine x login y password netrc-pw-55\n",
    );
    write(source, "nginx/ssl/client.der", "DER-KEY-BYTES");
    write(source, "nginx/ssl/keystore.p12", "P12-KEY-BYTES");
}

fn backup(source: &Path, store: &Path, key: &Path, config: Option<&Path>) -> std::process::Output {
    let mut cmd = celeriac();
    cmd.args(["backup", "--source", source.to_str().unwrap()])
        .args(["--store", &format!("local:{}", store.display())])
        .args(["--key-file", key.to_str().unwrap(), "--json", "--quiet"]);
    if let Some(config) = config {
        cmd.args(["--config", config.to_str().unwrap()]);
    }
    output(&mut cmd)
}

fn restore(artifact: &str, key: &Path, to: &Path, secrets: bool) {
    let mut cmd = celeriac();
    cmd.args(["restore", artifact, "--key-file", key.to_str().unwrap()])
        .args(["--to", to.to_str().unwrap()]);
    if secrets {
        cmd.arg("--secrets");
    }
    let out = output(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn inline_and_whole_file_secrets_stay_out_of_the_main_archive() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    tree(&source);
    let key = dir.path().join("k");
    keygen(&key);
    let store = dir.path().join("copies");
    let out = backup(&source, &store, &key, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let suspected = report["collection"]["secrets_suspected"]
        .as_array()
        .unwrap();
    assert_eq!(
        suspected,
        &vec![
            serde_json::json!({"path": "app/settings.py", "line": 9, "why": "secret-looking-value"})
        ],
        "{report:#}"
    );
    let artifact = contents(&store)
        .into_iter()
        .map(|(p, _)| store.join(p).display().to_string())
        .find(|p| p.ends_with(".tar.gz.enc") && !p.ends_with(".secrets.tar.gz.enc"))
        .unwrap();

    let main = dir.path().join("main");
    restore(&artifact, &key, &main, false);
    let restored = contents(&main);
    for (path, bytes) in &restored {
        let text = String::from_utf8_lossy(bytes);
        for planted in PLANTED {
            assert!(
                !text.contains(planted),
                "{planted} is in main:{path}:\n{text}"
            );
        }
    }
    let main_file = |p: &str| {
        let (_, bytes) = restored
            .iter()
            .find(|(path, _)| path == p)
            .unwrap_or_else(|| {
                panic!(
                    "{p} not in main: {:?}",
                    restored.iter().map(|r| &r.0).collect::<Vec<_>>()
                )
            });
        String::from_utf8_lossy(bytes).into_owned()
    };
    let settings = main_file("app/settings.py");
    assert!(settings.contains("SECRET_KEY = '<redacted>'"), "{settings}");
    assert!(settings.contains("'NAME': 'app'"), "{settings}");
    let compose = main_file("docker-compose.yml");
    assert!(
        compose.contains("POSTGRES_PASSWORD: <redacted>"),
        "{compose}"
    );
    assert!(compose.contains("POSTGRES_DB: app"), "{compose}");
    assert!(compose.contains("- DEBUG=0"), "{compose}");
    assert!(main_file("k8s/web.yaml").contains("value: <redacted>"));
    assert_eq!(
        main_file("docker/web.conf"),
        "DEBUG=0\nDB_PASSWORD=<redacted>\n"
    );
    for whole in [
        "k8s/all.yaml",
        "postgresql/.pgpass",
        "nginx/htpasswd",
        "nginx/.netrc",
        "nginx/ssl/client.der",
        "nginx/ssl/keystore.p12",
    ] {
        assert!(
            restored.iter().all(|(p, _)| p != whole),
            "{whole} is in the main archive"
        );
    }

    // The secrets bundle holds every original, byte for byte.
    let secrets = dir.path().join("secrets");
    restore(&artifact, &key, &secrets, true);
    for (path, bytes) in contents(&secrets) {
        assert_eq!(std::fs::read(source.join(&path)).unwrap(), bytes, "{path}");
    }
    let in_secrets: Vec<String> = contents(&secrets).into_iter().map(|(p, _)| p).collect();
    for original in [
        "app/settings.py",
        "docker-compose.yml",
        "k8s/web.yaml",
        "k8s/all.yaml",
        "docker/web.conf",
        "postgresql/.pgpass",
        "nginx/htpasswd",
        "nginx/.netrc",
        "nginx/ssl/client.der",
        "nginx/ssl/keystore.p12",
    ] {
        assert!(
            in_secrets.iter().any(|p| p == original),
            "{original} not in secrets: {in_secrets:?}"
        );
    }
}

#[test]
fn on_suspected_secret_fail_refuses_to_publish() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    tree(&source);
    let key = dir.path().join("k");
    keygen(&key);
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[collect]\non-suspected-secret = \"fail\"\n").unwrap();
    let store = dir.path().join("copies");
    let out = backup(&source, &store, &key, Some(&config));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("app/settings.py:9"), "{err}");
    assert!(!err.contains("a8f5f167"), "the value is not printed: {err}");
    assert!(
        std::fs::read_dir(&store).map_or(true, |mut d| d.next().is_none()),
        "something was stored"
    );
}
