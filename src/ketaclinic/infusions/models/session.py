"""The session row: one ``InfusionSession`` per patient visit to a chair, its status, and the
addenda written after a physician signed it.

It is kept apart from what is charted on it (``chart``) and the safety records that hang off it
(``safety``): the session is the row every write locks and bumps, the aggregate's root.

The session carries ``version`` (optimistic locking: every write to the chart goes through it, so
two nurses saving at once cannot lose an update) and a few denormalised fields (current rate,
last vitals, latest Aldrete) so the chair board reads every chair in a fixed number of queries.
The signature (``signed_by``, ``signed_at``, ``is_signed``) is the shared ``SignedRecord``.
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


class InfusionSession(lib_models.SignedRecord):
    """A patient's visit to a chair, from the arrival to the signature.

    An append-only record: vitals, scales, rate changes, alerts and adverse events are rows added
    to it, never edited; the physician's signature locks it and later corrections are addenda.
    """

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

    # Sign and lock: signed_by and signed_at come from SignedRecord.

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


class Addendum(lib_models.Addendum):
    """A correction or late entry added after the session was signed."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="addenda")

    class Meta:
        ordering = ["session", "created_at", "id"]
        verbose_name_plural = "addenda"
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="infusion_addendum_has_text"),
        ]
