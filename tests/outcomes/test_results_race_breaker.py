"""Breaker probe of the stored-results refresh (issue 17): two refreshes at once.

Periodic claims make one refresh run per 5-minute period, not one at a time: a run that takes
longer than its period (the first one after the upgrade marks every treated patient; a chain of
100,000 patients) overlaps the next period's run on another RQ worker. Each run computes outside
any transaction, so a slow run can come to write a batch it read *before* a diary save that a
faster, later run has already computed and whose mark it has cleared. Before, the slow run then
replaced the fresh results with its stale ones and nothing was left marked: the stored result
(the analytics, the booster loop) stayed wrong until the patient's next write. Now a batch's
write skips the patients whose results were stored from a later read than its own (their mark
is left as it is, so nothing is lost either way).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.boosters.services import outcomes_refresh_changed
from ketaclinic.outcomes.diary import services as diary
from ketaclinic.outcomes.durability import services as results
from ketaclinic.outcomes.models import ResultsMark, SeriesResult
from ketaclinic.patients.models import Patient
from tests import factories
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import relapse_history
from tests.factories.patients import registered_since

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def _stored() -> list[tuple[Any, ...]]:
    fields = [
        f.attname for f in SeriesResult._meta.concrete_fields if f.name not in {"id", "computed_at"}
    ]
    return list(SeriesResult.objects.order_by("patient_id", "number").values_list(*fields))


def _score(world: World, patient: Patient, day: dt.date, pain: int) -> None:
    diary.diary_entry_record(
        actor=Actor(user=world.alice),
        patient=patient,
        instrument="nrs",
        entry_date=day,
        answers={"pain": pain},
    )


def test_a_slow_refresh_does_not_overwrite_a_later_refresh_with_stale_results(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = factories.make_patient(
        world.clinic, given="Slow", family="Refresh", location=world.cleveland
    )
    registered_since(patient, 120)
    relapse_history(world, patient, at=dt.time(9, 0))
    results.series_results_refresh(clinic=world.clinic)
    outcomes_refresh_changed(clinic=world.clinic)
    _score(world, patient, today(), 2)  # marked: both runs below take the patient
    compute = results.series_outcomes_compute
    raced = False
    fresh: list[tuple[Any, ...]] = []

    def slow_then_overtaken(patients: Sequence[Patient], now: dt.datetime) -> Any:
        nonlocal raced
        computed = compute(patients, now)  # the slow run has read and computed ...
        if not raced:
            raced = True
            # ... scores come in (another result), and the next period's run on another
            # worker reads them, stores them and clears the mark ...
            for n in range(22, 30):  # the relapse (8s from T-29) is relieved: it moves
                _score(world, patient, today() - n * DAY, 1)
            outcomes_refresh_changed(clinic=world.clinic)
            fresh.extend(_stored())
        return computed  # ... then the slow run writes what it read before the score.

    before = _stored()
    monkeypatch.setattr(results, "series_outcomes_compute", slow_then_overtaken)
    outcomes_refresh_changed(clinic=world.clinic)
    monkeypatch.undo()
    assert raced
    assert fresh != before  # the premise: the scores changed the stored result
    after_race = _stored()
    still_marked = ResultsMark.objects.filter(patient=patient, dirty__isnull=False).exists()
    outcomes_refresh_changed(clinic=world.clinic)  # what the next period would do
    results.series_results_refresh(clinic=world.clinic)  # the reference: everything afresh
    # Either the race left the fresh results, or it left the patient marked for the next run.
    assert after_race == _stored() or still_marked
    assert after_race == fresh  # here: the later run's (fresh) results were kept
