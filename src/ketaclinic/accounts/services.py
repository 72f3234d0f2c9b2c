"""Writes to staff accounts: invitations, joining by invitation, roles, locations, deactivation.

A clinic admin invites a person by email with a role and locations. The email carries a signed,
expiring, single-use link; opening it lets the person choose a name and password and creates
their account in that clinic with that role. The email address counts as verified, since only
its owner could have opened the link. Every change is audited in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, cast

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from ketaclinic.accounts.access import admin_clinic, admin_user
from ketaclinic.accounts.models import STAFF_ROLES, Role, StaffInvitation, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action

if TYPE_CHECKING:
    from ketaclinic.accounts.adapter import AccountAdapter
    from ketaclinic.clinics.models import Location

INVITATION_SALT = "ketaclinic.accounts.invitation"
INVITATION_TTL = dt.timedelta(days=7)
# The signature's own age limit is a second lock behind the row's expires_at.
INVITATION_MAX_AGE = INVITATION_TTL + dt.timedelta(days=1)


class InvitationError(Exception):
    """An invitation link that cannot be used; the message is shown to the visitor as is."""


# --- helpers ----------------------------------------------------------------------------------


def _staff_role(role: str) -> Role:
    if role not in STAFF_ROLES:
        raise ValidationError({"role": "Choose one of the staff roles."})
    return Role(role)


def _clinic_locations(clinic_id: int, location_ids: Iterable[int]) -> list[Location]:
    wanted = sorted(set(location_ids))
    # The model the ``locations`` field holds: accounts names clinics' models only by string,
    # since the clinics app sits above it (docs/architecture.md "Layout").
    location_model = User._meta.get_field("locations").related_model
    assert location_model is not None
    assert not isinstance(location_model, str)
    found = location_model._default_manager.filter(clinic_id=clinic_id, pk__in=wanted)
    locations = cast("list[Location]", list(found.order_by("pk")))
    if len(locations) != len(wanted):
        raise ValidationError({"locations": "Choose among this clinic's locations."})
    return locations


def invitation_url(token: str) -> str:
    return f"{settings.SITE_URL}{reverse('clinics:staff_join', kwargs={'token': token})}"


def _send_invitation(invitation_id: int, token: str) -> None:
    invitation = StaffInvitation.objects.select_related("clinic", "invited_by").get(
        pk=invitation_id
    )
    body = render_to_string(
        "accounts/email/invitation.txt",
        {
            "invitation": invitation,
            "url": invitation_url(token),
            "days": INVITATION_TTL.days,
        },
    )
    # The clinic's sender, name and signature come through the account adapter, which may read
    # the clinics app (this module sits below it).
    adapter = cast("AccountAdapter", get_adapter())
    adapter.send_clinic_mail(
        clinic_id=invitation.clinic_id,
        subject=f"Join the team at {invitation.clinic.name}",
        body=body,
        to=invitation.email,
    )


# --- invitations ------------------------------------------------------------------------------


@transaction.atomic
def staff_invitation_create(
    *,
    actor: Actor,
    email: str,
    role: str,
    location_ids: Iterable[int],
    now: dt.datetime | None = None,
) -> StaffInvitation:
    """Invite a person; the email goes out once the transaction commits.

    An open invitation to the same address is replaced (its link stops working), which is also
    how an admin re-sends one that expired.
    """
    clinic_id = admin_clinic(actor)
    inviter = admin_user(actor)
    now = now or timezone.now()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    checked_role = _staff_role(role)
    locations = _clinic_locations(clinic_id, location_ids)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "Someone already has an account with this email address."})
    superseded = list(
        StaffInvitation.objects.select_for_update().filter(
            clinic_id=clinic_id, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
    )
    for old in superseded:
        old.revoked_at, old.revoked_by = now, inviter
        old.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="staff_invitation",
            object_id=old.pk,
            detail={"email": email, "status": {"old": "open", "new": "superseded"}},
        )
    nonce = secrets.token_urlsafe(24)
    invitation = StaffInvitation(
        clinic_id=clinic_id,
        email=email,
        role=checked_role,
        nonce=nonce,
        invited_by=inviter,
        expires_at=now + INVITATION_TTL,
    )
    invitation.full_clean(exclude=["locations"])
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # Another admin invited the same address at the same instant (one open invitation per
        # address is a database constraint).
        raise ValidationError(
            {"email": "An invitation to this address was just sent. Reload the staff page."}
        ) from None
    invitation.locations.set(locations)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="staff_invitation",
        object_id=invitation.pk,
        detail={
            "email": email,
            "role": checked_role.value,
            "locations": [loc.pk for loc in locations],
            "expires_at": invitation.expires_at.isoformat(),
        },
    )
    token = signing.dumps(nonce, salt=INVITATION_SALT)
    transaction.on_commit(partial(_send_invitation, invitation.pk, token), robust=True)
    return invitation


@transaction.atomic
def staff_invitation_revoke(
    *, actor: Actor, invitation_id: int, now: dt.datetime | None = None
) -> StaffInvitation:
    clinic_id = admin_clinic(actor)
    invitation = (
        StaffInvitation.objects.select_for_update()
        .filter(clinic_id=clinic_id, pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise Http404("Page not found")
    if invitation.accepted_at is not None:
        raise ValidationError(
            "This invitation was already accepted; deactivate the account instead."
        )
    if invitation.revoked_at is not None:
        return invitation
    invitation.revoked_at, invitation.revoked_by = now or timezone.now(), admin_user(actor)
    invitation.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="staff_invitation",
        object_id=invitation.pk,
        detail={"email": invitation.email, "status": {"old": "open", "new": "revoked"}},
    )
    return invitation


def staff_invitation_resolve(token: str, *, now: dt.datetime | None = None) -> StaffInvitation:
    """The open invitation behind a link, or InvitationError saying why it cannot be used."""
    now = now or timezone.now()
    try:
        nonce = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise InvitationError(
            "This invitation has expired. Ask your clinic admin to send a new one."
        ) from None
    except signing.BadSignature:
        raise InvitationError(
            "This invitation link is not valid. Check that you copied all of it."
        ) from None
    invitation = (
        StaffInvitation.objects.select_related("clinic")
        .prefetch_related("locations")
        .filter(nonce=str(nonce))
        .first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Check that you copied all of it.")
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation has already been used. Sign in with the account it created."
        )
    if invitation.revoked_at is not None:
        raise InvitationError(
            "This invitation was withdrawn. Ask your clinic admin if you expected to join."
        )
    if invitation.expires_at <= now:
        raise InvitationError(
            "This invitation has expired. Ask your clinic admin to send a new one."
        )
    return invitation


@transaction.atomic
def staff_invitation_accept(
    *,
    token: str,
    full_name: str,
    password: str,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Create the invited person's account. The link is claimed in this transaction, so two
    submits of one link create one account, and a refused form leaves the link usable."""
    now = now or timezone.now()
    invitation = staff_invitation_resolve(token, now=now)
    full_name = full_name.strip()
    if not full_name:
        raise ValidationError({"full_name": "Enter your name as colleagues should see it."})
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise InvitationError("An account with this email address already exists. Sign in instead.")
    user = User(
        email=invitation.email,
        full_name=full_name,
        role=invitation.role,
        clinic_id=invitation.clinic_id,
    )
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    claimed = StaffInvitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now)
    if claimed != 1:
        raise InvitationError(
            "This invitation has already been used. Sign in with the account it created."
        )
    user.set_password(password)
    user.full_clean()
    user.save()
    user.locations.set(list(invitation.locations.all()))
    StaffInvitation.objects.filter(pk=invitation.pk).update(accepted_user=user)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    audit_record(
        actor=Actor(user=user, ip=ip),
        action=Action.CREATE,
        object_type="user",
        object_id=user.pk,
        clinic=invitation.clinic,
        detail={
            "invitation": invitation.pk,
            "email": user.email,
            "role": user.role,
            "locations": sorted(loc.pk for loc in invitation.locations.all()),
        },
    )
    return user


# --- staff members ----------------------------------------------------------------------------


def access_staff_member(actor: Actor, user_id: int, *, for_update: bool = False) -> User:
    """A staff member of the admin's clinic, or 404 (patients are not managed here)."""
    qs = User.objects.filter(clinic_id=admin_clinic(actor), role__in=STAFF_ROLES)
    if for_update:
        qs = qs.select_for_update()
    member = qs.filter(pk=user_id).first()
    if member is None:
        raise Http404("Page not found")
    return member


@transaction.atomic
def staff_member_update(
    *, actor: Actor, user_id: int, role: str, location_ids: Iterable[int]
) -> User:
    """Change a staff member's role and locations. An admin cannot change their own role, so a
    clinic always keeps the admin who is acting."""
    member = access_staff_member(actor, user_id, for_update=True)
    checked_role = _staff_role(role)
    assert member.clinic_id is not None
    locations = _clinic_locations(member.clinic_id, location_ids)
    if member.pk == admin_user(actor).pk and checked_role != member.role:
        raise ValidationError(
            {"role": "You cannot change your own role. Ask another clinic admin."}
        )
    old_locations = sorted(member.locations.values_list("pk", flat=True))
    new_locations = [loc.pk for loc in locations]
    changes: dict[str, dict[str, object]] = {}
    if checked_role != member.role:
        changes["role"] = {"old": member.role, "new": checked_role.value}
        member.role = checked_role
        member.full_clean()
        member.save(update_fields=["role"])
    if old_locations != new_locations:
        changes["locations"] = {"old": old_locations, "new": new_locations}
        member.locations.set(locations)
    if changes:
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="user",
            object_id=member.pk,
            detail={"email": member.email, "changes": changes},
        )
    return member


@transaction.atomic
def staff_member_set_active(*, actor: Actor, user_id: int, is_active: bool) -> User:
    """Deactivate (the person can no longer sign in; their sessions end) or reactivate a staff
    member. Accounts are never deleted: the audit trail and signed records name them."""
    member = access_staff_member(actor, user_id, for_update=True)
    if member.pk == admin_user(actor).pk:
        raise ValidationError("You cannot deactivate your own account. Ask another clinic admin.")
    if member.is_active == is_active:
        return member
    member.is_active = is_active
    member.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="user",
        object_id=member.pk,
        detail={
            "email": member.email,
            "changes": {"is_active": {"old": not is_active, "new": is_active}},
        },
    )
    return member


def staff_second_factors(member: User) -> list[str]:
    """What second factors a staff member has, in words for their admin's page."""
    labels = {
        Authenticator.Type.TOTP: "Authenticator app",
        Authenticator.Type.WEBAUTHN: "Security key or passkey",
    }
    found = Authenticator.objects.filter(user_id=member.pk, type__in=list(labels)).order_by("pk")
    return [labels[Authenticator.Type(a.type)] for a in found]


@transaction.atomic
def staff_mfa_reset(*, actor: Actor, user_id: int) -> User:
    """Remove every second factor of a colleague (a lost phone or key), so they enrol again on
    their next page (accounts/mfa_gate.py). Their recovery codes go too: they belonged to the old
    factor. An admin cannot reset their own this way: a stolen admin session must not be able to
    take the factor off the admin's account; they remove their own on the second-factor page."""
    member = access_staff_member(actor, user_id, for_update=True)
    if member.pk == admin_user(actor).pk:
        raise ValidationError(
            "You cannot reset your own second factor here. Ask another clinic admin, or manage "
            "it on your second-factor page."
        )
    removed = list(
        Authenticator.objects.filter(user_id=member.pk).order_by("pk").values_list("pk", "type")
    )
    if not removed:
        raise ValidationError(f"{member.display_name} has no second factor to reset.")
    Authenticator.objects.filter(user_id=member.pk).delete()
    audit_record(
        actor=actor,
        action=Action.MFA_RESET,
        object_type="user",
        object_id=member.pk,
        detail={
            "email": member.email,
            "authenticators": [{"id": pk, "type": kind} for pk, kind in removed],
        },
    )
    return member
