"""Safety settings within bounds, walked through the pages as the clinic admin and a physician
would.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 9: the admin proposes
raising the per-session maximum from 200 to 250 mg; until a second physician approves, 200 mg is
the limit in force (a plan signed meanwhile records it, and a 210 mg protocol is refused); once
approved, 250 mg is. A value past the product ceiling (300 mg) is refused naming the field. Each
refusal changes nothing (rows and the audit trail compared before and after); each allowed step
leaves its audit event.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.models import ClinicPolicy, PolicyProposal, ProposalStatus, ProtocolTemplate
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.plans.models import KetamineProtocol, Plan
from ketaclinic.plans.protocol import DoseRefusedError
from tests.conftest import World
from tests.factories import assessments, plans

pytestmark = pytest.mark.django_db

EDIT = reverse("clinics:policy_edit")
SETTINGS = reverse("clinics:policy")
PROPOSALS = reverse("clinics:policy_proposals")


def rows() -> dict[str, Any]:
    """What a refused step must leave as it was."""
    return {
        "policies": list(ClinicPolicy.objects.order_by("id").values()),
        "proposals": list(PolicyProposal.objects.order_by("id").values()),
        "protocols": list(KetamineProtocol.objects.order_by("id").values()),
        "plans": list(Plan.objects.order_by("id").values_list("id", "status", "version")),
        "audit": AuditEvent.objects.count(),
    }


def text(response: Any) -> str:
    return str(response.content.decode()).replace("&#x27;", "'")


def form_data(world: World, **changes: object) -> dict[str, object]:
    """The settings form as shown, with ``changes`` typed in."""
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    data: dict[str, object] = {n: getattr(policy, n) for n in ClinicPolicy.THRESHOLD_FIELDS}
    data.update(based_on_version=policy.version, note="Heavier patients at Cleveland")
    data.update(changes)
    return data


def heavy_plan(world: World) -> tuple[Plan, ProtocolTemplate]:
    """A draft plan for Bob, measured at 140 kg, and a template of 1.5 mg/kg over 2 h: 210 mg,
    past 200 and within 250."""
    template = ProtocolTemplate.objects.create(
        clinic=world.clinic,
        name="1.5 mg/kg over 2 h",
        dose_mg_per_kg=1.5,
        duration_min=120,
        sessions_count=3,
        source="Test template",
    )
    plan = plans.draft(world, world.bob_patient)
    assessments.measured(world, world.bob_patient, weight_kg=140.0, height_cm=185.0)
    return plan, template


def heavy_protocol(world: World, plan: Plan, template: ProtocolTemplate) -> KetamineProtocol:
    plan.refresh_from_db()
    return plans.save_protocol(
        world, plan, template_id=template.pk, dose_mg_per_kg=1.5, duration_min=120
    )


def test_a_raised_dose_limit_takes_effect_only_when_a_second_physician_approves(
    client_for: Any, world: World
) -> None:
    admin, doctor = client_for("clinic_admin"), client_for("physician")

    # The admin proposes 250 mg on the settings form: saved as a proposal, 200 mg stays.
    response = admin.post(EDIT, form_data(world, max_session_mg="250"), follow=True)
    assert response.redirect_chain == [(SETTINGS, 302)]
    page = text(response)
    assert "Version 1 stays in force until then." in page
    assert "Waiting for a second physician" in page
    assert "<td>Maximum total per session</td><td>200 mg</td><td>250 mg</td>" in page
    proposal = PolicyProposal.objects.get()
    assert proposal.status == ProposalStatus.PENDING
    assert AuditEvent.objects.filter(
        action="create", object_type="clinic_policy_proposal", object_id=str(proposal.pk)
    ).exists()

    # Meanwhile a plan is signed: it records the limit in force, 200 mg (version 1) ...
    plan = plans.signed(world)
    signed_protocol = KetamineProtocol.objects.get(plan=plan)
    assert signed_protocol.policy_version == 1
    assert signed_protocol.policy_values["max_session_mg"] == 200.0
    # ... and a 210 mg protocol is refused, naming the 200 mg limit.
    heavy, template = heavy_plan(world)
    before = rows()
    with pytest.raises(DoseRefusedError, match=r"max_session_mg.*200 mg"):
        heavy_protocol(world, heavy, template)
    assert rows() == before

    # A second physician approves it on the page meant for physicians.
    page = text(doctor.get(PROPOSALS))
    assert "by Ada Admin, on version 1" in page
    response = doctor.post(f"{PROPOSALS}{proposal.pk}/approve/", {"note": "Agreed"}, follow=True)
    assert response.redirect_chain == [(PROPOSALS, 302)]
    assert "Approved: version 2 is in force." in text(response)
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    assert (current.version, current.max_session_mg) == (2, 250.0)
    assert AuditEvent.objects.filter(
        action="sign", object_type="clinic_policy_proposal", object_id=str(proposal.pk)
    ).exists()
    assert AuditEvent.objects.filter(
        action="update", object_type="clinic_policy", object_id=str(current.pk)
    ).exists()

    # Now 250 mg is the limit: the 210 mg protocol is saved, recording version 2.
    protocol = heavy_protocol(world, heavy, template)
    assert protocol.total_mg == 210.0
    assert (protocol.policy_version, protocol.policy_values["max_session_mg"]) == (2, 250.0)
    # The plan signed meanwhile keeps what it was signed under.
    signed_protocol.refresh_from_db()
    assert signed_protocol.policy_values["max_session_mg"] == 200.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"max_session_mg": "350"},
            "Maximum total per session (mg): Must be between 1 and 300 mg (ketaclinic's "
            "ceiling); got 350.",
        ),
        (
            {"max_rate_mg_per_kg_h": "2.5"},
            "Maximum infusion rate (mg/kg/h): Must be between 0.01 and 2 mg/kg/h (ketaclinic's "
            "ceiling); got 2.5.",
        ),
        (
            {"discharge_min_observation_min": "20"},
            "Observation after the infusion ends, at least (min): Must be between 30 and 480 "
            "min (ketaclinic's floor); got 20.",
        ),
        (
            {"vitals_interval_min": "20"},
            "Vitals at least every (min): Must be between 5 and 15 min (ketaclinic's ceiling); "
            "got 20.",
        ),
    ],
)
def test_a_value_past_its_floor_or_ceiling_is_refused_naming_the_field(
    client_for: Any, world: World, changes: dict[str, str], message: str
) -> None:
    before = rows()
    response = client_for("clinic_admin").post(EDIT, form_data(world, **changes))
    assert response.status_code == 422
    assert message in text(response)
    assert rows() == before


def test_the_proposer_never_approves_and_a_stale_proposal_waits_for_none(
    client_for: Any, world: World
) -> None:
    admin, doctor = client_for("clinic_admin"), client_for("physician")
    admin.post(EDIT, form_data(world, vitals_interval_min="10"))
    proposal = PolicyProposal.objects.get()
    # The admin (the proposer) has no way to approve: the action is a physician's.
    before = rows()
    assert admin.post(f"{PROPOSALS}{proposal.pk}/approve/", {}).status_code == 404
    assert rows() == before
    # The admin then saves a change that needs no approval: the proposal is out of date.
    response = admin.post(EDIT, form_data(world, recovery_min="90"), follow=True)
    assert "Saved as version 2." in text(response)
    before = rows()
    response = doctor.post(f"{PROPOSALS}{proposal.pk}/approve/", {}, follow=True)
    assert "Proposed change: This change was proposed on version 1, and version 2" in text(response)
    assert rows() == before
    assert clinic_policy_current(clinic_id=world.clinic.pk).vitals_interval_min == 15
    # Declining it is what is left.
    response = doctor.post(
        f"{PROPOSALS}{proposal.pk}/decline/", {"reason": "Proposed on old settings"}, follow=True
    )
    assert "Declined: the settings stay as they are." in text(response)
    assert AuditEvent.objects.filter(
        action="update", object_type="clinic_policy_proposal", object_id=str(proposal.pk)
    ).exists()
