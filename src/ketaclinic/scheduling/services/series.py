"""Induction series: the plan's sessions booked, or cancelled, as one unit.

Gates 1 and 3 of docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" are asked
inside the booking transaction; a signed plan revision replaces the old series' remaining
sessions (``series_replace_for_revision``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentStatus,
    InductionSeries,
    SeriesStatus,
)
from ketaclinic.scheduling.selectors import infusion_type, series_propose, series_refusal
from ketaclinic.scheduling.services.appointments import appointment_insert
from ketaclinic.scheduling.services.errors import (
    SchedulingError,
    SeriesUnavailableError,
    is_chair_overlap,
    is_overlap,
)
from ketaclinic.scheduling.services.gates import (
    is_clinician,
    require_day_cap,
    require_eligibility,
    require_scheduler,
)
from ketaclinic.scheduling.services.locks import (
    lock_location,
    lock_plan,
    lock_providers,
    lock_series,
    lock_series_sessions_to_come,
    retry_if_locked,
)
from ketaclinic.scheduling.services.notifications import after_series, run_after_commit
from ketaclinic.scheduling.signals import announce_appointments_changed
from ketaclinic.scheduling.slots import SeriesBoard, series_dates


def _require_series_gates(
    *, plan: Plan, days: Sequence[dt.date], today: dt.datetime, clinician: bool
) -> None:
    """Gates 1 and 3 of docs/clinical-policy.md "Gates along the journey (added 2026-12-03)".

    Eligibility in force today; no other active series for the patient (a plan revision replaces
    the old plan's remaining sessions instead of adding a second series); at most one ketamine
    session per patient per calendar day, counted in each appointment's own location zone.
    """
    require_eligibility(
        patient=plan.patient,
        today=today.date(),
        action="book an infusion series",
        clinician=clinician,
    )
    other = (
        InductionSeries.objects.filter(patient_id=plan.patient_id, status=SeriesStatus.BOOKED)
        .exclude(plan=plan)
        .filter(sessions__status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED))
        .select_related("plan")
        .first()
    )
    if other is not None:
        raise SchedulingError(
            f"One series at a time: the patient still has sessions booked in the series of "
            f"plan {other.plan.number}. Cancel its remaining sessions (or sign the revised plan, "
            "which replaces them) before booking another. Nothing was booked."
        )
    require_day_cap(patient_id=plan.patient_id, days=days, field="sessions")


@retry_if_locked
def series_book(
    *,
    actor: Actor,
    plan: Plan,
    location: Location,
    sessions: Sequence[tuple[int, int, dt.datetime]],
    now: dt.datetime | None = None,
) -> InductionSeries:
    """Book the plan's induction series as one unit: every session (chair id, nurse id, start) is
    re-checked inside one transaction and all are saved, or none is.

    Writers are queued per location (its row is locked) and per nurse (as single bookings are),
    so a racing series waits and its re-check sees the winner; the chair and provider exclusion
    constraints (triggers on SQLite) stay as the backstop. A refusal raises
    ``SeriesUnavailableError`` carrying the next feasible series, or ``SchedulingError``.
    """
    now = now or timezone.now()
    require_scheduler(actor, plan.clinic_id, "book an induction series")
    if location.clinic_id != plan.clinic_id:
        raise SchedulingError("That location is not part of this clinic.", field="location")
    if not sessions:
        raise SchedulingError("sessions: the series has no sessions to book.", field="sessions")
    tz = zoneinfo.ZoneInfo(location.time_zone)
    first_day = min(start for _, _, start in sessions).astimezone(tz).date()
    failure: str
    try:
        with transaction.atomic():
            locked_plan = lock_plan(plan.pk)
            protocol = KetamineProtocol.objects.filter(plan=locked_plan).first()
            booked_already = InductionSeries.objects.filter(
                plan=locked_plan, status=SeriesStatus.BOOKED
            ).exists()
            refusal = series_refusal(
                plan=locked_plan, protocol=protocol, booked_already=booked_already
            )
            if refusal is not None:
                raise SchedulingError(refusal)
            assert protocol is not None
            session_type = infusion_type(locked_plan.clinic_id)
            if session_type is None:
                raise SchedulingError(
                    "This clinic has no infusion appointment type yet; a clinic admin adds one "
                    "under scheduling settings."
                )
            ordered = sorted(sessions, key=lambda s: s[2])
            if len(ordered) != protocol.sessions_count:
                raise SchedulingError(
                    f"sessions: the protocol has {protocol.sessions_count} sessions, "
                    f"not {len(ordered)}. Nothing was booked.",
                    field="sessions",
                )
            try:
                expected_days = series_dates(first_day, protocol.pattern, protocol.sessions_count)
            except ValueError:
                expected_days = []
            if [start.astimezone(tz).date() for _, _, start in ordered] != expected_days:
                raise SchedulingError(
                    f"sessions: the days do not follow the protocol's pattern "
                    f"({protocol.get_pattern_display().lower()}). Nothing was booked.",
                    field="sessions",
                )
            _require_series_gates(
                plan=locked_plan,
                days=expected_days,
                today=now.astimezone(tz),
                clinician=is_clinician(actor),
            )
            policy = clinic_policy_current(clinic_id=locked_plan.clinic_id)
            # The queue: one series at a time per location, then the nurses in id order.
            lock_location(location.pk)
            lock_providers(*(nurse for _, nurse, _ in ordered))
            board = SeriesBoard(
                location=location,
                patient_id=locked_plan.patient_id,
                day_from=expected_days[0],
                day_to=expected_days[-1],
                duration_min=protocol.duration_min,
                recovery_min=policy.recovery_min,
                now=now,
            )
            taken: list[tuple[dt.datetime, dt.datetime]] = []
            for number, (chair_id, nurse_id, start) in enumerate(ordered, start=1):
                why = board.refusal(chair_id=chair_id, nurse_id=nurse_id, start=start, taken=taken)
                if why is not None:
                    raise SeriesUnavailableError(
                        f"Session {number} ({start.astimezone(tz):%a %d %b, %I:%M %p}) {why}, "
                        "so nothing was booked.",
                        proposal=None,
                    )
                taken.append((start, start + board.block))
            series = InductionSeries(
                clinic_id=locked_plan.clinic_id,
                patient_id=locked_plan.patient_id,
                location=location,
                plan=locked_plan,
                pattern=protocol.pattern,
                sessions_count=protocol.sessions_count,
                duration_min=protocol.duration_min,
                recovery_min=policy.recovery_min,
                policy_version=policy.version,
                created_by=actor.user,
            )
            series.full_clean()
            series.save()
            patient = Patient.objects.get(pk=locked_plan.patient_id)
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="induction_series",
                object_id=series.public_id,
                patient=patient,
                detail={
                    "plan": str(locked_plan.public_id),
                    "sessions": series.sessions_count,
                    "pattern": series.pattern,
                    "duration_min": series.duration_min,
                    "recovery_min": series.recovery_min,
                    "policy_version": series.policy_version,
                },
            )
            for chair_id, nurse_id, start in ordered:
                appointment = Appointment(
                    clinic_id=locked_plan.clinic_id,
                    location=location,
                    provider_id=nurse_id,
                    patient=patient,
                    type=session_type,
                    start=start,
                    end=start + board.duration,
                    block_end=start + board.block,
                    chair_id=chair_id,
                    series=series,
                    booked_by=actor.user,
                    booked_online=False,
                )
                appointment_insert(
                    actor=actor,
                    appointment=appointment,
                    detail={"type": session_type.kind, "series": str(series.public_id)},
                )
            run_after_commit(partial(after_series, series.pk))
            return series
    except IntegrityError as exc:
        if "induction_series_one_booked_per_plan" in str(exc):
            raise SchedulingError(
                "This plan already has a booked series. Cancel it first to book another."
            ) from None
        if not (is_overlap(exc) or is_chair_overlap(exc)):
            raise
        failure = (
            "Someone booked one of these chairs or nurses a moment ago, so nothing was booked."
        )
    except SeriesUnavailableError as exc:
        failure = " ".join(exc.messages)
    proposal = series_propose(plan=plan, location=location, day_from=first_day, now=now)
    raise SeriesUnavailableError(failure, proposal=proposal)


def series_cancel(
    *,
    actor: Actor,
    series: InductionSeries,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    plan_revised: bool = False,
) -> InductionSeries:
    """Cancel a whole series: every session still to come is cancelled, sessions already
    attended stay as they were. Audited per series and per session. ``plan_revised``: the
    cancellation follows a signed plan revision, and the patient's email says so."""
    now = now or timezone.now()
    require_scheduler(actor, series.clinic_id, "cancel an induction series")
    with transaction.atomic():
        current = lock_series(series.pk, expected_version=expected_version)
        if current.status != SeriesStatus.BOOKED:
            raise SchedulingError("This series is already cancelled.")
        to_cancel = lock_series_sessions_to_come(current, now=now)
        announce_appointments_changed([current.patient_id])
        Appointment.objects.filter(pk__in=[pk for pk, _ in to_cancel]).update(
            status=AppointmentStatus.CANCELLED,
            version=F("version") + 1,
            sequence=F("sequence") + 1,
            updated_at=now,
        )
        InductionSeries.objects.filter(pk=current.pk).update(
            status=SeriesStatus.CANCELLED, version=F("version") + 1, updated_at=now
        )
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="induction_series",
            object_id=current.public_id,
            patient=current.patient,
            detail={
                "change": "cancel",
                "sessions_cancelled": len(to_cancel),
                **({"because": "plan_revised"} if plan_revised else {}),
            },
        )
        for _, public_id in to_cancel:
            audit_record(
                actor=actor,
                action=Action.UPDATE,
                object_type="appointment",
                object_id=public_id,
                patient=current.patient,
                detail={"change": "cancel", "series": str(current.public_id)},
            )
        run_after_commit(
            partial(
                after_series,
                current.pk,
                cancelled_ids=[pk for pk, _ in to_cancel],
                plan_revised=plan_revised,
            )
        )
    return InductionSeries.objects.get(pk=series.pk)


def series_replace_for_revision(*, actor: Actor, superseded_plan_ids: Sequence[int]) -> list[str]:
    """Cancel the sessions still to come of the series booked for plans a revision replaced.

    Gate 3 (docs/clinical-policy.md "Gates along the journey (added 2026-12-03)"): at most one
    active series per patient, and a signed revision replaces the old plan's remaining sessions
    instead of adding a second series. Called inside the plan's signing transaction; each series
    is cancelled as the desk would (audited, the patient emailed after commit). Returns the
    public ids of the series cancelled.
    """
    cancelled: list[str] = []
    for series in InductionSeries.objects.filter(
        plan_id__in=superseded_plan_ids, status=SeriesStatus.BOOKED
    ).order_by("pk"):
        series_cancel(actor=actor, series=series, plan_revised=True)
        cancelled.append(str(series.public_id))
    return cancelled
