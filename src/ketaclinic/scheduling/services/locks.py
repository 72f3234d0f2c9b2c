"""Row locks of the scheduling writes, taken in one order so two writers never wait on each other.

The order, first to last (a writer takes only the locks it needs, but never one out of order):

1. the plan (``lock_plan``): a series is booked for a plan; signing a revision locks it too,
   before it cancels the old series;
2. the induction series (``lock_series``), then the sessions it still has to come;
3. the location (``lock_location``): one series booked at a time per location;
4. the waitlist offer (``lock_offer``): accepting it books or moves an appointment;
5. the providers, in id order (``lock_providers``): one writer at a time per provider;
6. the appointment row (``lock_appointment``): a move, cancellation or status change.

Rows are locked with ``lib/locking.py``. The series and the appointment are locked together with
the version check of the page that asked (``lock_versioned``); a stale page is refused in the
scheduling pages' own words (``errors.stale``), as one ``SchedulingError``.

The booking policy (``lock_booking_policy``) is locked alone. A caller's own rows (a plan being
signed, a booster suggestion being booked) come before all of these.

Why providers before appointments: on PostgreSQL two transactions inserting overlapping rows can
deadlock inside the exclusion constraint check; taking the provider's row first turns the race
into a queue, and the loser's re-check sees the winner's committed row. The constraints stay as
the backstop. SQLite ignores FOR UPDATE: its IMMEDIATE transaction already serializes writers,
and ``retry_if_locked`` restarts a writer that found the database locked.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import OperationalError, transaction
from django.db.models import Model, QuerySet

from ketaclinic.accounts.models import User
from ketaclinic.clinics.models import Location
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.locking import lock_in_order, lock_row, lock_versioned
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    InductionSeries,
    WaitlistOffer,
)
from ketaclinic.scheduling.services.errors import stale

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=Model)


def retry_if_locked(fn: Callable[P, R]) -> Callable[P, R]:
    """SQLite only: a writer that found the database locked starts its transaction again.

    With a file database the busy timeout already waits; the shared-cache in-memory database of
    the test runner answers "table is locked" at once instead. Retrying the whole transaction
    (never a part of it, and never inside a caller's transaction) keeps the re-check honest.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        conn = transaction.get_connection()
        attempts = 50 if conn.vendor == "sqlite" and not conn.in_atomic_block else 1
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper


def _versioned(queryset: QuerySet[M], pk: int, expected_version: int | None, what: str) -> M:
    """``lock_versioned``, with a stale page refused in the scheduling pages' words."""
    try:
        return lock_versioned(queryset, pk, expected_version, what)
    except StaleObjectError:
        raise stale(what) from None


def lock_plan(plan_id: int) -> Plan:
    return lock_row(Plan.objects.all(), plan_id)


def lock_series(series_id: int, *, expected_version: int | None = None) -> InductionSeries:
    """The series, locked; refused if the page was opened at another ``expected_version``."""
    return _versioned(
        InductionSeries.objects.select_related("patient"), series_id, expected_version, "series"
    )


def lock_series_sessions_to_come(
    series: InductionSeries, *, now: dt.datetime
) -> list[tuple[int, uuid.UUID]]:
    """The (pk, public id) of the series' booked sessions after ``now``, locked, in start order."""
    sessions = lock_in_order(
        Appointment.objects.filter(series=series, status=AppointmentStatus.BOOKED, start__gt=now)
    )
    return [(a.pk, a.public_id) for a in sorted(sessions, key=lambda a: (a.start, a.pk))]


def lock_location(location_id: int) -> None:
    lock_in_order(Location.objects.filter(pk=location_id))


def lock_offer(offer_id: int, *, related: Sequence[str] = ()) -> WaitlistOffer | None:
    """The offer, locked, with ``related`` joined (the join locks only the offer's row)."""
    qs = WaitlistOffer.objects.select_related(*related) if related else WaitlistOffer.objects.all()
    try:
        return lock_row(qs, offer_id)
    except WaitlistOffer.DoesNotExist:
        return None


def lock_providers(*provider_ids: int) -> None:
    """Serialize writers per provider (rows locked in id order, so never a lock cycle)."""
    lock_in_order(User.objects.filter(pk__in=sorted(set(provider_ids))))


def lock_appointment(
    appointment: Appointment, *, expected_version: int | None = None
) -> Appointment:
    """The appointment, locked, with what its checks and emails read; refused if the page was
    opened at another ``expected_version``."""
    return _versioned(
        Appointment.objects.select_related("location__clinic", "type", "provider", "patient"),
        appointment.pk,
        expected_version,
        "appointment",
    )


def lock_booking_policy(clinic_id: int) -> BookingPolicy:
    policy, _ = BookingPolicy.objects.select_for_update().get_or_create(clinic_id=clinic_id)
    return policy
