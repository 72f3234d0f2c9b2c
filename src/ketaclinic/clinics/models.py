"""The tenant (Clinic), its sites (Location, each in its own time zone) and infusion chairs."""

from __future__ import annotations

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models

from ketaclinic.clinical import ceilings, gates
from ketaclinic.clinical.dosing import DEFAULT_LIMITS, DoseLimits
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import DEFAULT_MONITORING, MonitoringPolicy

_ELIGIBILITY = EligibilityPolicy()


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. America/New_York).")


# The header colour a clinic starts with (the product's ink): white text on it passes WCAG AA.
DEFAULT_BRAND_COLOUR = "#1b2430"


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    # The id other systems know it by (the FHIR API's Organization / Location id): never the
    # database's own.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Brand (clinics/brand.py): what patients see on pages, letters and emails. The logo is a
    # name in the default storage (served by ``clinics:logo``, never from MEDIA_URL); the
    # version counts saves, so a form saved over a newer one is refused and cached brands and
    # logo URLs change with each save.
    logo = models.FileField(upload_to="clinic-logos/", blank=True, max_length=200)
    brand_colour = models.CharField(max_length=7, default=DEFAULT_BRAND_COLOUR)
    postal_address = models.TextField(blank=True, max_length=400)
    phone = models.CharField(max_length=40, blank=True)
    public_email = models.EmailField(blank=True)
    sender_email = models.EmailField(
        blank=True, help_text="The address emails to patients and staff are sent from."
    )
    brand_version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="locations")
    # The id other systems know it by (the FHIR API's Organization / Location id): never the
    # database's own.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField("state", max_length=50, blank=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"], name="location_name_unique_per_clinic"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Chair(models.Model):
    """An infusion chair: the resource an infusion session occupies."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=60)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"], name="chair_name_unique_per_location"
            )
        ]

    def __str__(self) -> str:
        return f"{self.location.name} · {self.name}"


class ClinicPolicy(models.Model):
    """One version of a clinic's safety settings.

    Rows are never edited: a change writes a new row with the next version number, so every
    eligibility decision, plan and session can store the version and values it was made with and
    still show them after the settings move on. Defaults are those of docs/clinical-policy.md.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="policies")
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    change_note = models.CharField(max_length=300, blank=True)

    # Eligibility (clinical.eligibility.EligibilityPolicy).
    min_age_years = models.PositiveSmallIntegerField(default=_ELIGIBILITY.min_age_years)
    crisis_systolic_bp = models.PositiveSmallIntegerField(default=_ELIGIBILITY.crisis_systolic_bp)
    crisis_diastolic_bp = models.PositiveSmallIntegerField(default=_ELIGIBILITY.crisis_diastolic_bp)
    elevated_systolic_bp = models.PositiveSmallIntegerField(
        default=_ELIGIBILITY.elevated_systolic_bp
    )
    elevated_diastolic_bp = models.PositiveSmallIntegerField(
        default=_ELIGIBILITY.elevated_diastolic_bp
    )
    max_heart_rate = models.PositiveSmallIntegerField(default=_ELIGIBILITY.max_heart_rate)
    min_spo2 = models.PositiveSmallIntegerField(default=_ELIGIBILITY.min_spo2)
    chronic_pain_months = models.FloatField(default=_ELIGIBILITY.chronic_pain_months)
    first_line_classes_required = models.PositiveSmallIntegerField(
        default=_ELIGIBILITY.first_line_classes_required
    )
    # How long a signed decision stays in force after its exam (clinical.gates, gate 1).
    eligibility_valid_months = models.PositiveSmallIntegerField(
        default=gates.ELIGIBILITY_VALID_MONTHS
    )

    # Hard dose limits (clinical.dosing.DoseLimits). No code path may exceed them.
    max_rate_mg_per_kg_h = models.FloatField(default=DEFAULT_LIMITS.max_rate_mg_per_kg_h)
    max_session_mg_per_kg = models.FloatField(default=DEFAULT_LIMITS.max_session_mg_per_kg)
    max_session_mg = models.FloatField(default=DEFAULT_LIMITS.max_session_mg)

    # Before starting an infusion: defer at or past these
    # (docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]").
    precheck_max_systolic_bp = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.precheck_max_systolic_bp
    )
    precheck_max_diastolic_bp = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.precheck_max_diastolic_bp
    )
    precheck_max_heart_rate = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.precheck_max_heart_rate
    )
    precheck_min_spo2 = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.precheck_min_spo2
    )

    # Alerts during the infusion.
    alert_systolic_bp = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.alert_systolic_bp
    )
    alert_diastolic_bp = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.alert_diastolic_bp
    )
    alert_bp_rise_percent = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.alert_bp_rise_percent
    )
    alert_heart_rate = models.PositiveSmallIntegerField(default=DEFAULT_MONITORING.alert_heart_rate)
    alert_spo2 = models.PositiveSmallIntegerField(default=DEFAULT_MONITORING.alert_spo2)
    alert_respiratory_rate = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.alert_respiratory_rate
    )
    alert_rass = models.SmallIntegerField(default=DEFAULT_MONITORING.alert_rass)
    alert_moaas = models.PositiveSmallIntegerField(default=DEFAULT_MONITORING.alert_moaas)
    vitals_interval_min = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.vitals_interval_min
    )

    # Discharge and chair time.
    discharge_min_aldrete = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.discharge_min_aldrete
    )
    discharge_min_observation_min = models.PositiveSmallIntegerField(
        default=DEFAULT_MONITORING.discharge_min_observation_min
    )
    # Chair time kept after each infusion for recovery and observation when booking a series.
    recovery_min = models.PositiveSmallIntegerField(default=ceilings.RECOVERY_MIN)

    # Gates along the journey (clinical.gates): the measured patient, dose deviations, pump
    # resolution and true charted times.
    exam_weight_max_age_days = models.PositiveSmallIntegerField(
        default=gates.EXAM_WEIGHT_MAX_AGE_DAYS
    )
    weight_change_percent = models.PositiveSmallIntegerField(default=gates.WEIGHT_CHANGE_PERCENT)
    pump_resolution_ml_h = models.FloatField(default=gates.PUMP_RESOLUTION_ML_H)
    dose_deviation_percent = models.FloatField(default=gates.DOSE_DEVIATION_PERCENT)
    draw_max_factor = models.FloatField(default=gates.DRAW_MAX_FACTOR)
    backdate_max_min = models.PositiveSmallIntegerField(default=gates.BACKDATE_MAX_MIN)

    class Meta:
        ordering = ["clinic", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "version"], name="clinic_policy_version_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(elevated_systolic_bp__lte=models.F("crisis_systolic_bp"))
                & models.Q(elevated_diastolic_bp__lte=models.F("crisis_diastolic_bp")),
                name="clinic_policy_elevated_below_crisis",
            ),
            models.CheckConstraint(
                condition=models.Q(max_rate_mg_per_kg_h__gt=0)
                & models.Q(max_session_mg_per_kg__gt=0)
                & models.Q(max_session_mg__gt=0),
                name="clinic_policy_dose_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinic} policy v{self.version}"

    # The field names that carry a threshold, in form order; the versioning and snapshot code
    # and the settings page iterate over this one list.
    THRESHOLD_FIELDS: tuple[str, ...] = (
        "min_age_years",
        "crisis_systolic_bp",
        "crisis_diastolic_bp",
        "elevated_systolic_bp",
        "elevated_diastolic_bp",
        "max_heart_rate",
        "min_spo2",
        "chronic_pain_months",
        "first_line_classes_required",
        "eligibility_valid_months",
        "max_rate_mg_per_kg_h",
        "max_session_mg_per_kg",
        "max_session_mg",
        "precheck_max_systolic_bp",
        "precheck_max_diastolic_bp",
        "precheck_max_heart_rate",
        "precheck_min_spo2",
        "alert_systolic_bp",
        "alert_diastolic_bp",
        "alert_bp_rise_percent",
        "alert_heart_rate",
        "alert_spo2",
        "alert_respiratory_rate",
        "alert_rass",
        "alert_moaas",
        "vitals_interval_min",
        "discharge_min_aldrete",
        "discharge_min_observation_min",
        "recovery_min",
        "exam_weight_max_age_days",
        "weight_change_percent",
        "pump_resolution_ml_h",
        "dose_deviation_percent",
        "draw_max_factor",
        "backdate_max_min",
    )

    def snapshot(self) -> dict[str, object]:
        """The values a decision used, to store beside it."""
        values: dict[str, object] = {name: getattr(self, name) for name in self.THRESHOLD_FIELDS}
        values["policy_version"] = self.version
        return values

    def eligibility_policy(self) -> EligibilityPolicy:
        return EligibilityPolicy(
            min_age_years=self.min_age_years,
            crisis_systolic_bp=self.crisis_systolic_bp,
            crisis_diastolic_bp=self.crisis_diastolic_bp,
            elevated_systolic_bp=self.elevated_systolic_bp,
            elevated_diastolic_bp=self.elevated_diastolic_bp,
            max_heart_rate=self.max_heart_rate,
            min_spo2=self.min_spo2,
            chronic_pain_months=self.chronic_pain_months,
            first_line_classes_required=self.first_line_classes_required,
        )

    def dose_limits(self) -> DoseLimits:
        return DoseLimits(
            max_rate_mg_per_kg_h=self.max_rate_mg_per_kg_h,
            max_session_mg_per_kg=self.max_session_mg_per_kg,
            max_session_mg=self.max_session_mg,
        )

    def monitoring_policy(self) -> MonitoringPolicy:
        return MonitoringPolicy(
            **{name: getattr(self, name) for name in MonitoringPolicy.__dataclass_fields__}
        )


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second physician"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class PolicyProposal(models.Model):
    """A change to the safety settings that takes effect only when a second physician approves it.

    docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" item 9: raising a dose
    limit above its default, or changing a discharge or monitoring value
    (``clinical.ceilings.needs_second_approval``). The clinic admin proposes; the version in
    force (``based_on_version``) stays in force until a physician of the clinic other than the
    proposer approves, which writes the next ``ClinicPolicy`` version (``result``). A proposal
    made on a version that is no longer current cannot be approved, only declined.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="policy_proposals")
    # The version in force when it was proposed (0: the clinic ran on the unsaved defaults).
    based_on_version = models.PositiveIntegerField()
    # The settings that change, {name: new value}, and their values in that version; the others
    # stay as they are.
    values = models.JSONField()
    old_values = models.JSONField()
    # The names among them that made the change wait for approval, in table order.
    waiting_on = models.JSONField()
    note = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    proposed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    result = models.OneToOneField(
        ClinicPolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_proposal",
    )

    class Meta:
        ordering = ["clinic", "-proposed_at", "-id"]
        constraints = [
            # Pending: undecided. Decided: by someone, at a time. Approved exactly when a version
            # came of it.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        status=ProposalStatus.PENDING,
                        decided_by__isnull=True,
                        decided_at__isnull=True,
                        result__isnull=True,
                    )
                    | models.Q(
                        status=ProposalStatus.APPROVED,
                        decided_by__isnull=False,
                        decided_at__isnull=False,
                        result__isnull=False,
                    )
                    | models.Q(
                        status=ProposalStatus.DECLINED,
                        decided_by__isnull=False,
                        decided_at__isnull=False,
                        result__isnull=True,
                    )
                ),
                name="policy_proposal_decision_consistent",
            ),
            # The proposer is never the approver.
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True)
                | ~models.Q(decided_by=models.F("proposed_by")),
                name="policy_proposal_second_person",
            ),
        ]

    def __str__(self) -> str:
        return f"safety settings proposal {self.pk} ({self.status})"


class DosingBasis(models.TextChoices):
    ACTUAL = "actual", "Actual body weight"
    IDEAL = "ideal", "Ideal body weight (Devine)"
    ADJUSTED = "adjusted", "Adjusted body weight"


class SeriesPattern(models.TextChoices):
    # How the sessions of a series fall on the calendar.
    WEEKDAYS = "weekdays", "Consecutive weekdays (Mon-Fri)"
    DAILY = "daily", "Every day"
    THREE_PER_WEEK = "three_per_week", "Three a week (Mon, Wed, Fri)"


class ProtocolTemplate(models.Model):
    """A clinic's ketamine protocol template. Plans copy its values, so editing a template never
    changes a plan already made from it."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="protocol_templates")
    name = models.CharField(max_length=120)
    # Exactly one of the two dose forms: per kg of dosing weight, or a fixed amount.
    dose_mg_per_kg = models.FloatField("dose (mg/kg per session)", null=True, blank=True)
    fixed_dose_mg = models.FloatField("fixed dose (mg per session)", null=True, blank=True)
    duration_min = models.PositiveIntegerField("infusion duration (minutes)")
    # Schwartzman 2009 caps the hourly rate regardless of weight.
    rate_cap_mg_per_h = models.FloatField("rate cap (mg/h)", null=True, blank=True)
    dosing_basis = models.CharField(
        max_length=10, choices=DosingBasis.choices, default=DosingBasis.ACTUAL
    )
    concentration_mg_per_ml = models.FloatField("concentration (mg/mL)", default=10.0)
    sessions_count = models.PositiveSmallIntegerField("sessions in the series", default=1)
    pattern = models.CharField(
        max_length=20, choices=SeriesPattern.choices, default=SeriesPattern.WEEKDAYS
    )
    source = models.TextField()
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"], name="protocol_template_name_unique_per_clinic"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(dose_mg_per_kg__isnull=False, fixed_dose_mg__isnull=True)
                    | models.Q(dose_mg_per_kg__isnull=True, fixed_dose_mg__isnull=False)
                ),
                name="protocol_template_one_dose_form",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    duration_min__gte=ceilings.INFUSION_DURATION_MIN_RANGE[0],
                    duration_min__lte=ceilings.INFUSION_DURATION_MIN_RANGE[1],
                )
                & models.Q(sessions_count__gte=1, sessions_count__lte=30),
                name="protocol_template_ranges",
            ),
        ]

    def __str__(self) -> str:
        return self.name
