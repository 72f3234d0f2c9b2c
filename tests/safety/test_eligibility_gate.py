"""Gate 1, eligibility in force, walked through the pages as each role would.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 1: plan signing,
series booking, the pre-check and the start all ask ``clinical.gates.eligibility_in_force``.
Each refusal names the gate on the page and changes nothing (rows and the audit trail compared
before and after); each allowed path leaves its audit event.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from ketaclinic.assessments.models import Consultation, EligibilityDecision
from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.models import Patient
from ketaclinic.plans import services as plan_services
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.models import Appointment, InductionSeries
from tests import factories
from tests.conftest import World
from tests.factories import assessments, plans
from tests.factories.plans import make_plan
from tests.factories.scheduling import SeriesWorld, infusion_appointment, setup_series
from tests.scheduling.helpers import next_weekday

pytestmark = pytest.mark.django_db

GATE = "Eligibility gate"


def rows() -> dict[str, Any]:
    """What a refused step must leave as it was."""
    return {
        "plans": list(Plan.objects.order_by("id").values_list("id", "status", "version")),
        "series": InductionSeries.objects.count(),
        "appointments": Appointment.objects.count(),
        "decisions": list(EligibilityDecision.objects.order_by("id").values()),
        # Writes only: a refused form re-renders the page, and that read is audited as a read.
        "audit": AuditEvent.objects.exclude(action="read").count(),
    }


def text(response: Any) -> str:
    return str(response.content.decode()).replace("&#x27;", "'")


def draft_with_protocol(world: World, patient: Patient) -> Plan:
    return plans.with_protocol(world, plans.draft(world, patient))


def sign(client: Any, plan: Plan) -> Any:
    plan.refresh_from_db()
    url = reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})
    return client.post(url, {"version": plan.version})


YEAR_AGO = timezone.localdate() - dt.timedelta(days=400)

REFUSED = [
    pytest.param({"signed": False}, "is not signed yet", id="unsigned draft"),
    pytest.param({"outcome": "review", "reasons": ("BP 165/102",)}, "needs review", id="review"),
    pytest.param(
        {"outcome": "ineligible", "reasons": ("Pregnancy: a hard stop",)},
        "Pregnancy: a hard stop",
        id="ineligible",
    ),
    pytest.param({"exam_date": YEAR_AGO}, "more than 12 months old", id="expired exam"),
    pytest.param(
        {"outcome": "eligible", "final": "review", "override_reason": "Wants a cardiology view"},
        "needs review",
        id="physician made it stricter",
    ),
]


@pytest.mark.parametrize(("decision", "words"), REFUSED)
def test_a_physician_cannot_sign_a_ketamine_plan_without_a_decision_in_force(
    world: World, client_for: Any, decision: dict[str, Any], words: str
) -> None:
    factories.make_decision(world.bob_patient, world.physician, **decision)
    plan = draft_with_protocol(world, world.bob_patient)
    before = rows()
    response = sign(client_for("physician"), plan)
    assert response.status_code == 422
    body = text(response)
    assert f"{GATE}: cannot sign a plan with a ketamine protocol." in body
    assert words in body
    assert rows() == before


def test_a_newer_ineligible_exam_replaces_an_older_eligible_one(
    world: World, client_for: Any
) -> None:
    factories.make_decision(
        world.bob_patient, world.physician, exam_date=timezone.localdate() - dt.timedelta(days=30)
    )
    factories.make_decision(
        world.bob_patient, world.physician, outcome="ineligible", reasons=("Pregnancy",)
    )
    plan = draft_with_protocol(world, world.bob_patient)
    before = rows()
    response = sign(client_for("physician"), plan)
    assert response.status_code == 422
    assert "Ineligible for ketamine" in text(response)
    assert rows() == before


def test_an_overridden_review_lets_the_plan_be_signed_and_the_audit_names_the_decision(
    world: World, client_for: Any
) -> None:
    decision = factories.make_decision(
        world.bob_patient,
        world.physician,
        outcome="review",
        final="eligible",
        override_reason="Duloxetine not tolerated at another clinic; letter on file.",
    )
    plan = draft_with_protocol(world, world.bob_patient)
    response = sign(client_for("physician"), plan)
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "signed"
    event = AuditEvent.objects.filter(object_type="plan", action="sign").latest("id")
    assert event.detail["eligibility_decision"] == str(decision.public_id)
    page = text(client_for("physician").get(response["Location"]))
    assert "Review overridden by a physician" in page


def test_a_plan_without_ketamine_needs_no_eligibility_decision(
    world: World, client_for: Any
) -> None:
    plan = plans.draft(world, world.bob_patient)
    response = sign(client_for("physician"), plan)
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "signed"


def test_an_ineligible_decision_cannot_be_overridden_on_the_consultation_page(
    world: World, client_for: Any
) -> None:
    c = assessments.complete(
        world,
        world.bob_patient,
        history_input=assessments.history(conditions=["pregnancy"]),
    )
    url = reverse("assessments:consultation_sign", kwargs={"public_id": c.public_id})
    page = text(
        client_for("physician").get(
            reverse("assessments:consultation_detail", kwargs={"public_id": c.public_id})
        )
    )
    assert "cannot be overridden" in page
    assert 'data-testid="override-form"' not in page
    before = rows() | {"consultation": list(Consultation.objects.filter(pk=c.pk).values())}
    response = client_for("physician").post(
        url,
        {
            "version": c.version,
            "action": "override",
            "outcome": "eligible",
            "reason": "She says she is not pregnant any more.",
        },
    )
    assert response.status_code == 422
    assert "an ineligible decision cannot be overridden" in text(response)
    after = rows() | {"consultation": list(Consultation.objects.filter(pk=c.pk).values())}
    assert after == before


# -- booking a series --------------------------------------------------------------------------


@pytest.fixture
def sw(world: World) -> SeriesWorld:
    return setup_series(world)


def _series_page(client: Any, sw: SeriesWorld) -> tuple[str, dict[str, Any]]:
    url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
    day = next_weekday(0)
    query = {"location": sw.world.cleveland.pk, "from": day.isoformat()}
    html = text(client.get(url, query))
    keys = re.findall(r'name="session" value="([0-9.]+)"', html)
    return url, {**query, "session": keys}


def test_the_desk_cannot_book_a_series_once_a_newer_exam_found_the_patient_ineligible(
    sw: SeriesWorld, client_for: Any
) -> None:
    desk = client_for("front_desk")
    url, form = _series_page(desk, sw)
    assert len(form["session"]) == 5
    # Between the plan and the booking a new exam finds a contraindication.
    factories.make_decision(
        sw.world.alice_patient,
        sw.world.physician,
        outcome="ineligible",
        reasons=("Uncontrolled hypertension",),
    )
    before = rows()
    response = desk.post(url, form)
    assert response.status_code == 409
    body = text(response)
    assert f"{GATE}: cannot book an infusion series." in body
    assert "Not eligible for ketamine: a new consultation and exam re-evaluate it." in body
    # The desk books but does not treat: the verdict, not the clinical reasons.
    assert "Uncontrolled hypertension" not in body
    assert rows() == before


def test_the_series_page_offers_no_series_on_an_expired_exam_and_a_forged_post_is_refused(
    world: World, client_for: Any
) -> None:
    sw = setup_series(world, exam_date=YEAR_AGO)
    desk = client_for("front_desk")
    url, form = _series_page(desk, sw)
    assert form["session"] == []  # nothing offered to book
    page = text(desk.get(url, {"location": world.cleveland.pk}))
    assert "Eligibility gate: cannot book an infusion series." in page
    assert "The eligibility exam is too old" in page
    # A tampered form naming five free sessions anyway (chair.nurse.start keys).
    chair = world.cleveland.chairs.order_by("id").first()
    assert chair is not None
    day = next_weekday(0)
    starts = [
        dt.datetime.combine(day + dt.timedelta(days=i), dt.time(14), tzinfo=dt.UTC)
        for i in range(5)
    ]
    form["session"] = [f"{chair.pk}.{world.nurse.pk}.{int(s.timestamp())}" for s in starts]
    before = rows()
    response = desk.post(url, form)
    assert response.status_code == 409
    assert "Eligibility gate: cannot book an infusion series." in text(response)
    assert "The eligibility exam is too old" in text(response)
    assert rows() == before


def test_a_signed_revision_replaces_the_old_series_remaining_sessions_and_tells_the_patient(
    sw: SeriesWorld, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    desk = client_for("front_desk")
    url, form = _series_page(desk, sw)
    assert desk.post(url, form).status_code == 302
    first = InductionSeries.objects.get()
    assert first.sessions.filter(status="booked").count() == 5
    mail.outbox.clear()
    # The physician revises the plan and signs the revision through the pages.
    doc = client_for("physician")
    revise = reverse("plans:plan_revise", kwargs={"plan_id": sw.plan.public_id})
    sw.plan.refresh_from_db()
    assert doc.post(revise, {"version": sw.plan.version}).status_code == 302
    revised = Plan.objects.filter(patient=sw.world.alice_patient).latest("number")
    # The fixture's plan was written without goals: the physician completes the revision.
    plan_services.plan_update(
        actor=plans.physician(sw.world),
        plan_id=str(revised.public_id),
        expected_version=revised.version,
        goals="Walk to the shops without stopping.",
        review_date=plans.future(),
        components={"cbt": "8 sessions"},
    )
    revised = plans.with_protocol(sw.world, revised)  # on the exam's measured weight
    with django_capture_on_commit_callbacks(execute=True):
        assert sign(doc, revised).status_code == 302
    first.refresh_from_db()
    assert first.status == "cancelled"
    assert first.sessions.filter(status="booked").count() == 0
    assert first.sessions.filter(status="cancelled").count() == 5
    assert [m.to for m in mail.outbox] == [[sw.world.alice_patient.email]]
    body = " ".join(mail.outbox[0].body.split())
    assert "Your physician has revised your treatment plan" in body
    assert "will book the sessions of your new plan with you" in body
    cancel_event = AuditEvent.objects.filter(
        object_type="induction_series", detail__change="cancel"
    ).get()
    assert cancel_event.detail["because"] == "plan_revised"
    signed_event = AuditEvent.objects.filter(object_type="plan", action="sign").latest("id")
    assert signed_event.detail["replaced_series"] == [str(first.public_id)]
    # The desk books the revised plan's series: one active series again, never two.
    url2 = reverse("scheduling:plan_series", kwargs={"plan_id": revised.public_id})
    day = next_weekday(0, weeks=3)
    query = {"location": sw.world.cleveland.pk, "from": day.isoformat()}
    keys = re.findall(r'name="session" value="([0-9.]+)"', text(desk.get(url2, query)))
    assert desk.post(url2, {**query, "session": keys}).status_code == 302
    assert InductionSeries.objects.filter(status="booked").count() == 1


def test_a_second_active_series_for_the_patient_is_refused(
    sw: SeriesWorld, client_for: Any
) -> None:
    desk = client_for("front_desk")
    url, form = _series_page(desk, sw)
    assert desk.post(url, form).status_code == 302
    # A revision signed before the rule existed left the old series booked: plan 1 superseded,
    # plan 2 signed, straight in the database. The booking service still refuses a second one.
    Plan.objects.filter(pk=sw.plan.pk).update(status="superseded")
    revised = make_plan(sw.world, sw.world.alice_patient)
    url2 = reverse("scheduling:plan_series", kwargs={"plan_id": revised.public_id})
    day = next_weekday(0, weeks=3)
    query = {"location": sw.world.cleveland.pk, "from": day.isoformat()}
    keys = re.findall(r'name="session" value="([0-9.]+)"', text(desk.get(url2, query)))
    before = rows()
    response = desk.post(url2, {**query, "session": keys})
    assert response.status_code == 409
    assert "One series at a time" in text(response)
    assert rows() == before


# -- where the decision in force is shown ------------------------------------------------------


def test_the_chart_plan_board_and_series_show_the_decision_in_force(
    world: World, client_for: Any
) -> None:
    plan = make_plan(world, world.alice_patient)  # Alice: eligible
    factories.make_decision(
        world.bob_patient,
        world.physician,
        outcome="ineligible",
        reasons=("Raised intracranial pressure",),
    )
    infusion_appointment(world, world.alice_patient)
    infusion_appointment(world, world.bob_patient)
    doc, desk, nurse = client_for("physician"), client_for("front_desk"), client_for("nurse")

    chart = text(doc.get(f"/staff/patients/{world.bob_patient.public_id}/"))
    assert "ineligible for ketamine" in chart
    assert "Raised intracranial pressure" in chart
    desk_chart = text(desk.get(f"/staff/patients/{world.bob_patient.public_id}/"))
    assert "Not eligible for ketamine" in desk_chart
    assert "Raised intracranial pressure" not in desk_chart  # the desk sees no clinical reasons

    plan_page = text(doc.get(reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id})))
    assert "Eligibility:</strong>\n  eligible" in plan_page

    board = text(nurse.get(f"/infusions/board/{world.cleveland.pk}/"))
    assert "Eligibility: eligible" in board
    assert "No ketamine: Ineligible for ketamine" in board
    assert "Raised intracranial pressure" in board

    series = text(desk.get(reverse("scheduling:plan_series", kwargs={"plan_id": plan.public_id})))
    assert 'data-testid="eligibility-in-force"' in series
    assert "Eligible for ketamine." in series
