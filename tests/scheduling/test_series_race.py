"""Two desks book two patients' series into the same chair at the same times, at the same instant.

Real threads, each with its own database connection, released together by a barrier. Each
series has its own nurse, so the chair is the only thing they compete for. On PostgreSQL the
location lock queues the two and the chair exclusion constraint stands behind it; on SQLite the
IMMEDIATE transaction serializes them and the loser's re-check (and the trigger behind it)
refuses. Either way exactly one complete series exists and the other left nothing behind.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling import services
from ketaclinic.scheduling.models import Appointment, InductionSeries
from ketaclinic.scheduling.slots import series_find
from tests.conftest import World
from tests.factories.scheduling import setup_series

NOW = dt.datetime(2030, 3, 1, 15, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2030, 3, 4)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_series_racing_for_one_chair_leave_exactly_one_complete_series(
    world: World, round_: int
) -> None:
    sw = setup_series(world, exam_date=NOW.date())
    proposal = series_find(
        patient_id=world.alice_patient.pk,
        location=world.cleveland,
        duration_min=40,
        recovery_min=60,
        sessions_count=5,
        pattern="weekdays",
        day_from=MONDAY + dt.timedelta(days=7 * round_),
        now=NOW,
    )
    assert proposal is not None
    chair_id = proposal.sessions[0].chair_id
    starts = [s.start for s in proposal.sessions]
    requests = {
        "alice": (sw.plan.pk, world.nurse.pk),
        "bob": (sw.bob_plan.pk, sw.nurse2.pk),
    }
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def book(name: str) -> None:
        plan_pk, nurse_pk = requests[name]
        try:
            plan = Plan.objects.get(pk=plan_pk)
            barrier.wait(timeout=10)
            series = services.series_book(
                actor=Actor(user=world.front_desk),
                plan=plan,
                location=world.cleveland,
                sessions=[(chair_id, nurse_pk, start) for start in starts],
                now=NOW,
            )
            outcomes[name] = series.pk
        except services.SeriesUnavailableError as exc:
            outcomes[name] = exc
        except Exception as exc:
            outcomes[name] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(name,)) for name in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["alice", "bob"]
    won = [name for name, result in outcomes.items() if isinstance(result, int)]
    assert len(won) == 1, outcomes
    (winner,) = won
    (loser,) = [name for name in requests if name != winner]
    refusal = outcomes[loser]
    assert isinstance(refusal, services.SeriesUnavailableError), refusal
    assert "nothing was booked" in str(refusal)
    # The loser is offered the next feasible series (the other chair, or another nurse).
    assert refusal.proposal is not None

    # Exactly one series, complete: all five sessions in the contested chair.
    (series,) = InductionSeries.objects.all()
    assert series.pk == outcomes[winner]
    winner_patient = world.alice_patient if winner == "alice" else world.bob_patient
    loser_patient = world.bob_patient if winner == "alice" else world.alice_patient
    assert series.patient == winner_patient
    assert sorted(series.sessions.values_list("start", flat=True)) == starts
    assert set(series.sessions.values_list("chair_id", flat=True)) == {chair_id}
    assert Appointment.objects.count() == 5
    # Nothing of the loser's: no appointment, no audit event of a series or session.
    assert not Appointment.objects.filter(patient=loser_patient).exists()
    assert not AuditEvent.objects.filter(patient=loser_patient, action="create").exists()
    assert AuditEvent.objects.filter(object_type="appointment", action="create").count() == 5
