"""The infusion chart over FHIR: the charted values as Observations (vital signs with their R4
profiles, the pain score and bedside scales as surveys), the ketamine given as a
MedicationAdministration, and adverse events; who reads them (the clinic's clinical staff and
its backend systems, as the chart pages: no patient, even her own, not the front desk, no other
clinic), each search parameter, and a cost flat in the page size."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.monitoring import planned_dose_given
from ketaclinic.clinics.models import Location
from ketaclinic.fhir.resources.base import instant
from ketaclinic.infusions import services
from ketaclinic.infusions.api import given_mg_at
from ketaclinic.infusions.models import (
    AdverseEvent,
    ChartEntry,
    EntryKind,
    InfusionSession,
    Observation,
    Phase,
    RateEvent,
    RateEventKind,
    SessionStatus,
)
from ketaclinic.patients.models import Patient
from tests.clock import afternoon_clock
from tests.conftest import World
from tests.factories.infusions import ALDRETE_9, Day, bare_session, day_at
from tests.fhir.test_fhir_api import fhir, hidden, ids_of, refused
from tests.fhir.test_smart_oauth import _backend, _client_credentials, _read

Browser = Callable[[str], Client]
CADSS = {"item_1": 1, "item_2": 2, "item_6": 0, "item_7": 1, "item_15": 0, "item_22": 0}
PROFILE = "http://hl7.org/fhir/StructureDefinition/"


@pytest.fixture(autouse=True)
def _afternoon() -> Iterator[dt.datetime]:
    # Charting walks back over three hours: at an afternoon it stays within one clinic day.
    yield from afternoon_clock()


def _alice_day(world: World) -> tuple[Day, AdverseEvent]:
    """Alice's infusion, charted through the services: a rate change, vitals with sedation, a
    CADSS-6, an adverse event, the stop, recovery with the Aldrete, and discharge."""
    day = day_at(world, "infusing")
    day.backdate(20)
    day.rate("4", reason="Nausea")
    day.vitals(rass=-1, moaas=4)
    services.cadss_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=None,
        answers=CADSS,
    )
    event = day.adverse_event(
        severity="moderate",
        interventions=["ondansetron", "rate_reduced"],
        outcome="improving",
        note="Felt sick <after> the rate rose & settled",
    )
    day.backdate(20)
    day.stop()
    day.backdate(40)
    day.vitals()
    day.aldrete()
    day.discharge()
    day.reload()
    return day, event


def _bob_day(world: World) -> Day:
    return day_at(world, "infusing", world.bob_patient, chair_name="Chair 2")


def _elsewhere(world: World) -> tuple[Observation, AdverseEvent, InfusionSession]:
    """A charted value, an adverse event and a started session of the other clinic."""
    now = timezone.now()
    session = InfusionSession.objects.create(
        clinic=world.other_clinic,
        location=Location.objects.get(clinic=world.other_clinic),
        patient=world.other_patient,
        status=SessionStatus.INFUSING,
        arrived_at=now - dt.timedelta(minutes=30),
        arrived_by=world.other_physician,
        started_at=now - dt.timedelta(minutes=10),
        current_rate_mg_per_h=30.0,
        rate_since=now - dt.timedelta(minutes=10),
    )
    entry = ChartEntry.objects.create(
        session=session,
        kind=EntryKind.VITALS,
        phase=Phase.DURING,
        taken_at=now,
        recorded_by=world.other_physician,
    )
    value = Observation.objects.create(
        entry=entry,
        session=session,
        patient=world.other_patient,
        taken_at=now,
        system="loinc",
        code="8867-4",
        display="Heart rate",
        value=Decimal("80"),
        unit="/min",
    )
    event = AdverseEvent.objects.create(
        session=session,
        kind="headache",
        severity="mild",
        onset_at=now,
        interventions=["none"],
        outcome="resolved",
        recorded_by=world.other_physician,
    )
    return value, event, session


def _system(world: World) -> str:
    """A token of the clinic's backend system that reads every type."""
    backend, secret = _backend(world)
    token: str = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    return token


def _one(session: InfusionSession, code: str, kind: str | None = None) -> Observation:
    rows = Observation.objects.filter(session=session, code=code).order_by("id")
    if kind is not None:
        rows = rows.filter(entry__kind=kind)
    found = rows.first()
    assert found is not None
    return found


def _values_of(session: InfusionSession) -> set[str]:
    """The ids of every value charted on the session."""
    rows = Observation.objects.filter(session=session).values_list("public_id", flat=True)
    return {str(public_id) for public_id in rows}


# --- Observation ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vital_signs_read_with_loinc_ucum_and_their_r4_profiles(
    world: World, client_for: Browser
) -> None:
    day, _ = _alice_day(world)
    session = day.session
    client = client_for("nurse")
    pulse = _one(session, "8867-4", EntryKind.VITALS)
    heart = fhir(client, f"Observation/{pulse.public_id}")
    assert heart["meta"]["profile"] == [PROFILE + "heartrate"]
    assert heart["category"][0]["coding"][0]["code"] == "vital-signs"
    assert heart["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}
    ]
    assert heart["valueQuantity"] == {
        "value": 72,
        "unit": "/min",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert heart["effectiveDateTime"] == instant(pulse.taken_at)
    assert heart["issued"] == heart["meta"]["lastUpdated"] == instant(pulse.entry.recorded_at)
    assert heart["subject"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert heart["encounter"] == {"reference": f"Encounter/{session.public_id}"}
    assert heart["performer"] == [{"reference": f"Practitioner/{world.nurse.public_id}"}]
    assert heart["status"] == "final"

    spo2 = fhir(client, f"Observation/{_one(session, '59408-5').public_id}")
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]
    assert spo2["meta"]["profile"] == [PROFILE + "oxygensat"]
    assert spo2["valueQuantity"]["code"] == "%"
    breathing = fhir(client, f"Observation/{_one(session, '9279-1').public_id}")
    assert breathing["meta"]["profile"] == [PROFILE + "resprate"]
    # Systolic and diastolic are two rows: two Observations, the generic profile, not bp's.
    for code, value in (("8480-6", 128), ("8462-4", 78)):
        pressure = fhir(client, f"Observation/{_one(session, code).public_id}")
        assert pressure["meta"]["profile"] == [PROFILE + "vitalsigns"]
        assert pressure["code"]["coding"][0]["code"] == code
        assert pressure["valueQuantity"]["value"] == value
        assert pressure["valueQuantity"]["code"] == "mm[Hg]"
        assert pressure["valueQuantity"]["unit"] == "mmHg"  # in words, as the exam's are
        assert "component" not in pressure


@pytest.mark.django_db
def test_pain_and_the_bedside_scales_read_as_surveys_with_their_items(
    world: World, client_for: Browser
) -> None:
    day, _ = _alice_day(world)
    session = day.session
    client = client_for("physician")
    aldrete = fhir(client, f"Observation/{_one(session, 'aldrete').public_id}")
    assert aldrete["category"][0]["coding"][0]["code"] == "survey"
    assert "profile" not in aldrete["meta"]
    assert aldrete["code"]["coding"] == [
        {
            "system": "https://ketaclinic.org/fhir/CodeSystem/chart-scale",
            "code": "aldrete",
            "display": "Modified Aldrete score",
        }
    ]
    assert aldrete["valueQuantity"] == {
        "value": 9,
        "unit": "score",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    items = {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in aldrete["component"]}
    assert items == {f"aldrete.{key}": value for key, value in ALDRETE_9.items()}
    assert aldrete["component"][0]["code"]["coding"][0]["system"] == (
        "https://ketaclinic.org/fhir/CodeSystem/chart-scale-item"
    )
    cadss = fhir(client, f"Observation/{_one(session, 'cadss6').public_id}")
    assert cadss["valueQuantity"]["value"] == sum(CADSS.values())
    assert len(cadss["component"]) == 6
    rass = fhir(client, f"Observation/{_one(session, 'rass').public_id}")
    assert rass["valueQuantity"]["value"] == -1
    assert "component" not in rass  # one item: the value is the answer
    moaas = fhir(client, f"Observation/{_one(session, 'moaas').public_id}")
    assert moaas["valueQuantity"]["value"] == 4
    pain = fhir(client, f"Observation/{_one(session, '72514-3', EntryKind.RECOVERY).public_id}")
    assert pain["category"][0]["coding"][0]["code"] == "survey"
    assert pain["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "72514-3",
        "display": "Pain severity 0-10 verbal numeric rating [Score] - Reported",
    }
    assert pain["valueQuantity"]["value"] == 3
    assert pain["valueQuantity"]["code"] == "1"


@pytest.mark.django_db
def test_each_reader_sees_exactly_its_chart_values(world: World, client_for: Browser) -> None:
    alice, _ = _alice_day(world)
    bob = _bob_day(world)
    theirs, _, _ = _elsewhere(world)
    hers = _values_of(alice.session)
    his = _values_of(bob.session)
    assert hers
    assert his
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "Observation?_count=100"))) == hers | his
        refused(client_for(persona), f"Observation/{theirs.public_id}", 404)
    assert set(ids_of(_read("Observation?_count=100", _system(world)))) == hers | his
    # The chart is a clinical note: no patient reads it, not even her own; nor the front desk.
    for persona in ("alice", "bob", "front_desk"):
        client = client_for(persona)
        assert ids_of(fhir(client, "Observation?_count=100")) == [], persona
        hidden(client, "Observation", hers | his)
    other = client_for("other_physician")
    assert ids_of(fhir(other, "Observation?_count=100")) == [str(theirs.public_id)]
    hidden(other, "Observation", hers | his)


@pytest.mark.django_db
def test_chart_values_are_searched_by_the_observation_parameters(
    world: World, client_for: Browser
) -> None:
    alice, _ = _alice_day(world)
    bob = _bob_day(world)
    client = client_for("nurse")
    a, b = world.alice_patient.public_id, world.bob_patient.public_id
    rows = Observation.objects.filter(session=alice.session)

    def ids(**where: Any) -> set[str]:
        return {str(i) for i in rows.filter(**where).values_list("public_id", flat=True)}

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Observation?_count=100&{query}")))

    assert found(f"patient={a}") == ids()
    assert found(f"subject=Patient/{a}") == ids()
    assert found(f"patient={b}") == _values_of(bob.session)
    assert found(f"patient={a}&code=http://loinc.org|8867-4") == ids(code="8867-4")
    assert found(f"patient={a}&code=8867-4,8480-6") == ids(code__in=["8867-4", "8480-6"])
    # 2708-6 finds the SpO2 values, stored under the pulse-oximetry code.
    assert found(f"patient={a}&code=http://loinc.org|2708-6") == ids(code="59408-5")
    scale = "https://ketaclinic.org/fhir/CodeSystem/chart-scale"
    assert found(f"patient={a}&code={scale}|aldrete") == ids(code="aldrete")
    assert found(f"patient={a}&code=rass") == ids(code="rass")
    assert found(f"patient={a}&code=http://loinc.org|aldrete") == set()
    assert found(f"patient={a}&code={scale}|8867-4") == set()
    assert found(f"patient={a}&code=72514-3") == ids(code="72514-3")
    surveys = ids(code__in=["72514-3", "rass", "moaas", "cadss6", "aldrete"])
    assert found(f"patient={a}&category=survey") == surveys
    vitals = ids() - surveys
    assert vitals
    assert (
        found(
            f"patient={a}&category=http://terminology.hl7.org/CodeSystem/observation-category"
            "|vital-signs"
        )
        == vitals
    )
    assert found(f"patient={a}&category=exam") == set()
    latest = max(rows.values_list("taken_at", flat=True))
    day = timezone.localtime(latest).date().isoformat()
    assert found(f"patient={a}&date={day}") == ids()
    assert set() < found(f"patient={a}&date=ge{instant(latest)}") == ids(taken_at__gte=latest)
    assert found(f"patient={a}&date=lt{instant(latest)}") == ids(taken_at__lt=latest)
    assert found(f"patient={a}&date=gt{instant(latest)}") == set()
    newest = max(e.recorded_at for e in ChartEntry.objects.filter(session=alice.session))
    # An instant is written to the millisecond.
    cut = newest.replace(microsecond=newest.microsecond - newest.microsecond % 1000)
    assert found(f"patient={a}&_lastUpdated=ge{instant(newest)}") == ids(
        entry__recorded_at__gte=cut
    )
    assert found(f"patient={a}&_lastUpdated=gt{instant(newest + dt.timedelta(seconds=1))}") == set()
    one = rows.order_by("id").first()
    assert one is not None
    bundle = fhir(client, f"Observation?_id={one.public_id}&_include=Observation:patient")
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]
    assert bundle["entry"][1]["resource"]["id"] == str(a)


# --- MedicationAdministration -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_infusion_ended_short_of_the_plan_reads_as_a_stopped_administration(
    world: World, client_for: Browser
) -> None:
    day, _ = _alice_day(world)
    session = day.session
    assert session.started_at is not None
    assert session.ended_at is not None
    # The rate was lowered for nausea and the pump stopped before the plan's 35 mg.
    assert session.plan_total_mg == 35
    assert given_mg_at(session, session.ended_at) < 34
    given = fhir(client_for("physician"), f"MedicationAdministration/{session.public_id}")
    assert given["status"] == "stopped"
    assert given["medicationCodeableConcept"]["coding"] == [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "6130",
            "display": "Ketamine",
        }
    ]
    assert given["subject"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert given["context"] == {"reference": f"Encounter/{session.public_id}"}
    assert given["effectivePeriod"] == {
        "start": instant(session.started_at),
        "end": instant(session.ended_at),
    }
    assert given["performer"] == [{"actor": {"reference": f"Practitioner/{world.nurse.public_id}"}}]
    assert session.plan is not None
    assert given["request"] == {"reference": f"MedicationRequest/{session.plan.public_id}"}
    dosage = given["dosage"]
    assert dosage["route"] == {"text": "Intravenous"}
    assert dosage["dose"] == {
        "value": round(given_mg_at(session, session.ended_at), 2),
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    # The rate was changed (52.5 then 40 mg/h): no one rate, the text says both.
    assert "rateQuantity" not in dosage
    assert dosage["text"] == "Intravenous infusion, the rate changed: 52.5 mg/h, then 40 mg/h"
    assert given["note"] == [{"text": "The plan's dose: 35 mg over 40 minutes at 52.5 mg/h."}]


def _full_dose(world: World) -> Day:
    """Bob's infusion, run at the plan's rate for its whole 40 minutes, then stopped."""
    bob = _bob_day(world)
    bob.backdate(41)
    bob.stop()
    return bob


@pytest.mark.django_db
def test_an_infusion_that_gave_the_plans_dose_reads_as_completed(
    world: World, client_for: Browser
) -> None:
    bob = _full_dose(world)
    session = bob.reload()
    assert session.ended_at is not None
    assert session.plan_total_mg is not None
    assert given_mg_at(session, session.ended_at) >= session.plan_total_mg
    given = fhir(client_for("nurse"), f"MedicationAdministration/{session.public_id}")
    assert given["status"] == "completed"
    assert given["dosage"]["dose"]["value"] == round(given_mg_at(session, session.ended_at), 2)


@pytest.mark.django_db
def test_completed_or_stopped_is_the_charts_rule_to_the_hundredth_of_a_milligram_read_or_searched(
    world: World, client_for: Browser
) -> None:
    day, _ = _alice_day(world)
    session_id = str(day.session.public_id)
    client = client_for("physician")
    rows = InfusionSession.objects.filter(pk=day.session.pk)
    for plan in (10.3, 12.8, 32.2, 35.0):
        for given in (plan - 0.02, plan - 0.011, round(plan - 0.01, 2), plan - 0.009, plan):
            rows.update(plan_total_mg=plan, given_before_mg=given, current_rate_mg_per_h=0.0)
            expected = (
                "completed" if planned_dose_given(given_mg=given, plan_total_mg=plan) else "stopped"
            )
            read = fhir(client, f"MedicationAdministration/{session_id}")["status"]
            assert read == expected, (plan, given)
            for status, found in (
                ("completed", expected == "completed"),
                ("stopped", expected == "stopped"),
            ):
                query = f"MedicationAdministration?status={status}&_id={session_id}"
                assert (ids_of(fhir(client, query)) == [session_id]) is found, (plan, given, status)


@pytest.mark.django_db
def test_a_running_infusion_is_in_progress_and_a_paused_one_on_hold(
    world: World, client_for: Browser
) -> None:
    bob = _bob_day(world)
    client = client_for("nurse")
    running = fhir(client, f"MedicationAdministration/{bob.session.public_id}")
    assert running["status"] == "in-progress"
    assert "end" not in running["effectivePeriod"]
    assert running["dosage"]["rateQuantity"] == {
        "value": 52.5,
        "unit": "mg/h",
        "system": "http://unitsofmeasure.org",
        "code": "mg/h",
    }
    assert "dose" not in running["dosage"]  # the amount changes by the second until the end
    bob.rate("0", reason="Dizzy")
    paused = fhir(client, f"MedicationAdministration/{bob.session.public_id}")
    assert paused["status"] == "on-hold"
    assert "rateQuantity" not in paused["dosage"]


@pytest.mark.django_db
def test_administrations_are_the_started_sessions_each_reader_may_see(
    world: World, client_for: Browser
) -> None:
    alice, _ = _alice_day(world)
    bob = _bob_day(world)
    deferred = bare_session(
        world, world.alice_patient, None, status=SessionStatus.DEFERRED, deferred_reason="BP high"
    )
    _, _, theirs = _elsewhere(world)
    both = {str(alice.session.public_id), str(bob.session.public_id)}
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "MedicationAdministration"))) == both
        refused(client_for(persona), f"MedicationAdministration/{deferred.public_id}", 404)
        refused(client_for(persona), f"MedicationAdministration/{theirs.public_id}", 404)
    assert set(ids_of(_read("MedicationAdministration", _system(world)))) == both
    # No patient reads the ketamine given from her chart, not even her own; nor the front desk.
    for persona in ("alice", "bob", "front_desk"):
        client = client_for(persona)
        assert ids_of(fhir(client, "MedicationAdministration")) == [], persona
        hidden(client, "MedicationAdministration", both)
    other = client_for("other_physician")
    assert ids_of(fhir(other, "MedicationAdministration")) == [str(theirs.public_id)]
    hidden(other, "MedicationAdministration", both)


@pytest.mark.django_db
def test_administrations_are_searched_by_their_parameters(
    world: World, client_for: Browser
) -> None:
    alice, _ = _alice_day(world)
    bob = _bob_day(world)
    client = client_for("physician")
    mine, his = str(alice.session.public_id), str(bob.session.public_id)

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"MedicationAdministration?{query}")))

    assert found(f"patient={world.alice_patient.public_id}") == {mine}
    assert found(f"subject=Patient/{world.bob_patient.public_id}") == {his}
    assert found("status=stopped") == {mine}
    assert found("status=in-progress") == {his}
    assert found("status=on-hold") == set()
    assert found("status=completed") == set()
    assert found("status=stopped,in-progress") == {mine, his}
    assert found(f"context=Encounter/{mine}") == {mine}
    assert alice.session.plan is not None
    assert found(f"request=MedicationRequest/{alice.session.plan.public_id}") == {mine}
    assert found("code=http://www.nlm.nih.gov/research/umls/rxnorm|6130") == {mine, his}
    assert found("code=http://snomed.info/sct|6130") == set()
    started = alice.session.started_at
    assert started is not None
    day = timezone.localtime(started).date().isoformat()
    assert found(f"effective-time={day}") == {mine, his}
    assert found(f"effective-time=gt{instant(started)}") == {his}
    assert found(f"effective-time=lt{instant(started)}") == set()
    session = InfusionSession.objects.get(pk=bob.session.pk)
    assert found(f"_lastUpdated=ge{instant(session.updated_at)}") == {his}
    # Each status the search finds is the one its read states.
    bob.backdate(41)
    bob.stop()
    assert found("status=completed") == {his}
    assert found("status=stopped") == {mine}
    for resource_id in (mine, his):
        read = fhir(client, f"MedicationAdministration/{resource_id}")["status"]
        assert found(f"status={read}&_id={resource_id}") == {resource_id}


# --- AdverseEvent -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_adverse_event_reads_with_hl7_severity_and_outcome(
    world: World, client_for: Browser
) -> None:
    day, event = _alice_day(world)
    session = day.session
    event.refresh_from_db()
    found = fhir(client_for("nurse"), f"AdverseEvent/{event.public_id}")
    assert found["actuality"] == "actual"
    assert found["event"] == {
        "coding": [
            {
                "system": "https://ketaclinic.org/fhir/CodeSystem/adverse-event-kind",
                "code": "nausea_vomiting",
                "display": "Nausea or vomiting",
            }
        ],
        "text": "Nausea or vomiting",
    }
    assert found["severity"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
            "code": "moderate",
            "display": "Moderate",
        }
    ]
    assert found["outcome"]["coding"][0]["code"] == "recovering"
    assert found["outcome"]["coding"][0]["system"] == (
        "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
    )
    assert "category" not in found
    assert "seriousness" not in found
    assert found["subject"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert found["encounter"] == {"reference": f"Encounter/{session.public_id}"}
    assert found["location"] == {"reference": f"Location/{world.cleveland.public_id}"}
    assert found["date"] == instant(event.onset_at)
    assert found["recordedDate"] == found["meta"]["lastUpdated"] == instant(event.recorded_at)
    assert found["recorder"] == {"reference": f"Practitioner/{world.nurse.public_id}"}
    assert found["suspectEntity"] == [
        {"instance": {"reference": f"MedicationAdministration/{session.public_id}"}}
    ]
    # What was done and the note live in the narrative, escaped.
    assert found["text"]["status"] == "additional"
    div = found["text"]["div"]
    assert "Done: Ondansetron, Rate reduced." in div
    assert "Outcome: Improving." in div
    assert "Felt sick &lt;after&gt; the rate rose &amp; settled" in div


@pytest.mark.django_db
def test_a_rate_changed_back_is_told_in_order_and_a_pasted_control_character_is_dropped(
    world: World, client_for: Browser
) -> None:
    day = day_at(world, "infusing")
    day.backdate(10)
    day.rate("4", reason="Nausea")
    day.backdate(10)
    day.rate("5.25", reason="Settled")
    event = day.adverse_event(note="Pump log:\x0cpage 2")  # a form feed, pasted with the text
    day.backdate(10)
    day.stop()
    session = day.reload()
    client = client_for("physician")
    dosage = fhir(client, f"MedicationAdministration/{session.public_id}")["dosage"]
    # 52.5, then 40, then back to 52.5: the last rate is the one it ran at last.
    assert dosage["text"].endswith("52.5 mg/h, then 40 mg/h, then 52.5 mg/h")
    div = fhir(client, f"AdverseEvent/{event.public_id}")["text"]["div"]
    assert "\x0c" not in div
    root = ElementTree.fromstring(div)  # noqa: S314  (our own output: is it well formed?)
    assert root.tag == "{http://www.w3.org/1999/xhtml}div"
    assert "Pump log: page 2" in div


@pytest.mark.django_db
def test_an_event_before_the_start_names_no_suspect(world: World, client_for: Browser) -> None:
    bob = _bob_day(world)
    session = bob.reload()
    before = AdverseEvent.objects.create(
        session=session,
        kind="anxiety",
        severity="mild",
        onset_at=session.arrived_at,
        interventions=["reassurance"],
        outcome="transferred",
        recorded_by=world.nurse,
    )
    found = fhir(client_for("physician"), f"AdverseEvent/{before.public_id}")
    assert "suspectEntity" not in found
    # Transferred for further care: not resolved when it left the clinic.
    assert found["outcome"]["coding"][0]["code"] == "ongoing"


@pytest.mark.django_db
def test_adverse_events_each_reader_may_see_and_their_searches(
    world: World, client_for: Browser
) -> None:
    _, event = _alice_day(world)
    bob = _bob_day(world)
    his = AdverseEvent.objects.create(
        session=bob.session,
        kind="dizziness",
        severity="mild",
        onset_at=event.onset_at + dt.timedelta(minutes=5),
        interventions=["none"],
        outcome="resolved",
        recorded_by=world.nurse,
    )
    _, theirs, _ = _elsewhere(world)
    mine, bobs = str(event.public_id), str(his.public_id)
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "AdverseEvent"))) == {mine, bobs}
        refused(client_for(persona), f"AdverseEvent/{theirs.public_id}", 404)
    assert set(ids_of(_read("AdverseEvent", _system(world)))) == {mine, bobs}
    # An adverse event is charted on the infusion: no patient reads it, not even her own.
    for persona in ("alice", "bob", "front_desk"):
        client = client_for(persona)
        assert ids_of(fhir(client, "AdverseEvent")) == [], persona
        hidden(client, "AdverseEvent", {mine, bobs})
    other = client_for("other_physician")
    assert ids_of(fhir(other, "AdverseEvent")) == [str(theirs.public_id)]
    hidden(other, "AdverseEvent", {mine, bobs})

    client = client_for("nurse")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"AdverseEvent?{query}")))

    assert found(f"patient={world.alice_patient.public_id}") == {mine}
    assert found(f"subject=Patient/{world.bob_patient.public_id}") == {bobs}
    kinds = "https://ketaclinic.org/fhir/CodeSystem/adverse-event-kind"
    assert found(f"event={kinds}|nausea_vomiting") == {mine}
    assert found("event=dizziness,nausea_vomiting") == {mine, bobs}
    assert found("event=http://snomed.info/sct|dizziness") == set()
    assert found("severity=moderate") == {mine}
    assert found("severity=http://terminology.hl7.org/CodeSystem/adverse-event-severity|mild") == {
        bobs
    }
    event.refresh_from_db()
    assert found(f"date=le{instant(event.onset_at)}") == {mine}
    assert found(f"date=gt{instant(event.onset_at)}") == {bobs}
    his.refresh_from_db()
    assert found(f"_lastUpdated=ge{instant(his.recorded_at)}") == {bobs}


# --- audit and cost ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_search_writes_one_read_event_per_patient_shown(
    world: World, client_for: Browser
) -> None:
    _alice_day(world)
    _bob_day(world)
    client = client_for("physician")
    for path in ("Observation?_count=100", "MedicationAdministration"):
        before = AuditEvent.objects.count()
        fhir(client, path)
        reads = AuditEvent.objects.filter(object_type="fhir_read").order_by("-id")[:2]
        assert AuditEvent.objects.count() == before + 2
        assert {e.patient_id for e in reads} == {world.alice_patient.pk, world.bob_patient.pk}


def _many(world: World, count: int) -> None:
    """``count`` of each row type, straight in the database, shared by Alice and Bob."""
    now = timezone.now()
    sessions: list[tuple[InfusionSession, dt.datetime]] = []
    for n in range(count):
        patient: Patient = world.alice_patient if n % 2 else world.bob_patient
        start = now - dt.timedelta(days=n + 1)
        session = bare_session(
            world,
            patient,
            None,
            status=SessionStatus.DISCHARGED,
            arrived_at=start - dt.timedelta(minutes=20),
            started_at=start,
            ended_at=start + dt.timedelta(minutes=40),
            discharged_at=start + dt.timedelta(minutes=80),
            discharged_by=world.nurse,
            given_before_mg=35.0,
            current_rate_mg_per_h=0.0,
            rate_since=start + dt.timedelta(minutes=40),
            plan_total_mg=35.0,
        )
        sessions.append((session, start))
    RateEvent.objects.bulk_create(
        RateEvent(
            session=s,
            kind=kind,
            at=start,
            rate_ml_per_h=Decimal(rate),
            rate_mg_per_h=float(rate) * 10,
            given_mg=0.0,
            recorded_by=world.nurse,
        )
        for s, start in sessions
        for kind, rate in ((RateEventKind.START, "5.25"), (RateEventKind.STOP, "0"))
    )
    entries = ChartEntry.objects.bulk_create(
        ChartEntry(
            session=s,
            kind=EntryKind.VITALS,
            phase=Phase.DURING,
            taken_at=start,
            recorded_by=world.nurse,
        )
        for s, start in sessions
    )
    Observation.objects.bulk_create(
        Observation(
            entry=e,
            session=e.session,
            patient=e.session.patient,
            taken_at=e.taken_at,
            system=system,
            code=code,
            display=code,
            value=Decimal(value),
            unit=unit,
            components=components,
        )
        for e in entries
        for system, code, value, unit, components in (
            ("loinc", "8867-4", "70", "/min", {}),
            ("ketaclinic", "aldrete", "9", "{score}", ALDRETE_9),
        )
    )
    AdverseEvent.objects.bulk_create(
        AdverseEvent(
            session=s,
            kind="headache",
            severity="mild",
            onset_at=start,
            interventions=["none"],
            outcome="resolved",
            recorded_by=world.nurse,
        )
        for s, start in sessions
    )


@pytest.mark.django_db
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(world: World, client_for: Browser) -> None:
    _many(world, 110)
    client = client_for("physician")

    def queries(path: str, count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"{path}?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    for path in ("Observation", "MedicationAdministration", "AdverseEvent"):
        assert queries(path, 10) == queries(path, 100), path
