//! Which files the default rules take on layouts real projects use: Compose spec names,
//! Dockerfile / requirements / settings variants, roots recognised by their own name, the most
//! specific category winning over "everything in docker/", env files and samples told apart,
//! and the config-looking files no rule took. Each layout is built here from the names alone.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use celeriac_backup::CollectSpec;
use celeriac_backup::internals::RawCollectConfig;
use celeriac_backup::internals::RawRoot;
use celeriac_backup::internals::{Category, Classification};
use celeriac_backup::internals::{Collection, EntryKind, collect};

use crate::fixture::collect_dir;

/// Writes `files` (path, content) under `root`.
fn tree(root: &Path, files: &[(&str, &str)]) -> Result<()> {
    for (path, content) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(())
}

/// Collected files of both bundles: path -> (category, in main as, in secrets).
fn placed(c: &Collection) -> BTreeMap<String, (Category, Option<Classification>, bool)> {
    let mut out = BTreeMap::new();
    for e in c.main.iter().filter(|e| e.kind != EntryKind::Dir) {
        let category = e.category.expect("files have a category");
        out.insert(
            e.path.to_string(),
            (category, Some(e.classification), false),
        );
    }
    for e in c.secrets.iter().filter(|e| e.kind != EntryKind::Dir) {
        let category = e.category.expect("files have a category");
        out.entry(e.path.to_string())
            .or_insert((category, None, true))
            .2 = true;
    }
    out
}

fn categories(c: &Collection) -> BTreeMap<String, Category> {
    placed(c).into_iter().map(|(p, (c, _, _))| (p, c)).collect()
}

fn expect(c: &Collection, expected: &[(&str, Category)]) {
    let got = categories(c);
    let want: BTreeMap<String, Category> = expected
        .iter()
        .map(|(p, c)| ((*p).to_owned(), *c))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn compose_spec_names_are_docker_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            ("compose.yaml", "services: {}\n"),
            ("compose.override.yml", "services: {}\n"),
            ("compose.prod.yaml", "services: {}\n"),
            ("nginx-flask/compose.yml", "services: {}\n"),
            ("otel/compose.minimal.yml", "services: {}\n"),
            ("docker-compose.dev.yaml", "services: {}\n"),
            ("composer.json", "{}\n"),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    expect(
        &c,
        &[
            ("compose.override.yml", Category::Docker),
            ("compose.prod.yaml", Category::Docker),
            ("compose.yaml", Category::Docker),
            ("docker-compose.dev.yaml", Category::Docker),
            ("nginx-flask/compose.yml", Category::Docker),
            ("otel/compose.minimal.yml", Category::Docker),
        ],
    );
    Ok(())
}

#[test]
fn dockerfile_requirements_and_settings_variants() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            ("Dockerfile-minikube", "FROM x\n"),
            ("android.Dockerfile", "FROM x\n"),
            ("test/Dockerfile-nginx-proxy-tester", "FROM x\n"),
            ("build/Dockerfile.prod", "FROM x\n"),
            ("requirements-dev.txt", "pytest\n"),
            ("requirements.example.txt", "django\n"),
            ("requirements.in", "django\n"),
            ("requirements/base.in", "django\n"),
            ("requirements/prod.txt", "gunicorn\n"),
            ("proj/test_settings.py", "DEBUG = False\n"),
            ("proj/local_settings.py", "DEBUG = True\n"),
            ("proj/settings/env/prod.py", "DEBUG = False\n"),
            ("proj/settings/__init__.py", ""),
            ("app/migrations/0002_site_settings.py", "# a migration\n"),
            ("app/migrations/settings.py", "# not settings\n"),
            ("app/views.py", "# code\n"),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    expect(
        &c,
        &[
            ("Dockerfile-minikube", Category::Docker),
            ("android.Dockerfile", Category::Docker),
            ("build/Dockerfile.prod", Category::Docker),
            ("proj/local_settings.py", Category::Django),
            ("proj/settings/__init__.py", Category::Django),
            ("proj/settings/env/prod.py", Category::Django),
            ("proj/test_settings.py", Category::Django),
            ("requirements-dev.txt", Category::Project),
            ("requirements.example.txt", Category::Project),
            ("requirements.in", Category::Project),
            ("requirements/base.in", Category::Project),
            ("requirements/prod.txt", Category::Project),
            ("test/Dockerfile-nginx-proxy-tester", Category::Docker),
        ],
    );
    Ok(())
}

#[test]
fn a_root_is_recognised_by_its_own_name() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            ("etc/nginx/nginx.conf", "events {}\n"),
            ("etc/nginx/mime.types", "types {}\n"),
            ("etc/nginx/fastcgi_params", "fastcgi_param X y;\n"),
            ("etc/nginx/conf.d/default.conf", "server {}\n"),
            ("etc/nginx/h5bp/security/x-frame.conf", "add_header X y;\n"),
            ("etc/nginx/sites-available/site", "server {}\n"),
            ("etc/nginx/html/index.html", "<html></html>\n"),
            ("deploy/manifests/app/deployment.yaml", "kind: Deployment\n"),
            ("deploy/manifests/kustomization.yml", "resources: []\n"),
            ("deploy/manifests/README.md", "docs\n"),
            ("etc/postgresql/15/main/postgresql.conf", "port = 5432\n"),
            ("etc/postgresql/15/main/pg_ident.conf", "# map\n"),
            ("etc/postgresql/15/main/start.conf", "auto\n"),
            ("etc/postgresql/15/main/environment", "# env\n"),
        ],
    )?;
    let nginx = collect_dir(&dir.path().join("etc/nginx"))?;
    expect(
        &nginx,
        &[
            ("conf.d/default.conf", Category::Nginx),
            ("fastcgi_params", Category::Nginx),
            ("h5bp/security/x-frame.conf", Category::Nginx),
            ("mime.types", Category::Nginx),
            ("nginx.conf", Category::Nginx),
            ("sites-available/site", Category::Nginx),
        ],
    );
    let manifests = collect_dir(&dir.path().join("deploy/manifests"))?;
    expect(
        &manifests,
        &[
            ("app/deployment.yaml", Category::Kubernetes),
            ("kustomization.yml", Category::Kubernetes),
        ],
    );
    let postgres = collect_dir(&dir.path().join("etc/postgresql"))?;
    expect(
        &postgres,
        &[
            ("15/main/environment", Category::Postgres),
            ("15/main/pg_ident.conf", Category::Postgres),
            ("15/main/postgresql.conf", Category::Postgres),
            ("15/main/start.conf", Category::Postgres),
        ],
    );
    // The same directory as one of two roots (prefix = its name) gives the same set.
    let spec = CollectSpec::try_from(RawCollectConfig {
        roots: vec![
            RawRoot::new(dir.path().join("etc/nginx")),
            RawRoot::new(dir.path().join("deploy/manifests")),
        ],
        ..Default::default()
    })?;
    let both = categories(&collect(&spec)?);
    assert_eq!(both.len(), 8, "{both:?}");
    assert_eq!(both.get("nginx/mime.types"), Some(&Category::Nginx));
    Ok(())
}

#[test]
fn the_most_specific_category_wins_inside_docker() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            ("docker/nginx/default.conf", "server {}\n"),
            ("docker/nginx/index.php", "<?php echo 1;\n"),
            ("docker/nginx/logo.png", "png"),
            ("docker/nginx/certs/server.key", "not really a key\n"),
            ("docker/django/.env.example", "DEBUG=False\n"),
            ("docker/django/entrypoint", "#!/bin/sh\nexec \"$@\"\n"),
            ("docker/django/start.sh", "#!/bin/sh\n"),
            ("docker/django/app.py", "print(1)\n"),
            ("docker/postgres/init.sql", "create table t ();\n"),
            ("docker/postgres/certs/server.crt", "cert\n"),
            ("docker/redis/redis.conf", "port 6379\n"),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    expect(
        &c,
        &[
            ("docker/django/.env.example", Category::Env),
            ("docker/django/entrypoint", Category::Docker),
            ("docker/django/start.sh", Category::Docker),
            ("docker/nginx/certs/server.key", Category::Ssl),
            ("docker/nginx/default.conf", Category::Nginx),
            ("docker/postgres/certs/server.crt", Category::Ssl),
            ("docker/postgres/init.sql", Category::Postgres),
            ("docker/redis/redis.conf", Category::Docker),
        ],
    );
    let placed = placed(&c);
    assert_eq!(
        placed["docker/nginx/certs/server.key"],
        (Category::Ssl, None, true),
        "a *.key goes to the secrets bundle only"
    );
    Ok(())
}

#[test]
fn env_files_samples_and_lookalikes_are_told_apart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            (".env", "SECRET_KEY=abc\n"),
            (".env.production", "SECRET_KEY=abc\n"),
            ("postgres.env", "POSTGRES_PASSWORD=abc\n"),
            (".envs/.production/.django", "DJANGO_SECRET_KEY=abc\n"),
            (".env.sample", "SECRET_KEY=change-me\nDEBUG=False\n"),
            (".env.local-sample", "SECRET_KEY=\n"),
            ("prod.env.example", "SECRET_KEY=change-me\n"),
            (
                ".env.template",
                "GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
            ),
            (".env.patch", "-SECRET_KEY=old\n+SECRET_KEY=new\n"),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    let got = placed(&c);
    let sanitized = (Category::Env, Some(Classification::Sanitized), true);
    let verbatim = (Category::Env, Some(Classification::Plain), false);
    let secrets_only = (Category::Env, None, true);
    let want = BTreeMap::from([
        (".env".to_owned(), sanitized),
        (".env.production".to_owned(), sanitized),
        ("postgres.env".to_owned(), sanitized),
        (".envs/.production/.django".to_owned(), sanitized),
        (".env.sample".to_owned(), verbatim),
        (".env.local-sample".to_owned(), verbatim),
        ("prod.env.example".to_owned(), verbatim),
        // A sample holding a secret-looking value is handled as a real env file.
        (".env.template".to_owned(), sanitized),
        // Not env lines: never parsed, kept whole and only in the secrets bundle.
        (".env.patch".to_owned(), secrets_only),
    ]);
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn config_looking_files_no_rule_took_are_listed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            ("docker-compose.yml", "services: {}\n"),
            ("redis/redis.conf", "port 6379\n"),
            ("clickhouse/config.xml", "<clickhouse/>\n"),
            ("relay/config.yml", "relay: {}\n"),
            ("clickhouse/data.xml", "<rows/>\n"),
            ("src/app.py", "print(1)\n"),
            ("node_modules/pkg/settings.yml", "x: 1\n"),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    assert_eq!(c.left_out.count, 3);
    assert_eq!(
        c.left_out.paths,
        [
            "clickhouse/config.xml",
            "redis/redis.conf",
            "relay/config.yml"
        ]
    );
    Ok(())
}

#[test]
fn kubernetes_objects_are_found_by_content_in_folders_of_any_name() -> Result<()> {
    let dir = tempfile::tempdir()?;
    tree(
        dir.path(),
        &[
            (
                "web/guestbook/frontend-deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frontend\n",
            ),
            (
                "AI/serving/secret.yml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\ndata:\n  t: eA==\n",
            ),
            (".github/workflows/ci.yml", "on: push\njobs: {}\n"),
            ("helm/values.yaml", "replicaCount: 1\nkind: web\n"),
            (
                "compose/production/traefik/traefik.yml",
                "entryPoints: {}\n",
            ),
        ],
    )?;
    let c = collect_dir(dir.path())?;
    let got = placed(&c);
    let want = BTreeMap::from([
        (
            "AI/serving/secret.yml".to_owned(),
            (Category::Kubernetes, None, true),
        ),
        (
            "compose/production/traefik/traefik.yml".to_owned(),
            (Category::Docker, Some(Classification::Plain), false),
        ),
        (
            "web/guestbook/frontend-deployment.yaml".to_owned(),
            (Category::Kubernetes, Some(Classification::Plain), false),
        ),
    ]);
    assert_eq!(got, want);
    assert_eq!(
        c.left_out.paths,
        [".github/workflows/ci.yml", "helm/values.yaml"]
    );
    Ok(())
}

/// `evil` stays inside lexically, but the kernel follows `up` before applying the `..` after
/// it, and lands outside the root: collection leaves it out with the reason.
#[test]
fn a_link_that_escapes_through_another_link_is_left_out() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("project");
    tree(&root, &[("docker/x.conf", "x\n")])?;
    std::fs::create_dir_all(root.join("docker/a/b/c"))?;
    std::os::unix::fs::symlink("../../../../docker", root.join("docker/a/b/c/up"))?;
    std::os::unix::fs::symlink(
        "up/../../../../../docker/x.conf",
        root.join("docker/a/b/c/evil"),
    )?;
    std::os::unix::fs::symlink("../../../x.conf", root.join("docker/a/b/c/fine"))?;
    let c = collect_dir(&root)?;
    let got = placed(&c);
    assert!(got.contains_key("docker/a/b/c/fine"), "{got:?}");
    assert!(!got.contains_key("docker/a/b/c/evil"), "{got:?}");
    let skip = c
        .skipped
        .iter()
        .find(|s| s.path.ends_with("docker/a/b/c/evil"))
        .expect("evil is a recorded skip");
    assert_eq!(
        skip.reason,
        celeriac_backup::internals::SkipReason::Symlink {
            problem: celeriac_backup::internals::LinkProblem::EscapesThroughLinks
        }
    );
    Ok(())
}
