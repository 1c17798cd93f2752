//! The built-in collection rules and noise excludes (a data table; see the crate README).
//!
//! Rules are matched against the *archive path* (root prefix + path below the root), in order;
//! the first match names the category. `*` never crosses `/`; `**/` also matches nothing.

use super::Category;

/// Default rules, most specific first.
pub(super) const DEFAULT_RULES: &[(Category, &[&str])] = &[
    (
        Category::Postgres,
        &[
            "**/postgresql.conf",
            "**/pg_hba.conf",
            "**/init-db.sh",
            "**/init-wal-archive.sh",
            "**/docker/postgres/**",
        ],
    ),
    (
        Category::Docker,
        &[
            "**/docker-compose*.yml",
            "**/docker-compose*.yaml",
            "**/Dockerfile",
            "**/Dockerfile.*",
            "**/.dockerignore",
            "**/docker/**",
        ],
    ),
    (Category::Env, &["**/.env", "**/.env.*"]),
    (
        Category::Ssl,
        &[
            "**/*.pem",
            "**/*.crt",
            "**/*.key",
            "**/*.cert",
            "**/letsencrypt/live/**",
            "**/letsencrypt/archive/**",
            "**/letsencrypt/renewal/**",
        ],
    ),
    (
        Category::Nginx,
        &[
            "**/nginx.conf",
            "**/nginx/**/*.conf",
            "**/nginx/sites-available/*",
            "**/nginx/sites-enabled/*",
        ],
    ),
    (
        Category::Kubernetes,
        &[
            "**/k8s/**/*.yaml",
            "**/k8s/**/*.yml",
            "**/kubernetes/**/*.yaml",
            "**/kubernetes/**/*.yml",
            "**/manifests/**/*.yaml",
            "**/manifests/**/*.yml",
        ],
    ),
    (
        Category::Project,
        &[
            "**/requirements.txt",
            "**/requirements/*.txt",
            "**/pyproject.toml",
            "**/setup.cfg",
            "**/pytest.ini",
            "**/.pre-commit-config.yaml",
            "**/Makefile",
        ],
    ),
    (
        Category::Django,
        &["**/settings.py", "**/settings/*.py", "**/settings*.py"],
    ),
];

/// Default excludes: directories (pruned, never entered) and files that are noise.
pub(super) const DEFAULT_EXCLUDES: &[&str] = &[
    "**/node_modules",
    "**/.git",
    "**/.hg",
    "**/.svn",
    "**/media",
    "**/__pycache__",
    "**/venv",
    "**/.venv",
    "**/env/lib",
    "**/.tox",
    "**/.nox",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "**/site-packages",
    "**/staticfiles",
    "**/*.pyc",
    "**/*.pyo",
    "**/*.swp",
    "**/*~",
    "**/.DS_Store",
];
