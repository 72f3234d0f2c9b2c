"""Scheduling: appointment types, provider availability, appointments, waitlist, reminders, links.

Invariants live in the database: check constraints on every range, a unique row per sent
reminder, and on PostgreSQL an exclusion constraint (migration 0002) so that two active
appointments of one provider can never overlap, whatever the application does; and (migration
0004) the same for one infusion chair, so an induction series can never double-book a chair.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ketaclinic.accounts.models import Role
from ketaclinic.clinics.models import Chair, Clinic, Location, SeriesPattern
from ketaclinic.lib.models import SingleUseLink
from ketaclinic.patients.models import Patient


class AppointmentKind(models.TextChoices):
    CONSULTATION = "consultation", "Consultation"
    FOLLOW_UP = "follow_up", "Follow-up"
    INFUSION = "infusion", "Infusion"


class AppointmentType(models.Model):
    # The FHIR API's name for the type (a free slot's service type and part of its id).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointment_types")
    kind = models.CharField(max_length=20, choices=AppointmentKind.choices)
    name = models.CharField(max_length=100)
    duration_min = models.PositiveIntegerField("duration (minutes)")
    # Time kept free after the appointment (cleaning, notes); it blocks the provider too.
    buffer_min = models.PositiveIntegerField("buffer after (minutes)", default=0)
    provider_role = models.CharField(max_length=20, choices=Role.choices, default=Role.PHYSICIAN)
    needs_chair = models.BooleanField(default=False)
    bookable_online = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"], name="appointment_type_name_unique_per_clinic"
            ),
            models.CheckConstraint(
                condition=Q(duration_min__gte=5, duration_min__lte=600),
                name="appointment_type_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(buffer_min__lte=240), name="appointment_type_buffer_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WeeklyAvailability(models.Model):
    """Recurring hours, as wall-clock times in the location's time zone (so 9:00 stays 9:00
    across daylight-saving changes)."""

    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_availability"
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="weekly_availability"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["provider", "location", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")),
                name="weekly_availability_start_before_end",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekly_availability_weekday"),
        ]
        indexes = [models.Index(fields=["location", "provider"])]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class ExceptionKind(models.TextChoices):
    TIME_OFF = "time_off", "Time off"
    EXTRA_HOURS = "extra_hours", "Extra hours"


class AvailabilityException(models.Model):
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability_exceptions"
    )
    # Time off without a location applies everywhere; extra hours always name one.
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ExceptionKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="availability_exception_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(kind="time_off") | Q(location__isnull=False),
                name="availability_exception_extra_hours_need_location",
            ),
        ]
        indexes = [models.Index(fields=["provider", "start"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d %H:%M}"


class BookingPolicy(models.Model):
    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="booking_policy")
    lead_time_hours = models.PositiveIntegerField(default=2)
    horizon_days = models.PositiveIntegerField(default=60)
    cancel_cutoff_hours = models.PositiveIntegerField(default=24)
    waitlist_hold_minutes = models.PositiveIntegerField(default=60)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(horizon_days__gte=1, horizon_days__lte=366),
                name="booking_policy_horizon_range",
            ),
            models.CheckConstraint(
                condition=Q(waitlist_hold_minutes__gte=5), name="booking_policy_hold_minimum"
            ),
        ]

    def __str__(self) -> str:
        return f"Booking policy of {self.clinic}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"
    ARRIVED = "arrived", "Arrived"
    NO_SHOW = "no_show", "No-show"
    COMPLETED = "completed", "Completed"


# Every status but "cancelled" keeps the provider's time taken.
ACTIVE_STATUSES = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.COMPLETED,
)


class SeriesStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class InductionSeries(models.Model):
    """An induction series booked as one unit: every session (an ``Appointment`` with a chair
    and a nurse) was checked and saved in one transaction, or none was.

    The values the sessions were laid out with (pattern, count, infusion and recovery minutes and
    the clinic policy version that gave the recovery time) are copied here, so the series still
    explains itself after the plan or the policy moves on.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="induction_series")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.PROTECT, related_name="induction_series"
    )
    status = models.CharField(
        max_length=12, choices=SeriesStatus.choices, default=SeriesStatus.BOOKED
    )
    pattern = models.CharField(max_length=20, choices=SeriesPattern.choices)
    sessions_count = models.PositiveSmallIntegerField()
    duration_min = models.PositiveIntegerField("infusion (minutes)")
    recovery_min = models.PositiveIntegerField("recovery in the chair (minutes)")
    policy_version = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "induction series"
        constraints = [
            # One plan, one live series: a second booking of the same plan is refused even when
            # two desks press "Book" at the same moment.
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status="booked"),
                name="induction_series_one_booked_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(sessions_count__gte=1, sessions_count__lte=30)
                & Q(duration_min__gte=5, duration_min__lte=720)
                & Q(recovery_min__lte=480),
                name="induction_series_ranges",
            ),
        ]

    def __str__(self) -> str:
        return f"Induction series of {self.sessions_count} sessions"


class Appointment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments_given"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    # end + the type's buffer: the span the provider is busy, used by the overlap constraint.
    block_end = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    version = models.PositiveIntegerField(default=1)
    # iCalendar SEQUENCE: raised on every change the patient's calendar must pick up.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    booked_online = models.BooleanField(default=False)
    # Infusion sessions occupy a chair from start to block_end (infusion plus recovery); the
    # chair overlap constraint (migration 0004) covers the same span as the provider one.
    chair = models.ForeignKey(
        Chair, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    series = models.ForeignKey(
        InductionSeries,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")) & Q(end__lte=F("block_end")),
                name="appointment_range_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "start"]),
            models.Index(fields=["location", "start"]),
            models.Index(fields=["clinic", "-created_at"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["chair", "start"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.start:%Y-%m-%d %H:%M}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    BOOKED = "booked", "Booked from an offer"
    LEFT = "left", "Left the waitlist"


class WaitlistEntry(models.Model):
    """A patient asking for an earlier slot at a location (than ``appointment``, if any)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "location", "type"],
                condition=Q(status="waiting"),
                name="waitlist_one_waiting_entry_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"Waitlist entry {self.pk}"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class WaitlistOffer(models.Model):
    """A freed slot held for one waitlisted patient until ``expires_at``."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    block_end = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A slot is offered to each patient at most once.
            models.UniqueConstraint(
                fields=["entry", "provider", "start"], name="waitlist_offer_once_per_entry"
            ),
            # At most one open offer holds a given slot.
            models.UniqueConstraint(
                fields=["provider", "start"],
                condition=Q(status="open"),
                name="waitlist_offer_one_open_hold_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist offer {self.pk}"


class ReminderKind(models.TextChoices):
    BEFORE_48H = "48h", "48 hours before"
    BEFORE_2H = "2h", "2 hours before"


class SentReminder(models.Model):
    """One reminder of an appointment, written in the same transaction as its audit event and
    the email's send (``scheduling/tasks.py`` ``appointment_reminder``): the unique constraint
    stops a second send, and a worker killed before the commit leaves no row, so the job's
    re-run sends it (docs/operations.md "One machine or many")."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    start = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "start"], name="reminder_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"Reminder {self.kind} for appointment {self.appointment_id}"


class LinkAction(models.TextChoices):
    RESCHEDULE = "reschedule", "Reschedule"
    CANCEL = "cancel", "Cancel"
    WAITLIST_ACCEPT = "waitlist_accept", "Accept a waitlist offer"


class ActionLink(SingleUseLink):
    """A single-use emailed link. The URL carries only a signed random nonce. The nonce and the
    created, expiry and use times are ``SingleUseLink``'s columns (``ketaclinic.lib.links``)."""

    action = models.CharField(max_length=20, choices=LinkAction.choices)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    offer = models.ForeignKey(
        WaitlistOffer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta(SingleUseLink.Meta):
        # The daily purge looks links up by these two columns.
        indexes = [models.Index(fields=["expires_at"]), models.Index(fields=["used_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(appointment__isnull=False) | Q(offer__isnull=False),
                name="action_link_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} link {self.pk}"


class PendingSignup(models.Model):
    """What a visitor entered while booking, kept until their email is verified.

    The patient record is made only then (``services.booking_signup_complete``), so an address
    nobody verified leaves no Patient; a row, not the session, because the email may be opened
    in another browser. Deleted once used; purged after ``SIGNUP_RETENTION`` otherwise
    (``tasks.booking_signup_purge``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_signup"
    )
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    # The details form's cleaned values, as strings (scheduling.forms.PatientDetailsForm).
    details = models.JSONField()
    # The chosen time, offered again once verified; a time since taken is refused then.
    provider_id = models.IntegerField(null=True, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    # The visitor's anonymous self-check (screening), attached to the record once it exists.
    selfcheck_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Pending sign-up of user {self.user_id}"
