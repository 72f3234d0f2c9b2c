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

from ketaclinic.clinical.medications import MEDICATIONS, NON_DRUG_COMPONENTS
from ketaclinic.clinics.models import Clinic, DosingBasis, ProtocolTemplate, SeriesPattern
from ketaclinic.lib.models import SignedRecord
from ketaclinic.patients.models import Patient

# Free text for a medicine outside the NeuPSIG catalogue (e.g. carbamazepine for trigeminal
# neuralgia, docs/clinical-sources.md §5.1).
OTHER_MEDICATION = "other_medication"
COMPONENT_CHOICES: list[tuple[str, str]] = [
    *((item.code, item.name) for item in MEDICATIONS.values()),
    (OTHER_MEDICATION, "Other medicine"),
    *((item.code, item.label) for item in NON_DRUG_COMPONENTS.values()),
]
MEDICATION_CODES = frozenset({*MEDICATIONS, OTHER_MEDICATION})


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    SUPERSEDED = "superseded", "Superseded"


class Plan(SignedRecord):
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
            # One draft at a time, and one signed (current) plan: a revision is a new draft that
            # supersedes the signed plan when it is signed itself.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="draft"), name="plan_one_draft_per_patient"
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="signed"),
                name="plan_one_signed_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == PlanStatus.DRAFT


class PlanComponent(models.Model):
    """One part of the plan (a medicine or a non-drug treatment) with the physician's details."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="components")
    code = models.CharField(max_length=40, choices=COMPONENT_CHOICES)
    details = models.TextField(max_length=2000)

    class Meta:
        # By id only: ordering by "plan" would join the plan and the patient for their orderings.
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plan_component_unique"),
            models.CheckConstraint(condition=~Q(details=""), name="plan_component_has_details"),
        ]

    def __str__(self) -> str:
        return self.get_code_display()

    @property
    def is_medication(self) -> bool:
        return self.code in MEDICATION_CODES


class KetamineProtocol(models.Model):
    """The ketamine protocol, computed by ``clinical.dosing`` within the clinic's limits."""

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="protocol")
    template = models.ForeignKey(
        ProtocolTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    template_name = models.CharField(max_length=120, blank=True)
    source = models.TextField(blank=True)
    # Inputs. Weight and height are the exam's measurements, never typed on the protocol form
    # (docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 2): ``exam``
    # is the consultation they came from and ``exam_date`` its date, checked again at signing.
    weight_kg = models.FloatField()
    height_cm = models.FloatField()
    exam = models.ForeignKey(
        "assessments.Consultation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    exam_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=10)
    dosing_basis = models.CharField(max_length=10, choices=DosingBasis.choices)
    dose_mg_per_kg = models.FloatField(null=True, blank=True)
    fixed_dose_mg = models.FloatField(null=True, blank=True)
    duration_min = models.PositiveIntegerField()
    rate_cap_mg_per_h = models.FloatField(null=True, blank=True)
    # The template's version when its values were copied (templates are edited in place).
    template_version = models.PositiveIntegerField(null=True, blank=True)
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
    # The pump setting: rate_ml_per_h rounded down to the clinic's pump step, and the mg/h that
    # setting really delivers (clinical.dosing.pump_rate); what the infusion chart accepts.
    pump_rate_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    pump_rate_mg_per_h = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    # Per kg of dosing weight, as given (after any rate cap); from clinical.dosing.InfusionPlan.
    rate_mg_per_kg_h = models.FloatField(null=True, blank=True)
    given_mg_per_kg = models.FloatField(null=True, blank=True)
    # True when the template's rate cap lowered the rate (and so the dose) below mg/kg x weight;
    # uncapped_total_mg is the dose the cap avoided, shown beside it.
    rate_capped = models.BooleanField(default=False)
    uncapped_total_mg = models.FloatField(null=True, blank=True)
    # The clinic policy the dose was checked against (ClinicPolicy.snapshot()).
    policy_version = models.PositiveIntegerField()
    policy_values = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(total_mg__gt=0) & Q(rate_mg_per_h__gt=0) & Q(duration_min__gt=0),
                name="ketamine_protocol_positive",
            ),
            models.CheckConstraint(
                condition=(
                    Q(dose_mg_per_kg__isnull=False, fixed_dose_mg__isnull=True)
                    | Q(dose_mg_per_kg__isnull=True, fixed_dose_mg__isnull=False)
                ),
                name="ketamine_protocol_one_dose_form",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.total_mg:g} mg over {self.duration_min} min"
