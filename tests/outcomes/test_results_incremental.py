"""The stored-results refresh follows what changed (``durability.services`` marks and
``boosters.services.outcomes_refresh_changed``): only marked patients, those whose booked
session's day has passed and those whose consultation changed are recomputed; the stored rows
are the same as a full recompute's; a write that comes in during a refresh keeps its mark."""

from __future__ import annotations

import datetime as dt
import importlib
import random
import zoneinfo
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.boosters.services import (
    booster_suggestion_for_patient,
    outcomes_refresh_changed,
)
from ketaclinic.outcomes.diary import services as diary
from ketaclinic.outcomes.durability import services as results
from ketaclinic.outcomes.models import BoosterSuggestion, ResultsMark, SeriesResult
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import AppointmentStatus
from tests import factories
from tests.clock import today
from tests.conftest import World
from tests.factories.assessments import make_consultation
from tests.factories.outcomes import infusions, relapse_history
from tests.factories.patients import registered_since

DAY = dt.timedelta(days=1)


def _clinic(world: World, n: int) -> list[Patient]:
    """``n`` patients of the clinic, each with a series, a response and a relapse; then one
    refresh of everything, so nothing is left marked."""
    made = []
    for i in range(n):
        patient = factories.make_patient(
            world.clinic, given=f"I{i}", family="Incremental", location=world.cleveland
        )
        registered_since(patient, 120)
        minutes = 72 * i  # one nurse gives them all: sessions must not overlap
        relapse_history(world, patient, at=dt.time(minutes // 60, minutes % 60))
        made.append(patient)
    results.series_results_refresh(clinic=world.clinic)
    outcomes_refresh_changed(clinic=world.clinic)  # the booster check the first one left
    assert not ResultsMark.objects.filter(dirty__isnull=False).exists()
    return made


def _stored() -> list[tuple[Any, ...]]:
    """Every stored result but its id and the time it was computed."""
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


def test_a_refresh_after_one_patients_score_recomputes_only_that_patient(world: World) -> None:
    patients = _clinic(world, 4)
    before = dict(SeriesResult.objects.values_list("patient_id", "computed_at"))
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 0  # nothing changed
    _score(world, patients[2], today(), 1)
    counted = outcomes_refresh_changed(clinic=world.clinic)
    assert (counted.patients, counted.series) == (1, 1)
    after = dict(SeriesResult.objects.values_list("patient_id", "computed_at"))
    assert [p for p in after if after[p] != before[p]] == [patients[2].pk]
    assert not ResultsMark.objects.filter(dirty__isnull=False).exists()


@pytest.mark.parametrize("seed", range(4))
def test_the_incremental_refresh_stores_what_a_full_recompute_stores(
    world: World, seed: int
) -> None:
    patients = _clinic(world, 5)
    rng = random.Random(seed)
    changed = rng.sample(patients, rng.randint(1, 3))
    for patient in changed:
        # Scores anywhere in the history: the baseline week, the relief, the relapse run.
        for _ in range(rng.randint(1, 12)):
            _score(world, patient, today() - rng.randint(0, 70) * DAY, rng.randint(0, 10))
    counted = outcomes_refresh_changed(clinic=world.clinic)
    assert counted.patients == len(changed)
    incremental = _stored()
    results.series_results_refresh(clinic=world.clinic)
    assert _stored() == incremental
    # The booster suggestions too: whatever a full check would add is there already.
    suggested = BoosterSuggestion.objects.count()
    for patient in patients:
        assert booster_suggestion_for_patient(patient=patient) is None
    assert BoosterSuggestion.objects.count() == suggested


def test_a_write_during_the_refresh_keeps_its_mark(world: World) -> None:
    patients = _clinic(world, 2)
    alice_ish = patients[0]
    _score(world, alice_ish, today(), 2)
    now = timezone.now()
    # The refresh's own steps: read the marks, compute outside any transaction ...
    marks = results._marks_read([alice_ish.pk])
    computed = results.series_outcomes_compute(
        list(Patient.objects.filter(pk=alice_ish.pk).select_related("home_location")), now
    )
    # ... a score comes in meanwhile (the relapse run ends: another result) ...
    _score(world, alice_ish, today() - 5 * DAY, 3)
    racing = ResultsMark.objects.get(patient=alice_ish).dirty
    assert racing is not None
    assert racing != marks[alice_ish.pk]
    # ... then the short write: it clears the mark it read, not the one set since.
    results._store(computed, marks, now)
    assert ResultsMark.objects.get(patient=alice_ish).dirty == racing
    # The next refresh takes the patient again and stores what a full recompute stores.
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 1
    incremental = _stored()
    results.series_results_refresh(clinic=world.clinic)
    assert _stored() == incremental


def test_a_booked_session_whose_day_passes_is_rechecked_without_a_write(world: World) -> None:
    patient = factories.make_patient(
        world.clinic, given="D", family="Day", location=world.cleveland
    )
    registered_since(patient, 30)
    t = today()
    infusions(world, patient, [t - 3 * DAY, t - 2 * DAY, t - DAY])
    infusions(world, patient, [t + DAY], status=AppointmentStatus.BOOKED)
    results.series_results_mark(patients=[(patient.pk, patient.clinic_id)])
    outcomes_refresh_changed(clinic=world.clinic)
    row = SeriesResult.objects.get(patient=patient)
    assert (row.sessions, row.ongoing) == (3, True)
    recheck = ResultsMark.objects.get(patient=patient).recheck_at
    new_york = zoneinfo.ZoneInfo(world.cleveland.time_zone)
    assert recheck == dt.datetime.combine(t + 2 * DAY, dt.time(0), tzinfo=new_york)
    assert recheck is not None
    # Until that day is over nothing is due; after it, the refresh takes her with no write.
    before = recheck - dt.timedelta(seconds=1)
    assert outcomes_refresh_changed(clinic=world.clinic, now=before).patients == 0
    counted = outcomes_refresh_changed(clinic=world.clinic, now=recheck + dt.timedelta(hours=1))
    assert counted.patients == 1
    row = SeriesResult.objects.get(patient=patient)
    assert (row.sessions, row.ongoing) == (3, False)  # tomorrow's session was never given
    assert ResultsMark.objects.get(patient=patient).recheck_at is None


def test_a_consultation_changed_after_the_results_is_taken(world: World) -> None:
    patients = _clinic(world, 2)
    make_consultation(patients[1], world.physician, exam_date=today())
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 1
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 0


def test_a_refresh_costs_the_same_queries_for_1_or_8_changed_patients(world: World) -> None:
    patients = _clinic(world, 8)

    def refresh_queries(changed: list[Patient]) -> int:
        results.series_results_mark(patients=[(p.pk, p.clinic_id) for p in changed])
        with CaptureQueriesContext(connection) as queries:
            assert outcomes_refresh_changed(clinic=world.clinic).patients == len(changed)
        return len(queries)

    assert refresh_queries(patients[:1]) == refresh_queries(patients)


def test_another_clinics_marks_are_left_for_its_own_refresh(world: World) -> None:
    patients = _clinic(world, 1)
    _score(world, patients[0], today(), 4)
    assert outcomes_refresh_changed(clinic=world.other_clinic).patients == 0
    assert ResultsMark.objects.get(patient=patients[0]).dirty is not None


def test_the_upgrade_marks_every_treated_patient_once(world: World) -> None:
    patients = _clinic(world, 2)
    ResultsMark.objects.all().delete()
    migration = importlib.import_module("ketaclinic.outcomes.migrations.0004_results_marks")
    migration.mark_every_treated_patient(apps, None)
    marked = set(
        ResultsMark.objects.filter(dirty__isnull=False).values_list("patient_id", flat=True)
    )
    assert marked == {p.pk for p in patients}
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 2
