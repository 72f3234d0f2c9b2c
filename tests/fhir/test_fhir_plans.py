"""The comprehensive plan as a CarePlan and its ketamine protocol as a MedicationRequest: what
they say (statuses, parts, RxNorm 6130, the dose in UCUM units, the series), who reads them (not
the front desk; a patient her own signed plans and never a draft), each search parameter, the
audit trail, and a page of 100 at the cost of a page of 10."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.resources.base import instant
from ketaclinic.patients.models import Patient
from ketaclinic.plans import services
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanComponent, PlanStatus
from tests.conftest import World
from tests.factories.plans import ASRA, SCHWARTZMAN, draft, physician, signed, with_protocol
from tests.fhir.test_fhir_api import fhir, ids_of, refused

Browser = Callable[[str], Client]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def _revise(world: World, plan: Plan) -> Plan:
    return services.plan_revise(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )


def _sign(world: World, plan: Plan) -> Plan:
    plan.refresh_from_db()
    return services.plan_sign(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )


def _plans(world: World) -> tuple[Plan, Plan, Plan]:
    """Alice's signed plan and its revision, a draft; Bob's signed plan."""
    hers = signed(world)
    revision = _revise(world, hers)
    his = signed(world, world.bob_patient)
    return hers, revision, his


def _ref(kind: str, row: Any) -> dict[str, str]:
    return {"reference": f"{kind}/{row.public_id}"}


@pytest.mark.django_db
def test_a_signed_plan_is_an_active_care_plan_with_its_parts(
    world: World, client_for: Browser
) -> None:
    plan = signed(world)
    resource = fhir(client_for("physician"), f"CarePlan/{plan.public_id}")
    assert (resource["status"], resource["intent"]) == ("active", "plan")
    assert resource["subject"] == _ref("Patient", world.alice_patient)
    assert resource["author"] == _ref("Practitioner", world.physician)
    assert resource["period"] == {"start": instant(plan.signed_at)}  # type: ignore[arg-type]
    assert resource["description"] == plan.goals
    assert resource["note"] == [{"text": f"Review by {plan.review_date}."}]
    assert "replaces" not in resource
    protocol, *parts = resource["activity"]
    # The ketamine protocol is the MedicationRequest of the same id.
    assert protocol == {"reference": _ref("MedicationRequest", plan)}
    by_code = {
        (p["detail"].get("code") or p["detail"]["productCodeableConcept"])["coding"][0]["code"]: p[
            "detail"
        ]
        for p in parts
    }
    assert set(by_code) == {"pregabalin", "cbt"}
    medicine, therapy = by_code["pregabalin"], by_code["cbt"]
    assert medicine["kind"] == "MedicationRequest"
    assert medicine["productCodeableConcept"]["coding"][0] == {
        "system": "https://ketaclinic.org/fhir/CodeSystem/plan-component",
        "code": "pregabalin",
        "display": "Pregabalin",
    }
    assert medicine["description"] == "75 mg twice a day, then 150 mg twice a day"
    assert "code" not in medicine
    assert therapy["kind"] == "ServiceRequest"
    assert therapy["code"]["text"] == "Cognitive behavioural therapy (CBT)"
    assert therapy["description"] == "8 sessions"
    assert {medicine["status"], therapy["status"]} == {"unknown"}


@pytest.mark.django_db
def test_a_draft_and_a_plan_without_protocol_say_so(world: World, client_for: Browser) -> None:
    plan = draft(world, components={"physical_therapy": "Twice a week"})
    resource = fhir(client_for("nurse"), f"CarePlan/{plan.public_id}")
    assert resource["status"] == "draft"
    assert "period" not in resource
    # Who is writing it answers for it until someone signs.
    assert resource["author"] == _ref("Practitioner", world.physician)
    [part] = resource["activity"]  # no protocol yet: no MedicationRequest
    assert part["detail"]["status"] == "not-started"
    refused(client_for("nurse"), f"MedicationRequest/{plan.public_id}", 404)


@pytest.mark.django_db
def test_a_signed_revision_replaces_the_plan_it_supersedes(
    world: World, client_for: Browser
) -> None:
    first = signed(world)
    second = _sign(world, with_protocol(world, _revise(world, first), duration_min=60))
    client = client_for("physician")
    old = fhir(client, f"CarePlan/{first.public_id}")
    new = fhir(client, f"CarePlan/{second.public_id}")
    assert (old["status"], new["status"]) == ("revoked", "active")
    assert new["replaces"] == [_ref("CarePlan", first)]
    old_order = fhir(client, f"MedicationRequest/{first.public_id}")
    new_order = fhir(client, f"MedicationRequest/{second.public_id}")
    assert (old_order["status"], new_order["status"]) == ("stopped", "active")
    assert new_order["priorPrescription"] == _ref("MedicationRequest", first)
    assert new_order["dosageInstruction"][0]["timing"]["repeat"]["duration"] == 60


@pytest.mark.django_db
def test_the_ketamine_protocol_is_an_order_for_rxnorm_6130_with_its_dose(
    world: World, client_for: Browser
) -> None:
    plan = signed(world)
    protocol = KetamineProtocol.objects.get(plan=plan)
    resource = fhir(client_for("physician"), f"MedicationRequest/{plan.public_id}")
    assert resource["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "6130", "display": "Ketamine"}
    ]
    assert (resource["status"], resource["intent"]) == ("active", "order")
    assert resource["requester"] == _ref("Practitioner", world.physician)
    assert resource["authoredOn"] == instant(plan.signed_at)  # type: ignore[arg-type]
    assert resource["subject"] == _ref("Patient", world.alice_patient)
    assert resource["basedOn"] == [_ref("CarePlan", plan)]
    [dosage] = resource["dosageInstruction"]
    repeat = dosage["timing"]["repeat"]
    assert repeat["count"] == protocol.sessions_count == 5
    assert (repeat["duration"], repeat["durationUnit"]) == (protocol.duration_min, "min")
    assert repeat["dayOfWeek"] == ["mon", "tue", "wed", "thu", "fri"]
    ordered, calculated, per_kg = dosage["doseAndRate"]
    assert ordered["type"]["coding"][0]["code"] == "ordered"
    assert ordered["doseQuantity"] == {
        "value": 0.5,
        "unit": "mg/kg",
        "system": UCUM,
        "code": "mg/kg",
    }
    assert calculated["type"]["coding"][0]["code"] == "calculated"
    assert calculated["doseQuantity"]["value"] == round(protocol.total_mg, 3)
    assert calculated["doseQuantity"]["code"] == "mg"
    assert calculated["rateQuantity"]["value"] == round(protocol.rate_mg_per_h, 3)
    assert calculated["rateQuantity"]["code"] == "mg/h"
    assert per_kg["rateQuantity"]["code"] == "mg/kg/h"
    assert per_kg["rateQuantity"]["value"] == round(protocol.rate_mg_per_kg_h or 0, 3)
    assert "0.5 mg/kg" in dosage["text"]
    assert "5 sessions, consecutive weekdays (Mon-Fri)" in dosage["text"]


@pytest.mark.django_db
def test_a_fixed_dose_and_a_capped_rate_read_as_stored(world: World, client_for: Browser) -> None:
    fixed = with_protocol(world, draft(world), ASRA, weight_kg=95.0, height_cm=180.0)
    client = client_for("physician")
    resource = fhir(client, f"MedicationRequest/{fixed.public_id}")
    # Unsigned: still the physician's order, not yet actionable, and ordered by no one yet.
    assert (resource["status"], resource["intent"]) == ("draft", "order")
    assert "requester" not in resource
    assert resource["authoredOn"] == instant(fixed.created_at)
    ordered = resource["dosageInstruction"][0]["doseAndRate"][0]
    assert ordered["doseQuantity"]["code"] == "mg"
    assert (
        ordered["doseQuantity"]["value"] == KetamineProtocol.objects.get(plan=fixed).fixed_dose_mg
    )
    capped = with_protocol(world, draft(world, world.bob_patient), SCHWARTZMAN, weight_kg=100.0)
    protocol = KetamineProtocol.objects.get(plan=capped)
    assert protocol.rate_capped
    text = fhir(client, f"MedicationRequest/{capped.public_id}")["dosageInstruction"][0]["text"]
    assert "The rate cap of 25 mg/h lowered the dose" in text


@pytest.mark.django_db
def test_clinical_staff_read_every_plan_a_patient_her_signed_ones_the_desk_none(
    world: World, client_for: Browser
) -> None:
    hers, revision, his = _plans(world)
    every = {str(p.public_id) for p in (hers, revision, his)}
    for kind in ("CarePlan", "MedicationRequest"):
        for persona in ("nurse", "physician", "clinic_admin"):
            assert set(ids_of(fhir(client_for(persona), kind))) == every, (kind, persona)
        alice = client_for("alice")
        # Her plan summary shows only a signed plan: the draft is the physician's work.
        assert ids_of(fhir(alice, kind)) == [str(hers.public_id)]
        refused(alice, f"{kind}/{revision.public_id}", 404)
        refused(alice, f"{kind}/{his.public_id}", 404)
        assert ids_of(fhir(client_for("bob"), kind)) == [str(his.public_id)]
        for persona in ("front_desk", "other_physician"):
            assert ids_of(fhir(client_for(persona), kind)) == [], (kind, persona)
            refused(client_for(persona), f"{kind}/{hers.public_id}", 404)


@pytest.mark.django_db
def test_searches_by_patient_status_and_date(world: World, client_for: Browser) -> None:
    hers, revision, his = _plans(world)
    client = client_for("physician")
    a = world.alice_patient.public_id
    for kind in ("CarePlan", "MedicationRequest"):
        assert set(ids_of(fhir(client, f"{kind}?patient={a}"))) == {
            str(hers.public_id),
            str(revision.public_id),
        }
        assert ids_of(fhir(client, f"{kind}?subject=Patient/{world.bob_patient.public_id}")) == [
            str(his.public_id)
        ]
        assert ids_of(fhir(client, f"{kind}?patient={a}&status=draft")) == [str(revision.public_id)]
        assert set(ids_of(fhir(client, f"{kind}?status=active"))) == {
            str(hers.public_id),
            str(his.public_id),
        }
    assert ids_of(fhir(client, "CarePlan?status=revoked")) == []
    assert ids_of(fhir(client, "MedicationRequest?status=stopped")) == []
    today = timezone.localdate().isoformat()
    # CarePlan's date is when it came into force: a draft has none.
    assert set(ids_of(fhir(client, f"CarePlan?date={today}"))) == {
        str(hers.public_id),
        str(his.public_id),
    }
    assert ids_of(fhir(client, f"CarePlan?date=lt{today}")) == []
    # MedicationRequest's authoredon: signed, or (a draft) begun.
    assert len(ids_of(fhir(client, f"MedicationRequest?authoredon={today}"))) == 3
    assert ids_of(fhir(client, f"MedicationRequest?authoredon=gt{today}")) == []
    assert len(ids_of(fhir(client, f"MedicationRequest?code={RXNORM}|6130"))) == 3
    assert ids_of(fhir(client, f"MedicationRequest?code={RXNORM}|1234")) == []
    bundle = fhir(client, f"CarePlan?_id={his.public_id}&_include=CarePlan:patient")
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]
    assert "authoredon" in refused(client, "MedicationRequest?authoredon=soon", 400)


@pytest.mark.django_db
def test_each_patient_shown_is_audited_once(world: World, client_for: Browser) -> None:
    _plans(world)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    fhir(client_for("nurse"), "CarePlan")
    events = list(AuditEvent.objects.filter(id__gt=last))
    assert len(events) == 2
    assert {e.patient_id for e in events} == {world.alice_patient.pk, world.bob_patient.pk}
    assert {(e.object_type, e.detail["type"]) for e in events} == {("fhir_read", "CarePlan")}


def _many_plans(world: World, patients: list[Patient], each: int) -> None:
    """``each`` superseded plans per patient, each with two parts and a protocol, in bulk."""
    now = timezone.now()
    plans = Plan.objects.bulk_create(
        Plan(
            clinic=world.clinic,
            patient=patient,
            number=n + 1,
            status=PlanStatus.SUPERSEDED,
            goals="Sleep",
            review_date=now.date() + dt.timedelta(days=90),
            created_by=world.physician,
            signed_by=world.physician,
            signed_at=now,
        )
        for patient in patients
        for n in range(each)
    )
    plans = list(Plan.objects.filter(pk__in=[p.pk for p in plans]))
    PlanComponent.objects.bulk_create(
        PlanComponent(plan=plan, code=code, details="As agreed")
        for plan in plans
        for code in ("gabapentin", "massage")
    )
    KetamineProtocol.objects.bulk_create(
        KetamineProtocol(
            plan=plan,
            weight_kg=70.0,
            height_cm=170.0,
            sex="female",
            dosing_basis="actual",
            dose_mg_per_kg=0.5,
            duration_min=40,
            concentration_mg_per_ml=10.0,
            sessions_count=5,
            pattern="weekdays",
            dosing_weight_kg=70.0,
            total_mg=35.0,
            rate_mg_per_h=52.5,
            rate_ml_per_h=5.25,
            volume_ml=3.5,
            policy_version=1,
        )
        for plan in plans
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["CarePlan", "MedicationRequest"])
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(
    world: World, client_for: Browser, kind: str
) -> None:
    _many_plans(world, [world.alice_patient, world.bob_patient], 60)
    client = client_for("physician")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"{kind}?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)
