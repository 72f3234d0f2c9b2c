"""Induction series: the finder (patterns, chairs, nurses, recovery, DST) and booking the whole
series as one unit (all sessions or none), cancelling it, and the chair constraint."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django_tasks_db.models import DBTaskResult

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Chair, ClinicPolicy
from ketaclinic.outcomes.models import ResultsMark
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityException,
    InductionSeries,
    SeriesStatus,
)
from ketaclinic.scheduling.slots import SeriesProposal, series_dates, series_find
from tests.conftest import World
from tests.factories.plans import make_plan
from tests.factories.scheduling import SeriesWorld, nurse_hours, setup_series
from tests.scheduling.helpers import series_snapshot

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC
# Friday 1 March 2030, 10:00 in Cleveland. US daylight saving time starts Sunday 10 March 2030.
NOW = dt.datetime(2030, 3, 1, 15, 0, tzinfo=UTC)
MONDAY = dt.date(2030, 3, 4)


@pytest.fixture
def sw(world: World) -> SeriesWorld:
    return setup_series(world, exam_date=NOW.date())


def _local(proposal: SeriesProposal) -> list[tuple[dt.date, dt.time]]:
    return [
        (s.start.astimezone(NY).date(), s.start.astimezone(NY).time()) for s in proposal.sessions
    ]


def _find(sw: SeriesWorld, **kwargs: Any) -> SeriesProposal | None:
    args: dict[str, Any] = {
        "patient_id": sw.world.alice_patient.pk,
        "location": sw.world.cleveland,
        "duration_min": 40,
        "recovery_min": 60,
        "sessions_count": 5,
        "pattern": "weekdays",
        "day_from": MONDAY,
        "now": NOW,
    }
    args.update(kwargs)
    return series_find(**args)


def _busy(
    sw: SeriesWorld, *, provider: Any, start: dt.datetime, minutes: int, chair: Chair | None = None
) -> Appointment:
    """Something already in the diary: an appointment of Bob's with this provider (and chair)."""
    return Appointment.objects.create(
        clinic=sw.world.clinic,
        location=sw.world.cleveland,
        provider=provider,
        patient=sw.world.bob_patient,
        type=sw.infusion,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        block_end=start + dt.timedelta(minutes=minutes),
        chair=chair,
    )


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY).astimezone(UTC)


def _book(
    sw: SeriesWorld, proposal: SeriesProposal, *, who: str = "front_desk", plan: Any = None
) -> InductionSeries:
    return services.series_book(
        actor=Actor(user=getattr(sw.world, who)),
        plan=plan or sw.plan,
        location=sw.world.cleveland,
        sessions=[(s.chair_id, s.nurse_id, s.start) for s in proposal.sessions],
        now=NOW,
    )


# --- the calendar of a series -----------------------------------------------------------------


def test_series_dates_follow_each_pattern() -> None:
    thursday = dt.date(2030, 3, 7)
    assert series_dates(thursday, "weekdays", 5) == [
        dt.date(2030, 3, 7),
        dt.date(2030, 3, 8),
        dt.date(2030, 3, 11),
        dt.date(2030, 3, 12),
        dt.date(2030, 3, 13),
    ]
    assert series_dates(MONDAY, "three_per_week", 6) == [
        dt.date(2030, 3, 4),
        dt.date(2030, 3, 6),
        dt.date(2030, 3, 8),
        dt.date(2030, 3, 11),
        dt.date(2030, 3, 13),
        dt.date(2030, 3, 15),
    ]
    assert series_dates(dt.date(2030, 3, 9), "daily", 3) == [
        dt.date(2030, 3, 9),
        dt.date(2030, 3, 10),
        dt.date(2030, 3, 11),
    ]


@pytest.mark.parametrize(
    ("first", "pattern", "count", "field"),
    [
        (dt.date(2030, 3, 9), "weekdays", 5, "first"),  # a Saturday
        (dt.date(2030, 3, 5), "three_per_week", 3, "first"),  # a Tuesday
        (MONDAY, "fortnightly", 3, "pattern"),
        (MONDAY, "daily", 0, "count"),
    ],
)
def test_series_dates_refuse_a_start_or_pattern_that_does_not_fit(
    first: dt.date, pattern: str, count: int, field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        series_dates(first, pattern, count)


# --- the finder ---------------------------------------------------------------------------------


def test_the_finder_proposes_five_weekdays_at_the_same_time_in_one_chair(sw: SeriesWorld) -> None:
    proposal = _find(sw)
    assert proposal is not None
    assert proposal.same_time
    assert _local(proposal) == [(MONDAY + dt.timedelta(days=i), dt.time(8)) for i in range(5)]
    first_chair = Chair.objects.filter(location=sw.world.cleveland).order_by("name").first()
    assert first_chair is not None
    assert {(s.chair_id, s.nurse_id) for s in proposal.sessions} == {
        (first_chair.pk, sw.world.nurse.pk)
    }
    # The chair is held for the infusion and the recovery after it.
    for s in proposal.sessions:
        assert (s.end - s.start, s.block_end - s.end) == (
            dt.timedelta(minutes=40),
            dt.timedelta(minutes=60),
        )


def test_the_finder_keeps_one_time_of_day_by_moving_the_whole_series_later(
    sw: SeriesWorld,
) -> None:
    # Wednesday morning both nurses are taken until 10:00: 8:00 fails that day, so the finder
    # moves every session to 10:00 rather than give Wednesday a different time.
    wednesday = MONDAY + dt.timedelta(days=2)
    for nurse in (sw.world.nurse, sw.nurse2):
        _busy(sw, provider=nurse, start=_at(wednesday, 8), minutes=120)
    proposal = _find(sw)
    assert proposal is not None
    assert proposal.same_time
    assert [t for _, t in _local(proposal)] == [dt.time(10)] * 5
    assert _local(proposal)[0][0] == MONDAY


def test_a_busy_chair_is_never_proposed_and_a_free_one_is(sw: SeriesWorld) -> None:
    chair1, chair2 = Chair.objects.filter(location=sw.world.cleveland).order_by("name")
    # Chair 1 is taken every morning by someone else's infusion (with another nurse).
    for i in range(5):
        _busy(
            sw,
            provider=sw.nurse2,
            start=_at(MONDAY + dt.timedelta(days=i), 8),
            minutes=100,
            chair=chair1,
        )
    proposal = _find(sw)
    assert proposal is not None
    assert [t for _, t in _local(proposal)] == [dt.time(8)] * 5
    assert {(s.chair_id, s.nurse_id) for s in proposal.sessions} == {(chair2.pk, sw.world.nurse.pk)}


def test_the_patients_own_appointments_are_avoided(sw: SeriesWorld) -> None:
    Appointment.objects.create(
        clinic=sw.world.clinic,
        location=sw.world.cleveland,
        provider=sw.world.physician,
        patient=sw.world.alice_patient,
        type=sw.infusion,
        start=_at(MONDAY + dt.timedelta(days=1), 8, 30),
        end=_at(MONDAY + dt.timedelta(days=1), 9),
        block_end=_at(MONDAY + dt.timedelta(days=1), 9, 15),
    )
    proposal = _find(sw)
    assert proposal is not None
    # 8:00 + 40 min infusion + 60 min recovery would run into Tuesday's 8:30 visit.
    assert [t for _, t in _local(proposal)] == [dt.time(9)] * 5


def test_nurse_time_off_breaks_consecutive_weekdays_so_the_series_starts_later(
    world: World,
) -> None:
    sw = setup_series(world, second_nurse=False, exam_date=NOW.date())
    tuesday = MONDAY + dt.timedelta(days=1)
    AvailabilityException.objects.create(
        provider=world.nurse, kind="time_off", start=_at(tuesday, 0), end=_at(tuesday, 23, 59)
    )
    proposal = _find(sw)
    assert proposal is not None
    assert [d for d, _ in _local(proposal)] == [
        dt.date(2030, 3, 6),
        dt.date(2030, 3, 7),
        dt.date(2030, 3, 8),
        dt.date(2030, 3, 11),
        dt.date(2030, 3, 12),
    ]


def test_without_a_same_time_series_the_times_differ_day_by_day(world: World) -> None:
    sw = setup_series(world, second_nurse=False, hours=(8, 10), exam_date=NOW.date())
    # Thursday Nina works only in the afternoon: no time of day fits all five.
    from ketaclinic.scheduling.models import WeeklyAvailability

    WeeklyAvailability.objects.filter(provider=world.nurse, weekday=3).update(
        start_time=dt.time(13), end_time=dt.time(16)
    )
    proposal = _find(sw)
    assert proposal is not None
    assert not proposal.same_time
    assert _local(proposal) == [
        (MONDAY, dt.time(8)),
        (MONDAY + dt.timedelta(days=1), dt.time(8)),
        (MONDAY + dt.timedelta(days=2), dt.time(8)),
        (MONDAY + dt.timedelta(days=3), dt.time(13)),
        (MONDAY + dt.timedelta(days=4), dt.time(8)),
    ]


def test_a_daily_series_keeps_its_wall_clock_time_across_the_dst_change(sw: SeriesWorld) -> None:
    friday = dt.date(2030, 3, 8)
    proposal = _find(sw, pattern="daily", day_from=friday, time_from=dt.time(9))
    assert proposal is not None
    assert _local(proposal) == [(friday + dt.timedelta(days=i), dt.time(9)) for i in range(5)]
    # 9:00 EST is 14:00 UTC; from Sunday 10 March, 9:00 EDT is 13:00 UTC.
    assert [s.start.astimezone(UTC).hour for s in proposal.sessions] == [14, 14, 13, 13, 13]
    assert all(s.end - s.start == dt.timedelta(minutes=40) for s in proposal.sessions)


def test_a_nurse_who_does_not_work_at_the_location_is_not_used(sw: SeriesWorld) -> None:
    # Nina has hours entered at Charlotte but does not work there: no nurse, no series.
    nurse_hours(sw.world.nurse, sw.world.charlotte)
    assert _find(sw, location=sw.world.charlotte) is None


def test_the_finder_runs_in_a_fixed_number_of_queries(
    sw: SeriesWorld, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(6):
        _find(sw, pattern="three_per_week", sessions_count=6)
    for i in range(30):
        _busy(sw, provider=sw.nurse2, start=_at(MONDAY + dt.timedelta(days=i), 8), minutes=60)
    with django_assert_num_queries(6):
        _find(sw, pattern="three_per_week", sessions_count=6)


# --- booking ------------------------------------------------------------------------------------


def test_booking_saves_every_session_with_chair_nurse_and_recovery_and_audits_each(
    sw: SeriesWorld, django_capture_on_commit_callbacks: Any
) -> None:
    world = sw.world
    # A newer policy version with a shorter recovery: the series records the one it used.
    ClinicPolicy.objects.create(clinic=world.clinic, version=2, recovery_min=30)
    proposal = selectors.series_propose(
        plan=sw.plan, location=world.cleveland, day_from=MONDAY, now=NOW
    )
    assert proposal is not None
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        series = _book(sw, proposal)
    assert (series.status, series.sessions_count, series.pattern) == ("booked", 5, "weekdays")
    assert (series.duration_min, series.recovery_min, series.policy_version) == (40, 30, 2)
    assert (series.patient, series.plan, series.created_by) == (
        world.alice_patient,
        sw.plan,
        world.front_desk,
    )
    sessions = list(series.sessions.order_by("start"))
    assert [(a.start, a.chair_id, a.provider_id) for a in sessions] == [
        (s.start, s.chair_id, s.nurse_id) for s in proposal.sessions
    ]
    for a in sessions:
        assert (a.status, a.type, a.patient, a.location) == (
            "booked",
            sw.infusion,
            world.alice_patient,
            world.cleveland,
        )
        assert (a.end - a.start, a.block_end - a.end) == (
            dt.timedelta(minutes=40),
            dt.timedelta(minutes=30),
        )
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.object_type) for e in events] == [("create", "induction_series")] + [
        ("create", "appointment")
    ] * 5
    assert {e.patient_id for e in events} == {world.alice_patient.pk}
    assert events[0].detail["policy_version"] == 2
    (message,) = mail.outbox
    assert message.to == [world.alice_patient.email]
    assert message.body.count("2030") == 5
    reminders = DBTaskResult.objects.filter(task_path__endswith="appointment_reminder")
    assert reminders.count() == 10


@pytest.mark.parametrize("who", ["physician", "clinic_admin"])
def test_physicians_and_admins_book_too(sw: SeriesWorld, who: str) -> None:
    proposal = _find(sw)
    assert proposal is not None
    series = _book(sw, proposal, who=who)
    assert series.sessions.count() == 5


@pytest.mark.parametrize("who", ["nurse", "alice", "other_physician"])
def test_nurses_patients_and_other_clinics_cannot_book_a_series(sw: SeriesWorld, who: str) -> None:
    proposal = _find(sw)
    assert proposal is not None
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match="Only the clinic's front desk"):
        _book(sw, proposal, who=who)
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)


@pytest.mark.parametrize("status", ["draft", "superseded"])
def test_only_a_signed_plan_can_be_booked(sw: SeriesWorld, status: str) -> None:
    plan = make_plan(sw.world, sw.world.alice_patient, status=status)
    proposal = _find(sw)
    assert proposal is not None
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match="Only a signed plan"):
        _book(sw, proposal, plan=plan)
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)


def test_a_conflict_on_one_session_saves_nothing_and_proposes_the_next_series(
    sw: SeriesWorld,
) -> None:
    world = sw.world
    proposal = _find(sw)
    assert proposal is not None
    third = proposal.sessions[2]
    # Between proposing and booking, someone takes session 3's chair with the other nurse.
    chair = Chair.objects.get(pk=third.chair_id)
    _busy(sw, provider=sw.nurse2, start=third.start, minutes=30, chair=chair)
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SeriesUnavailableError) as caught:
        _book(sw, proposal)
    message = str(caught.value)
    assert message.startswith(
        "Session 3 (Wed 06 Mar, 08:00 AM) needs a chair that is already taken"
    )
    assert "nothing was booked" in message
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)
    assert not InductionSeries.objects.exists()
    # The next feasible series: same days, Wednesday in the other chair.
    nxt = caught.value.proposal
    assert nxt is not None
    assert _local(nxt) == _local(proposal)
    assert nxt.sessions[2].chair_id != third.chair_id
    series = _book(sw, nxt)
    assert series.sessions.count() == 5
    assert Appointment.objects.filter(patient=world.alice_patient).count() == 5


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda keys: keys[:4], "the protocol has 5 sessions, not 4"),
        (
            lambda keys: [*keys[:4], (keys[4][0], keys[4][1], keys[4][2] + dt.timedelta(days=3))],
            "do not follow the protocol's pattern",
        ),
        (
            # Two days earlier the series would start on a Saturday.
            lambda keys: [(c, n, s - dt.timedelta(days=2)) for c, n, s in keys],
            "do not follow the protocol's pattern",
        ),
        (
            lambda keys: [*keys[:4], (keys[4][0], keys[4][1], keys[4][2] - dt.timedelta(hours=3))],
            "Session 5 .* falls outside Nina Nurse's hours",
        ),
        (
            lambda keys: [(999999, *keys[0][1:]), *keys[1:]],
            "Session 1 .* names a chair that is not in use at this location",
        ),
        (
            lambda keys: [(keys[0][0], 999999, keys[0][2]), *keys[1:]],
            "Session 1 .* names a nurse who does not work at this location",
        ),
    ],
)
def test_a_forged_or_incomplete_series_is_refused_and_nothing_is_saved(
    sw: SeriesWorld, change: Any, match: str
) -> None:
    proposal = _find(sw)
    assert proposal is not None
    keys = [(s.chair_id, s.nurse_id, s.start) for s in proposal.sessions]
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match=match):
        services.series_book(
            actor=Actor(user=sw.world.front_desk),
            plan=sw.plan,
            location=sw.world.cleveland,
            sessions=change(keys),
            now=NOW,
        )
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)


def test_a_plan_gets_one_booked_series(sw: SeriesWorld) -> None:
    proposal = _find(sw)
    assert proposal is not None
    _book(sw, proposal)
    later = _find(sw, day_from=MONDAY + dt.timedelta(days=14))
    assert later is not None
    state = series_snapshot()
    with pytest.raises(services.SchedulingError, match="already has a booked series"):
        _book(sw, later)
    assert series_snapshot() == state


def test_the_database_itself_refuses_two_infusions_in_one_chair(sw: SeriesWorld) -> None:
    chair = Chair.objects.filter(location=sw.world.cleveland).first()
    assert chair is not None
    start = _at(MONDAY, 8)
    first = _busy(sw, provider=sw.world.nurse, start=start, minutes=100, chair=chair)
    with pytest.raises(IntegrityError, match="appointment_chair_no_overlap"), transaction.atomic():
        # Another nurse, starting inside the first one's recovery: the chair is what clashes.
        _busy(
            sw, provider=sw.nurse2, start=start + dt.timedelta(minutes=90), minutes=60, chair=chair
        )
    # Moving an existing infusion onto the chair's busy time is refused as well.
    other = _busy(
        sw, provider=sw.nurse2, start=start + dt.timedelta(hours=3), minutes=60, chair=chair
    )
    moved = Appointment.objects.filter(pk=other.pk)
    with pytest.raises(IntegrityError, match="appointment_chair_no_overlap"), transaction.atomic():
        moved.update(start=start, end=start + dt.timedelta(hours=1))
    other.delete()
    # Another chair at the same time is fine, and a cancelled infusion frees its chair.
    other_chair = Chair.objects.filter(location=sw.world.cleveland).exclude(pk=chair.pk).first()
    assert other_chair is not None
    _busy(sw, provider=sw.nurse2, start=start, minutes=100, chair=other_chair)
    Appointment.objects.filter(pk=first.pk).update(status="cancelled")
    _busy(sw, provider=sw.world.physician, start=start, minutes=100, chair=chair)


# --- cancelling a series ------------------------------------------------------------------------


def test_cancelling_a_series_cancels_the_sessions_to_come_and_keeps_those_attended(
    sw: SeriesWorld, django_capture_on_commit_callbacks: Any
) -> None:
    proposal = _find(sw)
    assert proposal is not None
    series = _book(sw, proposal)
    sessions = list(series.sessions.order_by("start"))
    # Monday's session happened; the desk cancels the rest on Monday afternoon.
    monday_evening = _at(MONDAY, 17)
    services.appointment_status_change(
        actor=Actor(user=sw.world.front_desk),
        appointment=sessions[0],
        status="arrived",
        now=monday_evening,
    )
    mail.outbox.clear()
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.series_cancel(
            actor=Actor(user=sw.world.front_desk),
            series=series,
            expected_version=1,
            now=monday_evening,
        )
    assert (cancelled.status, cancelled.version) == (SeriesStatus.CANCELLED, 2)
    assert [a.status for a in series.sessions.order_by("start")] == ["arrived"] + ["cancelled"] * 4
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.object_type, e.detail.get("change")) for e in events] == [
        ("induction_series", "cancel")
    ] + [("appointment", "cancel")] * 4
    # After commit the outcomes app marks the patient's stored series results for the next
    # refresh (outcomes/durability/services.py) instead of recomputing them in the request.
    assert ResultsMark.objects.filter(patient=series.patient, dirty__isnull=False).exists()
    assert events[0].detail["sessions_cancelled"] == 4
    (message,) = mail.outbox
    assert "cancelled" in message.subject
    assert message.body.count("2030") == 4
    # The chairs are free again: the same times can be booked for Bob.
    bob = services.series_book(
        actor=Actor(user=sw.world.front_desk),
        plan=sw.bob_plan,
        location=sw.world.cleveland,
        sessions=[(s.chair_id, s.nurse_id, s.start) for s in proposal.sessions[1:]]
        + [
            (
                proposal.sessions[0].chair_id,
                proposal.sessions[0].nurse_id,
                _at(MONDAY + dt.timedelta(days=7), 8),
            )
        ],
        now=monday_evening,
    )
    assert bob.sessions.count() == 5


def test_cancelling_refuses_a_stale_page_a_cancelled_series_and_a_nurse(sw: SeriesWorld) -> None:
    proposal = _find(sw)
    assert proposal is not None
    series = _book(sw, proposal)
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match="changed after you opened"):
        services.series_cancel(
            actor=Actor(user=sw.world.front_desk), series=series, expected_version=7, now=NOW
        )
    with pytest.raises(services.SchedulingError, match="Only the clinic's front desk"):
        services.series_cancel(actor=Actor(user=sw.world.nurse), series=series, now=NOW)
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)
    services.series_cancel(actor=Actor(user=sw.world.front_desk), series=series, now=NOW)
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match="already cancelled"):
        services.series_cancel(actor=Actor(user=sw.world.front_desk), series=series, now=NOW)
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)


def test_a_session_of_a_series_cannot_be_moved_alone(sw: SeriesWorld) -> None:
    proposal = _find(sw)
    assert proposal is not None
    series = _book(sw, proposal)
    session = series.sessions.order_by("start").first()
    assert session is not None
    state = series_snapshot()
    with pytest.raises(services.SchedulingError, match="part of an induction series"):
        services.appointment_reschedule(
            actor=Actor(user=sw.world.front_desk),
            appointment=session,
            provider_id=session.provider_id,
            start=session.start + dt.timedelta(hours=2),
            override_cutoff=True,
            now=NOW,
        )
    assert series_snapshot() == state


# --- arrival, no-show, completion ---------------------------------------------------------------


def _one(sw: SeriesWorld, start: dt.datetime) -> Appointment:
    return Appointment.objects.create(
        clinic=sw.world.clinic,
        location=sw.world.cleveland,
        provider=sw.world.physician,
        patient=sw.world.alice_patient,
        type=sw.infusion,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
    )


def test_the_desk_records_arrival_then_completion_each_audited(sw: SeriesWorld) -> None:
    appointment = _one(sw, _at(MONDAY, 9))
    actor = Actor(user=sw.world.front_desk)
    arrived = services.appointment_status_change(
        actor=actor,
        appointment=appointment,
        status="arrived",
        expected_version=1,
        now=_at(MONDAY, 8, 50),
    )
    assert (arrived.status, arrived.version) == ("arrived", 2)
    done = services.appointment_status_change(
        actor=actor,
        appointment=arrived,
        status="completed",
        expected_version=2,
        now=_at(MONDAY, 9, 40),
    )
    assert (done.status, done.version) == ("completed", 3)
    events = AuditEvent.objects.filter(
        object_type="appointment", object_id=str(appointment.public_id)
    )
    assert [(e.action, e.detail) for e in events.order_by("pk")] == [
        ("update", {"change": "status", "from": "booked", "to": "arrived"}),
        ("update", {"change": "status", "from": "arrived", "to": "completed"}),
    ]


def test_a_no_show_can_still_arrive_late(sw: SeriesWorld) -> None:
    appointment = _one(sw, _at(MONDAY, 9))
    actor = Actor(user=sw.world.front_desk)
    services.appointment_status_change(
        actor=actor, appointment=appointment, status="no_show", now=_at(MONDAY, 9, 20)
    )
    late = services.appointment_status_change(
        actor=actor, appointment=appointment, status="arrived", now=_at(MONDAY, 9, 25)
    )
    assert late.status == AppointmentStatus.ARRIVED


@pytest.mark.parametrize(
    ("setup_status", "target", "now", "who", "match"),
    [
        (
            "booked",
            "completed",
            (MONDAY, 10),
            "front_desk",
            "booked, so it cannot be marked completed",
        ),
        ("booked", "no_show", (MONDAY, 8, 30), "front_desk", "has not started yet"),
        ("booked", "arrived", (MONDAY - dt.timedelta(days=1), 17), "front_desk", "from the day of"),
        (
            "cancelled",
            "arrived",
            (MONDAY, 9),
            "front_desk",
            "cancelled, so it cannot be marked arrived",
        ),
        ("completed", "no_show", (MONDAY, 10), "front_desk", "completed, so it cannot be marked"),
        ("booked", "cancelled", (MONDAY, 9), "front_desk", "status: choose"),
        ("booked", "teleported", (MONDAY, 9), "front_desk", "status: choose"),
        ("booked", "arrived", (MONDAY, 9), "nurse", "Only the clinic's front desk"),
        ("booked", "arrived", (MONDAY, 9), "other_physician", "Only the clinic's front desk"),
    ],
)
def test_a_transition_not_allowed_is_refused_and_nothing_changes(
    sw: SeriesWorld, setup_status: str, target: str, now: tuple[Any, ...], who: str, match: str
) -> None:
    appointment = _one(sw, _at(MONDAY, 9))
    Appointment.objects.filter(pk=appointment.pk).update(status=setup_status)
    appointment.refresh_from_db()
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    with pytest.raises(services.SchedulingError, match=match):
        services.appointment_status_change(
            actor=Actor(user=getattr(sw.world, who)),
            appointment=appointment,
            status=target,
            now=_at(*now),
        )
    assert (series_snapshot(), AuditEvent.objects.count()) == (state, n_audit)


def test_a_stale_status_change_is_refused(sw: SeriesWorld) -> None:
    appointment = _one(sw, _at(MONDAY, 9))
    state = series_snapshot()
    with pytest.raises(services.SchedulingError, match="changed after you opened"):
        services.appointment_status_change(
            actor=Actor(user=sw.world.front_desk),
            appointment=appointment,
            status="arrived",
            expected_version=0,
            now=_at(MONDAY, 9),
        )
    assert series_snapshot() == state
