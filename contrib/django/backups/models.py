"""Django models for the backup catalog that celeriac writes.

celeriac owns the schema: `celeriac migrate` creates these tables (migrations/postgres/ and
migrations/sqlite/ in the celeriac repository), so every model here is `managed = False` and
Django never migrates them. The choices match the CHECK constraints of those migrations and the
enums of the celeriac-catalog crate; docs/catalog.md describes every column.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Backup(models.Model):
    """One backup run (`backups_backup`)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        IN_PROGRESS = "IN_PROGRESS", "In progress"
        COMPLETED = "COMPLETED", "Completed"
        VERIFIED = "VERIFIED", "Verified"
        PARTIAL = "PARTIAL", "Partial"
        FAILED = "FAILED", "Failed"

    class BackupType(models.TextChoices):
        CONFIGURATION = "CONFIGURATION", "Configuration"

    class Trigger(models.TextChoices):
        SCHEDULE = "SCHEDULE", "Schedule"
        MANUAL = "MANUAL", "Manual"
        CLI = "CLI", "Command line"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    backup_type = models.CharField(
        max_length=32, choices=BackupType.choices, default=BackupType.CONFIGURATION
    )
    tenant_id = models.BigIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    file_size = models.BigIntegerField(default=0, help_text="bytes")
    checksum = models.CharField(max_length=64, blank=True, default="", help_text="SHA-256 hex")
    key_id = models.CharField(max_length=64, blank=True, default="")
    local_path = models.TextField(blank=True, default="")
    r2_path = models.TextField(blank=True, default="")
    b2_path = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    celery_task_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    error_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        managed = False
        db_table = "backups_backup"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.filename} ({self.status})"

    def get_size_mb(self):
        """The stored artifact's size in MB (1024 * 1024 bytes), two decimals."""
        return round((self.file_size or 0) / (1024 * 1024), 2)


class BackupCopy(models.Model):
    """One copy of a backup in one store (`backups_backupcopy`)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        STORED = "STORED", "Stored"
        VERIFIED = "VERIFIED", "Verified"
        FAILED = "FAILED", "Failed"
        CORRUPT = "CORRUPT", "Corrupt"
        DELETED = "DELETED", "Deleted"

    class StoreKind(models.TextChoices):
        LOCAL = "LOCAL", "Local directory"
        S3 = "S3", "S3-compatible"

    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="copies")
    store_name = models.CharField(max_length=64)
    store_kind = models.CharField(max_length=16, choices=StoreKind.choices)
    object_key = models.TextField()
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    attempts = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        managed = False
        db_table = "backups_backupcopy"
        unique_together = [("backup", "store_name")]
        ordering = ["store_name"]

    def __str__(self):
        return f"{self.store_name}: {self.object_key} ({self.status})"


class BackupAlert(models.Model):
    """Something about backups that needs a person (`backups_backupalert`)."""

    class AlertType(models.TextChoices):
        BACKUP_FAILURE = "BACKUP_FAILURE", "Backup failure"
        INTEGRITY_FAILURE = "INTEGRITY_FAILURE", "Integrity failure"
        ACCESS_DENIED = "ACCESS_DENIED", "Access denied"
        BACKUP_MISSING = "BACKUP_MISSING", "Backup missing"

    class Severity(models.TextChoices):
        CRITICAL = "CRITICAL", "Critical"
        WARNING = "WARNING", "Warning"
        INFO = "INFO", "Info"

    alert_type = models.CharField(max_length=32, choices=AlertType.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    backup = models.ForeignKey(
        Backup, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        managed = False
        db_table = "backups_backupalert"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.alert_type} ({self.severity}): {self.message}"
