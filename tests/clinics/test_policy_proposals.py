"""Gate 9: raising a dose limit above its default, or changing a discharge or monitoring value,
is a proposal that takes effect only when a second physician approves it. Refusals change
nothing (rows and audit trail compared before and after)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.accounts.models import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics import services
from ketaclinic.clinics.models import ClinicPolicy, PolicyProposal, ProposalStatus
from ketaclinic.clinics.selectors import clinic_policy_current
from tests import factories
from tests.conftest import World

EDIT = "/clinic/settings/safety/edit/"
PROPOSALS = "/clinic/safety-proposals/"


def _change(world: World, values: dict[str, object], *, note: str = "Heavier patients") -> Any:
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    return services.clinic_policy_change(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        values=values,
        based_on_version=current.version,
        note=note,
    )


def _propose(world: World, values: dict[str, object] | None = None) -> PolicyProposal:
    proposal = _change(world, values or {"max_session_mg": 250.0})
    assert isinstance(proposal, PolicyProposal)
    return proposal


def _approve(world: World, proposal: PolicyProposal, who: str = "physician") -> ClinicPolicy:
    return services.policy_proposal_approve(
        actor=Actor(user=world.persona(who)), proposal_id=proposal.pk, note="Agreed"
    )


def _state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Every policy version and proposal, and the audit count: what a refusal must not change."""
    policies = list(
        ClinicPolicy.objects.order_by("clinic_id", "version").values_list(
            "clinic_id", "version", "max_session_mg", "vitals_interval_min", "recovery_min"
        )
    )
    proposals = list(
        PolicyProposal.objects.order_by("id").values_list(
            "id", "status", "decided_by_id", "decided_at", "decision_note", "result_id"
        )
    )
    return policies, proposals, AuditEvent.objects.count()


# --- what waits for approval ------------------------------------------------------------------


def test_raising_a_dose_limit_is_proposed_and_the_version_in_force_stays(world: World) -> None:
    proposal = _propose(world)
    assert proposal.status == ProposalStatus.PENDING
    assert (proposal.based_on_version, proposal.proposed_by) == (1, world.clinic_admin)
    assert proposal.values == {"max_session_mg": 250.0}
    assert proposal.old_values == {"max_session_mg": 200.0}
    assert proposal.waiting_on == ["max_session_mg"]
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    assert (current.version, current.max_session_mg) == (1, 200.0)
    event = AuditEvent.objects.get(object_type="clinic_policy_proposal")
    assert (event.action, event.actor, event.clinic_id) == (
        "create",
        world.clinic_admin,
        world.clinic.pk,
    )
    assert event.object_id == str(proposal.pk)
    assert event.detail == {
        "based_on_version": 1,
        "note": "Heavier patients",
        "old": {"max_session_mg": 200.0},
        "new": {"max_session_mg": 250.0},
        "waiting_on": ["max_session_mg"],
    }


@pytest.mark.parametrize(
    ("values", "waiting"),
    [
        ({"vitals_interval_min": 10}, ["vitals_interval_min"]),
        ({"discharge_min_aldrete": 10}, ["discharge_min_aldrete"]),
        ({"discharge_min_observation_min": 45}, ["discharge_min_observation_min"]),
        ({"alert_heart_rate": 125, "recovery_min": 90}, ["alert_heart_rate"]),
        (
            {"max_rate_mg_per_kg_h": 1.5, "max_session_mg_per_kg": 2.5},
            ["max_rate_mg_per_kg_h", "max_session_mg_per_kg"],
        ),
    ],
)
def test_monitoring_discharge_and_raised_dose_values_wait_as_one_proposal(
    world: World, values: dict[str, object], waiting: list[str]
) -> None:
    proposal = _propose(world, values)
    # The whole change waits, including the part that alone would have taken effect at once.
    assert proposal.values == values
    assert proposal.waiting_on == waiting
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1


@pytest.mark.parametrize(
    "values",
    [{"max_session_mg": 150.0}, {"recovery_min": 90}, {"precheck_max_systolic_bp": 150}],
)
def test_lowering_a_limit_or_other_settings_take_effect_at_once(
    world: World, values: dict[str, object]
) -> None:
    policy = _change(world, values)
    assert isinstance(policy, ClinicPolicy)
    assert policy.version == 2
    assert PolicyProposal.objects.count() == 0


def test_the_direct_update_refuses_a_change_that_needs_a_second_physician(world: World) -> None:
    before = _state()
    with pytest.raises(ValidationError) as info:
        services.clinic_policy_update(
            actor=Actor(user=world.clinic_admin),
            clinic=world.clinic,
            values={"max_session_mg": 250.0, "vitals_interval_min": 10},
            based_on_version=1,
            note="Both",
        )
    assert info.value.message_dict == {
        "max_session_mg": [
            "Raising it above the default takes effect when a second physician approves. "
            "Propose the change (200 to 250 mg); version 1 stays in force until then."
        ],
        "vitals_interval_min": [
            "A change takes effect when a second physician approves it. "
            "Propose the change (15 to 10 min); version 1 stays in force until then."
        ],
    }
    assert _state() == before


def test_a_proposal_past_a_ceiling_is_refused_naming_the_field(world: World) -> None:
    before = _state()
    with pytest.raises(ValidationError) as info:
        _change(world, {"max_session_mg": 350.0})
    assert info.value.message_dict == {
        "max_session_mg": ["Must be between 1 and 300 mg (ketaclinic's ceiling); got 350."]
    }
    assert _state() == before


# --- approval ---------------------------------------------------------------------------------


def test_a_second_physician_approves_and_the_next_version_is_in_force(world: World) -> None:
    proposal = _propose(world)
    policy = _approve(world, proposal)
    assert (policy.version, policy.max_session_mg) == (2, 250.0)
    assert (policy.created_by, policy.change_note) == (world.clinic_admin, "Heavier patients")
    assert clinic_policy_current(clinic_id=world.clinic.pk).pk == policy.pk
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    assert (proposal.decided_by, proposal.decision_note, proposal.result) == (
        world.physician,
        "Agreed",
        policy,
    )
    assert proposal.decided_at is not None
    version_event, decision_event = AuditEvent.objects.filter(
        object_type__in=["clinic_policy", "clinic_policy_proposal"], action__in=["update", "sign"]
    ).order_by("id")
    assert (version_event.object_type, version_event.actor) == ("clinic_policy", world.physician)
    assert version_event.detail == {
        "version": 2,
        "based_on_version": 1,
        "note": "Heavier patients",
        "old": {"max_session_mg": 200.0},
        "new": {"max_session_mg": 250.0},
        "proposal": proposal.pk,
        "proposed_by": world.clinic_admin.pk,
    }
    assert (decision_event.action, decision_event.object_id) == ("sign", str(proposal.pk))
    assert decision_event.detail == {"status": "approved", "version": 2, "note": "Agreed"}


def test_the_proposer_cannot_approve_their_own_change(world: World) -> None:
    proposal = _propose(world)
    # The admin who proposed it is later made a physician: still not a second person.
    world.clinic_admin.role = Role.PHYSICIAN
    world.clinic_admin.save(update_fields=["role"])
    before = _state()
    with pytest.raises(ValidationError) as info:
        _approve(world, proposal, "clinic_admin")
    assert info.value.message_dict == {
        "proposal": ["You proposed this change: another physician must approve it."]
    }
    assert _state() == before


def test_a_stale_proposal_cannot_be_approved(world: World) -> None:
    proposal = _propose(world)
    _change(world, {"recovery_min": 90}, note="Longer recovery")
    before = _state()
    with pytest.raises(ValidationError) as info:
        _approve(world, proposal)
    assert info.value.message_dict == {
        "proposal": [
            "This change was proposed on version 1, and version 2 is in force now: it cannot be "
            "approved. Decline it; the clinic admin may propose it again on the current settings."
        ]
    }
    assert _state() == before
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 200.0


@pytest.mark.parametrize("who", ["clinic_admin", "nurse", "front_desk", "alice", "other_physician"])
def test_only_a_physician_of_the_clinic_decides(world: World, who: str) -> None:
    proposal = _propose(world)
    before = _state()
    with pytest.raises(Http404):
        _approve(world, proposal, who)
    with pytest.raises(Http404):
        services.policy_proposal_decline(
            actor=Actor(user=world.persona(who)), proposal_id=proposal.pk, reason="No"
        )
    assert _state() == before


def test_an_inactive_physician_cannot_approve(world: World) -> None:
    proposal = _propose(world)
    world.physician.is_active = False
    world.physician.save(update_fields=["is_active"])
    before = _state()
    with pytest.raises(Http404):
        _approve(world, proposal)
    assert _state() == before


# --- declining --------------------------------------------------------------------------------


def test_a_physician_declines_with_a_reason_and_nothing_takes_effect(world: World) -> None:
    proposal = _propose(world)
    declined = services.policy_proposal_decline(
        actor=Actor(user=world.physician), proposal_id=proposal.pk, reason="  Not for this clinic "
    )
    assert declined.status == ProposalStatus.DECLINED
    assert (declined.decided_by, declined.decision_note) == (world.physician, "Not for this clinic")
    assert clinic_policy_current(clinic_id=world.clinic.pk).version == 1
    event = AuditEvent.objects.filter(object_type="clinic_policy_proposal").latest("id")
    assert (event.action, event.actor) == ("update", world.physician)
    assert event.detail == {"status": "declined", "note": "Not for this clinic"}
    # Decided is decided: neither approval nor a second decline.
    before = _state()
    with pytest.raises(ValidationError) as info:
        _approve(world, proposal)
    assert info.value.message_dict == {"proposal": ["This change was already declined."]}
    with pytest.raises(ValidationError):
        services.policy_proposal_decline(
            actor=Actor(user=world.physician), proposal_id=proposal.pk, reason="Again"
        )
    assert _state() == before


def test_declining_needs_a_reason(world: World) -> None:
    proposal = _propose(world)
    before = _state()
    with pytest.raises(ValidationError) as info:
        services.policy_proposal_decline(
            actor=Actor(user=world.physician), proposal_id=proposal.pk, reason="  "
        )
    assert info.value.message_dict == {
        "reason": ["Say why the change is declined, in a short note."]
    }
    assert _state() == before


def test_a_stale_proposal_can_still_be_declined(world: World) -> None:
    proposal = _propose(world)
    _change(world, {"recovery_min": 90}, note="Longer recovery")
    declined = services.policy_proposal_decline(
        actor=Actor(user=world.physician), proposal_id=proposal.pk, reason="Out of date"
    )
    assert declined.status == ProposalStatus.DECLINED


# --- pages ------------------------------------------------------------------------------------


def _form_data(policy: ClinicPolicy, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {n: getattr(policy, n) for n in ClinicPolicy.THRESHOLD_FIELDS}
    data.update(based_on_version=policy.version, note="Heavier patients")
    data.update(changes)
    return data


def test_the_admin_proposes_on_the_form_and_the_settings_page_shows_it(
    client_for: Any, world: World
) -> None:
    client = client_for("clinic_admin")
    form_page = client.get(EDIT).content.decode()
    assert "Allowed: 1 to 300." in form_page
    assert "Raising it above the default takes effect when a second physician approves." in (
        form_page
    )
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    response = client.post(EDIT, _form_data(policy, max_session_mg="250"), follow=True)
    page = response.content.decode()
    assert response.redirect_chain == [("/clinic/settings/safety/", 302)]
    assert (
        "Proposed: the change takes effect when a second physician approves it. "
        "Version 1 stays in force until then."
    ) in page
    assert "Waiting for a second physician" in page
    assert "<td>Maximum total per session</td><td>200 mg</td><td>250 mg</td>" in page
    assert "<strong>200 mg</strong>" in page
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 200.0


def test_a_value_past_the_ceiling_is_refused_on_the_form_naming_the_field(
    client_for: Any, world: World
) -> None:
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    before = _state()
    response = client_for("clinic_admin").post(EDIT, _form_data(policy, discharge_min_aldrete="8"))
    assert response.status_code == 422
    assert (
        "Modified Aldrete score of at least (points (of 10)): Must be between 9 and 10 points "
        "(of 10) (ketaclinic&#x27;s floor); got 8."
    ) in response.content.decode()
    assert _state() == before


def test_a_physician_approves_on_the_proposals_page(client_for: Any, world: World) -> None:
    proposal = _propose(world)
    client = client_for("physician")
    page = client.get(PROPOSALS).content.decode()
    assert "Version 1 is in force." in page
    assert "by Ada Admin, on version 1" in page
    assert "“Heavier patients”" in page
    assert "Approve this change" in page
    response = client.post(
        f"{PROPOSALS}{proposal.pk}/approve/", {"note": "Checked the heavy patients"}, follow=True
    )
    page = response.content.decode()
    assert "Approved: version 2 is in force." in page
    assert "No change is waiting for a decision." in page
    assert "Recent decisions" in page
    assert "“Checked the heavy patients” · now version 2" in page
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 250.0
    history = client_for("clinic_admin").get("/clinic/settings/safety/history/").content.decode()
    assert "· Ada Admin · “Heavier patients” · approved by Dr. Paul Physician" in history


def test_a_refused_approval_is_shown_on_the_page_and_changes_nothing(
    client_for: Any, world: World
) -> None:
    proposal = _propose(world)
    _change(world, {"recovery_min": 90}, note="Longer recovery")
    client = client_for("physician")
    page = client.get(PROPOSALS).content.decode()
    assert "Out of date: version 1 is no longer in force" in page
    assert "Approve this change" not in page
    before = _state()
    response = client.post(f"{PROPOSALS}{proposal.pk}/approve/", {}, follow=True)
    assert "Proposed change: This change was proposed on version 1" in response.content.decode()
    assert _state() == before


def test_a_decline_without_a_reason_is_named_on_the_page(client_for: Any, world: World) -> None:
    proposal = _propose(world)
    before = _state()
    response = client_for("physician").post(
        f"{PROPOSALS}{proposal.pk}/decline/", {"reason": ""}, follow=True
    )
    assert "Reason for declining: Say why the change is declined" in response.content.decode()
    assert _state() == before
    response = client_for("physician").post(
        f"{PROPOSALS}{proposal.pk}/decline/", {"reason": "Not now"}, follow=True
    )
    assert "Declined: the settings stay as they are." in response.content.decode()


def test_the_admin_follows_proposals_without_deciding(client_for: Any, world: World) -> None:
    _propose(world)
    page = client_for("clinic_admin").get(PROPOSALS).content.decode()
    assert "by Ada Admin, on version 1" in page
    assert "Approve this change" not in page
    assert "A physician of the clinic other than the proposer approves or declines it." in page
    assert ".md" not in page


def test_another_clinics_physician_sees_none_of_ours(client_for: Any, world: World) -> None:
    _propose(world)
    page = client_for("other_physician").get(PROPOSALS).content.decode()
    assert "No change is waiting for a decision." in page
    assert "Ada Admin" not in page


def _grow(world: World, n: int) -> None:
    for i in range(n):
        proposal = _propose(world, {"vitals_interval_min": 10 + i % 5})
        if i % 2:
            services.policy_proposal_decline(
                actor=Actor(user=world.physician), proposal_id=proposal.pk, reason=f"no {i}"
            )


@pytest.mark.parametrize("persona", ["physician", "clinic_admin"])
def test_the_proposals_page_uses_the_same_queries_for_one_or_many(
    client_for: Any, world: World, django_assert_num_queries: Any, persona: str
) -> None:
    _grow(world, 1)
    client = client_for(persona)
    client.get(PROPOSALS)
    # session, user, the user's clinic (role gate), the policy in force, pending proposals with
    # their proposers, recent decisions with their people and versions
    with django_assert_num_queries(6):
        assert client.get(PROPOSALS).status_code == 200
    _grow(world, 15)
    with django_assert_num_queries(6):
        page = client.get(PROPOSALS).content.decode()
    # 16 proposed, the 7 odd ones of the second batch declined.
    assert page.count("Declined</strong>") == 7
    assert page.count("Approve this change") == (9 if persona == "physician" else 0)


def test_a_physician_of_another_clinic_cannot_decide_ours_through_the_page(
    client_for: Any, world: World
) -> None:
    proposal = _propose(world)
    factories.make_user(world.other_clinic, Role.PHYSICIAN, email="second@elsewhere.test")
    before = _state()
    response = client_for("other_physician").post(f"{PROPOSALS}{proposal.pk}/approve/", {})
    assert response.status_code == 404
    assert _state() == before
