"""Changes to the safety settings that wait for a second physician (gate 9).

Raising a dose limit above its default or changing a discharge or monitoring value does not take
effect when the clinic admin saves it: it is kept as a ``PolicyProposal``, and the version in
force stays in force until a physician of the clinic other than the proposer approves it (which
writes the next version) or declines it. Separate from ``policy`` because it adds a second
person and a decision to the one-step save, while reusing its checks and its version write.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.access import access_policy_proposal, admin_user, physician_user
from ketaclinic.clinics.models import Clinic, ClinicPolicy, PolicyProposal, ProposalStatus
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.clinics.services.policy import (
    PolicyChange,
    checked_over,
    lock_clinic,
    policy_change_check,
    policy_version_write,
)

OBJECT_TYPE = "clinic_policy_proposal"


def _proposal_write(
    *, actor: Actor, clinic: Clinic, change: PolicyChange, note: str
) -> PolicyProposal:
    proposal = PolicyProposal(
        clinic=clinic,
        based_on_version=change.current.version,
        values=change.new,
        old_values=change.old,
        waiting_on=list(change.waiting),
        note=note,
        proposed_by=admin_user(actor),
    )
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type=OBJECT_TYPE,
        object_id=proposal.pk,
        clinic=clinic,
        detail={
            "based_on_version": change.current.version,
            "note": note,
            "old": change.old,
            "new": change.new,
            "waiting_on": list(change.waiting),
        },
    )
    return proposal


@transaction.atomic
def policy_proposal_create(
    *,
    actor: Actor,
    clinic: Clinic,
    values: Mapping[str, object],
    based_on_version: int,
    note: str,
) -> PolicyProposal:
    """Save a change to the safety settings as a proposal; the version in force stays in force
    until a second physician approves it (``policy_proposal_approve``). Checked like
    ``clinic_policy_update``, with nothing written on a refusal."""
    change = policy_change_check(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    return _proposal_write(actor=actor, clinic=clinic, change=change, note=note.strip())


@transaction.atomic
def clinic_policy_change(
    *,
    actor: Actor,
    clinic: Clinic,
    values: Mapping[str, object],
    based_on_version: int,
    note: str,
) -> ClinicPolicy | PolicyProposal:
    """What the settings form saves: the next version when every change may take effect at
    once, else the whole change as one proposal for a second physician (gate 9)."""
    change = policy_change_check(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    if change.waiting:
        return _proposal_write(actor=actor, clinic=clinic, change=change, note=note.strip())
    return policy_version_write(
        actor=actor, clinic=clinic, change=change, author=admin_user(actor), note=note.strip()
    )


def _proposal_pending(proposal: PolicyProposal) -> None:
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError(
            {"proposal": f"This change was already {proposal.get_status_display().lower()}."}
        )


def _decide(
    *,
    actor: Actor,
    proposal: PolicyProposal,
    decider: User,
    status: ProposalStatus,
    note: str,
    action: Action,
    detail: dict[str, object],
    result: ClinicPolicy | None = None,
) -> None:
    """Record the decision on the proposal, with its audit event."""
    proposal.status = status
    proposal.decided_by = decider
    proposal.decided_at = timezone.now()
    proposal.decision_note = note
    proposal.result = result
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=proposal.pk,
        clinic=proposal.clinic,
        detail=detail,
    )


@transaction.atomic
def policy_proposal_approve(*, actor: Actor, proposal_id: int, note: str = "") -> ClinicPolicy:
    """A second physician approves a proposed change: the next version is written with it.

    Refused, with nothing written, for anyone but an active physician of the clinic (404), for
    the proposer, for a proposal already decided, and for one made on a version that is no
    longer in force (it would undo the changes saved since; the admin proposes again).
    """
    approver = physician_user(actor)
    assert approver.clinic_id is not None
    lock_clinic(approver.clinic_id)
    proposal = access_policy_proposal(actor, proposal_id)
    _proposal_pending(proposal)
    if proposal.proposed_by_id == approver.pk:
        raise ValidationError(
            {"proposal": "You proposed this change: another physician must approve it."}
        )
    current = clinic_policy_current(clinic_id=proposal.clinic_id)
    if current.version != proposal.based_on_version:
        raise ValidationError(
            {
                "proposal": (
                    f"This change was proposed on version {proposal.based_on_version}, and "
                    f"version {current.version} is in force now: it cannot be approved. Decline "
                    "it; the clinic admin may propose it again on the current settings."
                )
            }
        )
    change = PolicyChange(
        current=current,
        checked=checked_over(current, proposal.values),
        old={n: getattr(current, n) for n in ClinicPolicy.THRESHOLD_FIELDS if n in proposal.values},
        waiting=tuple(proposal.waiting_on),
    )
    policy = policy_version_write(
        actor=actor,
        clinic=proposal.clinic,
        change=change,
        author=proposal.proposed_by,
        note=proposal.note,
        proposal=proposal,
    )
    note = note.strip()
    _decide(
        actor=actor,
        proposal=proposal,
        decider=approver,
        status=ProposalStatus.APPROVED,
        note=note,
        action=Action.SIGN,
        detail={"status": "approved", "version": policy.version, "note": note},
        result=policy,
    )
    return policy


@transaction.atomic
def policy_proposal_decline(*, actor: Actor, proposal_id: int, reason: str) -> PolicyProposal:
    """A physician declines a proposed change, with a reason; the settings stay as they are."""
    decider = physician_user(actor)
    proposal = access_policy_proposal(actor, proposal_id)
    _proposal_pending(proposal)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the change is declined, in a short note."})
    _decide(
        actor=actor,
        proposal=proposal,
        decider=decider,
        status=ProposalStatus.DECLINED,
        note=reason,
        action=Action.UPDATE,
        detail={"status": "declined", "note": reason},
    )
    return proposal
