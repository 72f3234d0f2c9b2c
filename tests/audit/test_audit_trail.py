from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet

from ketaclinic.audit.models import AuditEvent, AuditImmutableError
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.patients import selectors, services
from tests.conftest import World


def records() -> QuerySet[AuditEvent]:
    """The events about records (signing the test client in leaves a log-in event too)."""
    return AuditEvent.objects.exclude(action="login")


def events() -> list[tuple[str, str, str, Any]]:
    return [(e.actor_role, e.action, e.object_type, e.patient_id) for e in records().order_by("id")]


def test_registering_a_patient_writes_exactly_one_create_event(world: World) -> None:
    actor = Actor(user=world.front_desk, ip="203.0.113.7")
    patient = services.patient_register(
        actor=actor,
        clinic=world.clinic,
        given_name="Carmen",
        family_name="Delgado",
        date_of_birth=dt.date(1966, 6, 21),
        sex="female",
    )
    assert events() == [("front_desk", "create", "patient", patient.pk)]
    event = records().get()
    assert event.actor == world.front_desk
    assert event.clinic_id == world.clinic.pk
    assert event.ip_address == "203.0.113.7"
    assert event.object_id == str(patient.public_id)


def test_updating_a_patient_writes_one_update_event_naming_fields_not_values(world: World) -> None:
    patient = world.alice_patient
    services.patient_update(
        actor=Actor(user=world.physician),
        public_id=str(patient.public_id),
        expected_version=patient.version,
        changes={"phone": "(216) 555-0100"},
    )
    assert events() == [("physician", "update", "patient", patient.pk)]
    detail = records().get().detail
    assert detail == {"fields": ["phone"]}
    assert "555" not in str(detail)


def test_reading_a_patient_writes_a_read_event(world: World) -> None:
    selectors.patient_detail(
        actor=Actor(user=world.nurse), public_id=str(world.bob_patient.public_id)
    )
    assert events() == [("nurse", "read", "patient", world.bob_patient.pk)]


def test_a_refused_read_writes_no_event(world: World) -> None:
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.patient_detail(
            actor=Actor(user=world.other_physician), public_id=str(world.alice_patient.public_id)
        )
    assert events() == []


def test_viewing_a_patient_page_writes_a_read_event_with_the_client_address(
    client_for: Any, world: World
) -> None:
    response = client_for("front_desk").get(
        f"/staff/patients/{world.alice_patient.public_id}/", REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 200
    event = records().get()
    assert (event.action, event.object_type, event.patient_id) == (
        "read",
        "patient_chart",
        world.alice_patient.pk,
    )
    assert event.ip_address == "198.51.100.4"
    assert event.actor == world.front_desk


def test_a_patient_viewing_their_own_record_is_audited(client_for: Any, world: World) -> None:
    assert client_for("alice").get("/me/").status_code == 200
    assert events() == [("patient", "read", "patient", world.alice_patient.pk)]


def test_the_staff_patient_list_is_audited_without_the_search_text(
    client_for: Any, world: World
) -> None:
    client = client_for("physician")
    client.post("/staff/patients/", {"q": "Moreno"})  # kept in the session, never in the URL
    client.get("/staff/patients/")
    event = records().get()
    assert (event.action, event.object_type) == ("read", "patient_list")
    assert event.detail == {
        "results": 1,
        "searched": True,
        "by": ["name_or_record"],
        "page": 1,
    }


def _one_event(world: World) -> AuditEvent:
    with transaction.atomic():
        return audit_record(
            actor=Actor(user=world.clinic_admin),
            action="read",
            object_type="patient",
            patient=world.alice_patient,
        )


def test_the_application_refuses_to_change_an_event(world: World) -> None:
    event = _one_event(world)
    event.action = "delete"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(action="delete")
    assert AuditEvent.objects.get(pk=event.pk).action == "read"


def test_the_application_refuses_to_delete_an_event(world: World) -> None:
    event = _one_event(world)
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


def test_the_database_refuses_a_raw_update_or_delete(world: World) -> None:
    event = _one_event(world)
    for statement in (
        "UPDATE audit_auditevent SET action = 'delete' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    assert [(e.pk, e.action, e.hash) for e in AuditEvent.objects.all()] == [
        (event.pk, "read", event.hash)
    ]


def test_audit_page_lists_and_filters_the_clinics_events(client_for: Any, world: World) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor(user=world.nurse),
            action="read",
            object_type="patient",
            patient=world.alice_patient,
        )
        audit_record(
            actor=Actor(user=world.physician),
            action="update",
            object_type="patient",
            patient=world.bob_patient,
        )
        # Another clinic's event never appears on our page.
        audit_record(
            actor=Actor(user=world.other_physician),
            action="update",
            object_type="patient",
            patient=world.other_patient,
        )
    client = client_for("clinic_admin")
    page = client.get("/clinic/audit/").content.decode()
    assert "nurse@example.test" in page
    assert "doc@example.test" in page
    assert "olga@elsewhere.test" not in page
    filtered = client.post("/clinic/audit/", {"action": "update"}, follow=True)
    # Filters are posted and kept in the session: the page's address carries none of them.
    assert filtered.redirect_chain == [("/clinic/audit/", 302)]
    assert "doc@example.test" in filtered.content.decode()
    assert "nurse@example.test" not in filtered.content.decode()
    by_record = client.post(
        "/clinic/audit/", {"record_number": world.alice_patient.mrn}, follow=True
    )
    assert by_record.redirect_chain == [("/clinic/audit/", 302)]
    assert "nurse@example.test" in by_record.content.decode()
    assert "doc@example.test" not in by_record.content.decode()
    # An old bookmark's query string is ignored; Clear shows everything again.
    client.post("/clinic/audit/", {"clear": "1"})
    page = client.get("/clinic/audit/", {"record_number": world.bob_patient.mrn}).content.decode()
    assert "nurse@example.test" in page
    assert "doc@example.test" in page


def test_audit_page_refuses_a_reversed_date_range(client_for: Any, world: World) -> None:
    client = client_for("clinic_admin")
    response = client.post("/clinic/audit/", {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 422
    assert "end date is before the start date" in response.content.decode()
    assert "audit.filters" not in client.session


def test_audit_page_query_count_does_not_grow_with_events(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    client = client_for("clinic_admin")
    client.get("/clinic/audit/")  # warm the session
    with transaction.atomic():
        for _ in range(30):
            audit_record(
                actor=Actor(user=world.nurse),
                action="read",
                object_type="patient",
                patient=world.alice_patient,
            )
    # session, user, savepoint, capped count, events (with actor and patient joined), chain head
    # lock, audit insert, chain head move, release
    with django_assert_num_queries(9):
        client.get("/clinic/audit/")
    with transaction.atomic():
        for _ in range(30):
            audit_record(
                actor=Actor(user=world.physician),
                action="read",
                object_type="patient",
                patient=world.bob_patient,
            )
    with django_assert_num_queries(9):
        client.get("/clinic/audit/")
