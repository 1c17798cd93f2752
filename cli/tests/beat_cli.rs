//! `celeriac beat --list` through the binary: the default entry, entries from a config file in
//! their zones across a DST change, and configuration errors (exit 78).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::{Command, Output, Stdio};

fn celeriac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(args)
        .env_remove("CELERIAC_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn lists_the_default_entry_without_a_config_file() {
    let out = stdout(&celeriac(&[
        "beat",
        "--list",
        "--at",
        "2026-12-03T23:30:00Z",
    ]));
    assert_eq!(
        out,
        "configuration-backup-daily
  task      apps.backups.tasks.configuration_backup
  schedule  crontab \"0 4 * * *\" in UTC
  missed    grace 1h
  options   queue celery, priority 8
  next      2026-12-04 04:00:00 +00:00 UTC  (2026-12-04T04:00:00Z)
            2026-12-05 04:00:00 +00:00 UTC  (2026-12-05T04:00:00Z)
            2026-12-06 04:00:00 +00:00 UTC  (2026-12-06T04:00:00Z)
            2026-12-07 04:00:00 +00:00 UTC  (2026-12-07T04:00:00Z)
            2026-12-08 04:00:00 +00:00 UTC  (2026-12-08T04:00:00Z)
"
    );
}

#[test]
fn without_at_the_runs_are_the_next_five_from_now() {
    let before = chrono::Utc::now();
    let out = stdout(&celeriac(&["beat", "--list"]));
    let runs: Vec<chrono::DateTime<chrono::Utc>> = out
        .lines()
        .filter_map(|l| l.trim_end().strip_suffix("Z)"))
        .map(|l| format!("{}Z", &l[l.len() - 19..]).parse().unwrap())
        .collect();
    assert_eq!(runs.len(), 5, "{out}");
    assert!(runs[0] > before && runs[0] - before <= chrono::Duration::days(1));
    for pair in runs.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::days(1));
    }
}

#[test]
fn lists_entries_in_their_zones_across_a_dst_change() {
    let file = config(
        r#"
[worker]
concurrency = 2

[beat]
timezone = "Europe/Paris"

[beat.schedule.configuration-backup-daily]
task = "apps.backups.tasks.configuration_backup"
schedule = "30 2 * * *"
options = { priority = 8, expires = "2h" }

[beat.schedule.ny-report]
task = "apps.reports.daily"
schedule = "0 2 * * *"
timezone = "America/New_York"
missed = "all"
"#,
    );
    let path = file.path().to_str().unwrap();
    let out = stdout(&celeriac(&[
        "beat",
        "--list",
        "--config",
        path,
        "--at",
        "2026-03-06T12:00:00Z",
    ]));
    let paris_then_ny = "configuration-backup-daily
  task      apps.backups.tasks.configuration_backup
  schedule  crontab \"30 2 * * *\" in Europe/Paris
  missed    grace 1h
  options   queue celery, priority 8, expires 2h
  next      2026-03-07 02:30:00 +01:00 CET  (2026-03-07T01:30:00Z)
            2026-03-08 02:30:00 +01:00 CET  (2026-03-08T01:30:00Z)
            2026-03-09 02:30:00 +01:00 CET  (2026-03-09T01:30:00Z)
            2026-03-10 02:30:00 +01:00 CET  (2026-03-10T01:30:00Z)
            2026-03-11 02:30:00 +01:00 CET  (2026-03-11T01:30:00Z)
ny-report
  task      apps.reports.daily
  schedule  crontab \"0 2 * * *\" in America/New_York
  missed    all
  options   queue celery
  next      2026-03-07 02:00:00 -05:00 EST  (2026-03-07T07:00:00Z)
            2026-03-08 03:00:00 -04:00 EDT  (2026-03-08T07:00:00Z)
            2026-03-09 02:00:00 -04:00 EDT  (2026-03-09T06:00:00Z)
            2026-03-10 02:00:00 -04:00 EDT  (2026-03-10T06:00:00Z)
            2026-03-11 02:00:00 -04:00 EDT  (2026-03-11T06:00:00Z)
";
    assert_eq!(out, paris_then_ny);
    // Paris's own change, through the environment variable for the config file.
    let out = Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(["beat", "--list", "--at", "2026-03-28T12:00:00Z"])
        .env("CELERIAC_CONFIG", path)
        .output()
        .unwrap();
    let out = stdout(&out);
    assert!(
        out.contains("  next      2026-03-29 03:00:00 +02:00 CEST  (2026-03-29T01:00:00Z)\n"),
        "{out}"
    );
}

#[test]
fn configuration_errors_exit_78_and_name_the_key() {
    let file = config("[beat]\ntimezone = \"UTC\"\nqueue = \"celery\"\n");
    let out = celeriac(&["beat", "--list", "--config", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `queue`"), "{stderr}");

    let file = config("[beat.schedule.nightly]\ntask = \"t\"\nschedule = \"0 4 * * 8\"\n");
    let out = celeriac(&["beat", "--list", "--config", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[beat.schedule.nightly]: schedule: day_of_week: 8 is out of range 0-6"),
        "{stderr}"
    );

    let file = config("[beat]\ntimezone = \"Europe/Pariss\"\n");
    let out = celeriac(&["beat", "--list", "--config", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone \"Europe/Pariss\""));

    // A broker URL that does not parse is a configuration error at start, not a retry loop;
    // the URL (it may hold a password) is not echoed.
    let empty = config("");
    let out = celeriac(&[
        "beat",
        "--broker",
        "amqp://guest:s3cret@[bad",
        "--config",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid broker url"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn at_needs_list() {
    let out = celeriac(&["beat", "--at", "2026-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list"));
}

/// Messages ready in `queue`, through a passive declare on a fresh channel.
async fn ready(connection: &lapin::Connection, queue: &str) -> u32 {
    let channel = connection.create_channel().await.unwrap();
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, lapin::types::FieldTable::default())
        .await
        .map_or(0, |q| q.message_count())
}

/// Starts `celeriac beat --config FILE --broker URL` with its stderr captured (no catalog).
fn spawn_beat(config: &std::path::Path, broker: &str) -> tokio::process::Child {
    spawn_beat_on(config, broker, None)
}

/// Starts `celeriac beat --config FILE --broker URL [--database-url DB]` with its stderr
/// captured.
fn spawn_beat_on(
    config: &std::path::Path,
    broker: &str,
    database: Option<&str>,
) -> tokio::process::Child {
    let mut args = vec![
        "beat",
        "--config",
        config.to_str().unwrap(),
        "--broker",
        broker,
    ];
    if let Some(url) = database {
        args.extend(["--database-url", url]);
    }
    tokio::process::Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(args)
        .env_remove("CELERIAC_CONFIG")
        .env_remove("CELERIAC_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Sends SIGTERM and returns the exit status and everything beat logged.
async fn stop_beat(mut beat: tokio::process::Child) -> (std::process::ExitStatus, String) {
    let term = Command::new("kill")
        .args(["-TERM", &beat.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::timeout(std::time::Duration::from_mins(1), async {
        let status = beat.wait().await.unwrap();
        let mut stderr = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut beat.stderr.take().unwrap(), &mut stderr)
            .await
            .unwrap();
        (status, stderr)
    })
    .await
    .expect("beat exits after SIGTERM")
}

/// Waits (up to a minute) until `queue` holds `n` messages; false if it never does.
async fn wait_for_messages(connection: &lapin::Connection, queue: &str, n: u32) -> bool {
    tokio::time::timeout(std::time::Duration::from_mins(1), async {
        while ready(connection, queue).await < n {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .is_ok()
}

/// Takes every message from `queue`, checks its task, priority and kwargs, and maps its task id
/// back to the slot of `entry` it stands for (every whole second within `window` is a
/// candidate); panics on an id that is no such slot. Returns each slot with the `origin` header
/// (`gen<pid>@<host>`: which beat sent it).
async fn drain_slots(
    connection: &lapin::Connection,
    queue: &str,
    entry: &str,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    expect: (Option<u8>, &serde_json::Value),
) -> Vec<(chrono::DateTime<chrono::Utc>, String)> {
    use lapin::options::BasicGetOptions;
    use lapin::types::AMQPValue;

    let slots: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        (window.0.timestamp()..=window.1.timestamp())
            .map(|s| {
                let at = chrono::DateTime::from_timestamp(s, 0).unwrap();
                (
                    celeriac_scheduler::Slot::new(entry, at)
                        .task_id()
                        .to_string(),
                    at,
                )
            })
            .collect();
    let channel = connection.create_channel().await.unwrap();
    let mut seen = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let delivery = message.delivery;
        let headers = delivery.properties.headers().clone().unwrap();
        let text = |name: &str| match headers.inner().get(name) {
            Some(AMQPValue::LongString(s)) => String::from_utf8(s.as_bytes().to_vec()).unwrap(),
            other => panic!("header {name}: {other:?}"),
        };
        assert_eq!(text("task"), "apps.ping");
        assert_eq!(*delivery.properties.priority(), Some(expect.0.unwrap_or(0)));
        let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
        assert_eq!(&body[1], expect.1);
        let id = text("id");
        let at = slots.get(&id).unwrap_or_else(|| {
            panic!(
                "task id {id} is no slot of {entry} between {} and {}",
                window.0, window.1
            )
        });
        seen.push((*at, text("origin")));
    }
    seen
}

/// The slots of [`drain_slots`]'s answer.
fn slots_only(
    drained: Vec<(chrono::DateTime<chrono::Utc>, String)>,
) -> Vec<chrono::DateTime<chrono::Utc>> {
    drained.into_iter().map(|(at, _)| at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beat_publishes_each_slot_once_with_its_slot_id_and_stops_on_sigterm() {
    // missed = "all": a look delayed past the next second (a loaded test machine) still
    // publishes the slot it passed, so "every slot once" does not depend on timing.
    use celeriac_testkit::amqp::{self, TestQueues};

    let queues = TestQueues::new();
    let queue = queues.queue("beat-loop");
    let file = config(&format!(
        "[beat.schedule.tick]\ntask = \"apps.ping\"\nschedule = {{ every = \"1s\" }}\n\
         kwargs = {{ n = 1 }}\noptions = {{ queue = \"{queue}\", priority = 5 }}\n\
         missed = \"all\"\n"
    ));
    let start = chrono::Utc::now();
    let beat = spawn_beat(file.path(), &amqp::amqp_url());
    let connection = amqp::connect().await;
    let enough = wait_for_messages(&connection, &queue, 4).await;
    let (status, stderr) = stop_beat(beat).await;
    assert!(
        enough,
        "fewer than 4 messages in a minute; beat said:\n{stderr}"
    );
    assert!(status.success(), "beat exited with {status}:\n{stderr}");
    let end = chrono::Utc::now();

    // The first slot is the current second's (on time at start-up), so at most 1 s before start.
    let window = (start - chrono::Duration::seconds(1), end);
    let expect = (Some(5), &serde_json::json!({"n": 1}));
    let seen = slots_only(drain_slots(&connection, &queue, "tick", window, expect).await);
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(
        stderr.contains("no catalog database"),
        "beat did not say it runs alone:\n{stderr}"
    );
    for pair in seen.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "each slot once, in order: {seen:?}"
        );
    }
}

/// A broker outage over a slot (shorter than the interval, as for the nightly backup): the slot
/// is published once the broker is back, with its own task id, and no slot is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_over_a_slot_still_delivers_it_exactly_once() {
    use celeriac_testkit::amqp::{self, TestQueues};
    use celeriac_testkit::proxy::FaultProxy;

    let proxy = FaultProxy::start(amqp::broker_addr()).await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-outage");
    let file = config(&format!(
        "[beat.schedule.every10]\ntask = \"apps.ping\"\nschedule = {{ every = \"10s\" }}\n\
         options = {{ queue = \"{queue}\" }}\n"
    ));
    let start = chrono::Utc::now();
    let beat = spawn_beat(file.path(), &amqp::amqp_url_via(proxy.addr()));
    let connection = amqp::connect().await;
    let first = wait_for_messages(&connection, &queue, 1).await;
    // The broker goes away now and comes back 2 s after the next slot, well before the one after.
    proxy.set_refuse(true);
    proxy.cut_all();
    let now = chrono::Utc::now();
    let next_slot = chrono::DateTime::from_timestamp((now.timestamp() / 10 + 1) * 10, 0).unwrap();
    let back = next_slot - now + chrono::Duration::seconds(2);
    tokio::time::sleep(back.to_std().unwrap()).await;
    proxy.set_refuse(false);
    let after = wait_for_messages(&connection, &queue, 3).await;
    let (status, stderr) = stop_beat(beat).await;
    assert!(first && after, "messages missing; beat said:\n{stderr}");
    assert!(status.success(), "beat exited with {status}:\n{stderr}");
    assert!(
        stderr.contains("will retry") || stderr.contains("broker unavailable"),
        "the outage did not hit a publish:\n{stderr}"
    );
    let end = chrono::Utc::now();

    // The first slot is the current 10 s slot at start-up, so at most 10 s before start.
    let window = (start - chrono::Duration::seconds(10), end);
    let seen = slots_only(
        drain_slots(
            &connection,
            &queue,
            "every10",
            window,
            (None, &serde_json::json!({})),
        )
        .await,
    );
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.contains(&next_slot),
        "the slot during the outage: {seen:?}\n{stderr}"
    );
    for pair in seen.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(10),
            "every slot once, none lost: {seen:?}\n{stderr}"
        );
    }
}

/// A `tick` entry every second on `queue`, every missed slot fired (`missed = "all"`), so a
/// restart or a failover must fill its gap and "each slot once" does not depend on timing.
fn every_second(queue: &str) -> tempfile::NamedTempFile {
    every_second_missed(queue, "all")
}

/// A `tick` entry every second on `queue` with the missed-slot policy `missed`.
fn every_second_missed(queue: &str, missed: &str) -> tempfile::NamedTempFile {
    config(&format!(
        "[beat.schedule.tick]\ntask = \"apps.ping\"\nschedule = {{ every = \"1s\" }}\n\
         kwargs = {{ n = 1 }}\noptions = {{ queue = \"{queue}\" }}\nmissed = \"{missed}\"\n"
    ))
}

/// Asserts every slot in `seen` appears once and they follow each other second by second.
fn assert_each_second_once(seen: &[chrono::DateTime<chrono::Utc>], stderr: &str) {
    let mut sorted = seen.to_vec();
    sorted.sort();
    for pair in sorted.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "each slot exactly once, none skipped: {sorted:?}\n{stderr}"
        );
    }
}

/// The `origin` header of a beat process.
fn origin_of(beat: &tokio::process::Child) -> String {
    format!("gen{}@", beat.id().unwrap())
}

/// Waits until `at`, a wall-clock instant.
async fn sleep_until(at: chrono::DateTime<chrono::Utc>) {
    if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// Two beats on one PostgreSQL catalog: only the leader publishes; after `kill -9` of the
/// leader the other takes over within seconds and fills the gap; every slot is on the queue
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_beats_on_postgres_publish_each_slot_once_and_fail_over_after_kill_9() {
    use celeriac_testkit::amqp::{self, TestQueues};
    use celeriac_testkit::db::TestDatabase;

    let db = TestDatabase::create_migrated(&celeriac_catalog::POSTGRES_MIGRATOR).await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-failover");
    let file = every_second(&queue);
    let start = chrono::Utc::now();
    let mut first = spawn_beat_on(file.path(), &amqp::amqp_url(), Some(db.url()));
    let connection = amqp::connect().await;
    assert!(
        wait_for_messages(&connection, &queue, 2).await,
        "the first beat published nothing"
    );
    let second = spawn_beat_on(file.path(), &amqp::amqp_url(), Some(db.url()));
    let (first_origin, second_origin) = (origin_of(&first), origin_of(&second));
    // Both run side by side for a while; then the leader dies half-way between two slots
    // (it publishes a few milliseconds after each whole second).
    let now = chrono::Utc::now();
    let kill_at = chrono::DateTime::from_timestamp(now.timestamp() + 4, 500_000_000).unwrap();
    sleep_until(kill_at).await;
    let before_kill = ready(&connection, &queue).await;
    let killed = Command::new("kill")
        .args(["-KILL", &first.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let killed_at = chrono::Utc::now();
    first.wait().await.unwrap();
    // The other beat publishes again within seconds.
    let resumed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while ready(&connection, &queue).await <= before_kill {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        chrono::Utc::now()
    })
    .await;
    // A few more slots from the new leader.
    let more = wait_for_messages(&connection, &queue, before_kill + 4).await;
    let (status, stderr) = stop_beat(second).await;
    let mut first_stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut first.stderr.take().unwrap(), &mut first_stderr)
        .await
        .unwrap();
    let resumed = resumed.unwrap_or_else(|_| {
        panic!("no failover within 10 s; second beat said:\n{stderr}\nfirst:\n{first_stderr}")
    });
    assert!(more, "the new leader stopped publishing:\n{stderr}");
    assert!(status.success(), "beat exited with {status}:\n{stderr}");
    let failover = resumed - killed_at;
    eprintln!("failover after kill -9: {} ms", failover.num_milliseconds());
    assert!(
        failover < chrono::Duration::seconds(5),
        "failover took {failover}:\n{stderr}"
    );

    let window = (start - chrono::Duration::seconds(1), chrono::Utc::now());
    let expect = (None, &serde_json::json!({"n": 1}));
    let seen = drain_slots(&connection, &queue, "tick", window, expect).await;
    for (at, origin) in &seen {
        // Before the kill only the first beat published; the second only from its takeover.
        let by_first = origin.starts_with(&first_origin);
        let by_second = origin.starts_with(&second_origin);
        assert!(by_first || by_second, "unknown origin {origin}");
        if by_second {
            assert!(
                *at > kill_at - chrono::Duration::seconds(1),
                "the follower published slot {at} while the leader was alive: {seen:?}"
            );
        } else {
            assert!(*at < killed_at, "{seen:?}");
        }
    }
    assert!(seen.iter().any(|(_, o)| o.starts_with(&second_origin)));
    let slots = slots_only(seen);
    assert_eq!(slots.len(), distinct_slots(&slots), "{slots:?}");
    assert_each_second_once(&slots, &stderr);
    assert!(
        stderr.contains("following: another beat leads"),
        "the second beat did not say it follows:\n{stderr}"
    );
    assert!(stderr.contains("beat: leading"), "{stderr}");
    assert!(first_stderr.contains("beat: leading"), "{first_stderr}");
    // The catalog holds the last slot published, with its task id.
    let catalog = celeriac_catalog::Catalog::open(db.url()).await.unwrap();
    let stored = catalog.beat_entry("tick").await.unwrap().unwrap();
    let last = *slots.iter().max().unwrap();
    assert_eq!(stored.last_slot, last);
    assert_eq!(
        stored.last_task_id.as_deref(),
        Some(
            &*celeriac_scheduler::Slot::new("tick", last)
                .task_id()
                .to_string()
        )
    );
    catalog.close().await;
}

/// The number of distinct slots (a duplicate shows as fewer than the messages).
fn distinct_slots(slots: &[chrono::DateTime<chrono::Utc>]) -> usize {
    slots
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// A migrated SQLite catalog in a temp dir: the catalog, its URL and the dir (removed on drop).
async fn sqlite_catalog() -> (celeriac_catalog::Catalog, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let catalog = celeriac_catalog::Catalog::open(&url).await.unwrap();
    catalog.migrate().await.unwrap();
    (catalog, url, dir)
}

/// Runs one beat on the catalog at `url` until `queue` holds `more` messages beyond what it
/// holds now, stops it with SIGTERM and returns what it logged (panicking if it fell short or
/// failed).
async fn run_beat_for(
    file: &std::path::Path,
    url: &str,
    connection: &lapin::Connection,
    queue: &str,
    more: u32,
) -> String {
    let count = ready(connection, queue).await;
    let beat = spawn_beat_on(file, &celeriac_testkit::amqp::amqp_url(), Some(url));
    let enough = wait_for_messages(connection, queue, count + more).await;
    let (status, stderr) = stop_beat(beat).await;
    assert!(enough && status.success(), "{status}:\n{stderr}");
    stderr
}

/// Drains the `tick` slots (kwargs `{"n": 1}`) published since `start` and checks none is
/// there twice.
async fn drain_ticks(
    connection: &lapin::Connection,
    queue: &str,
    start: chrono::DateTime<chrono::Utc>,
) -> Vec<chrono::DateTime<chrono::Utc>> {
    let window = (start - chrono::Duration::seconds(1), chrono::Utc::now());
    let expect = (None, &serde_json::json!({"n": 1}));
    let slots = slots_only(drain_slots(connection, queue, "tick", window, expect).await);
    assert_eq!(
        slots.len(),
        distinct_slots(&slots),
        "a slot twice: {slots:?}"
    );
    slots
}

/// A beat stopped and started again on its catalog (SQLite here) publishes the slots that
/// passed while it was down once each (`missed = "all"`) and repeats none it had published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_beat_neither_repeats_nor_skips_a_slot() {
    use celeriac_testkit::amqp::{self, TestQueues};

    let (catalog, url, _dir) = sqlite_catalog().await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-restart");
    let file = every_second(&queue);
    let start = chrono::Utc::now();
    let connection = amqp::connect().await;
    run_beat_for(file.path(), &url, &connection, &queue, 3).await;
    let recorded = catalog.beat_entry("tick").await.unwrap().unwrap();
    // Down over at least two slots.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let stderr = run_beat_for(file.path(), &url, &connection, &queue, 5).await;
    assert!(
        stderr.contains("resuming after the recorded last slot"),
        "{stderr}"
    );
    let slots = drain_ticks(&connection, &queue, start).await;
    assert_each_second_once(&slots, &stderr);
    assert!(
        slots.iter().filter(|s| **s > recorded.last_slot).count() >= 5,
        "the second run published after the recorded slot: {slots:?}"
    );
    let stored = catalog.beat_entry("tick").await.unwrap().unwrap();
    assert_eq!(stored.last_slot, *slots.iter().max().unwrap());
    catalog.close().await;
}

/// On a SQLite catalog one beat runs: a second one says so and publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_beat_on_a_sqlite_catalog_does_not_publish() {
    use celeriac_testkit::amqp::{self, TestQueues};

    let (catalog, url, _dir) = sqlite_catalog().await;
    catalog.close().await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-sqlite");
    let file = every_second(&queue);
    let start = chrono::Utc::now();
    let connection = amqp::connect().await;
    let first = spawn_beat_on(file.path(), &amqp::amqp_url(), Some(&url));
    assert!(wait_for_messages(&connection, &queue, 1).await);
    let second = spawn_beat_on(file.path(), &amqp::amqp_url(), Some(&url));
    let second_origin = origin_of(&second);
    let count = ready(&connection, &queue).await;
    let enough = wait_for_messages(&connection, &queue, count + 3).await;
    let (status2, stderr2) = stop_beat(second).await;
    let (status1, stderr1) = stop_beat(first).await;
    assert!(enough, "the first beat stopped publishing:\n{stderr1}");
    assert!(
        status1.success() && status2.success(),
        "{stderr1}\n{stderr2}"
    );
    assert!(
        stderr2.contains("another beat already runs on this SQLite catalog"),
        "the second beat did not say why it waits:\n{stderr2}"
    );
    assert!(!stderr2.contains("beat: published"), "{stderr2}");
    let window = (start - chrono::Duration::seconds(1), chrono::Utc::now());
    let expect = (None, &serde_json::json!({"n": 1}));
    let seen = drain_slots(&connection, &queue, "tick", window, expect).await;
    assert!(
        seen.iter().all(|(_, o)| !o.starts_with(&second_origin)),
        "the second beat published: {seen:?}"
    );
    assert_each_second_once(&slots_only(seen), &stderr1);
}

/// Restarted under `missed = "skip"`, beat publishes none of the slots it was down over, says
/// how many it skipped and counts them in the catalog; it repeats nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_beat_under_skip_logs_and_records_what_it_skipped() {
    use celeriac_testkit::amqp::{self, TestQueues};

    let (catalog, url, _dir) = sqlite_catalog().await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-skip");
    let file = every_second_missed(&queue, "skip");
    let start = chrono::Utc::now();
    let connection = amqp::connect().await;
    run_beat_for(file.path(), &url, &connection, &queue, 2).await;
    let stopped = catalog.beat_entry("tick").await.unwrap().unwrap();
    // Down for a little over three slots.
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    let stderr = run_beat_for(file.path(), &url, &connection, &queue, 2).await;
    let slots = drain_ticks(&connection, &queue, start).await;
    let stored = catalog.beat_entry("tick").await.unwrap().unwrap();
    assert!(stored.last_slot > stopped.last_slot);
    let first_after = *slots
        .iter()
        .filter(|s| **s > stopped.last_slot)
        .min()
        .unwrap();
    let gap = (first_after - stopped.last_slot).num_seconds();
    // Slots found less than ON_TIME (60 s) late count as on time, so only the latest one
    // fires and the ones before it are skipped: the gap's slots but the last.
    assert!(gap >= 3, "no slot was passed over: {slots:?}\n{stderr}");
    let skipped = u64::try_from(gap - 1).unwrap();
    assert!(
        stderr.contains("missed slots skipped by policy"),
        "beat did not log the skip:\n{stderr}"
    );
    assert!(
        stored.skipped_total >= skipped,
        "skipped {skipped} but recorded {stored:?}"
    );
    catalog.close().await;
}

/// The leader pulls the dead man's switch: on a catalog with no `VERIFIED` backup it raises one
/// `BACKUP_MISSING` alert (not one per tick, not one per restart while the gap lasts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leading_beat_raises_backup_missing_once_per_gap() {
    use celeriac_catalog::{AlertFilter, AlertType};
    use celeriac_testkit::amqp::{self, TestQueues};

    let (catalog, url, _dir) = sqlite_catalog().await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-watchdog");
    let file = every_second(&queue);
    let connection = amqp::connect().await;
    let missing = || async {
        catalog
            .alerts(AlertFilter {
                backup_id: None,
                open_only: true,
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.alert_type == AlertType::BackupMissing)
            .count()
    };
    // Two stints of several ticks each.
    let stderr = run_beat_for(file.path(), &url, &connection, &queue, 3).await;
    assert!(stderr.contains("BACKUP_MISSING raised"), "{stderr}");
    assert_eq!(missing().await, 1);
    let stderr = run_beat_for(file.path(), &url, &connection, &queue, 3).await;
    assert!(
        !stderr.contains("BACKUP_MISSING raised"),
        "raised again: {stderr}"
    );
    assert_eq!(missing().await, 1);
    catalog.close().await;
}
