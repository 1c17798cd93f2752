//! `celeriac-test-worker`: the worker library with the built-in tasks plus test-only tasks
//! (flaky, always failing, sleeping, typed failures...), run as a real process so the
//! integration tests can SIGKILL or SIGTERM it. Never shipped; configured by environment:
//! `CELERIAC_BROKER_URL`, `CELERIAC_QUEUES` (comma-separated), `CELERIAC_CONCURRENCY`,
//! `CELERIAC_CONFIG` (a TOML file), `CELERIAC_METRICS_LISTEN`, `RUST_LOG`.

use std::process::ExitCode;
use std::time::Duration;

use celeriac_worker::{
    Config, Failure, Overrides, RawConfig, Registry, RegistryError, TaskError, TaskOptions, Worker,
    task_fn,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "test worker failed: {}",
                celeriac_error_chain::error_chain(err.as_ref())
            );
            ExitCode::from(1)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).ok();
    let raw = match env("CELERIAC_CONFIG") {
        Some(path) => RawConfig::from_toml(&std::fs::read_to_string(path)?)?,
        None => RawConfig::default(),
    };
    let overrides = Overrides {
        broker_url: env("CELERIAC_BROKER_URL"),
        queues: env("CELERIAC_QUEUES").map(|q| q.split(',').map(str::to_owned).collect()),
        concurrency: env("CELERIAC_CONCURRENCY").map(|c| c.parse()).transpose()?,
        metrics_listen: env("CELERIAC_METRICS_LISTEN"),
        hostname: Some(
            env("CELERIAC_HOSTNAME").unwrap_or_else(|| "celeriac-test@localhost".to_owned()),
        ),
        ..Overrides::default()
    };
    let config = Config::from_parts(raw, overrides)?;
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        if celeriac_worker::wait_for_signals(signals).await.is_ok() {
            std::process::exit(130);
        }
    });
    Worker::new(config, registry()?)?.run(shutdown).await?;
    Ok(())
}

fn registry() -> Result<Registry, RegistryError> {
    let mut r = Registry::with_builtins();
    r.register(task_fn(
        "tests.add",
        TaskOptions::default(),
        |_, a| async move { Ok(json!(a.arg::<i64>(0)? + a.arg::<i64>(1)?)) },
    ))?;
    r.register(task_fn(
        "tests.echo",
        TaskOptions::default(),
        |_, a| async move { Ok(json!({"args": a.args, "kwargs": a.kwargs})) },
    ))?;
    r.register(task_fn(
        "tests.now",
        TaskOptions::default(),
        |_, _| async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Ok(json!(now.as_secs_f64()))
        },
    ))?;
    r.register(task_fn(
        "tests.fail",
        TaskOptions::default(),
        |_, a| async move {
            let message: String = a.arg(0)?;
            Err(TaskError::Fail(Failure::new(
                "BackupFailed",
                "celeriac.tests",
                message,
            )))
        },
    ))?;
    r.register(task_fn(
        "tests.fail_builtin",
        TaskOptions::default(),
        |_, a| async move {
            let message: String = a.arg(0)?;
            Err(TaskError::builtin("ValueError", message))
        },
    ))?;
    r.register(task_fn(
        "tests.flaky",
        TaskOptions::default(),
        |ctx, _| async move {
            if ctx.retries() < 2 {
                let cause =
                    Failure::builtin("RuntimeError", format!("flaky attempt {}", ctx.retries()));
                return Err(TaskError::retry_in(Duration::from_millis(200), Some(cause)));
            }
            Ok(json!({"retries": ctx.retries()}))
        },
    ))?;
    let two_retries = TaskOptions {
        max_retries: Some(2),
        ..TaskOptions::default()
    };
    r.register(task_fn(
        "tests.always_fails",
        two_retries,
        |ctx, _| async move {
            let cause = Failure::builtin(
                "ValueError",
                format!("still broken after {} retries", ctx.retries()),
            );
            Err(TaskError::retry_in(Duration::from_millis(100), Some(cause)))
        },
    ))?;
    r.register(task_fn(
        "tests.sleep",
        TaskOptions::default(),
        |_, a| async move {
            let secs: f64 = a.arg(0)?;
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Ok(Value::from("slept"))
        },
    ))?;
    r.register(task_fn(
        "tests.sleep_blocking",
        TaskOptions::default(),
        |ctx, a| async move {
            let secs: f64 = a.arg(0)?;
            ctx.blocking(move |_| std::thread::sleep(Duration::from_secs_f64(secs)))
                .await?;
            Ok(Value::from("slept"))
        },
    ))?;
    r.register(task_fn(
        "tests.wait_cancel",
        TaskOptions::default(),
        |ctx, _| async move {
            ctx.cancellation().cancelled().await;
            Ok(Value::from("stopped at the soft time limit"))
        },
    ))?;
    Ok(r)
}
