"""The consultation (history, physical exam, DN4, NeuPSIG grade) and its eligibility decision.

A consultation is a draft the physician edits (optimistic locking through ``version``) until the
eligibility decision is signed or overridden; from then on it is locked and corrections are
addenda. The decision stores everything it was made from (facts, reasons with their sources, the
ruleset version and the clinic policy version and values), so it reads the same years later.

Range limits of the exam live here as database constraints as well as in the services, so no
code path can store an SpO2 of 101 or a height of 3 m.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from ketaclinic.assessments.vocab import BODY_REGIONS, PAIN_DESCRIPTORS, SENSORY_SIGNS
from ketaclinic.clinical.eligibility import CONDITIONS, THERAPIES
from ketaclinic.clinical.grading import GRADES
from ketaclinic.clinical.ranges import RECORDED_RANGES
from ketaclinic.clinics.models import Clinic
from ketaclinic.lib import models as lib_models
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import SelfCheck

# Plausible ranges of the exam form, from the one table in clinical/ (the chart reads it too).
EXAM_RANGES: Mapping[str, tuple[float, float]] = RECORDED_RANGES


# The facts the eligibility rules need, with the labels a physician sees when one is missing.
REQUIRED_FACTS: tuple[tuple[str, str], ...] = (
    ("pain_duration_months", "pain duration"),
    ("systolic_bp", "systolic blood pressure"),
    ("diastolic_bp", "diastolic blood pressure"),
    ("heart_rate", "heart rate"),
    ("spo2", "SpO2"),
    ("weight_kg", "weight"),
)

_UNIT_HINTS = {
    "height_cm": " Enter the height in centimetres (1.75 m is 175 cm).",
    "weight_kg": " Enter the weight in kilograms.",
    "temperature_c": " Enter the temperature in degrees Celsius.",
}


def range_problem(name: str, label: str, value: float | None) -> str:
    """The message for a value outside the field's plausible range ("" when it is inside), for
    the form and the model alike. A number too long to print (a slip of the keyboard, or 400
    digits sent on purpose) is not echoed: formatting it is what used to fail."""
    low, high = EXAM_RANGES[name]
    if value is None or low <= value <= high:
        return ""
    shown = f"{value:g} is" if abs(value) < 1e9 else "the number entered is"
    return (
        f"{label} must be between {low:g} and {high:g}; {shown} outside that range."
        f"{_UNIT_HINTS.get(name, '')}"
    )


def _vocabulary_problem(values: object, vocabulary: Mapping[str, object], what: str) -> str:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return f"Expected a list of {what} codes."
    unknown = [v for v in values if v not in vocabulary]
    if unknown:
        return f"Unknown {what} {unknown[0]!r}; choose from the list."
    if len(set(values)) != len(values):
        return f"A {what} is listed twice."
    return ""


def _in_range(field: str) -> Q:
    low, high = EXAM_RANGES[field]
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high})


class ConsultationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class Consultation(lib_models.SignedRecord):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consultations")
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consultations",
    )
    # The date of the visit: the patient's age for the eligibility rules is taken on this day.
    exam_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=ConsultationStatus.choices, default=ConsultationStatus.DRAFT
    )

    # History.
    pain_duration_months = models.FloatField("pain duration (months)", null=True, blank=True)
    pain_nrs = models.PositiveSmallIntegerField(
        "pain now (0-10 numeric rating)", null=True, blank=True
    )
    pain_regions = models.JSONField(default=list, blank=True)
    pain_descriptors = models.JSONField(default=list, blank=True)
    # Condition codes from clinical.eligibility.CONDITIONS (contraindications and cautions).
    conditions = models.JSONField(default=list, blank=True)
    history_notes = models.TextField(blank=True)

    # Physical exam (units in the field names; LOINC/UCUM in Observation rows).
    systolic_bp = models.PositiveSmallIntegerField("systolic BP (mmHg)", null=True, blank=True)
    diastolic_bp = models.PositiveSmallIntegerField("diastolic BP (mmHg)", null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField("heart rate (/min)", null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(
        "respiratory rate (/min)", null=True, blank=True
    )
    spo2 = models.PositiveSmallIntegerField("SpO2 (%)", null=True, blank=True)
    temperature_c = models.FloatField("temperature (°C)", null=True, blank=True)
    weight_kg = models.FloatField("weight (kg)", null=True, blank=True)
    height_cm = models.FloatField("height (cm)", null=True, blank=True)
    sensory_signs = models.JSONField(default=list, blank=True)
    exam_notes = models.TextField(blank=True)

    # DN4: the ten items (interview and examination) as answered, and the score they gave.
    dn4_answers = models.JSONField(default=dict, blank=True)
    dn4_total = models.PositiveSmallIntegerField(null=True, blank=True)
    dn4_positive = models.BooleanField(null=True, blank=True)

    # NeuPSIG 2016 grading: the four findings and the grade clinical.grading gave.
    grade_history = models.BooleanField(null=True, blank=True)
    grade_plausible_distribution = models.BooleanField(null=True, blank=True)
    grade_sensory_signs = models.BooleanField(null=True, blank=True)
    grade_confirmatory_test = models.BooleanField(null=True, blank=True)
    confirmatory_test_note = models.CharField(max_length=300, blank=True)
    neuropathic_grade = models.CharField(
        max_length=10, choices=[(g, g.capitalize()) for g in GRADES], blank=True
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: a form saved over a newer version is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["patient", "-exam_date", "-id"]
        indexes = [models.Index(fields=["patient", "-exam_date", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="consultation_signed_has_signer",
            ),
            *(
                models.CheckConstraint(condition=_in_range(field), name=f"consultation_{field}")
                for field in EXAM_RANGES
            ),
            models.CheckConstraint(
                condition=Q(systolic_bp__isnull=True)
                | Q(diastolic_bp__isnull=True)
                | Q(systolic_bp__gt=F("diastolic_bp")),
                name="consultation_systolic_above_diastolic",
            ),
        ]

    def __str__(self) -> str:
        return f"Consultation {self.exam_date}"

    def missing_facts(self) -> list[str]:
        """Labels of the facts still needed before the eligibility rules can run."""
        return [label for name, label in REQUIRED_FACTS if getattr(self, name) is None]

    def clean(self) -> None:
        """Every range and vocabulary check, each message naming its field; the database
        constraints above are the backstop for any path that skips this."""
        errors: dict[str, str] = {}
        for name in EXAM_RANGES:
            label = str(getattr(self._meta.get_field(name), "verbose_name", name))
            problem = range_problem(name, f"{label[0].upper()}{label[1:]}", getattr(self, name))
            if problem:
                errors[name] = problem
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and "systolic_bp" not in errors
            and "diastolic_bp" not in errors
            and self.systolic_bp <= self.diastolic_bp
        ):
            errors["systolic_bp"] = (
                f"Systolic BP ({self.systolic_bp} mmHg) must be higher than diastolic BP "
                f"({self.diastolic_bp} mmHg). Check that the two were not swapped."
            )
        for name, vocabulary, what in (
            ("pain_regions", BODY_REGIONS, "body region"),
            ("pain_descriptors", PAIN_DESCRIPTORS, "pain descriptor"),
            ("sensory_signs", SENSORY_SIGNS, "sensory sign"),
            ("conditions", CONDITIONS, "condition code"),
        ):
            problem = _vocabulary_problem(getattr(self, name), vocabulary, what)
            if problem:
                errors[name] = problem
        if (
            self.exam_date is not None
            and self.patient_id is not None
            and self.exam_date < self.patient.date_of_birth
        ):
            errors["exam_date"] = "Exam date is before the patient's date of birth."
        if errors:
            raise ValidationError(errors)

    @property
    def is_locked(self) -> bool:
        return self.status == ConsultationStatus.SIGNED

    @property
    def bmi(self) -> float | None:
        if self.weight_kg is None or self.height_cm is None:
            return None
        return round(self.weight_kg / (self.height_cm / 100) ** 2, 1)


class Cause(models.Model):
    """A cause (or diagnosis) of the pain, coded from ``clinical.codes`` (SNOMED CT, ICD-10-CM)."""

    # The FHIR API's Condition id (never the database's own).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="causes")
    system = models.CharField(max_length=10)
    code = models.CharField(max_length=20)
    # Copied from the code table so the record reads the same if the table's wording changes.
    display = models.CharField(max_length=200)

    class Meta:
        ordering = ["consultation", "system", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "system", "code"], name="cause_unique_per_consultation"
            ),
            models.CheckConstraint(
                condition=Q(system__in=["snomed", "icd10cm"]), name="cause_system_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class HistoryPrefill(models.Model):
    """Which of the history's values came from the patient's self-check, and their confirmation.

    Written with the first history save of a form that offered the self-check's answers
    (``intake.py``): saving them is the physician's confirmation. ``offered`` keeps what the
    self-check offered (field -> value; ``prior_treatments`` lists the therapies it said were
    tried); ``fields`` the fields whose recorded value still keeps it. A later save that changes
    one of them drops it from ``fields``: the value is then the physician's own. Once written,
    the offer is not made again for this consultation, even if every value was declined.
    """

    consultation = models.OneToOneField(
        Consultation, on_delete=models.CASCADE, related_name="prefill"
    )
    selfcheck = models.ForeignKey(SelfCheck, on_delete=models.PROTECT, related_name="+")
    offered = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=list, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"History prefill from {self.selfcheck}"


class TherapyOutcome(models.TextChoices):
    # The values are clinical.eligibility.THERAPY_OUTCOMES (a test holds them equal).
    FAILED = "failed", "Failed (no useful relief)"
    INTOLERANT = "intolerant", "Not tolerated"
    PARTIAL = "partial", "Partial relief"
    HELPED = "helped", "Helped"


class PriorTreatment(models.Model):
    """A treatment tried before, and how it went (therapy codes from clinical.eligibility)."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="prior_treatments"
    )
    therapy = models.CharField(
        max_length=40, choices=[(code, t.label) for code, t in THERAPIES.items()]
    )
    outcome = models.CharField(max_length=12, choices=TherapyOutcome.choices)

    class Meta:
        ordering = ["consultation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "therapy"], name="prior_treatment_unique_per_consultation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.therapy}: {self.outcome}"


class Observation(models.Model):
    """An exam measurement coded in LOINC with its UCUM unit, written with the exam.

    The typed columns of ``Consultation`` are what forms edit and constraints check; these rows
    are their coded form for interchange (FHIR Observation) and charts, brought in step with each
    exam save in the same transaction (a measurement still taken keeps its row, and its id).
    """

    # The FHIR API's Observation id (never the database's own).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="observations"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    loinc = models.CharField(max_length=12)
    display = models.CharField(max_length=120)
    value = models.FloatField()
    unit = models.CharField(max_length=12)
    effective_date = models.DateField()

    class Meta:
        ordering = ["consultation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "loinc"], name="observation_unique_per_consultation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.value} {self.unit}"


class DecisionStatus(models.TextChoices):
    DRAFT = "draft", "Awaiting signature"
    SIGNED = "signed", "Signed"
    OVERRIDDEN = "overridden", "Overridden"


class DecisionOutcome(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    REVIEW = "review", "Review"
    INELIGIBLE = "ineligible", "Ineligible"


class EligibilityDecision(lib_models.SignedRecord):
    """The output of ``clinical.eligibility.evaluate`` for one consultation, and its signature.

    While the consultation is a draft the decision is re-evaluated on every save; signing freezes
    it. ``final_outcome`` is what is in force: the engine's outcome when signed, the physician's
    when overridden, blank while unsigned. Signing and overriding both set the signature, so
    ``is_signed`` (from ``SignedRecord``) is true exactly when the status has left draft.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.OneToOneField(
        Consultation, on_delete=models.PROTECT, related_name="decision"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="eligibility_decisions"
    )
    outcome = models.CharField(max_length=12, choices=DecisionOutcome.choices)
    # [{"code", "outcome", "message", "source"}] in the order evaluate() listed them.
    reasons = models.JSONField(default=list, blank=True)
    ruleset_version = models.CharField(max_length=40)
    policy_version = models.PositiveIntegerField()
    policy_values = models.JSONField(default=dict, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField()

    status = models.CharField(
        max_length=12, choices=DecisionStatus.choices, default=DecisionStatus.DRAFT
    )
    final_outcome = models.CharField(max_length=12, choices=DecisionOutcome.choices, blank=True)
    override_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["patient", "-evaluated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft", final_outcome="", signed_by__isnull=True)
                | (
                    ~Q(status="draft")
                    & ~Q(final_outcome="")
                    & Q(signed_by__isnull=False, signed_at__isnull=False)
                ),
                name="decision_signed_has_signer_and_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(status="overridden") | ~Q(override_reason=""),
                name="decision_override_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed") | Q(final_outcome=F("outcome")),
                name="decision_signed_keeps_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.get_status_display()})"


class Addendum(lib_models.Addendum):
    """A correction or note added to a signed consultation; the record itself never changes."""

    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT, related_name="addenda")

    class Meta:
        ordering = ["consultation", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="addendum_has_text"),
        ]
