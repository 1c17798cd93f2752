-- Beat's state: per schedule entry, the last slot handled (published, or skipped by the
-- missed-slot policy), so a restarted beat or a new leader neither repeats nor skips a slot
-- (docs/beat.md). Written only by the beat leader, forward only (catalog/src/beat.rs); Django
-- does not read it.

CREATE TABLE celeriac_beat_entry (
    name          varchar(200) NOT NULL PRIMARY KEY,
    last_slot     timestamptz  NOT NULL,
    last_task_id  varchar(36)  NULL,
    last_skipped  bigint       NOT NULL DEFAULT 0
        CONSTRAINT celeriac_beat_entry_last_skipped_check CHECK (last_skipped >= 0),
    skipped_total bigint       NOT NULL DEFAULT 0
        CONSTRAINT celeriac_beat_entry_skipped_total_check CHECK (skipped_total >= 0),
    updated_at    timestamptz  NOT NULL
);

COMMENT ON COLUMN celeriac_beat_entry.last_slot IS 'latest slot handled: published or skipped';
COMMENT ON COLUMN celeriac_beat_entry.last_task_id IS 'task id of last_slot when it was published';
COMMENT ON COLUMN celeriac_beat_entry.last_skipped IS 'slots the missed-slot policy skipped in the last decision';
COMMENT ON COLUMN celeriac_beat_entry.skipped_total IS 'slots skipped by the missed-slot policy, all decisions';
