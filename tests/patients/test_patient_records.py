from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.patients import services
from ketaclinic.patients.models import Patient
from tests import factories
from tests.conftest import World


def snapshot(patient: Patient) -> dict[str, Any]:
    patient.refresh_from_db()
    return {f: getattr(patient, f) for f in (*services.EDITABLE_FIELDS, "version")}


def test_front_desk_registers_a_patient_with_a_random_record_number(
    client_for: Any, world: World
) -> None:
    response = client_for("front_desk").post(
        "/staff/patients/new/",
        {
            "given_name": "Carmen",
            "family_name": "Delgado",
            "date_of_birth": "1966-06-21",
            "sex": "female",
            "home_location": world.charlotte.pk,
        },
    )
    patient = Patient.objects.get(given_name="Carmen")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/"
    assert patient.clinic == world.clinic  # set by the server, never by the form
    assert patient.mrn.startswith("K")
    assert patient.home_location == world.charlotte


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "2999-01-01", "Date of birth: Date of birth cannot be in the future."),
        ("date_of_birth", "not a date", "Date of birth: Enter a valid date."),
        ("sex", "unknown", "Sex assigned at birth: Select a valid choice."),
        ("email", "not-an-email", "Email: Enter a valid email address."),
        ("given_name", "", "Given name: This field is required."),
    ],
)
def test_registration_refuses_bad_input_naming_the_field(
    client_for: Any, world: World, field: str, value: str, message: str
) -> None:
    data = {
        "given_name": "Carmen",
        "family_name": "Delgado",
        "date_of_birth": "1966-06-21",
        "sex": "female",
    }
    data[field] = value
    before = Patient.objects.count()
    response = client_for("front_desk").post("/staff/patients/new/", data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Patient.objects.count() == before
    assert AuditEvent.objects.count() == 0


def test_registration_refuses_another_clinics_location(client_for: Any, world: World) -> None:
    foreign = factories.make_location(world.other_clinic, "Dayton")
    before = Patient.objects.count()
    response = client_for("front_desk").post(
        "/staff/patients/new/",
        {
            "given_name": "C",
            "family_name": "D",
            "date_of_birth": "1966-06-21",
            "sex": "female",
            "home_location": foreign.pk,
        },
    )
    assert response.status_code == 422
    assert "Home location: Select a valid choice." in response.content.decode()
    assert Patient.objects.count() == before


def test_editing_saves_and_bumps_the_version(client_for: Any, world: World) -> None:
    patient = world.alice_patient
    data = {
        "given_name": "Alice",
        "family_name": "Moreno-Smith",
        "date_of_birth": "1970-01-01",
        "sex": "female",
        "version": patient.version,
    }
    response = client_for("physician").post(f"/staff/patients/{patient.public_id}/edit/", data)
    assert response.status_code == 302
    after = snapshot(patient)
    assert after["family_name"] == "Moreno-Smith"
    assert after["version"] == 2


def test_a_stale_form_is_refused_and_nothing_changes(client_for: Any, world: World) -> None:
    patient = world.alice_patient
    services.patient_update(
        actor=Actor(user=world.front_desk),
        public_id=str(patient.public_id),
        expected_version=1,
        changes={"phone": "(216) 555-0199"},
    )
    before = snapshot(patient)
    events_before = AuditEvent.objects.count()
    data = {
        "given_name": "Alicia",
        "family_name": "Moreno",
        "date_of_birth": "1970-01-01",
        "sex": "female",
        "version": 1,
    }
    response = client_for("physician").post(f"/staff/patients/{patient.public_id}/edit/", data)
    assert response.status_code == 422
    assert "changed by someone else" in response.content.decode()
    assert snapshot(patient) == before
    assert AuditEvent.objects.count() == events_before


def test_the_service_refuses_a_stale_version(world: World) -> None:
    patient = world.alice_patient
    before = snapshot(patient)
    with pytest.raises(StaleObjectError):
        services.patient_update(
            actor=Actor(user=world.front_desk),
            public_id=str(patient.public_id),
            expected_version=7,
            changes={"phone": "1"},
        )
    assert snapshot(patient) == before


def test_the_service_refuses_fields_that_are_not_editable(world: World) -> None:
    patient = world.alice_patient
    before = snapshot(patient)
    with pytest.raises(ValueError, match="clinic: this field cannot be changed here"):
        services.patient_update(
            actor=Actor(user=world.front_desk),
            public_id=str(patient.public_id),
            expected_version=1,
            changes={"clinic": world.other_clinic},
        )
    assert snapshot(patient) == before


def test_a_nurse_cannot_change_demographics(world: World) -> None:
    patient = world.alice_patient
    before = snapshot(patient)
    with pytest.raises(Http404):
        services.patient_update(
            actor=Actor(user=world.nurse),
            public_id=str(patient.public_id),
            expected_version=1,
            changes={"phone": "1"},
        )
    assert snapshot(patient) == before


def test_staff_of_another_clinic_cannot_change_our_patient(world: World) -> None:
    patient = world.alice_patient
    before = snapshot(patient)
    with pytest.raises(Http404):
        services.patient_update(
            actor=Actor(user=world.other_physician),
            public_id=str(patient.public_id),
            expected_version=1,
            changes={"phone": "1"},
        )
    assert snapshot(patient) == before


def test_service_validation_names_the_field(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        services.patient_register(
            actor=Actor(user=world.front_desk),
            clinic=world.clinic,
            given_name="A",
            family_name="B",
            date_of_birth=dt.date(1980, 1, 1),
            sex="other",
        )
    assert "sex" in info.value.message_dict
    assert Patient.objects.filter(given_name="A").count() == 0


def test_patient_list_query_count_is_independent_of_the_number_of_patients(
    client_for: Any, world: World, django_assert_max_num_queries: Any
) -> None:
    client = client_for("front_desk")
    client.get("/staff/patients/")
    # session, user, savepoint, count, patients with their location, audit chain head lock,
    # audit insert, chain head move, release; the clinic's brand for the page
    with django_assert_max_num_queries(10) as few:
        assert client.get("/staff/patients/").status_code == 200
    for i in range(25):
        factories.make_patient(world.clinic, given=f"P{i}", location=world.cleveland)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/staff/patients/").content.decode()
    assert "P24" in page


def test_patient_search_never_returns_another_clinics_patient(
    client_for: Any, world: World
) -> None:
    client = client_for("physician")
    client.post("/staff/patients/", {"q": "Other"})
    assert "Oscar" not in client.get("/staff/patients/").content.decode()
    client = client_for("other_physician")
    client.post("/staff/patients/", {"q": "Moreno"})
    assert "Alice" not in client.get("/staff/patients/").content.decode()
