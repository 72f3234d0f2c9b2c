"""What is charted at the chair: the pre-infusion check, the chart entries and their coded
observations, and the pump's rate events.

Observations are stored one value per row with their code system, code and UCUM unit
(docs/clinical-policy.md "Codes [8]"): LOINC for vital signs and the pain NRS; the bedside scales
that have no code there (RASS, MOAA/S, CADSS-6, modified Aldrete) use this project's own system
``ketaclinic`` with the instrument code and the UCUM annotation unit ``{score}``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ketaclinic.infusions.models.session import InfusionSession
from ketaclinic.patients.models import Patient


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

    # The id other systems know the value by (the FHIR API's Observation id).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
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
