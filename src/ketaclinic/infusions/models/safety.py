"""The safety records of a session: alerts until acknowledged, adverse events, the ketamine
(Schedule III) drawn and reconciled, and dose deviations until a physician reviews them.

Each is opened by a rule of ``ketaclinic.clinical`` and keeps the policy version it was judged
against; they are apart from the chart rows because they have a life of their own (open, then
closed by a second person) that blocks discharge or signing.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ketaclinic.infusions.models.chart import ChartEntry
from ketaclinic.infusions.models.session import InfusionSession


class AlertAction(models.TextChoices):
    RATE_REDUCED = "rate_reduced", "Rate reduced"
    PAUSED = "paused", "Infusion paused"
    STOPPED = "stopped", "Infusion stopped"
    MEDICATION = "medication", "Medication given"
    RECHECKED = "rechecked", "Rechecked, no action needed"
    PHYSICIAN = "physician", "Physician informed"


class Alert(models.Model):
    """The rules that fired on one reading, as one alert; it stays open (and on the board) until
    a nurse or physician acknowledges it once with the action taken."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="alerts")
    entry = models.ForeignKey(
        ChartEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    code = models.CharField(max_length=40)
    field = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=500)
    source = models.TextField()
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    # One alert per reading (gate 8): every limit it crossed, [{code, field, message, value,
    # threshold}]; code/field/value/threshold above repeat the first, ``message`` joins them.
    findings = models.JSONField(default=list, blank=True)
    raised_at = models.DateTimeField()
    policy_version = models.PositiveIntegerField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=AlertAction.choices, blank=True)
    action_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["session", "raised_at", "id"]
        indexes = [models.Index(fields=["session", "acknowledged_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True)
                | (Q(acknowledged_by__isnull=False) & ~Q(action="")),
                name="infusion_alert_acknowledged_with_action",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class AdverseEventKind(models.TextChoices):
    DISSOCIATION = "dissociation", "Dissociation"
    NAUSEA = "nausea_vomiting", "Nausea or vomiting"
    HYPERTENSION = "hypertension", "Hypertension"
    TACHYCARDIA = "tachycardia", "Tachycardia"
    SEDATION = "sedation", "Sedation"
    DIZZINESS = "dizziness", "Dizziness"
    HEADACHE = "headache", "Headache"
    ANXIETY = "anxiety", "Anxiety"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Intervention(models.TextChoices):
    NONE = "none", "None needed"
    RATE_REDUCED = "rate_reduced", "Rate reduced"
    PAUSED = "paused", "Infusion paused"
    STOPPED = "stopped", "Infusion stopped"
    MIDAZOLAM = "midazolam", "Midazolam"
    ONDANSETRON = "ondansetron", "Ondansetron"
    CLONIDINE = "clonidine", "Clonidine"
    REASSURANCE = "reassurance", "Reassurance, quiet room"
    OTHER = "other", "Other (see note)"


class Outcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    IMPROVING = "improving", "Improving"
    ONGOING = "ongoing", "Ongoing"
    TRANSFERRED = "transferred", "Transferred for further care"


class AdverseEvent(models.Model):
    # The id other systems know the event by (the FHIR API's AdverseEvent id).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    kind = models.CharField(max_length=20, choices=AdverseEventKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    onset_at = models.DateTimeField()
    # Intervention codes (Intervention values), in the order chosen.
    interventions = models.JSONField(default=list)
    note = models.CharField(max_length=1000, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    time_reason = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "onset_at", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()

    def intervention_labels(self) -> list[str]:
        labels = dict(Intervention.choices)
        return [str(labels.get(code, code)) for code in self.interventions]


class ControlledSubstanceRecord(models.Model):
    """Ketamine (DEA Schedule III, RxNorm 6130): lot, expiry, drawn, then given and wasted with a
    witness for any waste. Drawn before the start; reconciled after the infusion ends."""

    session = models.OneToOneField(
        InfusionSession, on_delete=models.PROTECT, related_name="controlled_substance"
    )
    rxnorm_code = models.CharField(max_length=10, default="6130")
    concentration_mg_per_ml = models.FloatField()
    lot = models.CharField(max_length=40)
    expiry = models.DateField()
    drawn_mg = models.DecimalField(max_digits=7, decimal_places=2)
    drawn_at = models.DateTimeField()
    time_reason = models.CharField(max_length=300, blank=True)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    given_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    wasted_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    waste_witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # Why "given" differs from the dose the charted rates give (a deviation opens with it).
    given_reason = models.TextField(blank=True)
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(drawn_mg__gt=0), name="infusion_cs_drawn_positive"),
            # drawn = given + wasted is checked exactly in clinical.monitoring: SQLite keeps
            # decimals as floating point, where 35.1 + 14.9 need not equal 50.0.
            models.CheckConstraint(
                condition=Q(reconciled_at__isnull=True)
                | Q(
                    given_mg__gte=0,
                    wasted_mg__gte=0,
                    reconciled_by__isnull=False,
                ),
                name="infusion_cs_reconciled_complete",
            ),
            models.CheckConstraint(
                condition=Q(wasted_mg__isnull=True)
                | Q(wasted_mg=0)
                | (Q(waste_witness__isnull=False) & ~Q(waste_witness=F("reconciled_by"))),
                name="infusion_cs_waste_witnessed_by_another",
            ),
        ]

    def __str__(self) -> str:
        return f"Ketamine lot {self.lot}"

    @property
    def is_reconciled(self) -> bool:
        return self.reconciled_at is not None


class DeviationTrigger(models.TextChoices):
    STOP = "stop", "At the stop"
    RATE = "rate", "At a rate change"
    VITALS = "vitals", "At a vitals save"
    RECONCILE = "reconcile", "At reconciliation"


class DoseDeviation(models.Model):
    """The dose given passed the plan's total past the clinic's tolerance (gate 4), or the
    reconciled "given" differs from the charted rates. Opens by itself; stays on the board and
    the chart, and blocks discharge and signing, until a physician reviews it with a note."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="dose_deviations"
    )
    trigger = models.CharField(max_length=10, choices=DeviationTrigger.choices)
    opened_at = models.DateTimeField()
    given_mg = models.FloatField()
    plan_total_mg = models.FloatField()
    excess_mg = models.FloatField()
    message = models.CharField(max_length=500)
    # For a reconciliation: the figure entered and the reason written with it.
    entered_mg = models.FloatField(null=True, blank=True)
    reason = models.TextField(blank=True)
    policy_version = models.PositiveIntegerField()
    policy_values = models.JSONField(default=dict)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["session", "opened_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True)
                | (Q(reviewed_by__isnull=False) & ~Q(review_note="")),
                name="infusion_deviation_reviewed_with_note",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.reviewed_at is None
