"""Stored series results (``outcomes.durability.services``): the chart's judgement per series,
refreshed in batches with a fixed number of queries, audited, and cleared when a patient's
infusions are all cancelled."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.boosters.services import outcomes_refresh_changed
from ketaclinic.outcomes.durability import services as results
from ketaclinic.outcomes.models import ResultsMark, SeriesResult
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from ketaclinic.scheduling.services import appointment_status_change
from tests import factories
from tests.conftest import World
from tests.factories.outcomes import relapse_history
from tests.factories.patients import registered_since


def _patients(world: World, n: int, *, first: int = 0) -> list[Patient]:
    made = []
    for i in range(first, first + n):
        patient = factories.make_patient(
            world.clinic, given=f"R{i}", family="Result", location=world.cleveland
        )
        registered_since(patient, 120)
        minutes = 72 * i  # one nurse gives them all: sessions must not overlap
        relapse_history(world, patient, at=dt.time(minutes // 60, minutes % 60))
        made.append(patient)
    return made


def test_a_relapse_is_stored_with_the_rule_it_used(diary_world: World) -> None:
    relapse = relapse_history(diary_world, diary_world.alice_patient)
    stored = results.series_results_refresh(clinic=diary_world.clinic)
    assert stored == 1
    row = SeriesResult.objects.get(patient=diary_world.alice_patient)
    assert (row.number, row.sessions, row.ongoing) == (1, 5, False)
    assert row.baseline == 8.0
    assert row.baseline_source == "diary"
    assert row.response == "substantial"  # 8 -> 2
    assert row.responded
    assert row.relapse_date == relapse
    assert row.days_of_relief == (relapse - row.end).days
    assert not row.censored
    assert row.rule["relapse_fraction"] == 0.7
    assert row.rule["window_days"] == 7
    assert "IMMPACT" in row.rule["source"]
    event = AuditEvent.objects.get(object_type="series_results")
    assert event.detail == {"patients": 1, "series": 1}


def test_a_batch_costs_the_same_queries_for_1_or_12_patients(diary_world: World) -> None:
    def refresh_queries(patients: list[Patient]) -> int:
        with CaptureQueriesContext(connection) as queries:
            results.series_results_refresh(
                clinic=diary_world.clinic, patient_ids=[p.pk for p in patients]
            )
        return len(queries)

    one = _patients(diary_world, 1)
    more = _patients(diary_world, 11, first=1)
    assert refresh_queries(one) == refresh_queries(one + more)
    assert SeriesResult.objects.filter(patient__in=one + more).count() == 12


def test_cancelled_infusions_leave_no_stale_result(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    relapse_history(diary_world, diary_world.bob_patient, at=dt.time(14, 0))
    results.series_results_refresh(clinic=diary_world.clinic)
    assert SeriesResult.objects.count() == 2
    # Bob's sessions were never given after all (charted in error, removed) and his
    # appointments are cancelled.
    InfusionSession.objects.filter(patient=diary_world.bob_patient).delete()
    Appointment.objects.filter(patient=diary_world.bob_patient).update(
        status=AppointmentStatus.CANCELLED
    )
    results.series_results_refresh(clinic=diary_world.clinic)
    # Bob had no treatment after all: his row is gone, Alice's stays.
    assert list(SeriesResult.objects.values_list("patient_id", flat=True)) == [
        diary_world.alice_patient.pk
    ]


def test_another_clinics_refresh_leaves_our_results_alone(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    results.series_results_refresh(clinic=diary_world.clinic)
    before = list(SeriesResult.objects.values_list("pk", "computed_at"))
    assert results.series_results_refresh(clinic=diary_world.other_clinic) == 0
    assert list(SeriesResult.objects.values_list("pk", "computed_at")) == before


def test_an_appointment_change_marks_the_patient_and_the_refresh_shortens_the_series(
    diary_world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """A missed session marks the patient; the next refresh of what changed shortens the
    series."""
    relapse_history(diary_world, diary_world.alice_patient)
    results.series_results_refresh(clinic=diary_world.clinic)
    assert SeriesResult.objects.get(patient=diary_world.alice_patient).sessions == 5
    last = Appointment.objects.filter(patient=diary_world.alice_patient).latest("start")
    # The last session was in fact never given: still booked, no session charted.
    InfusionSession.objects.filter(appointment=last).delete()
    Appointment.objects.filter(pk=last.pk).update(status=AppointmentStatus.BOOKED)
    last.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        appointment_status_change(
            actor=Actor(user=diary_world.front_desk),
            appointment=last,
            status=AppointmentStatus.NO_SHOW,
        )
    assert ResultsMark.objects.get(patient=diary_world.alice_patient).dirty is not None
    assert outcomes_refresh_changed(clinic=diary_world.clinic).patients == 1
    row = SeriesResult.objects.get(patient=diary_world.alice_patient)
    assert row.sessions == 4
    assert (
        row.end
        == (last.start - dt.timedelta(days=1))
        .astimezone(zoneinfo.ZoneInfo(diary_world.cleveland.time_zone))
        .date()
    )
