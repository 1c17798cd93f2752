//! The `[beat]` section: defaults, every key, and errors that name the entry and key at fault.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use celeriac_scheduler::{BeatConfig, ConfigError, MissedPolicy, Schedule, Tz};
use chrono::Duration;
use serde_json::json;

fn err(text: &str) -> String {
    BeatConfig::from_toml(text).unwrap_err().to_string()
}

#[test]
fn no_beat_section_means_the_default_backup_entry() {
    let config = BeatConfig::from_toml("[worker]\nconcurrency = 2\n").unwrap();
    assert_eq!(config.timezone, Tz::UTC);
    assert_eq!(config.entries.len(), 1);
    let e = &config.entries[0];
    assert_eq!(e.name, "configuration-backup-daily");
    assert_eq!(e.task.as_str(), "apps.backups.tasks.configuration_backup");
    assert!(matches!(&e.schedule, Schedule::Crontab(c) if c.as_str() == "0 4 * * *"));
    assert_eq!(e.options.priority, Some(8));
    assert_eq!(e.missed, MissedPolicy::Grace(Duration::hours(1)));
    assert_eq!(config, BeatConfig::default());
    // The scheduler's zone applies to the default entry.
    let paris = BeatConfig::from_toml("[beat]\ntimezone = \"Europe/Paris\"\n").unwrap();
    assert_eq!(paris.entries[0].timezone, Tz::Europe__Paris);
}

#[test]
fn reads_every_key() {
    let config = BeatConfig::from_toml(
        r#"
        [beat]
        timezone = "America/New_York"

        [beat.schedule.sync]
        task = "apps.sync"
        schedule = { every = "90s" }
        args = [1, "two"]
        kwargs = { full = true }
        options = { queue = "ops", exchange = "ops", routing_key = "sync", priority = 3, expires = 600 }
        missed = "all"

        [beat.schedule.report]
        task = "apps.report"
        schedule = "0 7 * * mon-fri"
        timezone = "Europe/Paris"
        grace = "6h"
        "#,
    )
    .unwrap();
    assert_eq!(config.timezone, Tz::America__New_York);
    let [report, sync] = &config.entries[..] else {
        panic!("two entries")
    };
    assert_eq!(report.name, "report");
    assert_eq!(report.timezone, Tz::Europe__Paris);
    assert_eq!(report.missed, MissedPolicy::Grace(Duration::hours(6)));
    assert_eq!(sync.timezone, Tz::America__New_York);
    assert!(matches!(&sync.schedule, Schedule::Every(e) if e.duration() == Duration::seconds(90)));
    assert_eq!(sync.args, [json!(1), json!("two")]);
    assert_eq!(json!(sync.kwargs), json!({"full": true}));
    assert_eq!(sync.options.queue.as_deref(), Some("ops"));
    assert_eq!(sync.options.exchange.as_deref(), Some("ops"));
    assert_eq!(sync.options.routing_key.as_deref(), Some("sync"));
    assert_eq!(sync.options.priority, Some(3));
    assert_eq!(sync.options.expires, Some(Duration::minutes(10)));
    assert_eq!(sync.missed, MissedPolicy::All);
}

#[test]
fn an_empty_schedule_table_means_no_entries() {
    let config = BeatConfig::from_toml("[beat.schedule]\n").unwrap();
    assert!(config.entries.is_empty());
}

#[test]
fn refuses_unknown_keys_in_beat() {
    let message = err("[beat]\ntimezon = \"UTC\"\n");
    assert!(message.contains("timezon"), "{message}");
    let message = err("[beat.schedule.x]\ntask = \"t\"\nschedule = \"* * * * *\"\nqueue = \"q\"\n");
    assert!(message.contains("queue"), "{message}");
    let message = err(
        "[beat.schedule.x]\ntask = \"t\"\nschedule = \"* * * * *\"\noptions = { countdown = 5 }\n",
    );
    assert!(message.contains("countdown"), "{message}");
}

#[test]
fn errors_name_the_entry_and_what_is_wrong() {
    let message = err("[beat.schedule.nightly]\ntask = \"t\"\nschedule = \"0 25 * * *\"\n");
    assert_eq!(
        message,
        "[beat.schedule.nightly]: schedule: hour: 25 is out of range 0-23"
    );
    let message = err(
        "[beat.schedule.nightly]\ntask = \"t\"\nschedule = \"0 4 * * *\"\ntimezone = \"Mars/Olympus\"\n",
    );
    assert!(
        message.contains("[beat.schedule.nightly] timezone") && message.contains("Mars/Olympus"),
        "{message}"
    );
    assert!(err("[beat]\ntimezone = \"CEST\"\n").contains("unknown time zone \"CEST\""));
    assert!(matches!(
        BeatConfig::from_toml("[beat.schedule.n]\ntask = \"t\"\nschedule = { every = \"0s\" }\n"),
        Err(ConfigError::Duration { key: "every", .. })
    ));
    assert!(matches!(
        BeatConfig::from_toml("[beat.schedule.n]\ntask = \"t\"\nschedule = { cron = \"x\" }\n"),
        Err(ConfigError::ScheduleShape { .. })
    ));
    assert!(matches!(
        BeatConfig::from_toml("[beat.schedule.n]\nschedule = \"* * * * *\"\n"),
        Err(ConfigError::Task { .. })
    ));
    assert!(matches!(
        BeatConfig::from_toml(
            "[beat.schedule.n]\ntask = \"t\"\nschedule = \"* * * * *\"\noptions = { priority = 300 }\n"
        ),
        Err(ConfigError::Priority { value: 300, .. })
    ));
    assert!(matches!(
        BeatConfig::from_toml(
            "[beat.schedule.n]\ntask = \"t\"\nschedule = \"* * * * *\"\nmissed = \"skip\"\ngrace = \"1h\"\n"
        ),
        Err(ConfigError::GraceWithoutGracePolicy { .. })
    ));
    assert!(
        err("[beat.schedule.n]\ntask = \"t\"\nschedule = \"* * * * *\"\nmissed = \"later\"\n")
            .contains("later")
    );
}

#[test]
fn metrics_listen_is_an_address() {
    assert_eq!(BeatConfig::default().metrics_listen, None);
    let config = BeatConfig::from_toml("[beat]\nmetrics-listen = \"0.0.0.0:9809\"\n").unwrap();
    assert_eq!(config.metrics_listen, Some("0.0.0.0:9809".parse().unwrap()));
    let message = err("[beat]\nmetrics-listen = \"beat:9809\"\n");
    assert!(
        message.contains("metrics-listen") && message.contains("beat:9809"),
        "{message}"
    );
}
