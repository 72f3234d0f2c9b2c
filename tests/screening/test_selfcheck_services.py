"""Storing a self-check, attaching it to a patient (audited), and reading it back for the chart."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.http import Http404
from django.test import Client, RequestFactory

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.instruments import score
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import (
    SESSION_RESULT,
    selfcheck_from_session,
    selfchecks_for_patient,
)
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests.conftest import World
from tests.screening.helpers import answers, positive_data, walk

pytestmark = pytest.mark.django_db


def snapshot(selfcheck: SelfCheck) -> tuple[Any, Any]:
    selfcheck.refresh_from_db()
    return selfcheck.patient_id, selfcheck.attached_at


def test_submit_stores_the_answers_and_every_field_of_each_score() -> None:
    selfcheck = selfcheck_submit(answers=answers())
    selfcheck.refresh_from_db()
    expected = score(
        "id-pain",
        {
            "pins_and_needles": False,
            "hot_burning": True,
            "numb": True,
            "electrical_shocks": False,
            "worse_with_touch": False,
            "limited_to_joints": False,
        },
    )
    assert selfcheck.scores["id-pain"] == dataclasses.asdict(expected)
    assert set(selfcheck.scores) == {"dn4-interview", "id-pain", "s-lanss"}
    assert selfcheck.chronic is True
    assert selfcheck.duration_months == 18.0
    assert selfcheck.red_flags == []
    assert selfcheck.answers["conditions"] == {"conditions": ["diabetes"]}
    assert selfcheck.patient is None
    assert selfcheck.attached_at is None
    assert AuditEvent.objects.count() == 0


def test_submit_refuses_incomplete_answers_and_stores_nothing() -> None:
    bad = answers(treatments={"treatments": []})
    with pytest.raises(ValueError, match=r"^treatments\.treatments: choose at least one"):
        selfcheck_submit(answers=bad)
    assert SelfCheck.objects.count() == 0


def test_attach_links_the_patient_and_writes_exactly_one_audit_event(world: World) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    actor = Actor(user=world.alice, ip="203.0.113.9")

    result = selfcheck_attach(actor=actor, selfcheck=selfcheck, patient=world.alice_patient)

    assert result.patient == world.alice_patient
    assert result.attached_at is not None
    assert snapshot(selfcheck) == (world.alice_patient.pk, result.attached_at)
    event = AuditEvent.objects.get()
    assert event.action == "update"
    assert event.object_type == "selfcheck"
    assert event.object_id == str(selfcheck.public_id)
    assert event.patient_id == world.alice_patient.pk
    assert event.clinic_id == world.clinic.pk
    assert event.actor == world.alice
    assert event.ip_address == "203.0.113.9"
    assert event.detail == {"fields": ["patient"]}


def test_attach_refuses_a_second_patient_and_changes_nothing(world: World) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    selfcheck_attach(
        actor=Actor(user=world.front_desk), selfcheck=selfcheck, patient=world.alice_patient
    )
    before = snapshot(selfcheck)

    with pytest.raises(ValueError, match=r"^patient: this self-check is already attached"):
        selfcheck_attach(
            actor=Actor(user=world.front_desk), selfcheck=selfcheck, patient=world.bob_patient
        )

    assert snapshot(selfcheck) == before
    assert AuditEvent.objects.count() == 1


def test_attaching_again_to_the_same_patient_changes_nothing(world: World) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    actor = Actor(user=world.alice)
    selfcheck_attach(actor=actor, selfcheck=selfcheck, patient=world.alice_patient)
    before = snapshot(selfcheck)
    selfcheck_attach(actor=actor, selfcheck=selfcheck, patient=world.alice_patient)
    assert snapshot(selfcheck) == before
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize("persona", ["bob", "other_physician"])
def test_attach_refuses_a_patient_the_actor_may_not_see(world: World, persona: str) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    user = world.persona(persona)
    with pytest.raises(ValueError, match=r"^patient: "):
        selfcheck_attach(actor=Actor(user=user), selfcheck=selfcheck, patient=world.alice_patient)
    assert snapshot(selfcheck) == (None, None)
    assert AuditEvent.objects.count() == 0


def test_the_session_finds_the_visitors_self_check_until_it_is_attached(world: World) -> None:
    client = Client()
    walk(client, positive_data())
    request = RequestFactory().get("/")
    request.session = client.session

    selfcheck = selfcheck_from_session(request)

    assert selfcheck is not None
    assert str(selfcheck.public_id) == client.session[SESSION_RESULT]
    selfcheck_attach(
        actor=Actor(user=world.alice), selfcheck=selfcheck, patient=world.alice_patient
    )
    # Now it is patient data: only the audited chart read returns it.
    assert selfcheck_from_session(request) is None


def test_the_session_without_a_self_check_or_with_a_bad_id_finds_nothing() -> None:
    request = RequestFactory().get("/")
    request.session = Client().session
    assert selfcheck_from_session(request) is None
    request.session[SESSION_RESULT] = "not-a-uuid"
    assert selfcheck_from_session(request) is None


def test_the_chart_read_returns_the_patients_self_checks_and_is_audited(world: World) -> None:
    first = selfcheck_submit(answers=answers())
    second = selfcheck_submit(answers=answers())
    unrelated = selfcheck_submit(answers=answers())
    for selfcheck in (first, second):
        selfcheck_attach(
            actor=Actor(user=world.alice), selfcheck=selfcheck, patient=world.alice_patient
        )
    selfcheck_attach(actor=Actor(user=world.bob), selfcheck=unrelated, patient=world.bob_patient)
    events_before = AuditEvent.objects.count()

    rows = selfchecks_for_patient(actor=Actor(user=world.physician), patient=world.alice_patient)

    assert rows == [second, first]
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert (event.action, event.object_type, event.patient_id, event.actor) == (
        "read",
        "selfcheck_list",
        world.alice_patient.pk,
        world.physician,
    )
    assert event.detail == {"results": 2}


def test_a_patient_reads_their_own_self_checks(world: World) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    selfcheck_attach(
        actor=Actor(user=world.alice), selfcheck=selfcheck, patient=world.alice_patient
    )
    assert selfchecks_for_patient(actor=Actor(user=world.alice), patient=world.alice_patient) == [
        selfcheck
    ]


@pytest.mark.parametrize("persona", ["front_desk", "bob", "other_physician"])
def test_the_chart_read_is_not_found_outside_clinical_scope(world: World, persona: str) -> None:
    selfcheck = selfcheck_submit(answers=answers())
    selfcheck_attach(
        actor=Actor(user=world.alice), selfcheck=selfcheck, patient=world.alice_patient
    )
    before = AuditEvent.objects.count()
    with pytest.raises(Http404):
        selfchecks_for_patient(
            actor=Actor(user=world.persona(persona)), patient=world.alice_patient
        )
    assert AuditEvent.objects.count() == before
