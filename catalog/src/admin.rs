//! The administrator check of a manual run: one configurable query with one bound parameter
//! (the platform user id) that answers "is this user an active platform administrator?".
//! The default reads Django's `auth_user`; a platform with its own user model sets its own.

use crate::catalog::{Catalog, dispatch};
use crate::error::CatalogError;

/// Django's user table: an active superuser is an administrator.
pub const DEFAULT_ADMIN_QUERY: &str =
    "SELECT (is_active AND is_superuser) AS is_admin FROM auth_user WHERE id = $1";

/// A validated administrator query: it binds exactly one parameter, `$1` (the user id), and
/// returns no row for an unknown user or one row whose first column is a boolean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminQuery(String);

impl AdminQuery {
    /// Checks that `sql` uses the placeholder `$1` and no other (`$2`, `?`).
    ///
    /// # Errors
    /// [`CatalogError::InvalidAdminQuery`] naming what is wrong.
    pub fn new(sql: impl Into<String>) -> Result<AdminQuery, CatalogError> {
        let sql = sql.into();
        let invalid = |why: &'static str| CatalogError::InvalidAdminQuery { why };
        if !sql.contains("$1") {
            return Err(invalid("it must bind the user id as $1"));
        }
        let mut rest = sql.as_str();
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && digits != "1" {
                return Err(invalid("it must bind exactly one parameter, $1"));
            }
        }
        if sql.contains('?') {
            return Err(invalid("use $1, not ?, for the user id"));
        }
        if sql.contains(';') {
            return Err(invalid("it must be a single statement"));
        }
        Ok(AdminQuery(sql))
    }

    /// The SQL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AdminQuery {
    fn default() -> Self {
        AdminQuery(DEFAULT_ADMIN_QUERY.to_owned())
    }
}

/// What the administrator query said about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminVerdict {
    /// An active administrator: the run may go ahead.
    Admin,
    /// A known user who is not an active administrator.
    NotAdmin,
    /// No such user.
    Unknown,
}

impl AdminVerdict {
    /// Why a manual run by this user is refused (`None` for an administrator).
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            AdminVerdict::Admin => None,
            AdminVerdict::NotAdmin => Some("the user is not an active platform administrator"),
            AdminVerdict::Unknown => Some("no platform user has this id"),
        }
    }
}

impl Catalog {
    /// Runs `query` for `user_id`.
    ///
    /// # Errors
    /// [`CatalogError::Query`] when the query fails (a missing `auth_user` table, a lost
    /// connection: [`CatalogError::is_transient`] tells them apart).
    pub async fn check_admin(
        &self,
        query: &AdminQuery,
        user_id: i64,
    ) -> Result<AdminVerdict, CatalogError> {
        let answer: Option<bool> = dispatch!(self, |pool, C| {
            sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(query.as_str().to_owned()))
                .bind(user_id)
                .fetch_optional(pool)
                .await
                .map_err(|e| CatalogError::query("check administrator", e))?
        });
        Ok(match answer {
            Some(true) => AdminVerdict::Admin,
            Some(false) => AdminVerdict::NotAdmin,
            None => AdminVerdict::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_binds_exactly_dollar_one() {
        assert!(AdminQuery::new(DEFAULT_ADMIN_QUERY).is_ok());
        for bad in [
            "SELECT true FROM auth_user",
            "SELECT true FROM auth_user WHERE id = $1 AND x = $2",
            "SELECT true FROM auth_user WHERE id = ?",
            "SELECT true FROM auth_user WHERE id = $1; DROP TABLE auth_user",
        ] {
            assert!(AdminQuery::new(bad).is_err(), "{bad}");
        }
    }
}
