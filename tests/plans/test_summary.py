"""The patient-friendly summary: the patient's own signed plan, and the printable copy."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from ketaclinic.plans import services
from tests.conftest import World
from tests.factories.plans import draft, physician, signed, with_protocol

pytestmark = pytest.mark.django_db

MY_PLAN = "plans:my_plan"


def test_a_patient_without_a_signed_plan_is_told_so(world: World, client_for: Any) -> None:
    with_protocol(world, draft(world))  # a draft is the clinic's work in progress
    response = client_for("alice").get(reverse(MY_PLAN))
    assert response.status_code == 200
    html = response.content.decode()
    assert "has not signed a care plan for you yet" in html
    assert "pregabalin" not in html.lower()
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.object_type, event.detail) == (
        "read",
        "plan_summary",
        {"found": False},
    )


def test_the_patient_sees_their_signed_plan_in_plain_words(world: World, client_for: Any) -> None:
    plan = signed(world)
    response = client_for("alice").get(reverse(MY_PLAN))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your care plan" in html
    assert "This plan is not a promise of relief." in html
    assert "Walk the dog every day" in html
    assert "Pregabalin" in html
    assert "75 mg twice a day" in html
    assert "Cognitive behavioural therapy (CBT)" in html
    assert "5 infusion sessions</strong>, on consecutive weekdays." in html
    assert "Lakeshore Neuropathic Pain Clinic · Plan 1" in html
    assert "40 minutes" in html
    assert "35 mg</strong> per session" in html
    assert "at least 30 minutes" in html
    assert "Do not drive until the next day" in html
    assert "Dr. Paul Physician" in html
    # Patient words, not the clinician's: no pump settings, no guideline tables.
    assert "mL/h" not in html
    assert "NeuPSIG" not in html
    assert 'href="/static/plans/plans.css"' in html
    event = AuditEvent.objects.latest("id")
    assert (event.object_type, event.object_id, event.patient_id) == (
        "plan_summary",
        str(plan.public_id),
        world.alice_patient.pk,
    )


def test_a_patient_never_sees_another_patients_plan(world: World, client_for: Any) -> None:
    signed(world)
    html = client_for("bob").get(reverse(MY_PLAN)).content.decode()
    assert "has not signed a care plan for you yet" in html
    assert "Walk the dog" not in html


def test_after_a_revision_the_patient_sees_the_newest_signed_plan(
    world: World, client_for: Any
) -> None:
    first = signed(world)
    second = services.plan_revise(
        actor=physician(world), plan_id=str(first.public_id), expected_version=first.version
    )
    second = services.plan_update(
        actor=physician(world),
        plan_id=str(second.public_id),
        expected_version=second.version,
        goals="Return to part-time work.",
        review_date=second.review_date,
        components={"exercise": "Swim twice a week"},
    )
    client = client_for("alice")
    assert "Walk the dog" in client.get(reverse(MY_PLAN)).content.decode()
    services.plan_sign(
        actor=physician(world), plan_id=str(second.public_id), expected_version=second.version
    )
    html = client.get(reverse(MY_PLAN)).content.decode()
    assert "Return to part-time work." in html
    assert "Swim twice a week" in html
    assert "Walk the dog" not in html


def test_the_printed_draft_is_marked_as_not_signed(world: World, client_for: Any) -> None:
    plan = with_protocol(world, draft(world))
    html = (
        client_for("physician")
        .get(reverse("plans:plan_print", kwargs={"plan_id": plan.public_id}))
        .content.decode()
    )
    assert "Draft: not signed yet." in html
    assert "Care plan for Alice Moreno" in html
    assert "This plan is not a promise of relief." in html


def test_the_printed_signed_plan_is_the_patient_summary(world: World, client_for: Any) -> None:
    plan = signed(world)
    html = (
        client_for("physician")
        .get(reverse("plans:plan_print", kwargs={"plan_id": plan.public_id}))
        .content.decode()
    )
    assert "Draft: not signed yet." not in html
    assert "5 infusion sessions" in html
    assert "data-print" in html
