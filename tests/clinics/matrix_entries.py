"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py).

Every settings page is the clinic admin's alone. One-button actions are POST-only: a GET from the
admin answers 405, anyone else 404. The invitation link is public; a tampered token is a clear
400 page for everyone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import Role, StaffInvitation
from ketaclinic.clinics.models import PolicyProposal, ProtocolTemplate
from tests.authz import ADMIN_PAGE, DENY, GONE, LOGIN, OK, PUBLIC
from tests.conftest import World

#                   anon   alice  bob    desk   nurse  phys   admin  other_phys
ADMIN_POST_ONLY = (LOGIN, DENY, DENY, DENY, DENY, DENY, GONE, DENY)
# Proposed safety settings (gate 9): physicians decide, the clinic admin follows; each clinic's
# physicians see their own clinic's list. Deciding is POST-only: the role gate answers first
# (404), then a physician's GET is 405, whichever clinic the proposal belongs to.
PROPOSALS_PAGE = (LOGIN, DENY, DENY, DENY, DENY, OK, OK, OK)
PHYSICIAN_POST_ONLY = (LOGIN, DENY, DENY, DENY, DENY, GONE, DENY, GONE)
BAD_LINK = (400,) * 8


def _location(world: World) -> dict[str, Any]:
    return {"location_id": world.cleveland.pk}


def _chair(world: World) -> dict[str, Any]:
    chair = world.cleveland.chairs.first()
    assert chair is not None
    return {"chair_id": chair.pk}


def _staff_member(world: World) -> dict[str, Any]:
    return {"user_id": world.nurse.pk}


def _template(world: World) -> dict[str, Any]:
    template = ProtocolTemplate.objects.filter(clinic=world.clinic).first()
    assert template is not None
    return {"template_id": template.pk}


def _invitation(world: World) -> dict[str, Any]:
    invitation = StaffInvitation.objects.create(
        clinic=world.clinic,
        email="new.nurse@example.test",
        role=Role.NURSE,
        nonce="matrix-nonce",
        invited_by=world.clinic_admin,
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    return {"invitation_id": invitation.pk}


def _proposal(world: World) -> dict[str, Any]:
    proposal = PolicyProposal.objects.create(
        clinic=world.clinic,
        based_on_version=1,
        values={"max_session_mg": 250.0},
        old_values={"max_session_mg": 200.0},
        waiting_on=["max_session_mg"],
        note="Heavier patients",
        proposed_by=world.clinic_admin,
    )
    return {"proposal_id": proposal.pk}


def _logo(world: World) -> dict[str, Any]:
    # The clinic has no logo: the public route answers 404 to everyone, never the log-in page
    # (tests/clinics/test_brand.py serves a real one).
    return {"clinic_id": world.clinic.pk, "version": world.clinic.brand_version}


def _bad_token(world: World) -> dict[str, Any]:
    return {"token": "not-a-signed-token"}


ENTRIES: dict[str, Any] = {
    "clinics:settings": (ADMIN_PAGE, None),
    "clinics:brand": (ADMIN_PAGE, None),
    "clinics:logo": ((DENY,) * 8, _logo),
    "clinics:brand_css": (PUBLIC, lambda w: {"colour": "1b2430"}),
    "clinics:policy": (ADMIN_PAGE, None),
    "clinics:policy_edit": (ADMIN_PAGE, None),
    "clinics:policy_history": (ADMIN_PAGE, None),
    "clinics:policy_proposals": (PROPOSALS_PAGE, None),
    "clinics:policy_proposal_approve": (PHYSICIAN_POST_ONLY, _proposal),
    "clinics:policy_proposal_decline": (PHYSICIAN_POST_ONLY, _proposal),
    "clinics:locations": (ADMIN_PAGE, None),
    "clinics:location_new": (ADMIN_PAGE, None),
    "clinics:location_edit": (ADMIN_PAGE, _location),
    "clinics:chair_add": (ADMIN_POST_ONLY, _location),
    "clinics:chair_rename": (ADMIN_POST_ONLY, _chair),
    "clinics:chair_active": (ADMIN_POST_ONLY, _chair),
    "clinics:staff": (ADMIN_PAGE, None),
    "clinics:staff_invite": (ADMIN_PAGE, None),
    "clinics:staff_edit": (ADMIN_PAGE, _staff_member),
    "clinics:staff_active": (ADMIN_POST_ONLY, _staff_member),
    # Asks first (GET), resets on POST (tests/accounts/test_mfa_reset.py).
    "clinics:staff_mfa_reset": (ADMIN_PAGE, _staff_member),
    "clinics:invitation_revoke": (ADMIN_POST_ONLY, _invitation),
    "clinics:staff_join": (BAD_LINK, _bad_token),
    "clinics:protocols": (ADMIN_PAGE, None),
    "clinics:protocol_new": (ADMIN_PAGE, None),
    "clinics:protocol_edit": (ADMIN_PAGE, _template),
    "clinics:protocol_active": (ADMIN_POST_ONLY, _template),
}
