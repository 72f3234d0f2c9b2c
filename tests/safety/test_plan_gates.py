"""The plan's gates walked through the pages as a physician would.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 2 (dosing weight from
the measured patient) and the issue's item 7 (the protocol form saves what was chosen): the
template saved is the one last chosen, with the dose and duration the fields showed; a typed
weight is never used; an exam older than the clinic's setting blocks signing, naming the gate.
Each refusal changes nothing (rows and the audit trail compared before and after); each allowed
path leaves its audit event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.plans.models import KetamineProtocol, Plan
from tests import factories
from tests.conftest import World
from tests.factories import assessments, plans

pytestmark = pytest.mark.django_db

GATE = "Dosing weight gate"


def rows() -> dict[str, Any]:
    """What a refused step must leave as it was."""
    return {
        "plans": list(Plan.objects.order_by("id").values_list("id", "status", "version")),
        "protocols": list(KetamineProtocol.objects.order_by("id").values()),
        "audit": AuditEvent.objects.count(),
    }


def text(response: Any) -> str:
    return str(response.content.decode()).replace("&#x27;", "'")


def protocol_url(plan: Plan) -> str:
    return reverse("plans:protocol_edit", kwargs={"plan_id": plan.public_id})


def form_as_shown(page: str, plan: Plan, template_id: int) -> dict[str, str]:
    """The values a physician submits unchanged: what the page filled the fields with."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Fields(HTMLParser):
        select: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") != "submit":
                found[str(a["name"])] = a.get("value") or ""
            elif tag == "select":
                self.select = a.get("name")
            elif tag == "option" and self.select and "selected" in a:
                found[self.select] = a.get("value") or ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "select":
                self.select = None

    Fields().feed(page)
    found.pop("csrfmiddlewaretoken", None)
    assert found["template"] == str(template_id)
    assert found["version"] == str(plan.version)
    return found


def eligible_and_measured(world: World, *, days_ago: int = 0) -> None:
    factories.make_decision(
        world.alice_patient,
        world.physician,
        exam_date=timezone.localdate() - dt.timedelta(days=days_ago),
    )


# -- item 7: the template chosen is the one saved ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (plans.CLEVELAND, "0.5 mg/kg over 40 min, 5 sessions, 35 mg, 5.2 mL/h"),
        (
            plans.SCHWARTZMAN,
            # 0.35 mg/kg/h x 70 kg = 24.5 mg/h (under the 25 mg/h cap) x 4 h = 98 mg; 2.45 mL/h
            # rounds down to 2.4.
            "1.4 mg/kg over 4 h, capped at 25 mg/h, 10 sessions, 98 mg, 2.4 mL/h",
        ),
        # 80 mg over 150 min = 32 mg/h = 3.2 mL/h at 10 mg/mL.
        (plans.ASRA, "80 mg over 2 h 30 min, 1 session, 80 mg, 3.2 mL/h"),
    ],
)
def test_the_template_chosen_is_the_one_saved_and_said_back_in_words(
    world: World, client_for: Any, name: str, words: str
) -> None:
    eligible_and_measured(world)
    plan = plans.draft(world)
    chosen = plans.template(world, name)
    doc = client_for("physician")
    # Without JavaScript: choose the template and press "Use this template" (nothing saved).
    before = rows()
    loaded = doc.post(
        protocol_url(plan),
        {"template": chosen.pk, "shown_template": "", "action": "load", "version": plan.version},
    )
    assert loaded.status_code == 200
    # Only the form's read is audited.
    assert rows() == {**before, "audit": before["audit"] + 1}
    saved = doc.post(protocol_url(plan), form_as_shown(text(loaded), plan, chosen.pk))
    assert saved.status_code == 302
    protocol = KetamineProtocol.objects.get(plan=plan)
    assert (
        protocol.template_id,
        protocol.template_name,
        protocol.dose_mg_per_kg,
        protocol.fixed_dose_mg,
        protocol.duration_min,
        protocol.sessions_count,
    ) == (
        chosen.pk,
        name,
        chosen.dose_mg_per_kg,
        chosen.fixed_dose_mg,
        chosen.duration_min,
        chosen.sessions_count,
    )
    event = AuditEvent.objects.filter(object_type="ketamine_protocol").get()
    assert (event.action, event.detail["template"]) == ("create", chosen.pk)
    detail = text(doc.get(reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id})))
    assert f"Saved for signing: <strong>{words}</strong>" in detail


def test_a_changed_choice_with_another_templates_fields_saves_nothing_and_refills(
    world: World, client_for: Any
) -> None:
    # The reported bug: the page opened on one template, the physician picked another in the
    # list and pressed "Calculate and save" with the first template's values still in the fields.
    eligible_and_measured(world)
    plan = plans.draft(world)
    first = plans.template(world, plans.SCHWARTZMAN)
    picked = plans.template(world, plans.CLEVELAND)
    doc = client_for("physician")
    page = text(doc.get(f"{protocol_url(plan)}?template={first.pk}"))
    fields = form_as_shown(page, plan, first.pk)
    before = rows()
    response = doc.post(protocol_url(plan), {**fields, "template": str(picked.pk)})
    assert response.status_code == 422
    html = text(response)
    assert (
        f"Nothing saved yet: the fields now show the values of <strong>{plans.CLEVELAND}</strong>"
    ) in html
    assert rows() == {**before, "audit": before["audit"] + 1}  # the form's read only
    refilled = form_as_shown(html, plan, picked.pk)
    assert (refilled["shown_template"], refilled["dose_mg_per_kg"], refilled["duration_min"]) == (
        str(picked.pk),
        "0.5",
        "40",
    )
    assert doc.post(protocol_url(plan), refilled).status_code == 302
    protocol = KetamineProtocol.objects.get(plan=plan)
    assert (protocol.template_name, protocol.dose_mg_per_kg, protocol.duration_min) == (
        plans.CLEVELAND,
        0.5,
        40,
    )


# -- item 2: the dosing weight is the measured patient's ---------------------------------------


@pytest.mark.parametrize("typed", ["0.1", "150", "500"])
def test_a_typed_weight_cannot_be_used(world: World, client_for: Any, typed: str) -> None:
    eligible_and_measured(world)  # the exam: 70 kg, 170 cm
    plan = plans.draft(world)
    cleveland = plans.template(world, plans.CLEVELAND)
    doc = client_for("physician")
    page = text(doc.get(f"{protocol_url(plan)}?template={cleveland.pk}"))
    assert 'name="weight_kg"' not in page
    fields = form_as_shown(page, plan, cleveland.pk)
    response = doc.post(protocol_url(plan), {**fields, "weight_kg": typed, "height_cm": "120"})
    assert response.status_code == 302
    protocol = KetamineProtocol.objects.get(plan=plan)
    # 0.5 mg/kg x 70 kg (the exam's) = 35 mg, whatever was typed.
    assert (protocol.weight_kg, protocol.height_cm, protocol.total_mg) == (70.0, 170.0, 35.0)
    assert protocol.exam_date == timezone.localdate()


def test_without_a_measured_exam_no_protocol_is_saved(world: World, client_for: Any) -> None:
    plan = plans.draft(world)
    cleveland = plans.template(world, plans.CLEVELAND)
    doc = client_for("physician")
    page = text(doc.get(f"{protocol_url(plan)}?template={cleveland.pk}"))
    assert f"{GATE}: no exam records this patient's weight and height" in page
    fields = form_as_shown(page, plan, cleveland.pk)
    before = rows()
    response = doc.post(protocol_url(plan), {**fields, "weight_kg": "70", "height_cm": "170"})
    assert response.status_code == 422
    assert f"{GATE}: no exam records the patient's weight and height" in text(response)
    assert rows() == {**before, "audit": before["audit"] + 1}  # the form's read only


def test_an_exam_older_than_the_setting_blocks_signing_naming_the_gate(
    world: World, client_for: Any
) -> None:
    eligible_and_measured(world, days_ago=91)  # the default allows 90 days
    exam_day = timezone.localdate() - dt.timedelta(days=91)
    plan = plans.draft(world)
    cleveland = plans.template(world, plans.CLEVELAND)
    doc = client_for("physician")
    page = text(doc.get(f"{protocol_url(plan)}?template={cleveland.pk}"))
    assert f"{GATE}: this exam is older than the clinic's 90 days" in page
    assert doc.post(protocol_url(plan), form_as_shown(page, plan, cleveland.pk)).status_code == 302
    protocol = KetamineProtocol.objects.get(plan=plan)
    assert protocol.exam_date == exam_day
    plan.refresh_from_db()
    before = rows()
    response = doc.post(
        reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id}), {"version": plan.version}
    )
    assert response.status_code == 422
    assert (
        f"{GATE}: the latest exam with weight and height is from {exam_day:%b} {exam_day.day}, "
        f"{exam_day.year}, 91 days ago; the clinic allows at most 90 days at signing."
    ) in text(response)
    assert rows() == {**before, "audit": before["audit"] + 1}  # the page's read only
    assert Plan.objects.get().status == "draft"


def test_a_newer_exam_than_the_protocols_blocks_signing_until_it_is_saved_again(
    world: World, client_for: Any
) -> None:
    eligible_and_measured(world, days_ago=10)
    plan = plans.with_protocol(world, plans.draft(world))
    assessments.measured(world, weight_kg=82.0, height_cm=170.0)
    doc = client_for("physician")
    sign_url = reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})
    before = rows()
    response = doc.post(sign_url, {"version": plan.version})
    assert response.status_code == 422
    assert (f"{GATE}: the protocol was computed on 70 kg and 170 cm, but the latest exam") in text(
        response
    )
    assert rows() == {**before, "audit": before["audit"] + 1}
    # Saved again, the dose follows the newer exam: 0.5 mg/kg x 82 kg = 41 mg; then it signs.
    plan = plans.with_protocol(world, plan)
    assert KetamineProtocol.objects.get(plan=plan).total_mg == 41.0
    assert doc.post(sign_url, {"version": plan.version}).status_code == 302
    signed = AuditEvent.objects.filter(action="sign", object_type="plan").get()
    assert signed.detail["exam_date"] == timezone.localdate().isoformat()
    assert signed.detail["exam_weight_max_age_days"] == 90


def test_a_recent_exam_signs_and_the_trail_names_the_exam_used(
    world: World, client_for: Any
) -> None:
    eligible_and_measured(world, days_ago=90)  # exactly at the limit: allowed
    plan = plans.with_protocol(world, plans.draft(world))
    doc = client_for("physician")
    response = doc.post(
        reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id}), {"version": plan.version}
    )
    assert response.status_code == 302
    assert Plan.objects.get().status == "signed"
    signed = AuditEvent.objects.filter(action="sign", object_type="plan").get()
    exam_day = timezone.localdate() - dt.timedelta(days=90)
    assert signed.detail["exam_date"] == exam_day.isoformat()


@pytest.mark.parametrize("minutes", [5, 481])
def test_a_protocol_duration_outside_the_products_bounds_is_refused(
    world: World, minutes: int
) -> None:
    """Gate 9: one infusion lasts 10 to 480 minutes (clinical.ceilings), whatever is typed."""
    plan = plans.draft(world, world.alice_patient)
    before = list(KetamineProtocol.objects.values_list("pk", flat=True))
    audit = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        plans.with_protocol(world, plan, duration_min=minutes)
    assert "Duration (min): must be between 10 and 480 minutes" in " ".join(
        refused.value.message_dict["duration_min"]
    )
    assert list(KetamineProtocol.objects.values_list("pk", flat=True)) == before
    assert AuditEvent.objects.count() == audit
