"""The infusion day: one ``InfusionSession`` per patient visit to a chair, and its chart.

A session is an append-only record: vitals, scales, rate changes, alerts and adverse events are
rows added to it, never edited; a physician's signature locks it and later corrections are
``Addendum`` rows. The session row carries ``version`` (optimistic locking: every write to the
chart goes through it, so two nurses saving at once cannot lose an update) and a few
denormalised fields (current rate, last vitals, latest Aldrete) so the chair board reads every
chair in a fixed number of queries.

Observations are stored one value per row with their code system, code and UCUM unit
(docs/clinical-policy.md "Codes [8]"): LOINC for vital signs and the pain NRS; the bedside scales
that have no code there (RASS, MOAA/S, CADSS-6, modified Aldrete) use this project's own system
``ketaclinic`` with the instrument code and the UCUM annotation unit ``{score}``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.lib import models as lib_models
from ketaclinic.patients.models import Patient


class SessionStatus(models.TextChoices):
    ARRIVED = "arrived", "Arrived"
    PRECHECK = "precheck", "Pre-check"
    INFUSING = "infusing", "Infusing"
    RECOVERING = "recovering", "Recovering"
    DISCHARGED = "discharged", "Discharged"
    # The pre-infusion check failed and the infusion was not given today.
    DEFERRED = "deferred", "Deferred"


ACTIVE_STATUSES = (
    SessionStatus.ARRIVED,
    SessionStatus.PRECHECK,
    SessionStatus.INFUSING,
    SessionStatus.RECOVERING,
)
CLOSED_STATUSES = (SessionStatus.DISCHARGED, SessionStatus.DEFERRED)


class InfusionSession(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    chair = models.ForeignKey(
        Chair, on_delete=models.PROTECT, null=True, blank=True, related_name="infusion_sessions"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="infusion_sessions")
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="infusion_session",
    )
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.ARRIVED
    )
    arrived_at = models.DateTimeField()
    arrived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Why the arrival was charted late (gate 7), when it was back-dated past a few minutes.
    arrived_time_reason = models.CharField(max_length=300, blank=True)

    # The patient's own baseline: the vitals of the pre-infusion check that cleared the start.
    baseline_systolic_bp = models.PositiveSmallIntegerField(null=True, blank=True)
    baseline_diastolic_bp = models.PositiveSmallIntegerField(null=True, blank=True)
    baseline_heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    # True once the latest pre-infusion check passed or a physician overrode it.
    start_cleared = models.BooleanField(default=False)

    # Administration. The plan's dose is copied at the start, with the clinic policy it was
    # checked against, so the chart keeps explaining itself after the plan or policy changes.
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Where the observation before discharge counts from: the stop, or the minute it was saved
    # when the stop was back-dated (clinical.charting.observation_start).
    observed_from = models.DateTimeField(null=True, blank=True)
    plan_rate_mg_per_h = models.FloatField(null=True, blank=True)
    plan_rate_ml_per_h = models.FloatField(null=True, blank=True)
    plan_total_mg = models.FloatField(null=True, blank=True)
    plan_duration_min = models.PositiveIntegerField(null=True, blank=True)
    dosing_weight_kg = models.FloatField(null=True, blank=True)
    weight_kg = models.FloatField(null=True, blank=True)
    concentration_mg_per_ml = models.FloatField(null=True, blank=True)
    pk_model = models.CharField(max_length=20, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    policy_values = models.JSONField(default=dict, blank=True)
    # The pump now, and the amount given before this rate began: the running total is
    # given_before_mg + rate x time since rate_since, with no query for the rate history.
    current_rate_ml_per_h = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True
    )
    current_rate_mg_per_h = models.FloatField(null=True, blank=True)
    rate_since = models.DateTimeField(null=True, blank=True)
    given_before_mg = models.FloatField(default=0)

    # Monitoring, denormalised for the board.
    last_vitals_at = models.DateTimeField(null=True, blank=True)
    aldrete_answers = models.JSONField(null=True, blank=True)
    aldrete_total = models.PositiveSmallIntegerField(null=True, blank=True)
    aldrete_at = models.DateTimeField(null=True, blank=True)
    open_alerts = models.PositiveSmallIntegerField(default=0)
    # Dose deviations not yet reviewed by a physician: they block discharge and signing.
    open_deviations = models.PositiveSmallIntegerField(default=0)
    # Why the vitals had a gap longer than twice the interval, written at signing.
    monitoring_gap_reason = models.TextField(blank=True)

    # Discharge.
    escort_name = models.CharField(max_length=200, blank=True)
    escort_confirmed_at = models.DateTimeField(null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    discharge_values = models.JSONField(default=dict, blank=True)
    deferred_reason = models.TextField(blank=True)

    # Sign and lock.
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-arrived_at", "-id"]
        indexes = [
            models.Index(fields=["location", "arrived_at"]),
            models.Index(fields=["location", "status"]),
            models.Index(fields=["patient", "-arrived_at"]),
        ]
        constraints = [
            # A chair holds one patient at a time; a patient sits in one chair at a time.
            models.UniqueConstraint(
                fields=["chair"],
                condition=Q(status__in=["arrived", "precheck", "infusing", "recovering"]),
                name="infusion_session_one_active_per_chair",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["arrived", "precheck", "infusing", "recovering"]),
                name="infusion_session_one_active_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True) | Q(signed_by__isnull=False),
                name="infusion_session_signed_has_signer",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True)
                | Q(started_at__isnull=False, ended_at__gte=F("started_at")),
                name="infusion_session_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["infusing", "recovering", "discharged"])
                | Q(started_at__isnull=False),
                name="infusion_session_started_when_infusing",
            ),
            models.CheckConstraint(
                condition=~Q(status="discharged")
                | Q(discharged_at__isnull=False, discharged_by__isnull=False),
                name="infusion_session_discharge_recorded",
            ),
            models.CheckConstraint(
                condition=Q(current_rate_mg_per_h__isnull=True) | Q(current_rate_mg_per_h__gte=0),
                name="infusion_session_rate_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Infusion session {self.arrived_at:%Y-%m-%d}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class PreInfusionCheck(models.Model):
    """One run of the pre-infusion checklist; the latest one decides whether the start may go
    ahead. A failed check can be overridden by a physician with a written reason."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="prechecks")
    entry = models.OneToOneField(
        "ChartEntry", on_delete=models.PROTECT, related_name="precheck", null=True, blank=True
    )
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    fasting = models.BooleanField()
    escort_arranged = models.BooleanField()
    consent_confirmed = models.BooleanField()
    plan_dose_present = models.BooleanField()
    # The day's measured weight (gate 2); null on checks recorded before it was asked.
    weight_kg = models.FloatField(null=True, blank=True)
    passed = models.BooleanField()
    # [{code, field, message, source, value, threshold}] from clinical.monitoring.precheck.
    findings = models.JSONField(default=list, blank=True)
    policy_version = models.PositiveIntegerField()
    policy_values = models.JSONField(default=dict)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["session", "-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(override_by__isnull=True)
                | (Q(override_at__isnull=False, passed=False) & ~Q(override_reason="")),
                name="infusion_precheck_override_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return "Pre-infusion check passed" if self.passed else "Pre-infusion check failed"


class EntryKind(models.TextChoices):
    PRECHECK = "precheck", "Pre-infusion vitals"
    VITALS = "vitals", "Vitals and sedation"
    CADSS = "cadss", "Dissociation (CADSS-6)"
    RECOVERY = "recovery", "Recovery (Aldrete)"


class Phase(models.TextChoices):
    BEFORE = "before", "Before the infusion"
    DURING = "during", "During the infusion"
    AFTER = "after", "After the infusion"


class ChartEntry(models.Model):
    """One moment charted: the observations taken together, who took them and when."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    phase = models.CharField(max_length=8, choices=Phase.choices)
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True)
    # Why the time was set more than a few minutes back (clinical.charting.charted_time).
    time_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["session", "taken_at", "id"]
        verbose_name_plural = "chart entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.taken_at:%H:%M}"


class Observation(models.Model):
    """One coded value (LOINC or a ketaclinic scale code) with its UCUM unit."""

    entry = models.ForeignKey(ChartEntry, on_delete=models.PROTECT, related_name="observations")
    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="observations"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField()
    # The key of the code system: "loinc" (clinical.codes) or "ketaclinic" for the scales.
    system = models.CharField(max_length=20)
    code = models.CharField(max_length=20)
    display = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=7, decimal_places=2)
    unit = models.CharField(max_length=20)
    # A scale's item answers (e.g. the five Aldrete domains), so the total can be rescored.
    components = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [models.Index(fields=["patient", "code", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.display} {self.value} {self.unit}"


class RateEventKind(models.TextChoices):
    START = "start", "Started"
    CHANGE = "change", "Rate changed"
    PAUSE = "pause", "Paused"
    RESUME = "resume", "Resumed"
    STOP = "stop", "Stopped"


class RateEvent(models.Model):
    """A pump setting from ``at`` until the next event; the segments give the total given."""

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="rate_events"
    )
    kind = models.CharField(max_length=8, choices=RateEventKind.choices)
    at = models.DateTimeField()
    rate_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2)
    rate_mg_per_h = models.FloatField()
    reason = models.CharField(max_length=300, blank=True)
    time_reason = models.CharField(max_length=300, blank=True)
    # Amount given up to this event (from the previous segments), for the chart's table.
    given_mg = models.FloatField()
    # The clinic policy version the rate was checked against (start, change, pause, resume):
    # the limits may change during a session, and each decision keeps the one it used.
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_ml_per_h__gte=0) & Q(rate_mg_per_h__gte=0) & Q(given_mg__gte=0),
                name="infusion_rate_event_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["pause", "stop"]) | Q(rate_mg_per_h=0),
                name="infusion_rate_event_pause_and_stop_are_zero",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.rate_ml_per_h} mL/h"


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


class Addendum(lib_models.Addendum):
    """A correction or late entry added after the session was signed."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="addenda")

    class Meta:
        ordering = ["session", "created_at", "id"]
        verbose_name_plural = "addenda"
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="infusion_addendum_has_text"),
        ]
