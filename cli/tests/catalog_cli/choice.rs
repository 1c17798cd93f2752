//! Which catalog a command uses: the embedded default in a fresh home (created 0700, migrated),
//! an explicit PostgreSQL or SQLite URL (never migrated behind the operator's back), `[database]
//! url` as a value, a variable or a file; and `celeriac list` over each.

use std::os::unix::fs::PermissionsExt as _;

use celeriac_catalog::{BackupStatus, Catalog};
use celeriac_testkit::db::TestDatabase;
use serde_json::Value;

use crate::support::{celeriac, day, embedded_url, finished_row, fresh_home, run};

fn ids(stdout: &str) -> Vec<String> {
    let list: Value = serde_json::from_str(stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_embedded_catalog_is_created_private_migrated_and_listed() {
    let (_tmp, home) = fresh_home();
    let empty = run(celeriac(&home).args(["list", "--json"])).await;
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert_eq!(empty.stdout.trim(), "[]");
    let mode = std::fs::metadata(&home).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "CELERIAC_HOME must be owner-only");
    let text = run(celeriac(&home).arg("list")).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("no backups"), "{}", text.stdout);

    let catalog = Catalog::open(&embedded_url(&home)).await.unwrap();
    assert!(catalog.pending_migrations().await.unwrap().is_empty());
    let old = finished_row(&catalog, day(1), BackupStatus::Verified, 3).await;
    let failed = finished_row(&catalog, day(2), BackupStatus::Failed, 0).await;
    let new = finished_row(&catalog, day(3), BackupStatus::Verified, 7).await;
    catalog.close().await;

    let all = run(celeriac(&home).args(["list", "--json"])).await;
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(
        ids(&all.stdout),
        [new.to_string(), failed.to_string(), old.to_string()]
    );
    let first: Value = serde_json::from_str::<Value>(&all.stdout).unwrap()[0].clone();
    assert_eq!(first["status"], "VERIFIED");
    assert_eq!(first["size"], 4096);
    assert_eq!(first["files_collected"], 7);
    assert_eq!(first["trigger"], "SCHEDULE");
    assert_eq!(first["created_at"], "2026-12-03T02:00:00.000000Z");

    let verified =
        run(celeriac(&home).args(["list", "--json", "--status", "VERIFIED", "--limit", "1"])).await;
    assert_eq!(ids(&verified.stdout), [new.to_string()]);
    let text = run(celeriac(&home).args(["list", "--status", "FAILED"])).await;
    assert!(text.stdout.contains(&failed.to_string()), "{}", text.stdout);
    assert!(!text.stdout.contains(&new.to_string()), "{}", text.stdout);
    assert!(
        text.stdout.contains("2026-12-02 02:00:00"),
        "{}",
        text.stdout
    );

    let bad = run(celeriac(&home).args(["list", "--status", "DONE"])).await;
    assert_eq!(bad.code, 64, "{}", bad.stderr);
}

#[tokio::test]
async fn an_explicit_postgres_catalog_must_be_migrated_and_hides_its_password() {
    let (_tmp, home) = fresh_home();
    let db = TestDatabase::create().await;
    let with_password = db.url().replacen("postgres@", "postgres:s3cret-pw@", 1);
    assert_ne!(
        with_password,
        db.url(),
        "the test URL must carry a password"
    );

    let refused = run(celeriac(&home)
        .args(["list"])
        .env("CELERIAC_DATABASE_URL", &with_password))
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("celeriac migrate"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("not migrated"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("s3cret-pw"), "{}", refused.stderr);
    assert!(!home.exists(), "an explicit catalog needs no CELERIAC_HOME");

    let migrated = run(celeriac(&home).args(["migrate", "--database-url", &with_password])).await;
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    assert!(
        !migrated.stdout.contains("s3cret-pw"),
        "{}",
        migrated.stdout
    );
    let catalog = Catalog::open(db.url()).await.unwrap();
    let id = finished_row(&catalog, day(4), BackupStatus::Partial, 2).await;
    catalog.close().await;

    let listed =
        run(celeriac(&home).args(["list", "--json", "--database-url", &with_password])).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(ids(&listed.stdout), [id.to_string()]);
    assert!(!home.exists(), "an explicit catalog needs no CELERIAC_HOME");

    let unreachable = run(celeriac(&home).args([
        "list",
        "--database-url",
        "postgres://postgres:s3cret-pw@127.0.0.1:1/nowhere",
    ]))
    .await;
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    assert!(
        !unreachable.stderr.contains("s3cret-pw"),
        "{}",
        unreachable.stderr
    );
    let malformed =
        run(celeriac(&home).args(["list", "--database-url", "mysql://u:s3cret-pw@h/db"])).await;
    assert_eq!(malformed.code, 78, "{}", malformed.stderr);
    assert!(
        !malformed.stderr.contains("s3cret-pw"),
        "{}",
        malformed.stderr
    );
}

#[tokio::test]
async fn the_config_file_names_the_catalog_by_value_variable_or_file() {
    let (tmp, home) = fresh_home();
    let url = format!("sqlite://{}", tmp.path().join("configured.db").display());
    let migrated = run(celeriac(&home).args(["migrate", "--database-url", &url])).await;
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    let catalog = Catalog::open(&url).await.unwrap();
    let id = finished_row(&catalog, day(5), BackupStatus::Verified, 1).await;
    catalog.close().await;

    let config = tmp.path().join("celeriac.toml");
    std::fs::write(tmp.path().join("db.url"), format!("{url}\n")).unwrap();
    for section in [
        format!("[database]\nurl = \"{url}\"\n"),
        "[database]\nurl = { env = \"PLATFORM_DB\" }\n".to_owned(),
        "[database]\nurl = { file = \"db.url\" }\n".to_owned(),
    ] {
        std::fs::write(&config, &section).unwrap();
        let listed = run(celeriac(&home)
            .args(["list", "--json"])
            .env("CELERIAC_CONFIG", &config)
            .env("PLATFORM_DB", &url))
        .await;
        assert_eq!(listed.code, 0, "{section}: {}", listed.stderr);
        assert_eq!(ids(&listed.stdout), [id.to_string()], "{section}");
    }
    assert!(
        !home.exists(),
        "a configured catalog needs no CELERIAC_HOME"
    );

    // The flag wins over the file: an empty, unmigrated SQLite file.
    std::fs::create_dir_all(&home).unwrap();
    let flagged = run(celeriac(&home)
        .args(["list", "--json", "--database-url", &embedded_url(&home)])
        .env("CELERIAC_CONFIG", &config))
    .await;
    assert_eq!(flagged.code, 1, "{}", flagged.stderr);
    assert!(
        flagged.stderr.contains("not migrated"),
        "{}",
        flagged.stderr
    );

    std::fs::write(&config, "[database]\nurl = { env = \"UNSET_DB_VAR\" }\n").unwrap();
    let unset = run(celeriac(&home).args(["list", "--config"]).arg(&config)).await;
    assert_eq!(unset.code, 78, "{}", unset.stderr);
    assert!(unset.stderr.contains("UNSET_DB_VAR"), "{}", unset.stderr);
    std::fs::write(&config, "[database]\nuri = \"x\"\n").unwrap();
    let typo = run(celeriac(&home).args(["list", "--config"]).arg(&config)).await;
    assert_eq!(typo.code, 78, "{}", typo.stderr);
    assert!(typo.stderr.contains("uri"), "{}", typo.stderr);
}
