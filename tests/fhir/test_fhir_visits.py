"""Visits and diagnoses: consultations and infusion sessions as Encounters, a consultation's
causes as Conditions, its exam's measurements as Observations (the vital-signs profiles); who
reads them (the clinic's clinical staff and its backend systems, as the consultation pages: never
a patient, even her own, nor the front desk or another clinic), what they say, how they are
searched, audited and paged at a flat cost; and the migration that gave causes and exam
measurements their public ids."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.assessments.models import Cause, Consultation
from ketaclinic.assessments.models import Observation as ExamObservation
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.resources.base import instant
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.assessments import complete, make_consultation, signed
from tests.factories.infusions import bare_session, charted_session
from tests.factories.scheduling import (
    consultation_appointment,
    infusion_appointment,
    setup_schedule,
)
from tests.fhir.test_fhir_api import fhir, hidden, ids_of, refused
from tests.fhir.test_smart_oauth import (
    _backend,
    _bearer,
    _client_credentials,
    _patient_app,
    _read,
    _token_for,
)

Browser = Callable[[str], Client]
LOINC = "http://loinc.org"
TYPES = "https://ketaclinic.org/fhir/CodeSystem/encounter-type"
CLINICAL = ("nurse", "physician", "clinic_admin")


@dataclass
class Visits:
    consultation: Consultation  # Alice's, signed, with its appointment
    draft: Consultation  # Bob's, a draft
    elsewhere: Consultation  # another clinic's patient's
    booked: Appointment
    discharged: InfusionSession  # Alice's
    deferred: InfusionSession  # Bob's
    arrived: InfusionSession  # Alice's, today

    def ours(self) -> list[Consultation]:
        return [self.consultation, self.draft]


def _visits(world: World) -> Visits:
    sched = setup_schedule(world)
    yesterday = timezone.now() - dt.timedelta(days=1)
    booked = consultation_appointment(sched, world.alice_patient, yesterday)
    consultation = signed(world)
    # Linked as the consultation page links the visit it was opened from.
    Consultation.objects.filter(pk=consultation.pk).update(appointment=booked)
    consultation.refresh_from_db()
    draft = complete(world, world.bob_patient)
    elsewhere = make_consultation(world.other_patient, world.other_physician)
    Cause.objects.create(
        consultation=elsewhere, system="snomed", code="2177002", display="Postherpetic neuralgia"
    )
    ExamObservation.objects.create(
        consultation=elsewhere,
        patient=world.other_patient,
        loinc="29463-7",
        display="Body weight",
        value=70.0,
        unit="kg",
        effective_date=elsewhere.exam_date,
    )
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    discharged = charted_session(
        world,
        infusion_appointment(world, world.alice_patient, start=three_days_ago),
        given=True,
    )
    deferred = charted_session(
        world,
        infusion_appointment(world, world.bob_patient, start=three_days_ago),
        given=False,
    )
    arrived = bare_session(world, world.alice_patient, None)
    return Visits(consultation, draft, elsewhere, booked, discharged, deferred, arrived)


def _encounter_ids(visits: Visits) -> set[str]:
    rows: list[Any] = [*visits.ours(), visits.discharged, visits.deferred, visits.arrived]
    return {str(row.public_id) for row in rows}


def _by_code(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["resource"]["code"]["coding"][0]["code"]: e["resource"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    }


# --- Encounter --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_consultation_is_a_finished_ambulatory_visit_on_its_exam_day(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("physician")
    found = fhir(client, f"Encounter/{visits.consultation.public_id}")
    day = visits.consultation.exam_date.isoformat()
    assert found["status"] == "finished"
    assert found["class"]["code"] == "AMB"
    assert found["type"] == [
        {
            "coding": [{"system": TYPES, "code": "consultation", "display": "Consultation"}],
            "text": "New patient consultation",
        }
    ]
    assert found["subject"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert found["period"] == {"start": day, "end": day}
    assert found["appointment"] == [{"reference": f"Appointment/{visits.booked.public_id}"}]
    assert found["location"] == [
        {"location": {"reference": f"Location/{world.cleveland.public_id}"}}
    ]
    assert found["serviceProvider"] == {"reference": f"Organization/{world.clinic.public_id}"}
    [signer] = found["participant"]  # opened and signed by the same physician: once
    assert signer["type"][0]["coding"][0]["code"] == "ATND"
    assert signer["individual"] == {"reference": f"Practitioner/{world.physician.public_id}"}

    draft = fhir(client, f"Encounter/{visits.draft.public_id}")
    assert draft["status"] == "in-progress"
    assert draft["period"] == {"start": visits.draft.exam_date.isoformat()}
    assert draft["type"][0]["text"] == "Consultation"
    assert "appointment" not in draft
    assert "location" not in draft
    [opener] = draft["participant"]
    assert opener["type"][0]["coding"][0]["code"] == "PART"


@pytest.mark.django_db
def test_an_infusion_session_is_a_visit_from_arrival_to_discharge(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("nurse")
    session = visits.discharged
    found = fhir(client, f"Encounter/{session.public_id}")
    assert found["status"] == "finished"
    assert found["type"][0]["coding"] == [
        {"system": TYPES, "code": "infusion", "display": "Infusion"}
    ]
    assert session.discharged_at is not None
    assert found["period"] == {
        "start": instant(session.arrived_at),
        "end": instant(session.discharged_at),
    }
    assert session.appointment is not None
    assert found["appointment"] == [{"reference": f"Appointment/{session.appointment.public_id}"}]
    assert found["location"] == [
        {"location": {"reference": f"Location/{world.cleveland.public_id}"}}
    ]
    [discharger] = found["participant"]
    assert discharger["type"][0]["coding"][0]["code"] == "DIS"
    assert discharger["individual"] == {"reference": f"Practitioner/{world.nurse.public_id}"}
    # Deferred: the patient came and was checked, so the visit began and finished; no end time
    # is recorded for a deferral.
    deferred = fhir(client, f"Encounter/{visits.deferred.public_id}")
    assert deferred["status"] == "finished"
    assert set(deferred["period"]) == {"start"}
    assert fhir(client, f"Encounter/{visits.arrived.public_id}")["status"] == "arrived"
    for stored in ("precheck", "infusing", "recovering"):
        InfusionSession.objects.filter(pk=visits.arrived.pk).update(
            status=stored, started_at=timezone.now()
        )
        assert fhir(client, f"Encounter/{visits.arrived.public_id}")["status"] == "in-progress"


@pytest.mark.django_db
def test_encounters_are_searched_by_patient_date_status_and_type(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("physician")
    alice, bob = world.alice_patient.public_id, world.bob_patient.public_id

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Encounter?_count=100&{query}")))

    assert found("") == _encounter_ids(visits)
    hers = {str(r.public_id) for r in (visits.consultation, visits.discharged, visits.arrived)}
    assert found(f"patient={alice}") == hers
    assert found(f"subject=Patient/{bob}") == {
        str(visits.draft.public_id),
        str(visits.deferred.public_id),
    }
    assert found("status=finished") == {
        str(r.public_id) for r in (visits.consultation, visits.discharged, visits.deferred)
    }
    assert found("status=http://hl7.org/fhir/encounter-status|in-progress") == {
        str(visits.draft.public_id)
    }
    assert found("status=arrived,cancelled") == {str(visits.arrived.public_id)}
    assert found("status=planned") == set()
    assert found("type=consultation") == {str(c.public_id) for c in visits.ours()}
    assert found(f"type={TYPES}|infusion") == {
        str(r.public_id) for r in (visits.discharged, visits.deferred, visits.arrived)
    }
    assert found("type=http://snomed.info/sct|infusion") == set()
    exam_day = visits.consultation.exam_date.isoformat()
    three_days_ago = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    assert str(visits.consultation.public_id) in found(f"date={exam_day}")
    assert found(f"date=lt{three_days_ago}") == set()
    assert found(f"date=ge{three_days_ago}") == _encounter_ids(visits)
    assert found(f"_lastUpdated=lt{three_days_ago}") == set()
    assert "date" in refused(client, "Encounter?date=soon", 400)

    bundle = fhir(client, f"Encounter?patient={alice}&_include=Encounter:patient")
    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes == ["match"] * 3 + ["include"]
    assert bundle["entry"][-1]["resource"]["id"] == str(alice)


# --- Condition --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cause_is_an_encounter_diagnosis_confirmed_once_signed(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("physician")
    bundle = fhir(client, f"Condition?patient={world.alice_patient.public_id}")
    by_system = {
        e["resource"]["code"]["coding"][0]["system"]: e["resource"] for e in bundle["entry"]
    }
    assert set(by_system) == {"http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"}
    snomed = by_system["http://snomed.info/sct"]
    assert snomed["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "230572002",
        "display": "Neuropathy due to diabetes mellitus",
    }
    assert snomed["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert snomed["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert "clinicalStatus" not in snomed  # the record does not follow it after the exam
    assert snomed["encounter"] == {"reference": f"Encounter/{visits.consultation.public_id}"}
    assert snomed["recordedDate"] == visits.consultation.exam_date.isoformat()
    assert snomed["recorder"] == {"reference": f"Practitioner/{world.physician.public_id}"}
    assert by_system["http://hl7.org/fhir/sid/icd-10-cm"]["code"]["coding"][0]["code"] == "E11.42"
    cause = visits.draft.causes.first()
    assert cause is not None
    draft = fhir(client, f"Condition/{cause.public_id}")
    assert draft["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert "recorder" not in draft


@pytest.mark.django_db
def test_conditions_are_searched_by_patient_code_category_and_recorded_date(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("nurse")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Condition?_count=100&{query}")))

    def causes(*consultations: Consultation) -> set[str]:
        return {str(c.public_id) for row in consultations for c in row.causes.all()}

    assert found("") == causes(*visits.ours())
    assert found(f"subject=Patient/{world.bob_patient.public_id}") == causes(visits.draft)
    snomed = Cause.objects.filter(
        system="snomed", code="230572002", consultation__clinic=world.clinic
    )
    assert found("code=http://snomed.info/sct|230572002") == {str(c.public_id) for c in snomed}
    icd = Cause.objects.filter(system="icd10cm", consultation__clinic=world.clinic)
    assert found("code=E11.42") == {str(c.public_id) for c in icd}
    assert found("code=http://loinc.org|E11.42") == set()
    assert found("code=http://hl7.org/fhir/sid/icd-10-cm|230572002") == set()
    assert found("category=encounter-diagnosis") == causes(*visits.ours())
    assert found("category=problem-list-item") == set()
    day = visits.consultation.exam_date.isoformat()
    assert found(f"recorded-date={day}") == causes(*visits.ours())
    assert found(f"recorded-date=gt{day}") == set()
    assert found(f"_lastUpdated=ge{day}") == causes(*visits.ours())
    bundle = fhir(
        client, f"Condition?patient={world.alice_patient.public_id}&_include=Condition:patient"
    )
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "match", "include"]


# --- the exam's Observations ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_exam_reads_as_vital_signs_by_their_profiles(world: World, client_for: Browser) -> None:
    visits = _visits(world)
    client = client_for("physician")
    alice = world.alice_patient.public_id
    vitals = _by_code(fhir(client, f"Observation?patient={alice}&category=vital-signs"))
    # SpO2 is stored under two codes: one resource, both codings.
    assert set(vitals) == {
        "8480-6", "8462-4", "8867-4", "9279-1", "2708-6", "8310-5", "8302-2", "29463-7",
        "39156-5",
    }  # fmt: skip
    profile = {code: r["meta"]["profile"] for code, r in vitals.items()}
    base = "http://hl7.org/fhir/StructureDefinition/"
    assert profile["29463-7"] == [base + "bodyweight"]
    assert profile["8302-2"] == [base + "bodyheight"]
    assert profile["39156-5"] == [base + "bmi"]
    assert profile["8867-4"] == [base + "heartrate"]
    assert profile["2708-6"] == [base + "oxygensat"]
    # Systolic and diastolic are two rows, two resources: the generic profile, not bp's.
    assert profile["8480-6"] == profile["8462-4"] == [base + "vitalsigns"]
    quantity = {code: r["valueQuantity"] for code, r in vitals.items()}
    ucum = "http://unitsofmeasure.org"
    assert quantity["29463-7"] == {"value": 82.5, "unit": "kg", "system": ucum, "code": "kg"}
    assert quantity["8302-2"] == {"value": 178, "unit": "cm", "system": ucum, "code": "cm"}
    assert quantity["39156-5"]["code"] == "kg/m2"
    assert quantity["39156-5"]["value"] == visits.consultation.bmi
    assert quantity["8480-6"] == {"value": 128, "unit": "mmHg", "system": ucum, "code": "mm[Hg]"}
    assert quantity["8462-4"]["value"] == 82
    assert quantity["8867-4"]["code"] == "/min"
    assert quantity["8310-5"]["code"] == "Cel"
    spo2 = vitals["2708-6"]
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]
    assert spo2["valueQuantity"]["value"] == 98
    weight = vitals["29463-7"]
    assert weight["status"] == "final"
    assert weight["category"][0]["coding"][0]["code"] == "vital-signs"
    assert weight["encounter"] == {"reference": f"Encounter/{visits.consultation.public_id}"}
    assert weight["effectiveDateTime"] == visits.consultation.exam_date.isoformat()
    # The pain now is reported, not measured: a survey, as the diary's score.
    [pain] = _by_code(fhir(client, f"Observation?patient={alice}&category=survey")).values()
    assert pain["code"]["coding"][0]["code"] == "72514-3"
    assert pain["valueQuantity"]["value"] == 7
    assert "profile" not in pain.get("meta", {})
    # The second SpO2 row is no resource of its own.
    second = ExamObservation.objects.get(consultation=visits.consultation, loinc="59408-5")
    refused(client, f"Observation/{second.public_id}", 404)
    # A draft's measurements are preliminary.
    bob = _by_code(fhir(client, f"Observation?patient={world.bob_patient.public_id}"))
    assert {r["status"] for r in bob.values()} == {"preliminary"}


@pytest.mark.django_db
def test_exam_observations_take_the_diary_search_parameters(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    client = client_for("nurse")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Observation?_count=100&{query}")))

    def rows(*loinc: str, consultations: tuple[Consultation, ...] | None = None) -> set[str]:
        return {
            str(o.public_id)
            for o in ExamObservation.objects.filter(
                consultation__in=consultations or visits.ours(), loinc__in=loinc
            )
        }

    assert found(f"code={LOINC}|8480-6") == rows("8480-6")
    assert found("code=2708-6") == found(f"code={LOINC}|59408-5") == rows("2708-6")
    assert found("code=http://snomed.info/sct|8480-6") == set()
    assert found("code=85354-9") == set()  # blood pressure is two rows (see the module)
    alice = world.alice_patient.public_id
    assert found(f"patient={alice}&code=29463-7") == rows(
        "29463-7", consultations=(visits.consultation,)
    )
    day = visits.consultation.exam_date.isoformat()
    assert found(f"subject=Patient/{alice}&date={day}&code=8302-2") == rows(
        "8302-2", consultations=(visits.consultation,)
    )
    assert found(f"date=gt{day}") == set()
    assert found(f"_lastUpdated=ge{day}&code=8867-4") == rows("8867-4")
    assert found("category=survey") == rows("72514-3")
    assert (
        found("category=http://terminology.hl7.org/CodeSystem/observation-category|exam") == set()
    )
    bundle = fhir(client, f"Observation?patient={alice}&code=29463-7&_include=Observation:patient")
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]


# --- who reads them ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_persona_reads_exactly_its_scope_and_the_front_desk_none(
    world: World, client_for: Browser
) -> None:
    visits = _visits(world)
    encounters = _encounter_ids(visits)
    conditions = {str(c.public_id) for c in Cause.objects.filter(consultation__in=visits.ours())}
    exams = {
        str(o.public_id)
        for o in ExamObservation.objects.filter(consultation__in=visits.ours()).exclude(
            loinc="59408-5"
        )
    }

    def theirs(ids: set[str], patient: Patient) -> set[str]:
        return {i for i in ids if _patient_of(i) == patient.pk}

    for persona in CLINICAL:
        client = client_for(persona)
        assert set(ids_of(fhir(client, "Encounter?_count=100"))) == encounters, persona
        assert set(ids_of(fhir(client, "Condition?_count=100"))) == conditions, persona
        assert set(ids_of(fhir(client, "Observation?_count=100"))) == exams, persona
    notes = (("Encounter", encounters), ("Condition", conditions), ("Observation", exams))
    backend, secret = _backend(world)
    system = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    for kind, ids in notes:
        assert set(ids_of(_read(f"{kind}?_count=100", system))) == ids, kind
    # Clinical notes are read as on the consultation pages (assessments.access.READERS): no
    # patient reads them, not even her own, in her session or through her app.
    app = _patient_app(world)
    alices_app = _token_for(client_for("alice"), app, "patient/*.read launch/patient")
    patients = {
        "alice": client_for("alice"),
        "bob": client_for("bob"),
        "alice's app": Client(headers=_bearer(alices_app["access_token"])),
    }
    for kind, ids in notes:
        assert theirs(ids, world.alice_patient), kind
        assert theirs(ids, world.bob_patient), kind
        for persona, client in patients.items():
            assert ids_of(fhir(client, f"{kind}?_count=100")) == [], (persona, kind)
            hidden(client, kind, ids)
    for persona in ("front_desk", "other_physician"):
        client = client_for(persona)
        for kind, ids in notes:
            hidden(client, kind, ids)
    assert ids_of(fhir(client_for("front_desk"), "Encounter")) == []
    # The other clinic's physician reads her own clinic's visit, and only that.
    assert ids_of(fhir(client_for("other_physician"), "Encounter")) == [
        str(visits.elsewhere.public_id)
    ]


def _patient_of(public_id: str) -> int:
    key = uuid.UUID(public_id)
    for model, field in (
        (Consultation, "patient_id"),
        (InfusionSession, "patient_id"),
        (ExamObservation, "patient_id"),
        (Cause, "consultation__patient_id"),
    ):
        found = model.objects.filter(public_id=key).values_list(field, flat=True).first()
        if found is not None:
            return int(found)
    raise AssertionError(public_id)


@pytest.mark.django_db
def test_a_search_writes_one_read_event_per_patient_shown(
    world: World, client_for: Browser
) -> None:
    _visits(world)
    client = client_for("nurse")
    for kind in ("Encounter", "Condition", "Observation"):
        before = AuditEvent.objects.filter(object_type="fhir_read").count()
        fhir(client, f"{kind}?_count=100")
        events = AuditEvent.objects.filter(object_type="fhir_read").order_by("id")[before:]
        shown = [e.patient_id for e in events]
        assert len(shown) == 2, kind
        assert set(shown) == {world.alice_patient.pk, world.bob_patient.pk}, kind
        assert {e.detail["type"] for e in events} == {kind}


# --- cost -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(world: World, client_for: Browser) -> None:
    today = timezone.localdate()
    for n in range(60):
        patient = world.alice_patient if n % 2 else world.bob_patient
        consultation = make_consultation(
            patient,
            world.physician,
            exam_date=today - dt.timedelta(days=n),
            signed_at=timezone.now() if n % 3 else None,
        )
        Cause.objects.create(
            consultation=consultation, system="icd10cm", code="G89.29", display="Other chronic pain"
        )
        Cause.objects.create(
            consultation=consultation, system="snomed", code="2177002", display="PHN"
        )
        ExamObservation.objects.bulk_create(
            ExamObservation(
                consultation=consultation,
                patient=patient,
                loinc=loinc,
                display=loinc,
                value=98.0,
                unit="%",
                effective_date=consultation.exam_date,
            )
            for loinc in ("2708-6", "59408-5", "8867-4")
        )
        bare_session(
            world,
            patient,
            None,
            status=SessionStatus.DEFERRED,
            arrived_at=timezone.now() - dt.timedelta(days=n),
        )
    client = client_for("physician")

    def queries(kind: str, count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"{kind}?_count={count}&_include={kind}:patient")
        assert len(ids_of(bundle)) == count
        return len(captured)

    for kind in ("Encounter", "Condition", "Observation"):
        assert queries(kind, 10) == queries(kind, 100), kind


# --- the migration ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_existing_cause_and_measurement_its_own_public_id(
    world: World,
) -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = [("assessments", "0004_history_prefill_from_selfcheck")]
    executor = MigrationExecutor(connection)
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "assessments"]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    consultation = old.get_model("assessments", "Consultation").objects.create(
        clinic_id=world.clinic.pk,
        patient_id=world.alice_patient.pk,
        exam_date=timezone.localdate(),
        created_by_id=world.physician.pk,
    )
    for code in ("G89.29", "G89.4"):
        old.get_model("assessments", "Cause").objects.create(
            consultation=consultation, system="icd10cm", code=code, display=code
        )
    for loinc in ("29463-7", "8302-2"):
        old.get_model("assessments", "Observation").objects.create(
            consultation=consultation,
            patient_id=world.alice_patient.pk,
            loinc=loinc,
            display=loinc,
            value=1.0,
            unit="kg",
            effective_date=timezone.localdate(),
        )
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    for model in (Cause, ExamObservation):
        given = list(
            model.objects.filter(consultation_id=consultation.pk).values_list(
                "public_id", flat=True
            )
        )
        assert len(given) == len(set(given)) == 2
        assert all(isinstance(value, uuid.UUID) for value in given)
