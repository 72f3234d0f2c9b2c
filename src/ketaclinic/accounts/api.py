"""The accounts app's public face: the role gates other apps' pages and services use, the
re-authentication signing pages ask for, the identity check a waste witness passes
(``confirm_identity``), and the staff invitations and changes the clinic's team
pages make.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.accounts.access import (
    admin_clinic,
    admin_user,
    physician_user,
    roles_required,
    signed_in_user,
)
from ketaclinic.accounts.identity import (
    ConfirmedIdentity,
    IdentityNotConfirmedError,
    confirm_identity,
)
from ketaclinic.accounts.reauth import reauthentication_required, reauthentication_response
from ketaclinic.accounts.services import (
    InvitationError,
    access_staff_member,
    staff_invitation_accept,
    staff_invitation_create,
    staff_invitation_resolve,
    staff_invitation_revoke,
    staff_member_set_active,
    staff_member_update,
    staff_mfa_reset,
    staff_second_factors,
)
from ketaclinic.accounts.session_timeout import not_activity

__all__ = [
    "ConfirmedIdentity",
    "IdentityNotConfirmedError",
    "InvitationError",
    "access_staff_member",
    "admin_clinic",
    "admin_user",
    "confirm_identity",
    "not_activity",
    "physician_user",
    "reauthentication_required",
    "reauthentication_response",
    "roles_required",
    "signed_in_user",
    "staff_invitation_accept",
    "staff_invitation_create",
    "staff_invitation_resolve",
    "staff_invitation_revoke",
    "staff_member_set_active",
    "staff_member_update",
    "staff_mfa_reset",
    "staff_second_factors",
]
