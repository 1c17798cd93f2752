//! The built-in collection rules and noise excludes (a data table; documented in
//! `docs/backup.md`, "What is collected").
//!
//! Rules are matched against the *archive path* (root prefix + path below the root) and against
//! the *named path* (the root's own directory name + path below the root), so a root such as
//! `/etc/nginx` is recognised by its name. `*` never crosses `/`; `**/` also matches nothing.
//!
//! Precedence: the config file's own rules first (in their order), then the [`SPECIFIC`] rules
//! (file names and shapes: the most specific category wins), then the [`BROAD`] rules ("every
//! config-looking file under a `docker/` folder"), which leave out [`NOT_CONFIG`] files.

use crate::manifest::Category;

/// One group of built-in patterns naming a category, with patterns that veto a match.
pub(super) struct DefaultRule {
    pub(super) category: Category,
    pub(super) globs: &'static [&'static str],
    pub(super) unless: &'static [&'static str],
}

const fn rule(category: Category, globs: &'static [&'static str]) -> DefaultRule {
    DefaultRule {
        category,
        globs,
        unless: &[],
    }
}

/// Rules that name a file by its own name or shape, tried in this order.
pub(super) const SPECIFIC: &[DefaultRule] = &[
    rule(
        Category::Postgres,
        &[
            "**/postgresql.conf",
            "**/pg_hba.conf",
            "**/pg_ident.conf",
            "**/init-db.sh",
            "**/init-wal-archive.sh",
        ],
    ),
    rule(
        Category::Docker,
        &[
            // The Compose specification's names, then the legacy ones.
            "**/compose.yaml",
            "**/compose.yml",
            "**/compose.*.yaml",
            "**/compose.*.yml",
            "**/docker-compose*.yml",
            "**/docker-compose*.yaml",
            "**/Dockerfile",
            "**/Dockerfile.*",
            "**/Dockerfile-*",
            "**/*.Dockerfile",
            "**/*.dockerfile",
            "**/.dockerignore",
        ],
    ),
    rule(
        Category::Env,
        &[
            "**/.env",
            "**/.env.*",
            "**/*.env",
            "**/*.env.{example,sample,template,dist}",
            "**/.envs/**",
        ],
    ),
    rule(
        Category::Ssl,
        &[
            "**/*.pem",
            "**/*.crt",
            "**/*.key",
            "**/*.cert",
            "**/letsencrypt/live/**",
            "**/letsencrypt/archive/**",
            "**/letsencrypt/renewal/**",
            "**/letsencrypt/*.conf",
            "**/letsencrypt/*.ini",
        ],
    ),
    rule(
        Category::Nginx,
        &[
            "**/nginx.conf",
            "**/nginx/**/*.conf",
            "**/nginx/**/*.conf.template",
            "**/nginx/mime.types",
            "**/nginx/*_params",
            "**/nginx/sites-available/*",
            "**/nginx/sites-enabled/*",
        ],
    ),
    rule(
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
    rule(
        Category::Project,
        &[
            "**/requirements*.txt",
            "**/requirements*.in",
            "**/requirements/*.txt",
            "**/requirements/*.in",
            "**/pyproject.toml",
            "**/setup.cfg",
            "**/pytest.ini",
            "**/.pre-commit-config.yaml",
            "**/Makefile",
        ],
    ),
    DefaultRule {
        category: Category::Django,
        globs: &[
            "**/settings.py",
            "**/settings*.py",
            "**/*_settings.py",
            "**/settings/**/*.py",
        ],
        // A migration named `0042_settings.py` is not a settings module.
        unless: &["**/migrations/**"],
    },
];

/// Folder-wide rules, tried only when no specific rule matched; they never take a
/// [`NOT_CONFIG`] file.
pub(super) const BROAD: &[DefaultRule] = &[
    DefaultRule {
        category: Category::Postgres,
        globs: &[
            "**/docker/postgres/**",
            "**/docker/postgresql/**",
            "**/postgresql/**",
        ],
        unless: NOT_CONFIG,
    },
    DefaultRule {
        category: Category::Nginx,
        globs: &["**/nginx/**"],
        unless: NOT_CONFIG,
    },
    DefaultRule {
        category: Category::Docker,
        // `compose/` is cookiecutter-django's folder of Dockerfiles, entrypoints and proxies.
        globs: &["**/docker/**", "**/compose/**"],
        unless: NOT_CONFIG,
    },
];

/// What a folder-wide rule leaves out: source code, web assets, documents, media, archives,
/// binaries and databases. Scripts (`*.sh`), SQL and extension-less files stay: entrypoints and
/// init scripts are part of a deployment's configuration.
pub(super) const NOT_CONFIG: &[&str] = &[
    // source code
    "**/*.{py,pyi,pyx,php,js,mjs,cjs,ts,tsx,jsx,vue,svelte,go,rs,java,kt,scala,class,jar,war}",
    "**/*.{c,h,cc,cpp,hpp,cs,rb,swift,m,ipynb}",
    // web assets and documents
    "**/*.{html,htm,css,scss,sass,less,map,md,rst,pdf,doc,docx,odt,xls,xlsx,csv}",
    // media and fonts
    "**/*.{png,jpg,jpeg,gif,ico,svg,webp,bmp,tif,tiff,mp3,mp4,wav,ogg,webm,mov,avi}",
    "**/*.{woff,woff2,ttf,otf,eot}",
    // archives, binaries, databases, logs
    "**/*.{zip,tar,gz,tgz,bz2,xz,zst,7z,rar,whl,egg,so,a,o,dylib,dll,exe,bin}",
    "**/*.{sqlite,sqlite3,db,log,pid,sock,pyc,pyo}",
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

/// File names that look like configuration: what a dry run lists when no rule took them.
pub(super) const CONFIG_LOOKING: &[&str] = &[
    "**/*.{conf,cnf,cfg,ini,toml,yml,yaml,properties,env,conf.template}",
    "**/*{config,conf,settings}*.{xml,json}",
    "**/{Caddyfile,Procfile,.htaccess,crontab,supervisord.conf}",
];
