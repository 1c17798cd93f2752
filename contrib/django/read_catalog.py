"""Reads one backup and the alerts from a celeriac catalog through the Django ORM and prints
what it found as JSON (used by cli/tests/migrate_cli.rs).

usage: CELERIAC_DJANGO_DATABASE_URL=URL python read_catalog.py BACKUP_ID
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")

import django  # noqa: E402

django.setup()

from django.db import IntegrityError, connection, transaction  # noqa: E402

from backups.models import Backup, BackupAlert, BackupCopy  # noqa: E402


def iso(t):
    return None if t is None else t.isoformat()


def column_drift():
    """Per table: columns the database has that the model does not map, and the reverse."""
    drift = {}
    with connection.cursor() as cursor:
        for model in (Backup, BackupCopy, BackupAlert):
            table = model._meta.db_table
            in_db = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            in_model = {f.column for f in model._meta.concrete_fields}
            drift[table] = {
                "unmapped": sorted(in_db - in_model),
                "missing": sorted(in_model - in_db),
            }
    return drift


def main(backup_id):
    b = Backup.objects.get(id=backup_id)
    out = {
        "id": str(b.id),
        "status": b.status,
        "status_display": b.get_status_display(),
        "backup_type": b.backup_type,
        "trigger": b.trigger,
        "filename": b.filename,
        "file_size": b.file_size,
        "size_mb": b.get_size_mb(),
        "checksum": b.checksum,
        "key_id": b.key_id,
        "paths": [b.local_path, b.r2_path, b.b2_path],
        "files_collected": b.metadata["files_collected"],
        "file_categories": b.metadata["file_categories"],
        "metadata_keys": sorted(b.metadata),
        "metadata_null_keys": sorted(k for k, v in b.metadata.items() if v is None),
        "celery_task_id": b.celery_task_id,
        "initiated_by_id": b.initiated_by_id,
        "tenant_id": b.tenant_id,
        "created_at": iso(b.created_at),
        "started_at": iso(b.started_at),
        "completed_at": iso(b.completed_at),
        "verified_at": iso(b.verified_at),
        "copies": [
            [c.store_name, c.store_kind, c.status, c.attempts, c.size]
            for c in b.copies.all()
        ],
        "copy_keys": {c.store_name: c.object_key for c in b.copies.all()},
        "verified_count": Backup.objects.filter(status=Backup.Status.VERIFIED).count(),
        "newest_first": [str(x.id) for x in Backup.objects.all()],
        "alerts": [
            [
                a.alert_type,
                a.severity,
                None if a.backup_id is None else str(a.backup_id),
                a.message,
                a.details,
                iso(a.resolved_at),
            ]
            for a in BackupAlert.objects.all()
        ],
        "alerts_of_backup": b.alerts.count(),
        "column_drift": column_drift(),
    }
    try:
        with transaction.atomic():
            Backup.objects.filter(id=b.id).update(status="BOGUS")
        out["bogus_status"] = "accepted"
    except IntegrityError:
        out["bogus_status"] = "refused"
    out["status_after_bogus"] = Backup.objects.get(id=b.id).status
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
