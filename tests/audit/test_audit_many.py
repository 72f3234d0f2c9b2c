"""``audit_record_many``: one event per patient for a response that shows many records at once
(an API page), in three statements whatever the number, on the clinic's hash chain."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ketaclinic.audit.models import AuditChainHead, AuditEvent, chain_of
from ketaclinic.audit.services import Actor, audit_record, audit_record_many
from tests.audit.test_hash_chain import verify
from tests.conftest import World
from tests.factories import make_patient


def _statements(world: World, count: int) -> int:
    patients = [
        make_patient(world.clinic, given=f"Many{count}x{n}", family="Listed") for n in range(count)
    ]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        events = audit_record_many(
            actor=Actor(user=world.physician, ip="198.51.100.7"),
            action="read",
            object_type="fhir_read",
            patients=patients,
            detail={"interaction": "search"},
        )
    assert [e.patient_id for e in events] == [p.pk for p in patients]
    assert [e.object_id for e in events] == [str(p.public_id) for p in patients]
    return len([q for q in queries.captured_queries if q["sql"] not in {"BEGIN", "COMMIT"}])


@pytest.mark.django_db
def test_many_events_cost_three_statements_and_keep_the_chain_whole(world: World) -> None:
    with transaction.atomic():  # an event before, so the batch links to an existing head
        audit_record(actor=Actor(user=world.physician), action="read", object_type="x")
    assert _statements(world, 2) == _statements(world, 40) == 3
    with transaction.atomic():  # and one after, linked to the batch's last event
        audit_record(actor=Actor(user=world.physician), action="read", object_type="y")
    assert AuditEvent.objects.filter(object_type="fhir_read").count() == 42
    head = AuditChainHead.objects.get(chain=chain_of(world.clinic.pk))
    newest = AuditEvent.objects.filter(clinic=world.clinic).order_by("-id").first()
    assert newest is not None
    assert (head.last_event_id, head.last_hash) == (newest.pk, newest.hash)
    assert "Intact" in verify()


@pytest.mark.django_db
def test_patients_of_two_clinics_are_refused_and_none_writes_nothing(world: World) -> None:
    ours = make_patient(world.clinic, given="Ours")
    theirs = make_patient(world.other_clinic, given="Theirs")
    before = AuditEvent.objects.count()
    with transaction.atomic(), pytest.raises(ValueError, match="2 clinics"):
        audit_record_many(
            actor=Actor(user=None), action="read", object_type="fhir", patients=[ours, theirs]
        )
    with transaction.atomic():
        assert (
            audit_record_many(
                actor=Actor(user=None), action="read", object_type="fhir", patients=[]
            )
            == []
        )
    assert AuditEvent.objects.count() == before
