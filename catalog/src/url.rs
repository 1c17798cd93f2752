//! [`CatalogUrl`]: which database the catalog lives in, parsed once from a URL.

use std::fmt;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::CatalogError;

/// A parsed catalog location: `postgres://…` / `postgresql://…` or `sqlite://PATH`
/// (`sqlite:PATH`, `sqlite::memory:`). Display and Debug redact the password.
#[derive(Clone)]
pub enum CatalogUrl {
    /// A PostgreSQL database.
    Postgres(PgConnectOptions),
    /// A SQLite file, created when missing.
    Sqlite(SqliteConnectOptions),
}

impl CatalogUrl {
    /// Parses `url`.
    pub fn parse(url: &str) -> Result<CatalogUrl, CatalogError> {
        let redacted = redact(url);
        let invalid = |source| CatalogError::InvalidUrl {
            url: redacted.clone(),
            source,
        };
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => PgConnectOptions::from_str(url)
                .map(CatalogUrl::Postgres)
                .map_err(invalid),
            Some("sqlite") => SqliteConnectOptions::from_str(url)
                .map(|o| CatalogUrl::Sqlite(o.create_if_missing(true)))
                .map_err(invalid),
            _ => Err(CatalogError::UnsupportedUrl { url: redacted }),
        }
    }

    /// Which backend (`postgres` or `sqlite`).
    pub fn backend(&self) -> &'static str {
        match self {
            CatalogUrl::Postgres(_) => "postgres",
            CatalogUrl::Sqlite(_) => "sqlite",
        }
    }
}

impl FromStr for CatalogUrl {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CatalogUrl::parse(s)
    }
}

impl fmt::Display for CatalogUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogUrl::Postgres(o) => write!(
                f,
                "postgres://{}@{}:{}/{}",
                o.get_username(),
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or_default()
            ),
            CatalogUrl::Sqlite(o) => write!(f, "sqlite://{}", o.get_filename().display()),
        }
    }
}

impl fmt::Debug for CatalogUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CatalogUrl({self})")
    }
}

/// `url` with the password of its user-info part (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_display_or_errors() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/platform"),
            "postgres://app:***@db:5432/platform"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        let url = CatalogUrl::parse("postgres://app:s3cret@db:5433/platform").expect("valid");
        assert_eq!(url.to_string(), "postgres://app@db:5433/platform");
        assert!(!format!("{url:?}").contains("s3cret"));
        let err = CatalogUrl::parse("mysql://app:s3cret@db/platform").expect_err("unsupported");
        assert!(matches!(err, CatalogError::UnsupportedUrl { .. }));
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn schemes_pick_the_backend() {
        let pg = CatalogUrl::parse("postgresql://postgres@127.0.0.1/x").expect("valid");
        assert_eq!(pg.backend(), "postgres");
        let lite = CatalogUrl::parse("sqlite:///tmp/celeriac-catalog.db").expect("valid");
        assert_eq!(lite.backend(), "sqlite");
        assert_eq!(lite.to_string(), "sqlite:///tmp/celeriac-catalog.db");
        for bad in ["", "catalog.db", "/tmp/catalog.db", "http://x/y"] {
            assert!(
                matches!(
                    CatalogUrl::parse(bad),
                    Err(CatalogError::UnsupportedUrl { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_malformed_postgres_url_is_a_typed_error() {
        let err = CatalogUrl::parse("postgres://app:pw@db:notaport/x").expect_err("bad port");
        assert!(matches!(err, CatalogError::InvalidUrl { .. }), "{err:?}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}
