"""Consultation pages: the physician's flow, read-only roles, refusals shown on the form, audit
events for every page view and write, and a fixed number of queries on the consultation page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.assessments import services
from ketaclinic.assessments.models import (
    Addendum,
    Cause,
    Consultation,
    EligibilityDecision,
    PriorTreatment,
)
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.codes import cause_codes
from ketaclinic.clinical.eligibility import THERAPIES
from tests.conftest import World
from tests.factories.assessments import actor, complete, exam, history, signed

pytestmark = pytest.mark.django_db


def url(name: str, public_id: Any) -> str:
    return reverse(f"assessments:{name}", kwargs={"public_id": public_id})


def last_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    return event


def history_post(version: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": version,
        "pain_duration_months": "14",
        "pain_nrs": "6",
        "pain_regions": ["lower_limb_left"],
        "pain_descriptors": ["burning"],
        "causes": ["snomed|2177002", "icd10cm|B02.29"],
        "conditions": [],
        "history_notes": "",
        "therapy_gabapentin": "failed",
        "therapy_amitriptyline": "intolerant",
        "therapy_physical_therapy": "partial",
    }
    data.update(overrides)
    return data


DN4_POST = {
    "dn4_burning": "yes",
    "dn4_painful_cold": "no",
    "dn4_electric_shocks": "yes",
    "dn4_tingling": "yes",
    "dn4_pins_and_needles": "no",
    "dn4_numbness": "no",
    "dn4_itching": "no",
    "dn4_touch_hypoesthesia": "yes",
    "dn4_pinprick_hypoesthesia": "no",
    "dn4_brushing": "yes",
}


def exam_post(version: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": version,
        "systolic_bp": "165",
        "diastolic_bp": "92",
        "heart_rate": "76",
        "spo2": "97",
        "respiratory_rate": "14",
        "temperature_c": "36.7",
        "weight_kg": "70",
        "height_cm": "165",
        "sensory_signs": ["brush_allodynia"],
        "exam_notes": "",
        **DN4_POST,
    }
    data.update(overrides)
    return data


def state(c: Consultation) -> tuple[Any, ...]:
    c = Consultation.objects.get(pk=c.pk)
    return (
        c.version,
        c.status,
        c.spo2,
        c.systolic_bp,
        c.weight_kg,
        c.height_cm,
        c.pain_duration_months,
        list(Cause.objects.filter(consultation=c).values_list("code", flat=True)),
        list(PriorTreatment.objects.filter(consultation=c).values_list("therapy", "outcome")),
        list(EligibilityDecision.objects.filter(consultation=c).values()),
        Addendum.objects.filter(consultation=c).count(),
    )


def test_a_physician_runs_a_consultation_from_start_to_signature(
    world: World, client_for: Any
) -> None:
    client: Client = client_for("physician")
    patient = world.alice_patient
    response = client.get(url("consultation_new", patient.public_id))
    assert response.status_code == 200
    response = client.post(
        url("consultation_new", patient.public_id),
        {"exam_date": timezone.localdate().isoformat(), "appointment": ""},
    )
    c = Consultation.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == url("consultation_history", c.public_id)

    assert client.get(url("consultation_history", c.public_id)).status_code == 200
    response = client.post(url("consultation_history", c.public_id), history_post(1))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get(url("consultation_exam", c.public_id)).status_code == 200
    response = client.post(url("consultation_exam", c.public_id), exam_post(2))
    assert response.status_code == 302
    response = client.post(
        url("consultation_grade", c.public_id),
        {"version": 3, "history": "on", "plausible_distribution": "on", "sensory_signs": "on"},
    )
    assert response.status_code == 302

    page = client.get(url("consultation_detail", c.public_id)).content.decode()
    # Review: the blood pressure is elevated; every reason with its threshold and source.
    assert 'data-testid="decision-outcome">Review<' in page
    assert 'data-code="blood_pressure_elevated"' in page
    assert "Systolic 165 mmHg is at or above the elevated threshold of 160 mmHg." in page
    assert "Systolic ≥ 160 mmHg or diastolic ≥ 100 mmHg (below the crisis level)" in page
    # The reason's source cites its evidence by publication, not by a file name.
    assert "not guideline evidence" in page
    assert "Yale cohort, Gen Hosp Psychiatry 2024" in page
    assert "SNOMED CT 2177002" in page
    assert "ICD-10-CM B02.29" in page
    assert 'data-testid="dn4-total">5 / 10<' in page
    assert 'data-testid="grade">Probable<' in page
    assert "59408-5" in page
    # The unit in words; the observation keeps its UCUM code (mm[Hg]) for exchange.
    assert 'data-testid="obs-8480-6">165 mmHg<' in page
    assert "mm[Hg]" not in page
    assert "Sign the decision" in page

    response = client.post(
        url("consultation_sign", c.public_id),
        {
            "version": 4,
            "action": "override",
            "outcome": "eligible",
            "reason": "Home readings are normal; white-coat effect documented.",
        },
    )
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.is_locked
    assert c.decision.final_outcome == "eligible"
    assert last_event().action == "override"
    page = client.get(url("consultation_detail", c.public_id)).content.decode()
    assert "white-coat effect documented" in page
    assert 'data-testid="final-outcome">Eligible<' in page
    assert "Edit history" not in page
    assert "Add the addendum" in page

    response = client.post(
        url("consultation_addendum", c.public_id), {"text": "Repeat BP 150/90 after rest."}
    )
    assert response.status_code == 302
    assert last_event().object_type == "consultation_addendum"
    assert (
        "Repeat BP 150/90" in client.get(url("consultation_detail", c.public_id)).content.decode()
    )


def test_signing_from_the_page_accepts_the_rules_outcome(world: World, client_for: Any) -> None:
    c = complete(world)
    response = client_for("physician").post(
        url("consultation_sign", c.public_id), {"version": c.version, "action": "sign"}
    )
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.decision.status == "signed"
    event = last_event()
    assert (event.action, event.object_type) == ("sign", "eligibility_decision")


@pytest.mark.parametrize(
    ("overrides", "label_and_message"),
    [
        ({"spo2": "101"}, "SpO2 (%): SpO2 (%) must be between 50 and 100; 101 is outside"),
        (
            {"systolic_bp": "80", "diastolic_bp": "95"},
            "Systolic BP (mmHg): Systolic BP (80 mmHg) must be higher than diastolic BP",
        ),
        ({"weight_kg": "0"}, "Weight (kg): Weight (kg) must be between 2 and 400"),
        ({"height_cm": "300"}, "Height (cm): Height (cm) must be between 50 and 272; 300 is"),
        ({"dn4_brushing": ""}, "Brushing: DN4 brushing: missing answer"),
    ],
)
def test_bad_exam_input_is_shown_on_the_form_and_nothing_changes(
    world: World, client_for: Any, overrides: dict[str, str], label_and_message: str
) -> None:
    c = complete(world)
    before, events = state(c), AuditEvent.objects.filter(action="update").count()
    response = client_for("physician").post(
        url("consultation_exam", c.public_id), exam_post(c.version, **overrides)
    )
    assert response.status_code == 422
    assert label_and_message in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert state(c) == before
    assert AuditEvent.objects.filter(action="update").count() == events


def test_an_unknown_code_is_refused_with_a_message(world: World, client_for: Any) -> None:
    c = complete(world)
    before = state(c)
    response = client_for("physician").post(
        url("consultation_history", c.public_id),
        history_post(c.version, causes=["icd10cm|Z99.99"]),
    )
    assert response.status_code == 422
    # The form only offers listed codes, so the form itself names the field and the bad choice.
    assert "Causes and diagnoses (SNOMED CT, ICD-10-CM): Select a valid choice." in (
        response.content.decode()
    )
    assert state(c) == before


def test_a_stale_form_is_refused_with_a_message(world: World, client_for: Any) -> None:
    c = complete(world)
    client = client_for("physician")
    stale_version = c.version
    assert (
        client.post(url("consultation_exam", c.public_id), exam_post(stale_version)).status_code
        == 302
    )
    before = state(c)
    response = client.post(
        url("consultation_history", c.public_id),
        history_post(stale_version, pain_duration_months="2"),
    )
    assert response.status_code == 422
    assert "changed by someone else after you opened it" in response.content.decode()
    assert state(c) == before


def test_editing_a_signed_record_is_refused_with_a_message(world: World, client_for: Any) -> None:
    c = signed(world)
    client = client_for("physician")
    before = state(c)
    response = client.post(url("consultation_exam", c.public_id), exam_post(c.version, spo2="90"))
    assert response.status_code == 422
    assert "is locked: it cannot be edited. Add an addendum" in response.content.decode()
    assert state(c) == before
    # Opening an edit page of a signed record leads back to the record with the same message.
    response = client.get(url("consultation_history", c.public_id), follow=True)
    assert response.redirect_chain[-1][0] == url("consultation_detail", c.public_id)
    assert "is locked" in response.content.decode()


def test_an_override_without_a_reason_is_refused_on_the_form(world: World, client_for: Any) -> None:
    c = complete(world)
    before = state(c)
    response = client_for("physician").post(
        url("consultation_sign", c.public_id),
        {"version": c.version, "action": "override", "outcome": "eligible", "reason": ""},
    )
    assert response.status_code == 422
    assert "Reason for the override: Override reason: write why" in response.content.decode()
    assert state(c) == before


def test_an_empty_addendum_is_refused_on_the_form(world: World, client_for: Any) -> None:
    c = signed(world)
    before = state(c)
    response = client_for("physician").post(url("consultation_addendum", c.public_id), {"text": ""})
    assert response.status_code == 422
    assert "Addendum: This field is required." in response.content.decode()
    assert state(c) == before


def test_the_nurse_reads_but_cannot_edit_or_sign(world: World, client_for: Any) -> None:
    c = complete(world)
    client = client_for("nurse")
    page = client.get(url("consultation_detail", c.public_id)).content.decode()
    assert "Review" in page
    assert "Edit history" not in page
    assert "Sign the decision" not in page
    before = state(c)
    for name, data in [
        ("consultation_exam", exam_post(c.version, spo2="90")),
        ("consultation_sign", {"version": c.version, "action": "sign"}),
        ("consultation_addendum", {"text": "A nurse's note."}),
    ]:
        assert client.post(url(name, c.public_id), data).status_code == 404
    assert state(c) == before


@pytest.mark.parametrize(
    ("persona", "status"),
    [("front_desk", 404), ("alice", 404), ("other_physician", 404), ("clinic_admin", 200)],
)
def test_who_sees_the_consultation_page(
    world: World, client_for: Any, persona: str, status: int
) -> None:
    c = complete(world)
    assert client_for(persona).get(url("consultation_detail", c.public_id)).status_code == status


@pytest.mark.parametrize(
    "name",
    [
        "consultation_detail",
        "consultation_history",
        "consultation_exam",
        "consultation_grade",
        "consultation_sign",
    ],
)
def test_every_view_of_a_consultation_is_audited(world: World, client_for: Any, name: str) -> None:
    c = complete(world)
    before = AuditEvent.objects.count()
    assert client_for("physician").get(url(name, c.public_id)).status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        "read",
        "consultation",
        str(c.public_id),
    )
    assert event.actor == world.physician
    assert event.patient_id == world.alice_patient.pk


def test_the_addendum_page_is_audited(world: World, client_for: Any) -> None:
    c = signed(world)
    before = AuditEvent.objects.count()
    assert client_for("physician").get(url("consultation_addendum", c.public_id)).status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        "read",
        "consultation",
        str(c.public_id),
    )


def test_the_new_consultation_page_audits_the_patient_read(world: World, client_for: Any) -> None:
    patient = world.alice_patient
    assert (
        client_for("physician").get(url("consultation_new", patient.public_id)).status_code == 200
    )
    event = last_event()
    assert (event.action, event.object_type, event.object_id, event.actor) == (
        "read",
        "patient",
        str(patient.public_id),
        world.physician,
    )


def test_the_consultation_list_is_audited(world: World, client_for: Any) -> None:
    complete(world)
    response = client_for("nurse").get(url("consultation_list", world.alice_patient.public_id))
    assert response.status_code == 200
    assert "Start a consultation" not in response.content.decode()
    event = last_event()
    assert (event.action, event.object_type, event.detail) == (
        "read",
        "consultation_list",
        {"results": 1},
    )


def _grow(world: World, c: Consultation, n: int) -> None:
    keys = [code.key for code in cause_codes()[:n]]
    therapies = dict.fromkeys(list(THERAPIES)[:n], "failed")
    c = services.consultation_history_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        history=history(causes=keys, prior_treatments=therapies),
    )
    services.consultation_exam_save(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version, exam=exam()
    )


@pytest.mark.parametrize("size", [1, 15])
def test_the_consultation_page_has_a_fixed_number_of_queries(
    world: World, client_for: Any, django_assert_num_queries: Any, size: int
) -> None:
    c = signed(world)
    draft = complete(world, world.bob_patient)
    _grow(world, draft, size)
    for _ in range(size):
        services.addendum_add(actor=actor(world), public_id=str(c.public_id), text="Note.")
    client = client_for("physician")
    client.get(url("consultation_detail", c.public_id))  # warm the session
    # session + user, access, page (with decision), 4 prefetches, policy, audit (+savepoints)
    with django_assert_num_queries(QUERIES):
        assert client.get(url("consultation_detail", c.public_id)).status_code == 200
    with django_assert_num_queries(QUERIES):
        assert client.get(url("consultation_detail", draft.public_id)).status_code == 200


# ... each audited read also locks and moves its chain's head (2).
QUERIES = 13
