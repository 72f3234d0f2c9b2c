"""The pain diary between visits: entries, reminder schedules, sent reminders and emailed links.

Invariants live in the database: one entry per patient, instrument and day (a second entry the
same day replaces the first, see ``diary.services.diary_entry_record``), every score inside its
instrument's range, the NRS stored with its LOINC code, one sent reminder per patient, instrument
and local day (the claim that stops a second email), and a link that names exactly one entry.
Scores are computed by ``ketaclinic.clinical.instruments`` only; the columns store its result.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ketaclinic.clinical.outcomes import DEFAULT_RELAPSE_FRACTION
from ketaclinic.clinics.models import Clinic
from ketaclinic.lib.models import SingleUseLink
from ketaclinic.patients.models import Patient

NRS_LOINC = "72514-3"


class Instrument(models.TextChoices):
    NRS = "nrs", "Daily pain (0-10)"
    PEG = "peg", "Weekly pain and function (PEG)"
    PGIC = "pgic", "Change since treatment began (PGIC)"


class EntrySource(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    LINK = "link", "Emailed link"


class DiaryEntry(models.Model):
    # The id other systems know an entry by (the FHIR API's Observation id): never the
    # database's own.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diary_entries")
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    # The patient's own calendar day (their location's time zone), not a UTC instant: "my pain
    # today" belongs to the day the patient lived, whatever the server's clock says.
    entry_date = models.DateField()
    # The answers as given (item key -> value) and the total ``clinical.instruments.score`` gave.
    answers = models.JSONField(default=dict)
    score = models.FloatField()
    # LOINC code of the observation (72514-3 for the NRS); blank where the code table has none.
    loinc = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=8, choices=EntrySource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: a correction made from a stale page is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["patient", "entry_date", "instrument"]
        verbose_name_plural = "diary entries"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "instrument", "entry_date"], name="diary_entry_one_per_day"
            ),
            models.CheckConstraint(
                condition=Q(instrument__in=["nrs", "peg", "pgic"]), name="diary_entry_instrument"
            ),
            models.CheckConstraint(
                condition=(Q(instrument__in=["nrs", "peg"]) & Q(score__gte=0, score__lte=10))
                | (Q(instrument="pgic") & Q(score__gte=1, score__lte=7)),
                name="diary_entry_score_range",
            ),
            models.CheckConstraint(
                condition=~Q(instrument="nrs") | Q(loinc=NRS_LOINC), name="diary_entry_nrs_loinc"
            ),
        ]
        indexes = [
            # The chart and durability read one patient's series in date order.
            models.Index(fields=["patient", "instrument", "entry_date"]),
            # Clinic analytics scan one clinic's NRS by date.
            models.Index(fields=["clinic", "instrument", "entry_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.entry_date}"


class ReminderSchedule(models.Model):
    """When a patient is reminded to fill in the diary.

    ``time_of_day`` is wall-clock time in the patient's location time zone, so 7 pm stays 7 pm
    across daylight-saving changes. ``next_due_at`` is the UTC instant of the next reminder,
    kept by the services so the worker finds due schedules with one indexed query.
    """

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="diary_reminders"
    )
    enabled = models.BooleanField(default=True)
    time_of_day = models.TimeField()
    daily_nrs = models.BooleanField("daily pain score", default=True)
    weekly_peg = models.BooleanField("weekly PEG", default=True)
    peg_weekday = models.PositiveSmallIntegerField(default=6)  # 0 Monday ... 6 Sunday
    # Paused up to and including this day (the patient's own calendar).
    paused_until = models.DateField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(peg_weekday__lte=6), name="reminder_schedule_weekday"
            ),
        ]
        indexes = [models.Index(fields=["enabled", "next_due_at"])]

    def __str__(self) -> str:
        return f"Diary reminders at {self.time_of_day:%H:%M}"


class SentDiaryReminder(models.Model):
    """Claimed (and committed) before the email goes out: the unique constraint is what stops a
    second email for the same day, even with two workers or a job that runs twice."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    local_date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "instrument", "local_date"], name="diary_reminder_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"Diary reminder {self.instrument} {self.local_date}"


class DiaryLink(SingleUseLink):
    """A single-use emailed link that records exactly one entry: this patient, this instrument,
    this day. The URL carries only a signed random nonce; the row says what it may record.
    The nonce and the created, expiry and use times are ``SingleUseLink``'s columns."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    entry_date = models.DateField()

    class Meta(SingleUseLink.Meta):
        indexes = [models.Index(fields=["expires_at"]), models.Index(fields=["used_at"])]

    def __str__(self) -> str:
        return f"Diary link {self.instrument} {self.entry_date}"


class BoosterStatus(models.TextChoices):
    OPEN = "open", "Waiting for a physician"
    APPROVED = "approved", "Approved: offered to the patient"
    DECLINED = "declined", "Declined"
    BOOKED = "booked", "Booked"


class BoosterSuggestion(models.Model):
    """A relapse flagged by ``clinical.outcomes.durability`` after the patient's latest series,
    waiting for a physician's decision (policy: ``clinical.protocols.BOOSTER_SOURCE``).

    One suggestion per patient and relapse (a database constraint), so the periodic refresh and
    the refresh after each diary entry can both run, any number of times, without duplicates.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    series_end = models.DateField()
    relapse_date = models.DateField()
    baseline = models.FloatField()
    # The 7-day window means (ISO date -> mean) of the relapse run, as the rule saw them.
    window_means = models.JSONField(default=dict, blank=True)
    source = models.TextField()
    status = models.CharField(
        max_length=10, choices=BoosterStatus.choices, default=BoosterStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    appointment_type = models.ForeignKey(
        "scheduling.AppointmentType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="booster_suggestion",
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["relapse_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "relapse_date"], name="booster_one_per_relapse"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "approved", "declined", "booked"]),
                name="booster_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="booster_decline_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="booster_decided_by_someone",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "booked"]) | Q(appointment_type__isnull=False),
                name="booster_offer_has_type",
            ),
            models.CheckConstraint(
                condition=~Q(status="booked") | Q(appointment__isnull=False),
                name="booster_booked_has_appointment",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "status"])]

    def __str__(self) -> str:
        return f"Booster suggestion (relapse {self.relapse_date})"

    @property
    def relapse_level(self) -> float:
        """The level the pain climbed back above (``clinical.outcomes``' relapse fraction)."""
        return DEFAULT_RELAPSE_FRACTION * self.baseline


class LetterStatus(models.TextChoices):
    QUEUED = "queued", "Being prepared"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Letter(models.Model):
    """A progress letter to the referring physician, drawn as a PDF by the task worker."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=LetterStatus.choices, default=LetterStatus.QUEUED
    )
    # The drawn PDF's name in the default storage (``letters.generation``), never served from a
    # media URL: only the audited download view reads it (``letters.selectors.letter_open``).
    # In storage, not in the row, so any web node streams what any worker drew.
    pdf_file = models.FileField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "ready", "failed"]), name="letter_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(pdf_file="") & Q(ready_at__isnull=False)),
                name="letter_ready_has_pdf_file",
            ),
        ]

    def __str__(self) -> str:
        return f"Progress letter {self.created_at:%Y-%m-%d}"


class SeriesResult(models.Model):
    """One infusion series' response and durability, as ``clinical.outcomes`` judged it.

    A stored copy of what the chart computes (``selectors.series_outcomes``), kept so the clinic
    analytics aggregate in the database over one row per series instead of re-reading years of
    diary. ``outcomes.durability.services`` rewrites a patient's rows after each daily score and
    a clinic's rows on the periodic refresh; ``computed_at`` says how fresh they are and ``rule``
    records the values the judgement used (baseline, threshold parameters, source).
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="series_results")
    number = models.PositiveIntegerField()  # 1 for the patient's first series
    series = models.ForeignKey(
        "scheduling.InductionSeries", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    location = models.ForeignKey(
        "clinics.Location", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateField()  # first session given, in the location's calendar
    end = models.DateField()  # last session given
    sessions = models.PositiveIntegerField()
    ongoing = models.BooleanField(default=False)
    cause = models.CharField(max_length=200, blank=True)
    protocol = models.CharField(max_length=200, blank=True)
    baseline = models.FloatField(null=True)
    baseline_source = models.CharField(max_length=10, blank=True)
    followup = models.FloatField(null=True)
    response = models.CharField(max_length=12, blank=True)  # clinical.outcomes.RESPONSE_CLASSES
    responded = models.BooleanField(default=False)
    response_date = models.DateField(null=True)
    relapse_date = models.DateField(null=True)
    days_of_relief = models.PositiveIntegerField(null=True)
    censored = models.BooleanField(default=False)
    rule = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["patient", "number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="series_result_one_per_n"),
        ]
        indexes = [models.Index(fields=["clinic", "start"], name="series_result_clinic_start")]

    def __str__(self) -> str:
        return f"series result {self.pk}"


class ResultsMark(models.Model):
    """Whether a patient's stored series results (and booster check) may be out of date.

    One row per patient. Every write that can change the results (a daily score, an infusion
    appointment or session that changes) sets ``dirty`` to a new random value, in the write's
    own transaction where the write is this app's; the refresh (``durability.services``) takes
    only the marked patients, computes outside any transaction and then clears only the value it
    read: a write that came in during the computation left another value, so its mark stays for
    the next run. ``recheck_at`` is the passage of time: results change without any write when a
    booked session's day passes unstarted (it leaves the series), so the refresh also takes the
    patients whose ``recheck_at`` has come. ``computed_at`` is when the results were last stored,
    which the refresh compares with consultation changes (the intake pain score and the cause).
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="+")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    dirty = models.UUIDField(null=True, blank=True)
    marked_at = models.DateTimeField(null=True, blank=True)
    recheck_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The refresh's two questions of one clinic, each answered from a small index.
            models.Index(
                fields=["clinic"], condition=Q(dirty__isnull=False), name="results_mark_dirty"
            ),
            models.Index(
                fields=["clinic", "recheck_at"],
                condition=Q(recheck_at__isnull=False),
                name="results_mark_recheck",
            ),
            # When the clinic's results last changed: the analytics' cache key, read on every
            # view (``analytics.selectors.results_generation``) from the index's last entry.
            models.Index(fields=["clinic", "computed_at"], name="results_mark_computed"),
        ]

    def __str__(self) -> str:
        return f"results mark {self.pk}"
