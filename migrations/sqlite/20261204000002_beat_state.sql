-- Beat's state on SQLite, the same table as migrations/postgres: per schedule entry, the last
-- slot handled (published, or skipped by the missed-slot policy), forward only
-- (catalog/src/beat.rs). Timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text, which sorts as
-- time does.

CREATE TABLE celeriac_beat_entry (
    name          varchar(200) NOT NULL PRIMARY KEY,
    last_slot     text         NOT NULL,
    last_task_id  varchar(36)  NULL,
    last_skipped  bigint       NOT NULL DEFAULT 0
        CONSTRAINT celeriac_beat_entry_last_skipped_check CHECK (last_skipped >= 0),
    skipped_total bigint       NOT NULL DEFAULT 0
        CONSTRAINT celeriac_beat_entry_skipped_total_check CHECK (skipped_total >= 0),
    updated_at    text         NOT NULL
);
