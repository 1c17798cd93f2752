//! Where the test services live (env vars with the test script's defaults) and the loud failure
//! when one of them is missing.
//!
//! A test that needs a service never skips: it panics with a message naming the service, where
//! it was looked for and how to start it, so a run without services is red, not falsely green.

use std::error::Error;

/// The command that starts every service the tests need and prints their env vars.
pub const START_HINT: &str = "start the test services with `scripts/test --services` \
     (and export what it prints), or run the tests through `scripts/test`";

/// Reads `name` from the environment, or returns `default` (the test script's value) when unset.
///
/// # Panics
/// If the variable is set but is not valid UTF-8.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) => value,
        Err(std::env::VarError::NotPresent) => default.to_owned(),
        Err(std::env::VarError::NotUnicode(_)) => panic!("{name} is set but is not valid UTF-8"),
    }
}

/// Fails the current test because `service` could not be used at `address`.
///
/// The message names the service, the address, the cause (with its `source()` chain) and how
/// to start the services. `address` must not contain secrets (see [`redact_url`]).
///
/// # Panics
/// Always; that is its job.
#[track_caller]
pub fn unavailable(service: &str, address: &str, cause: &dyn Error) -> ! {
    panic!(
        "required test service unavailable: {service} at {address}: {}\n\
         hint: {START_HINT}",
        celeriac_error_chain::error_chain(cause)
    )
}

/// Returns `url` with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(
            redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_url("http://127.0.0.1:9101"), "http://127.0.0.1:9101");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db",
            "an @ inside the password is still hidden"
        );
    }
}
