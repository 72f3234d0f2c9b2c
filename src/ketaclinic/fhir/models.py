"""The FHIR API's own table: which clinic an OAuth client (django-oauth-toolkit's
``Application``) belongs to, and what kind of client it is.

A client is registered for one clinic. A patient app (authorization code with PKCE, a public
client) can be authorized only by that clinic's patients, each for her own record; a backend
system (client credentials, a confidential client) reads that clinic's records and no other.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaclinic.clinics.models import Clinic


class ClientKind(models.TextChoices):
    PATIENT_APP = "patient_app", "Patient app"
    BACKEND = "backend", "Backend system"


class FhirClient(models.Model):
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="fhir_client",
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ClientKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"FHIR client {self.pk} ({self.kind})"


class ExportLevel(models.TextChoices):
    SYSTEM = "system", "Every record of the clinic"
    PATIENT = "patient", "Every patient's record"
    GROUP = "group", "The patients of one location"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for the worker"
    RUNNING = "running", "Being written"
    DONE = "done", "Ready to download"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Deleted after the retention time"


class BulkExport(models.Model):
    """One Bulk Data export (``$export``): who asked, for what, and how far the worker is.

    The reader is kept as the request made it (the user or the OAuth client, the clinic and
    the token's scopes), so the worker reads exactly what the requester could read, and only
    the requester may follow the status and fetch the files.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    client = models.ForeignKey(
        FhirClient, on_delete=models.CASCADE, null=True, blank=True, related_name="exports"
    )
    scopes = models.TextField(blank=True)  # the token's, space-separated; empty for a session
    level = models.CharField(max_length=10, choices=ExportLevel.choices)
    # Group exports: the location whose patients are exported.
    location = models.ForeignKey(
        "clinics.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.CharField(max_length=2000)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    resources = models.PositiveBigIntegerField(default=0)
    # When the export's own job last said it was alive (it audits the patients in chunks): one
    # silent while running, with no file planned, died with its worker (``bulk.STALLED_AFTER``).
    touched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"Bulk export {self.public_id} ({self.status})"


class PieceStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    WRITING = "writing", "Being written"
    DONE = "done", "Written"


class BulkExportFile(models.Model):
    """One NDJSON file of an export, and the worker's job that writes it: the rows of one of the
    type's tables (``part``, an index into ``ResourceType.parts``) whose primary key is above
    ``pk_after`` and at most ``pk_last`` (no bound for the table's last file), a line each.

    A large table is cut into several files so that several workers share one export; a file
    with nothing in it (``count`` 0) is not listed in the manifest.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    export = models.ForeignKey(BulkExport, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=40)
    part = models.PositiveSmallIntegerField(default=0)
    pk_after = models.BigIntegerField(default=0)
    pk_last = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=PieceStatus.choices, default=PieceStatus.QUEUED
    )
    name = models.CharField(max_length=300, blank=True)  # in the default storage, once written
    count = models.PositiveBigIntegerField(default=0)  # written so far, then in the file
    size = models.PositiveBigIntegerField(default=0)
    # When its job last said it was alive (claimed, then every few chunks): a file being
    # written that stays silent died with its worker (``bulk.STALLED_AFTER``).
    touched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["export", "resource_type", "part", "pk_after"]

    def __str__(self) -> str:
        return f"{self.resource_type}.ndjson ({self.count})"


class BulkExportPatient(models.Model):
    """A patient a Group export audited (``bulk._audit_patients``): its files hold exactly
    these, the location's patients as they were when the export started. A patient moved into
    the location while the files are written is not exported without an event of her own (she
    goes in the next export); one moved out is still exported, as audited. Kept while the
    files are written, deleted with them or when the export is done."""

    export = models.ForeignKey(BulkExport, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["export", "patient"], name="fhir_export_patient_once")
        ]

    def __str__(self) -> str:
        # Keys only: a patient's name does not belong in a log line or an admin's title.
        return f"Export {self.export_id}, patient {self.patient_id}"
