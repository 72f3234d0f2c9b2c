"""Appointments through the FHIR API: what the schedule shows, to whom it shows it, searched by
patient, date and status, with the patient, location and practitioner ``_include``d."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule
from tests.fhir.test_fhir_api import fhir, ids_of, refused


def _book(world: World) -> tuple[Appointment, Appointment, Appointment]:
    sched = setup_schedule(world)
    soon = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    alice_1 = consultation_appointment(sched, world.alice_patient, soon)
    alice_2 = consultation_appointment(sched, world.alice_patient, soon + dt.timedelta(days=30))
    bob = consultation_appointment(sched, world.bob_patient, soon + dt.timedelta(hours=2))
    Appointment.objects.filter(pk=alice_2.pk).update(status="cancelled")
    return alice_1, alice_2, bob


@pytest.mark.django_db
def test_each_reader_sees_the_appointments_the_schedule_shows_them(
    world: World, client_for: Callable[[str], Client]
) -> None:
    alice_1, alice_2, bob = _book(world)
    ours = {str(a.public_id) for a in (alice_1, alice_2, bob)}
    for persona in ("front_desk", "nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "Appointment?_count=100"))) == ours
    alice = client_for("alice")
    assert set(ids_of(fhir(alice, "Appointment"))) == {
        str(alice_1.public_id),
        str(alice_2.public_id),
    }
    refused(alice, f"Appointment/{bob.public_id}", 404)
    other = client_for("other_physician")
    assert ids_of(fhir(other, "Appointment")) == []
    refused(other, f"Appointment/{alice_1.public_id}", 404)


@pytest.mark.django_db
def test_an_appointment_says_what_the_schedule_holds(
    world: World, client_for: Callable[[str], Client]
) -> None:
    alice_1, alice_2, _ = _book(world)
    client = client_for("front_desk")
    booked = fhir(client, f"Appointment/{alice_1.public_id}")
    assert booked["status"] == "booked"
    assert booked["minutesDuration"] == 30
    assert dt.datetime.fromisoformat(booked["start"]) == alice_1.start
    # Booked late in the evening in New York is the next day in UTC: the moment, not a date.
    late = dt.datetime(2031, 1, 15, 3, 30, tzinfo=dt.UTC)  # 22:30 on the 14th in New York
    Appointment.objects.filter(pk=alice_1.pk).update(created_at=late)
    created = fhir(client, f"Appointment/{alice_1.public_id}")["created"]
    assert dt.datetime.fromisoformat(created) == late
    actors = [p["actor"]["reference"] for p in booked["participant"]]
    assert actors == [
        f"Patient/{world.alice_patient.public_id}",
        f"Practitioner/{world.physician.public_id}",
        f"Location/{world.cleveland.public_id}",
    ]
    cancelled = fhir(client, f"Appointment/{alice_2.public_id}")
    assert cancelled["status"] == "cancelled"
    assert {p["status"] for p in cancelled["participant"]} == {"declined"}


@pytest.mark.django_db
def test_searches_and_includes(world: World, client_for: Callable[[str], Client]) -> None:
    alice_1, alice_2, bob = _book(world)
    client = client_for("physician")
    alice = world.alice_patient.public_id
    assert set(ids_of(fhir(client, f"Appointment?patient=Patient/{alice}"))) == {
        str(alice_1.public_id),
        str(alice_2.public_id),
    }
    assert ids_of(fhir(client, f"Appointment?patient={alice}&status=booked")) == [
        str(alice_1.public_id)
    ]
    day = timezone.localtime(alice_1.start).date().isoformat()
    on_the_day = set(ids_of(fhir(client, f"Appointment?date={day}")))
    assert str(alice_1.public_id) in on_the_day
    assert str(alice_2.public_id) not in on_the_day
    assert ids_of(fhir(client, f"Appointment?date=gt{day}&status=cancelled")) == [
        str(alice_2.public_id)
    ]
    last_before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    bundle = fhir(
        client,
        "Appointment?_include=Appointment:patient,Appointment:location"
        "&_include=Appointment:practitioner&_count=100",
    )
    modes: dict[str, set[str]] = {}
    for entry in bundle["entry"]:
        modes.setdefault(entry["search"]["mode"], set()).add(
            f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        )
    assert modes["match"] == {f"Appointment/{a.public_id}" for a in (alice_1, alice_2, bob)}
    assert modes["include"] == {
        f"Patient/{world.alice_patient.public_id}",
        f"Patient/{world.bob_patient.public_id}",
        f"Location/{world.cleveland.public_id}",
        f"Practitioner/{world.physician.public_id}",
    }
    # One read event per patient shown, whichever entry showed them.
    events = AuditEvent.objects.filter(id__gt=last_before)
    shown = [e.patient_id for e in events]
    assert len(shown) == 2
    assert set(shown) == {world.alice_patient.pk, world.bob_patient.pk}
    assert "_include=Appointment%3Apatient" in bundle["link"][0]["url"]
    assert "not offered" in refused(
        client, "Appointment?_include=Appointment:chair", 400, prefer="handling=strict"
    )


@pytest.mark.django_db
def test_includes_cost_no_query_more_per_appointment(
    world: World, client_for: Callable[[str], Client]
) -> None:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)
    client = client_for("physician")
    path = "Appointment?_include=Appointment:patient,Appointment:location&_count=100"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir(client, path)
        return len(captured)

    consultation_appointment(sched, world.alice_patient, start)
    few = queries()
    for n in range(1, 40):
        patient = world.alice_patient if n % 2 else world.bob_patient
        consultation_appointment(sched, patient, start + dt.timedelta(hours=n))
    assert queries() == few
