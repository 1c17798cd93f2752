//! Network faults under `celeriac backup`: a connection to R2 cut mid-upload is retried and the
//! copy completes; a B2 that stays down gives a PARTIAL report (exit 2) naming it while the other
//! copies are complete and verified.

use std::time::Duration;

use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::S3Server;

use crate::run::stderr;
use crate::tree::sample_copy;
use crate::world::{S3Store, World, copy};

const PATIENCE: Duration = Duration::from_mins(2);

fn addr(server: &S3Server) -> std::net::SocketAddr {
    let host = server.endpoint().trim_start_matches("http://");
    host.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b2_that_stays_down_gives_a_partial_report_naming_it() {
    let source = sample_copy();
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let proxy = FaultProxy::start(addr(&b2)).await;
    let s3 = vec![
        S3Store::new("r2", &r2, &r2).await,
        S3Store::new("b2", &b2, &b2.via(proxy.addr())).await,
    ];
    let w = World::new(s3, &[]);
    let local = format!("local:{}", w.path("local").display());
    proxy.set_refuse(true);
    let (out, report) = tokio::time::timeout(
        PATIENCE,
        w.backup(
            source.path(),
            &["--store", &local, "--store", "s3:r2", "--store", "s3:b2"],
        ),
    )
    .await
    .expect("the backup ends although b2 stays down");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(report["status"], "PARTIAL");
    let incomplete: Vec<&str> = report["stores"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["complete"] == false)
        .map(|s| s["store"].as_str().unwrap())
        .collect();
    assert_eq!(incomplete, ["b2"]);
    for bundle in ["main", "secrets"] {
        for store in ["local", "r2"] {
            assert_eq!(copy(&report, bundle, store)["verified"], true);
        }
        let down = copy(&report, bundle, "b2");
        assert_eq!(down["verified"], false, "{down:#}");
        assert!(
            down["error"]["message"].as_str().unwrap().contains("b2"),
            "{down:#}"
        );
    }
    assert!(proxy.stats().refused > 0);
    assert!(
        stderr(&out).contains("copy in b2 FAILED"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r2_connection_cut_mid_upload_is_retried_and_the_copy_completes() {
    let source = sample_copy();
    let r2 = S3Server::r2();
    let proxy = FaultProxy::start(addr(&r2)).await;
    let s3 = vec![S3Store::new("r2", &r2, &r2.via(proxy.addr())).await];
    let w = World::new(s3, &[]);
    let local = format!("local:{}", w.path("local").display());
    // Every connection is cut after 3000 bytes (the artifact is larger) until the first cut.
    proxy.cut_after_bytes(Some(3000));
    let child = w
        .command(&[
            "backup",
            "--json",
            "--source",
            source.path().to_str().unwrap(),
            "--key-file",
            w.key.to_str().unwrap(),
            "--store",
            &local,
            "--store",
            "s3:r2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::timeout(PATIENCE, proxy.wait_until(|s| s.cut >= 1))
        .await
        .expect("an upload connection was cut");
    proxy.cut_after_bytes(None);
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the backup ends")
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "VERIFIED");
    assert_eq!(copy(&report, "main", "r2")["verified"], true);
    assert!(proxy.stats().cut >= 1);
}
