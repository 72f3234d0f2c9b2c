"""The patient chart: one timeline, bounded queries, clinical rows hidden from the front desk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.screening.models import SelfCheck
from tests.conftest import World
from tests.factories import assessments, plans
from tests.factories.outcomes import nrs_entries
from tests.factories.patients import registered_since
from tests.factories.scheduling import consultation_appointment, setup_schedule

pytestmark = pytest.mark.django_db


def _history(world: World, *, n: int) -> None:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=n + 1)
    for i in range(n):
        begin = start + dt.timedelta(days=i)
        consultation_appointment(sched, world.alice_patient, begin)
        SelfCheck.objects.create(
            answers={},
            scores={"dn4-interview": {"positive": True}, "id-pain": {"positive": False}},
            chronic=True,
            duration_months=12,
            patient=world.alice_patient,
            attached_at=begin,
        )


def _chart(client_for: Any, world: World, persona: str) -> Any:
    return client_for(persona).get(f"/staff/patients/{world.alice_patient.public_id}/")


def test_the_chart_shows_visits_and_self_checks_newest_first(client_for: Any, world: World) -> None:
    _history(world, n=2)
    response = _chart(client_for, world, "physician")
    assert response.status_code == 200
    entries = response.context["chart"].entries
    assert [e.kind for e in entries].count("visit") == 2
    assert [e.kind for e in entries].count("selfcheck") == 2
    assert [e.when for e in entries] == sorted((e.when for e in entries), reverse=True)
    assert "Positive screens: dn4-interview" in response.content.decode()


def test_the_front_desk_sees_visits_but_no_self_checks(client_for: Any, world: World) -> None:
    _history(world, n=2)
    response = _chart(client_for, world, "front_desk")
    kinds = {e.kind for e in response.context["chart"].entries}
    assert kinds == {"visit"}
    assert "Clinical notes are not shown" in response.content.decode()


def test_each_chart_view_leaves_one_audit_event(client_for: Any, world: World) -> None:
    _history(world, n=1)
    before = AuditEvent.objects.filter(object_type="patient_chart").count()
    _chart(client_for, world, "nurse")
    events = AuditEvent.objects.filter(object_type="patient_chart")
    assert events.count() == before + 1
    event = events.latest("id")
    assert event.patient_id == world.alice_patient.pk
    assert event.actor_id == world.nurse.pk


def _clinical_history(world: World, *, n: int) -> None:
    """``n`` signed consultations and a signed plan, and ``n`` months of daily pain scores."""
    for _ in range(n):
        assessments.signed(world, eligible=True)
    plans.signed(world)
    today = timezone.localdate()
    days = {today - dt.timedelta(days=i): i % 11 for i in range(30 * n)}
    registered_since(world.alice_patient, days=30 * n + 1)
    nrs_entries(world.alice_patient, days)


def test_the_chart_shows_consultations_decisions_plans_and_diary_months(
    client_for: Any, world: World
) -> None:
    _clinical_history(world, n=1)
    response = _chart(client_for, world, "physician")
    kinds = [e.kind for e in response.context["chart"].entries]
    assert kinds.count("exam") == 1
    assert kinds.count("decision") == 1
    assert kinds.count("plan") == 1
    assert kinds.count("diary") in (1, 2)  # 30 days span one or two calendar months
    body = response.content.decode()
    assert "Plan 1 (signed)" in body
    assert "mean pain" in body


def test_the_front_desk_sees_no_clinical_rows_and_no_clinical_links(
    client_for: Any, world: World
) -> None:
    _clinical_history(world, n=1)
    response = _chart(client_for, world, "front_desk")
    assert response.context["chart"].entries == []
    body = response.content.decode()
    assert "Start consultation" not in body
    assert "/staff/plans/" not in body
    # ...but the desk can book the signed plan's induction series from the chart.
    plan = world.alice_patient.plans.get()
    assert f"/desk/plans/{plan.public_id}/series/" in body


@pytest.mark.parametrize("n", [1, 12])
def test_the_chart_costs_the_same_queries_whatever_the_history(
    client_for: Any, world: World, django_assert_num_queries: Any, n: int
) -> None:
    _history(world, n=n)
    _clinical_history(world, n=n)
    client = client_for("physician")
    client.get(f"/staff/patients/{world.alice_patient.public_id}/")  # warm the session
    with django_assert_num_queries(CHART_QUERIES):
        response = client.get(f"/staff/patients/{world.alice_patient.public_id}/")
    kinds = [e.kind for e in response.context["chart"].entries]
    assert kinds.count("exam") == n
    assert kinds.count("visit") == n


# Session and user (2), savepoint and release around the audited read (2), the patient (1),
# each source (appointments, self-checks, consultations with decisions, plans with protocols,
# infusion sessions, diary months: 6), the plan awaiting a series (1), the audit insert with
# its chain head's lock and move (3), the clinic name in the page header (1), the eligibility
# decision in force (policy and decisions: 2).
CHART_QUERIES = 18
