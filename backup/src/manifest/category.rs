//! [`Category`]: the kind of configuration a file belongs to. Recorded in every manifest entry's
//! classification, named by every collection rule, counted in the report; it lives here, below
//! the configuration and the write path that use it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of configuration a file belongs to; every rule names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Compose files, Dockerfiles, everything under `docker/`.
    Docker,
    /// `.env` files and `.env.example`.
    Env,
    /// nginx configuration.
    Nginx,
    /// Certificates and keys, Let's Encrypt trees.
    Ssl,
    /// Kubernetes manifests.
    Kubernetes,
    /// PostgreSQL configuration and init scripts.
    Postgres,
    /// Python project metadata and tooling config.
    Project,
    /// Django settings modules.
    Django,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Docker => "docker",
            Self::Env => "env",
            Self::Nginx => "nginx",
            Self::Ssl => "ssl",
            Self::Kubernetes => "kubernetes",
            Self::Postgres => "postgres",
            Self::Project => "project",
            Self::Django => "django",
        })
    }
}
