"""The comprehensive plan and its ketamine protocol.

A plan is versioned per patient: ``number`` counts the patient's plans, a signed plan is
read-only, and a change after signing is a new plan that supersedes it. The protocol copies
everything it was computed from (template values, weight, the clinic's limits and policy version)
so the dose shown years later is the dose that was checked.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ketaclinic.clinics.models import Clinic, DosingBasis, ProtocolTemplate, SeriesPattern
from ketaclinic.patients.models import Patient


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    SUPERSEDED = "superseded", "Superseded"


class Plan(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    goals = models.TextField(blank=True)
    review_date = models.DateField(null=True, blank=True)
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # Optimistic locking: a stale form saved over a newer version is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["patient", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="plan_number_unique"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="plan_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.number}"


class KetamineProtocol(models.Model):
    """The ketamine protocol, computed by ``clinical.dosing`` within the clinic's limits."""

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="protocol")
    template = models.ForeignKey(
        ProtocolTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    template_name = models.CharField(max_length=120, blank=True)
    source = models.TextField(blank=True)
    # Inputs, as entered or taken from the exam.
    weight_kg = models.FloatField()
    height_cm = models.FloatField()
    sex = models.CharField(max_length=10)
    dosing_basis = models.CharField(max_length=10, choices=DosingBasis.choices)
    dose_mg_per_kg = models.FloatField(null=True, blank=True)
    fixed_dose_mg = models.FloatField(null=True, blank=True)
    duration_min = models.PositiveIntegerField()
    rate_cap_mg_per_h = models.FloatField(null=True, blank=True)
    concentration_mg_per_ml = models.FloatField()
    sessions_count = models.PositiveSmallIntegerField()
    pattern = models.CharField(max_length=20, choices=SeriesPattern.choices)
    pk_model = models.CharField(max_length=20, default="domino")
    # Outputs of clinical.dosing.
    dosing_weight_kg = models.FloatField()
    total_mg = models.FloatField()
    rate_mg_per_h = models.FloatField()
    rate_ml_per_h = models.FloatField()
    volume_ml = models.FloatField()
    # The clinic policy the dose was checked against (ClinicPolicy.snapshot()).
    policy_version = models.PositiveIntegerField()
    policy_values = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(total_mg__gt=0) & Q(rate_mg_per_h__gt=0) & Q(duration_min__gt=0),
                name="ketamine_protocol_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.total_mg:g} mg over {self.duration_min} min"
