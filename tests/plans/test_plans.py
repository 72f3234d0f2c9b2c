"""Plans: drafts, signing, revisions, optimistic locking, roles and the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.plans import services
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanComponent, PlanStatus
from ketaclinic.plans.services import PlanLockedError
from tests.conftest import World
from tests.factories.plans import choice, draft, future, physician, signed, with_protocol

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    """Everything a refused write must leave untouched."""
    return (
        list(Plan.objects.order_by("id").values_list("number", "status", "version", "goals")),
        list(PlanComponent.objects.order_by("id").values_list("plan_id", "code", "details")),
        list(KetamineProtocol.objects.order_by("id").values_list("plan_id", "total_mg")),
        # Reads are audited too (a refused page still showed the plan); writes must not be.
        AuditEvent.objects.exclude(action="read").count(),
    )


def _update(world: World, plan: Plan, **changes: Any) -> Plan:
    values: dict[str, Any] = {
        "goals": plan.goals,
        "review_date": plan.review_date,
        "components": {c.code: c.details for c in plan.components.all()},
        "expected_version": plan.version,
    }
    values.update(changes)
    return services.plan_update(actor=physician(world), plan_id=str(plan.public_id), **values)


# -- drafts ------------------------------------------------------------------------------------


def test_a_physician_starts_a_draft_with_components(world: World) -> None:
    plan = draft(world)
    assert (plan.number, plan.status, plan.version) == (1, "draft", 1)
    assert plan.clinic == world.clinic
    assert dict(plan.components.values_list("code", "details")) == {
        "pregabalin": "75 mg twice a day, then 150 mg twice a day",
        "cbt": "8 sessions",
    }
    event = AuditEvent.objects.get(object_type="plan", action="create")
    assert event.patient_id == world.alice_patient.pk
    assert event.object_id == str(plan.public_id)
    assert sorted(event.detail["components"]) == ["cbt", "pregabalin"]


def test_empty_details_leave_a_component_out(world: World) -> None:
    plan = draft(world, components={"massage": "   ", "exercise": "Walk 20 min a day"})
    assert list(plan.components.values_list("code", flat=True)) == ["exercise"]


def test_an_unknown_component_is_refused(world: World) -> None:
    before = _state()
    with pytest.raises(ValidationError, match="'yoga' is not a plan component"):
        draft(world, components={"yoga": "daily"})
    assert _state() == before


def test_only_one_draft_at_a_time(world: World) -> None:
    draft(world)
    before = _state()
    with pytest.raises(ValidationError, match="already has a draft plan"):
        draft(world)
    assert _state() == before


@pytest.mark.parametrize("days", [0, -1])
def test_a_review_date_not_in_the_future_is_refused(world: World, days: int) -> None:
    plan = draft(world)
    before = _state()
    with pytest.raises(ValidationError) as refused:
        _update(world, plan, review_date=future(days))
    assert refused.value.message_dict == {"review_date": ["The review date must be in the future."]}
    assert _state() == before


def test_editing_a_draft_bumps_its_version_and_audits_the_field_names(world: World) -> None:
    plan = draft(world)
    updated = _update(
        world, plan, goals="Sleep through the night.", components={"cbt": "12 sessions"}
    )
    assert updated.version == 2
    assert dict(updated.components.values_list("code", "details")) == {"cbt": "12 sessions"}
    event = AuditEvent.objects.get(object_type="plan", action="update")
    assert event.detail == {"fields": ["goals"], "components": ["cbt", "pregabalin"]}


def test_a_stale_edit_is_refused_and_changes_nothing(world: World) -> None:
    plan = draft(world)
    _update(world, plan, goals="First edit")
    before = _state()
    with pytest.raises(StaleObjectError):
        _update(world, plan, goals="Second edit from an old page", expected_version=1)
    assert _state() == before
    assert Plan.objects.get(pk=plan.pk).goals == "First edit"


def test_a_stale_protocol_save_is_refused(world: World) -> None:
    plan = draft(world)
    _update(world, plan, goals="Moved on")
    before = _state()
    with pytest.raises(StaleObjectError):
        services.protocol_save(
            actor=physician(world),
            plan_id=str(plan.public_id),
            expected_version=1,
            choice=choice(world),
        )
    assert _state() == before


# -- signing -----------------------------------------------------------------------------------


def test_signing_locks_the_plan_and_records_the_signer(world: World) -> None:
    plan = signed(world)
    assert plan.status == PlanStatus.SIGNED
    assert plan.signed_by == world.physician
    assert plan.signed_at is not None
    event = AuditEvent.objects.get(action="sign")
    assert (event.object_type, event.object_id) == ("plan", str(plan.public_id))
    assert event.actor == world.physician


def test_a_signed_plan_is_read_only(world: World) -> None:
    plan = signed(world)
    before = _state()
    with pytest.raises(PlanLockedError, match="read-only"):
        _update(world, plan, goals="Changed after signing")
    with pytest.raises(PlanLockedError):
        services.protocol_save(
            actor=physician(world),
            plan_id=str(plan.public_id),
            expected_version=plan.version,
            choice=choice(world, duration_min=60),
        )
    with pytest.raises(PlanLockedError):
        services.plan_sign(
            actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
        )
    assert _state() == before


def test_signing_needs_goals_and_a_review_date(world: World) -> None:
    plan = draft(world, goals="")
    plan = _update(world, plan, review_date=None)
    before = _state()
    with pytest.raises(ValidationError) as refused:
        services.plan_sign(
            actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
        )
    assert set(refused.value.message_dict) == {"goals", "review_date"}
    assert _state() == before


def test_a_stale_sign_is_refused(world: World) -> None:
    plan = draft(world)
    _update(world, plan, goals="Edited in another tab")
    before = _state()
    with pytest.raises(StaleObjectError):
        services.plan_sign(actor=physician(world), plan_id=str(plan.public_id), expected_version=1)
    assert _state() == before


def test_a_plan_without_a_protocol_can_be_signed(world: World) -> None:
    plan = draft(world)
    signed_plan = services.plan_sign(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )
    assert signed_plan.status == PlanStatus.SIGNED
    assert "policy_version" not in AuditEvent.objects.get(action="sign").detail


# -- revisions ---------------------------------------------------------------------------------


def test_revising_copies_components_and_protocol_into_a_new_draft(world: World) -> None:
    first = signed(world)
    second = services.plan_revise(
        actor=physician(world), plan_id=str(first.public_id), expected_version=first.version
    )
    assert (second.number, second.status, second.supersedes_id) == (2, "draft", first.pk)
    assert dict(second.components.values_list("code", "details")) == dict(
        first.components.values_list("code", "details")
    )
    copied = KetamineProtocol.objects.get(plan=second)
    original = KetamineProtocol.objects.get(plan=first)
    assert copied.pk != original.pk
    assert (copied.total_mg, copied.template_id, copied.policy_version) == (
        original.total_mg,
        original.template_id,
        original.policy_version,
    )
    # The signed plan stays in force until the revision is signed.
    assert Plan.objects.get(pk=first.pk).status == PlanStatus.SIGNED
    event = AuditEvent.objects.filter(object_type="plan", action="create").latest("id")
    assert event.detail == {"number": 2, "revises": str(first.public_id)}


def test_signing_a_revision_supersedes_the_previous_plan(world: World) -> None:
    first = signed(world)
    second = services.plan_revise(
        actor=physician(world), plan_id=str(first.public_id), expected_version=first.version
    )
    second = with_protocol(world, second, duration_min=60)
    services.plan_sign(
        actor=physician(world), plan_id=str(second.public_id), expected_version=second.version
    )
    statuses = dict(Plan.objects.values_list("number", "status"))
    assert statuses == {1: "superseded", 2: "signed"}
    assert AuditEvent.objects.get(action="sign", object_id=str(second.public_id)).detail[
        "supersedes"
    ] == [str(first.public_id)]
    # The edit made on the revision did not touch the first plan's protocol.
    assert KetamineProtocol.objects.get(plan=first).duration_min == 40
    assert KetamineProtocol.objects.get(plan=second).duration_min == 60


def test_revising_is_refused_while_a_draft_exists_or_for_a_draft(world: World) -> None:
    first = signed(world)
    services.plan_revise(
        actor=physician(world), plan_id=str(first.public_id), expected_version=first.version
    )
    before = _state()
    with pytest.raises(ValidationError, match="already has a draft"):
        services.plan_revise(
            actor=physician(world), plan_id=str(first.public_id), expected_version=first.version
        )
    the_draft = Plan.objects.get(status="draft")
    with pytest.raises(ValidationError, match="Only the current signed plan"):
        services.plan_revise(
            actor=physician(world),
            plan_id=str(the_draft.public_id),
            expected_version=the_draft.version,
        )
    with pytest.raises(StaleObjectError):
        services.plan_revise(
            actor=physician(world), plan_id=str(first.public_id), expected_version=99
        )
    assert _state() == before


# -- roles in the services ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nurse", "clinic_admin", "front_desk"])
def test_only_a_physician_writes_plans(world: World, persona: str) -> None:
    plan = with_protocol(world, draft(world))
    actor = Actor(user=world.persona(persona))
    before = _state()
    with pytest.raises(PermissionError):
        services.plan_sign(actor=actor, plan_id=str(plan.public_id), expected_version=plan.version)
    with pytest.raises(PermissionError):
        services.protocol_save(
            actor=actor,
            plan_id=str(plan.public_id),
            expected_version=plan.version,
            choice=choice(world),
        )
    with pytest.raises(PermissionError):
        services.plan_create(
            actor=actor,
            patient_public_id=str(world.bob_patient.public_id),
            goals="",
            review_date=None,
            components={},
        )
    assert _state() == before


def test_another_clinics_physician_cannot_touch_our_plan(world: World) -> None:
    from django.http import Http404

    plan = draft(world)
    before = _state()
    with pytest.raises(Http404):
        services.plan_sign(
            actor=Actor(user=world.other_physician),
            plan_id=str(plan.public_id),
            expected_version=plan.version,
        )
    assert _state() == before


# -- pages -------------------------------------------------------------------------------------


def _plan_form(**extra: Any) -> dict[str, Any]:
    data = {
        "goals": "Less burning at night",
        "review_date": future().isoformat(),
        "c_duloxetine": "30 mg daily for a week, then 60 mg",
        "c_exercise": "Walk 20 minutes a day",
    }
    data.update(extra)
    return data


def _protocol_form(world: World, plan: Plan, **extra: Any) -> dict[str, Any]:
    plan.refresh_from_db()
    template_id = choice(world).template_id
    data = {
        "template": template_id,
        # The fields below hold this template's values (as the page filled them).
        "shown_template": template_id,
        "dosing_basis": "actual",
        "dose_mg_per_kg": "0.5",
        "duration_min": "40",
        "concentration_mg_per_ml": "10.0",
        "pk_model": "domino",
        "version": str(plan.version),
    }
    data.update(extra)
    return data


def test_a_physician_builds_signs_and_prints_a_plan_through_the_pages(
    world: World, client_for: Any
) -> None:
    doc = client_for("physician")
    new_url = reverse("plans:plan_new", kwargs={"public_id": world.alice_patient.public_id})
    assert doc.get(new_url).status_code == 200
    response = doc.post(new_url, _plan_form())
    assert response.status_code == 302
    plan = Plan.objects.get()
    assert response["Location"] == reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id})
    protocol_url = reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id})
    page = doc.get(protocol_url).content.decode()
    assert "Calculate and save" in page
    assert doc.post(protocol_url, _protocol_form(world, plan)).status_code == 302
    detail = doc.get(response["Location"]).content.decode()
    assert "35 mg" in detail
    # 52.5 mg/h at 10 mg/mL is 5.25 mL/h; the pump is set to 5.2 mL/h (0.1 steps, down): 52 mg/h.
    assert "5.2 mL/h · 52 mg/h" in detail
    assert "52.5 mg/h · 5.25 mL/h, set to the pump's step of 0.1 mL/h rounded down" in detail
    assert "0.5 mg/kg over 40 min, 5 sessions, 35 mg, 5.2 mL/h" in detail
    assert "3.5 mL" in detail
    assert "0.75 mg/kg/h · 0.5 mg/kg per session" in detail
    assert 'id="band-analgesia"' in detail
    assert "185 ng/mL" in detail
    plan.refresh_from_db()
    sign = reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})
    assert doc.post(sign, {"version": plan.version}).status_code == 302
    assert Plan.objects.get().status == "signed"
    printed = doc.get(reverse("plans:plan_print", kwargs={"plan_id": plan.public_id}))
    assert printed.status_code == 200
    assert "not a promise of relief" in printed.content.decode()
    assert "Prescription: 0.5 mg/kg over 40 min, 5 sessions, 35 mg, 5.2 mL/h." in (
        printed.content.decode()
    )


def test_the_plan_page_says_when_the_rate_cap_lowered_the_dose(
    world: World, client_for: Any
) -> None:
    from tests.factories.plans import SCHWARTZMAN

    plan = with_protocol(world, draft(world), SCHWARTZMAN, weight_kg=100.0, height_cm=180.0)
    html = (
        client_for("nurse")
        .get(reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id}))
        .content.decode()
    )
    assert "25 mg/h: <strong>applied</strong>, the dose was reduced from 140 mg" in html
    assert "100 mg" in html


def test_the_plan_form_shows_guideline_doses_with_their_source(
    world: World, client_for: Any
) -> None:
    page = client_for("physician").get(
        reverse("plans:plan_new", kwargs={"public_id": world.alice_patient.public_id})
    )
    html = page.content.decode()
    assert "Guideline: 1200-3600 mg a day in 3 divided doses" in html
    assert "Lancet Neurol 2015" in html
    for heading in ("First line", "Second line", "Third line", "Non-drug treatments"):
        assert heading in html


def test_a_review_date_in_the_past_is_refused_on_the_page(world: World, client_for: Any) -> None:
    response = client_for("physician").post(
        reverse("plans:plan_new", kwargs={"public_id": world.alice_patient.public_id}),
        _plan_form(review_date=future(-3).isoformat()),
    )
    assert response.status_code == 422
    assert "Review date: The review date must be in the future." in response.content.decode()
    assert not Plan.objects.exists()


def test_a_dose_past_the_limit_is_refused_on_the_page_with_the_limit_named(
    world: World, client_for: Any
) -> None:
    plan = draft(world)
    url = reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id})
    before = _state()
    response = client_for("physician").post(
        url, _protocol_form(world, plan, dose_mg_per_kg="2.5", duration_min="240")
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Dose refused" in html
    assert "max_session_mg_per_kg" in html
    assert "There is no override" in html
    assert _state() == before


@pytest.mark.parametrize("typed", ["0", "0.1", "150", "500"])
def test_a_typed_weight_is_not_used_the_exam_is(world: World, client_for: Any, typed: str) -> None:
    plan = draft(world)
    url = reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id})
    response = client_for("physician").post(
        url, _protocol_form(world, plan, weight_kg=typed, height_cm="250")
    )
    assert response.status_code == 302
    protocol = KetamineProtocol.objects.get()
    # The conftest's exam of today: 70 kg, 170 cm; 0.5 mg/kg x 70 kg = 35 mg.
    assert (protocol.weight_kg, protocol.height_cm, protocol.total_mg) == (70.0, 170.0, 35.0)
    assert protocol.exam_date == timezone.localdate()


def test_a_stale_page_is_refused_with_409(world: World, client_for: Any) -> None:
    plan = draft(world)
    doc = client_for("physician")
    edit = reverse("plans:plan_edit", kwargs={"plan_id": plan.public_id})
    form = _plan_form(version="1")
    assert doc.post(edit, form).status_code == 302
    before = _state()
    response = doc.post(edit, _plan_form(version="1", goals="Overwrite"))
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert _state() == before
    sign = reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})
    response = doc.post(sign, {"version": "1"})
    assert response.status_code == 409
    assert Plan.objects.get().status == "draft"


def test_the_protocol_form_shows_the_latest_exams_weight_and_height_read_only(
    world: World, client_for: Any
) -> None:
    from tests.factories.assessments import measured

    today = timezone.localdate()
    measured(world, weight_kg=80.0, height_cm=171.0, exam_date=today - dt.timedelta(days=1))
    measured(world, weight_kg=82.5, height_cm=171.0, exam_date=today)
    plan = draft(world)
    later = timezone.now() + dt.timedelta(days=13)
    with time_machine.travel(later, tick=False):
        html = (
            client_for("physician")
            .get(reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id}))
            .content.decode()
        )
    assert (
        f"Dosing on the exam of <strong>{today:%b} {today.day}, {today.year}</strong> (13 days "
        "ago): weight <strong>82.5 kg</strong>, height <strong>171 cm</strong>, sex assigned at "
        "birth <strong>Female</strong>"
    ) in html
    assert 'name="weight_kg"' not in html
    assert 'name="height_cm"' not in html


def test_choosing_another_template_prefills_its_values(world: World, client_for: Any) -> None:
    from tests.factories.plans import ASRA, template

    plan = draft(world)
    asra = template(world, ASRA)
    url = reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id})
    html = client_for("physician").get(f"{url}?template={asra.pk}").content.decode()
    assert 'name="fixed_dose_mg" value="80.0"' in html
    assert '<div data-dose-field="dose_mg_per_kg" hidden>' in html
    assert f'name="shown_template" value="{asra.pk}"' in html
    assert 'name="duration_min" value="150"' in html


def test_the_nurse_reads_the_plan_but_cannot_sign_edit_or_change_the_protocol(
    world: World, client_for: Any
) -> None:
    plan = with_protocol(world, draft(world))
    nurse = client_for("nurse")
    page = nurse.get(reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "35 mg" in html
    assert "Sign plan" not in html
    assert "Edit plan" not in html
    before = _state()
    kwargs = {"plan_id": plan.public_id}
    assert nurse.post(reverse("plans:plan_sign", kwargs=kwargs), {"version": 2}).status_code == 404
    assert nurse.post(reverse("plans:plan_edit", kwargs=kwargs), _plan_form()).status_code == 404
    protocol = _protocol_form(world, plan, duration_min="60")
    assert nurse.post(reverse("plans:protocol_edit", kwargs=kwargs), protocol).status_code == 404
    assert (
        nurse.post(reverse("plans:plan_revise", kwargs=kwargs), {"version": 2}).status_code == 404
    )
    assert _state() == before


def test_the_front_desk_sees_no_plan(world: World, client_for: Any) -> None:
    plan = signed(world)
    desk = client_for("front_desk")
    for name, kwargs in (
        ("plans:plan_detail", {"plan_id": plan.public_id}),
        ("plans:plan_print", {"plan_id": plan.public_id}),
        ("plans:patient_plans", {"public_id": world.alice_patient.public_id}),
    ):
        assert desk.get(reverse(name, kwargs=kwargs)).status_code == 404, name


def test_another_clinic_gets_404_for_our_plan(world: World, client_for: Any) -> None:
    plan = with_protocol(world, draft(world))
    olga = client_for("other_physician")
    before = _state()
    for name in ("plans:plan_detail", "plans:plan_print", "plans:plan_edit", "plans:protocol_edit"):
        assert olga.get(reverse(name, kwargs={"plan_id": plan.public_id})).status_code == 404
    sign = reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})
    assert olga.post(sign, {"version": plan.version}).status_code == 404
    assert _state() == before


def test_editing_a_signed_plan_sends_the_physician_to_the_read_only_page(
    world: World, client_for: Any
) -> None:
    plan = signed(world)
    doc = client_for("physician")
    edit = reverse("plans:plan_edit", kwargs={"plan_id": plan.public_id})
    response = doc.get(edit)
    assert response.status_code == 302
    before = _state()
    response = doc.post(edit, _plan_form(version=str(plan.version)))
    assert response.status_code == 409
    assert "read-only" in response.content.decode()
    assert _state() == before


def test_revise_through_the_page(world: World, client_for: Any) -> None:
    plan = signed(world)
    doc = client_for("physician")
    detail = doc.get(reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id}))
    assert "Revise" in detail.content.decode()
    response = doc.post(
        reverse("plans:plan_revise", kwargs={"plan_id": plan.public_id}), {"version": plan.version}
    )
    assert response.status_code == 302
    revision = Plan.objects.get(number=2)
    assert response["Location"] == reverse(
        "plans:plan_detail", kwargs={"plan_id": revision.public_id}
    )


# -- audit of every view -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "view"),
    [
        ("plans:plan_detail", "detail"),
        ("plans:plan_print", "print"),
        ("plans:plan_edit", "edit"),
        ("plans:protocol_edit", "protocol_form"),
    ],
)
def test_each_plan_page_view_is_audited(
    world: World, client_for: Any, name: str, view: str
) -> None:
    plan = with_protocol(world, draft(world))
    before = AuditEvent.objects.count()
    response = client_for("physician").get(reverse(name, kwargs={"plan_id": plan.public_id}))
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.object_type, event.object_id) == (
        "read",
        "plan",
        str(plan.public_id),
    )
    assert event.detail["view"] == view
    assert event.patient_id == world.alice_patient.pk
    assert event.actor == world.physician


def test_the_plan_list_is_audited(world: World, client_for: Any) -> None:
    signed(world)
    client_for("nurse").get(
        reverse("plans:patient_plans", kwargs={"public_id": world.alice_patient.public_id})
    )
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.object_type, event.actor) == ("read", "plan_list", world.nurse)
    assert event.detail == {"results": 1}


def test_each_write_through_the_pages_is_audited(world: World, client_for: Any) -> None:
    doc = client_for("physician")
    doc.post(
        reverse("plans:plan_new", kwargs={"public_id": world.alice_patient.public_id}),
        _plan_form(),
    )
    plan = Plan.objects.get()
    doc.post(
        reverse("plans:plan_edit", kwargs={"plan_id": plan.public_id}),
        _plan_form(version="1", goals="Changed"),
    )
    doc.post(
        reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id}),
        _protocol_form(world, plan),
    )
    plan.refresh_from_db()
    doc.post(
        reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id}), {"version": plan.version}
    )
    plan.refresh_from_db()
    doc.post(
        reverse("plans:plan_revise", kwargs={"plan_id": plan.public_id}), {"version": plan.version}
    )
    writes = list(
        AuditEvent.objects.exclude(action="read")
        .order_by("id")
        .values_list("action", "object_type")
    )
    assert writes == [
        ("create", "plan"),
        ("update", "plan"),
        ("create", "ketamine_protocol"),
        ("sign", "plan"),
        ("create", "plan"),
    ]


# -- query counts ------------------------------------------------------------------------------


def _grow_history(world: World, versions: int) -> Plan:
    """A patient with ``versions`` plans, each with every component; the last one signed."""
    from ketaclinic.plans.forms import PlanForm

    every = {
        name.removeprefix("c_"): "details" for name in PlanForm().fields if name.startswith("c_")
    }
    plan = with_protocol(world, draft(world, components=every))
    for _ in range(versions - 1):
        plan = services.plan_sign(
            actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
        )
        plan = services.plan_revise(
            actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
        )
    return services.plan_sign(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )


# The detail page reads four more: the newest decision and the series for the suggested tasks,
# and the policy and decisions for the eligibility decision in force.
# (Each counts the audit chain head's lock and move beside the audit insert.)
@pytest.mark.parametrize(("name", "queries"), [("plans:plan_detail", 15), ("plans:plan_print", 11)])
def test_the_plan_page_takes_the_same_queries_whatever_the_history(
    world: World, client_for: Any, django_assert_num_queries: Any, name: str, queries: int
) -> None:
    doc = client_for("physician")
    small = signed(world, world.bob_patient)
    large = _grow_history(world, versions=6)
    assert large.components.count() > 15
    doc.get(reverse(name, kwargs={"plan_id": small.public_id}))  # warm the chart cache
    with django_assert_num_queries(queries) as small_queries:
        assert doc.get(reverse(name, kwargs={"plan_id": small.public_id})).status_code == 200
    with django_assert_num_queries(len(small_queries.captured_queries)):
        assert doc.get(reverse(name, kwargs={"plan_id": large.public_id})).status_code == 200


def test_the_plan_list_takes_the_same_queries_whatever_the_history(
    world: World, client_for: Any, django_assert_num_queries: Any
) -> None:
    nurse = client_for("nurse")
    with_protocol(world, draft(world, world.bob_patient))
    _grow_history(world, versions=5)
    url_small = reverse("plans:patient_plans", kwargs={"public_id": world.bob_patient.public_id})
    url_large = reverse("plans:patient_plans", kwargs={"public_id": world.alice_patient.public_id})
    nurse.get(url_small)  # the first page reads the clinic's brand once, then the cache has it
    with django_assert_num_queries(9) as small_queries:
        assert nurse.get(url_small).status_code == 200
    with django_assert_num_queries(len(small_queries.captured_queries)):
        assert nurse.get(url_large).status_code == 200


def test_the_database_refuses_a_second_draft_or_a_second_signed_plan(world: World) -> None:
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    first = signed(world)
    draft(world)
    common = {"clinic": world.clinic, "patient": world.alice_patient, "created_by": world.physician}
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(number=3, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(
            number=4,
            status="signed",
            signed_by=world.physician,
            signed_at=timezone.now(),
            **common,
        )
    assert Plan.objects.filter(patient=world.alice_patient).count() == 2
    assert Plan.objects.get(status="signed") == first
