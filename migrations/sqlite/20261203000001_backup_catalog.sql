-- The backup catalog on SQLite (the embedded default), the same tables and constraints as
-- migrations/postgres. Storage follows Django's SQLite backend so the same models read it:
-- UUIDs as 32 hex digits, timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text, JSON as text.

CREATE TABLE backups_backup (
    id              char(32)     NOT NULL PRIMARY KEY
        CONSTRAINT backups_backup_id_check CHECK (length(id) = 32),
    backup_type     varchar(32)  NOT NULL DEFAULT 'CONFIGURATION'
        CONSTRAINT backups_backup_backup_type_check CHECK (backup_type IN ('CONFIGURATION')),
    tenant_id       bigint       NULL,
    filename        varchar(255) NOT NULL,
    status          varchar(20)  NOT NULL
        CONSTRAINT backups_backup_status_check
        CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'VERIFIED', 'PARTIAL', 'FAILED')),
    file_size       bigint       NOT NULL DEFAULT 0
        CONSTRAINT backups_backup_file_size_check CHECK (file_size >= 0),
    checksum        varchar(64)  NOT NULL DEFAULT '',
    key_id          varchar(64)  NOT NULL DEFAULT '',
    local_path      text         NOT NULL DEFAULT '',
    r2_path         text         NOT NULL DEFAULT '',
    b2_path         text         NOT NULL DEFAULT '',
    metadata        text         NOT NULL DEFAULT '{}'
        CONSTRAINT backups_backup_metadata_check
        CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    celery_task_id  varchar(255) NULL
        CONSTRAINT backups_backup_celery_task_id_key UNIQUE,
    "trigger"       varchar(16)  NOT NULL
        CONSTRAINT backups_backup_trigger_check CHECK ("trigger" IN ('SCHEDULE', 'MANUAL', 'CLI')),
    initiated_by_id bigint       NULL,
    error_message   text         NOT NULL DEFAULT '',
    created_at      text         NOT NULL,
    started_at      text         NULL,
    completed_at    text         NULL,
    verified_at     text         NULL
);

CREATE INDEX backups_backup_created_at_idx ON backups_backup (created_at DESC);
CREATE INDEX backups_backup_status_idx ON backups_backup (status, created_at DESC);

CREATE TABLE backups_backupcopy (
    id          integer      NOT NULL PRIMARY KEY AUTOINCREMENT,
    backup_id   char(32)     NOT NULL REFERENCES backups_backup (id) ON DELETE CASCADE,
    store_name  varchar(64)  NOT NULL,
    store_kind  varchar(16)  NOT NULL
        CONSTRAINT backups_backupcopy_store_kind_check CHECK (store_kind IN ('LOCAL', 'S3')),
    object_key  text         NOT NULL,
    size        bigint       NOT NULL DEFAULT 0
        CONSTRAINT backups_backupcopy_size_check CHECK (size >= 0),
    sha256      varchar(64)  NOT NULL DEFAULT '',
    status      varchar(16)  NOT NULL
        CONSTRAINT backups_backupcopy_status_check
        CHECK (status IN ('PENDING', 'STORED', 'VERIFIED', 'FAILED', 'CORRUPT', 'DELETED')),
    attempts    bigint       NOT NULL DEFAULT 0
        CONSTRAINT backups_backupcopy_attempts_check CHECK (attempts >= 0),
    error       text         NOT NULL DEFAULT '',
    created_at  text         NOT NULL,
    updated_at  text         NOT NULL,
    verified_at text         NULL,
    deleted_at  text         NULL,
    CONSTRAINT backups_backupcopy_backup_store_key UNIQUE (backup_id, store_name)
);

CREATE TABLE backups_backupalert (
    id          integer      NOT NULL PRIMARY KEY AUTOINCREMENT,
    alert_type  varchar(32)  NOT NULL
        CONSTRAINT backups_backupalert_alert_type_check
        CHECK (alert_type IN ('BACKUP_FAILURE', 'INTEGRITY_FAILURE', 'ACCESS_DENIED', 'BACKUP_MISSING')),
    severity    varchar(16)  NOT NULL
        CONSTRAINT backups_backupalert_severity_check CHECK (severity IN ('CRITICAL', 'WARNING', 'INFO')),
    backup_id   char(32)     NULL REFERENCES backups_backup (id) ON DELETE SET NULL,
    message     text         NOT NULL,
    details     text         NOT NULL DEFAULT '{}'
        CONSTRAINT backups_backupalert_details_check
        CHECK (json_valid(details) AND json_type(details) = 'object'),
    created_at  text         NOT NULL,
    resolved_at text         NULL
);

CREATE INDEX backups_backupalert_backup_idx ON backups_backupalert (backup_id);
CREATE INDEX backups_backupalert_open_idx ON backups_backupalert (created_at DESC) WHERE resolved_at IS NULL;
