"""A completed public self-check: the answers, the scores they produced, and (once the person
books) the patient record it belongs to.

While ``patient`` is empty the row is anonymous: it carries no name, email, address or IP, only a
random ``public_id`` kept in the visitor's session. It is not yet patient data linked to anyone,
so creating and showing it is not audited; linking it to a patient (``selfcheck_attach``) and
every later read of it through the chart (``selfchecks_for_patient``) are.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from ketaclinic.patients.models import Patient


class SelfCheck(models.Model):
    # The session holds this random id, never the sequential primary key; it never goes in a URL.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The validated answers by step (see screening/questions.py for the shape).
    answers = models.JSONField()
    # instrument code -> the fields of its instruments.Score (code, total, maximum, cutoff,
    # positive, band, source), copied so the result keeps the citation it was shown with.
    scores = models.JSONField()
    chronic = models.BooleanField()
    duration_months = models.FloatField()
    red_flags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="selfchecks"
    )
    attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(patient__isnull=True, attached_at__isnull=True)
                    | Q(patient__isnull=False, attached_at__isnull=False)
                ),
                name="selfcheck_patient_and_attached_at_together",
            ),
            models.CheckConstraint(
                condition=Q(duration_months__gte=0), name="selfcheck_duration_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"self-check {self.public_id}"

    @property
    def is_attached(self) -> bool:
        return self.patient_id is not None


class SelfCheckResult(models.Model):
    """One instrument's result within a self-check (each self-check scores every instrument of
    ``questions.SCREENING_CODES``): the row the FHIR API serves as that instrument's
    QuestionnaireResponse, with an id of its own. The answers and the score stay on the
    self-check (``answers``, ``scores[instrument]``); this row only names them."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    selfcheck = models.ForeignKey(SelfCheck, on_delete=models.CASCADE, related_name="results")
    instrument = models.CharField(max_length=20)  # a code of questions.SCREENING_CODES

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["selfcheck", "instrument"], name="selfcheck_result_one_per_instrument"
            )
        ]

    def __str__(self) -> str:
        return f"self-check result {self.public_id} ({self.instrument})"
