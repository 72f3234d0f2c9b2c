"""The pain diary as Observations: what each entry holds, who reads it (not the front desk),
searched by patient, code and date, at a cost flat in the page size."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.audit.services import Actor
from ketaclinic.fhir.resources.base import instant
from ketaclinic.fhir.resources.observation import INSTRUMENT_SYSTEM
from ketaclinic.outcomes.diary.services import diary_entry_record
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.patients.models import Patient
from tests.clock import today
from tests.conftest import World
from tests.fhir.test_fhir_api import fhir, ids_of, refused

Browser = Callable[[str], Client]


def _record(patient: Patient, day: dt.date, pain: int) -> DiaryEntry:
    return diary_entry_record(
        actor=Actor(user=None), patient=patient, instrument="nrs", entry_date=day,
        answers={"pain": pain},
    )  # fmt: skip


def _joined_long_ago(world: World) -> None:
    # A diary starts on the day its patient joined: these two joined a year ago.
    joined = dt.datetime.combine(today() - dt.timedelta(days=365), dt.time(9), tzinfo=dt.UTC)
    Patient.objects.filter(pk__in=[world.alice_patient.pk, world.bob_patient.pk]).update(
        created_at=joined
    )
    for patient in (world.alice_patient, world.bob_patient):
        patient.refresh_from_db()


def _diaries(world: World) -> tuple[list[DiaryEntry], DiaryEntry, DiaryEntry]:
    _joined_long_ago(world)
    day = today()
    alice = [_record(world.alice_patient, day - dt.timedelta(days=n), 3 + n) for n in range(3)]
    peg = diary_entry_record(
        actor=Actor(user=None),
        patient=world.alice_patient,
        instrument="peg",
        entry_date=day,
        answers={"pain": 6, "enjoyment": 5, "general_activity": 4},
    )
    bob = _record(world.bob_patient, day, 7)
    return alice, peg, bob


@pytest.mark.django_db
def test_an_nrs_entry_reads_as_loinc_72514_3(world: World, client_for: Browser) -> None:
    alice, peg, _ = _diaries(world)
    client = client_for("physician")
    entry = alice[0]
    resource = fhir(client, f"Observation/{entry.public_id}")
    assert resource["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "72514-3",
        "display": "Pain severity 0-10 verbal numeric rating [Score] - Reported",
    }
    assert resource["valueQuantity"]["value"] == entry.score == 3
    assert resource["effectiveDateTime"] == entry.entry_date.isoformat()
    assert resource["subject"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert resource["category"][0]["coding"][0]["code"] == "survey"
    weekly = fhir(client, f"Observation/{peg.public_id}")
    assert [c["code"] for c in weekly["code"]["coding"]] == ["peg"]
    assert weekly["valueQuantity"]["value"] == peg.score


@pytest.mark.django_db
def test_clinical_readers_and_the_patient_read_it_and_the_front_desk_does_not(
    world: World, client_for: Browser
) -> None:
    alice, peg, bob = _diaries(world)
    hers = {str(e.public_id) for e in [*alice, peg]}
    everyone = hers | {str(bob.public_id)}
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "Observation?_count=100"))) == everyone
    assert set(ids_of(fhir(client_for("alice"), "Observation"))) == hers
    refused(client_for("alice"), f"Observation/{bob.public_id}", 404)
    desk = client_for("front_desk")
    assert ids_of(fhir(desk, "Observation")) == []
    refused(desk, f"Observation/{peg.public_id}", 404)
    other = client_for("other_physician")
    assert ids_of(fhir(other, "Observation")) == []


@pytest.mark.django_db
def test_a_score_replaced_later_is_issued_then_and_amended(
    world: World, client_for: Browser
) -> None:
    _joined_long_ago(world)
    first = _record(world.alice_patient, today(), 3)
    client = client_for("nurse")
    read = fhir(client, f"Observation/{first.public_id}")
    assert (read["status"], read["issued"]) == ("final", instant(first.updated_at))
    DiaryEntry.objects.filter(pk=first.pk).update(
        created_at=first.created_at - dt.timedelta(hours=5)
    )  # recorded in the morning
    replaced = diary_entry_record(
        actor=Actor(user=None), patient=world.alice_patient, instrument="nrs",
        entry_date=today(), answers={"pain": 8}, expected_version=first.version,
    )  # fmt: skip
    assert replaced.pk == first.pk
    read = fhir(client, f"Observation/{first.public_id}")
    assert read["valueQuantity"]["value"] == 8
    assert (read["status"], read["issued"]) == ("amended", instant(replaced.updated_at))
    answers = fhir(client, f"QuestionnaireResponse/{first.public_id}")
    assert answers["status"] == "amended"


@pytest.mark.django_db
def test_searches_by_patient_code_and_date(world: World, client_for: Browser) -> None:
    alice, peg, bob = _diaries(world)
    client = client_for("nurse")
    a = world.alice_patient.public_id
    nrs = {str(e.public_id) for e in alice}
    assert set(ids_of(fhir(client, f"Observation?patient={a}&code=http://loinc.org|72514-3"))) == (
        nrs
    )
    assert ids_of(fhir(client, f"Observation?subject=Patient/{a}&code=peg")) == [str(peg.public_id)]
    # A code is its system's: named with another, it is another code (and finds nothing).
    own = f"{INSTRUMENT_SYSTEM}|peg"
    assert ids_of(fhir(client, f"Observation?patient={a}&code={own}")) == [str(peg.public_id)]
    for elsewhere in ("http://snomed.info/sct|72514-3", "http://loinc.org|peg"):
        assert ids_of(fhir(client, f"Observation?patient={a}&code={elsewhere}")) == [], elsewhere
    newest = today().isoformat()
    assert set(ids_of(fhir(client, f"Observation?patient={a}&date={newest}"))) == {
        str(alice[0].public_id),
        str(peg.public_id),
    }
    assert set(ids_of(fhir(client, f"Observation?patient={a}&date=lt{newest}"))) == {
        str(alice[1].public_id),
        str(alice[2].public_id),
    }
    assert ids_of(fhir(client, "Observation?category=vital-signs")) == []
    assert len(ids_of(fhir(client, "Observation?category=survey&_count=100"))) == 5
    bundle = fhir(client, f"Observation?_id={bob.public_id}&_include=Observation:patient")
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]
    assert "date" in refused(client, "Observation?date=yesterday", 400)


@pytest.mark.django_db
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(world: World, client_for: Browser) -> None:
    _joined_long_ago(world)
    start = today() - dt.timedelta(days=130)
    for n in range(120):
        patient = world.alice_patient if n % 2 else world.bob_patient
        _record(patient, start + dt.timedelta(days=n), n % 11)
    client = client_for("physician")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"Observation?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)
