"""Staff invitations: an admin invites by email; the signed, expiring, single-use link lets the
invitee set a name and password and join the clinic with the role and locations given."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import Client
from django.utils import timezone

from ketaclinic.accounts import services
from ketaclinic.accounts.models import Role, StaffInvitation, User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from tests import factories
from tests.conftest import World

NEW_EMAIL = "nora.nurse@example.test"
GOOD_PASSWORD = "a-long-and-unusual-passphrase"


def _invite(world: World, *, email: str = NEW_EMAIL, role: str = Role.NURSE, **kw: Any) -> str:
    """Invite through the service; return the emailed link's path."""
    mail.outbox.clear()
    from django.test.testcases import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.staff_invitation_create(
            actor=Actor(user=world.clinic_admin),
            email=email,
            role=role,
            location_ids=kw.get("location_ids", [world.charlotte.pk]),
            **({"now": kw["now"]} if "now" in kw else {}),
        )
    (message,) = mail.outbox
    match = re.search(r"http://\S+(/clinic/staff/join/\S+/)", str(message.body))
    assert match is not None, message.body
    return match.group(1)


def _join(client: Client, path: str, **data: str) -> Any:
    return client.post(
        path,
        {"full_name": "Nora Nurse", "password": GOOD_PASSWORD, "password2": GOOD_PASSWORD} | data,
    )


def _events(object_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type).order_by("id"))


# --- inviting ---------------------------------------------------------------------------------


def test_an_admin_invites_by_email_and_the_email_carries_the_link(
    client_for: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("clinic_admin").post(
            "/clinic/staff/invite/",
            {
                "email": "Nora.Nurse@Example.test",
                "role": "nurse",
                "locations": [world.cleveland.pk],
            },
        )
    assert response.status_code == 302
    invitation = StaffInvitation.objects.get()
    assert (invitation.email, invitation.role) == (NEW_EMAIL, "nurse")
    assert list(invitation.locations.all()) == [world.cleveland]
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - dt.timedelta(days=7)) < dt.timedelta(seconds=5)
    (message,) = mail.outbox
    assert message.to == [NEW_EMAIL]
    assert message.subject == "Join the team at Lakeshore Neuropathic Pain Clinic"
    assert "Ada Admin invites you to join the team at Lakeshore Neuropathic Pain Clinic" in (
        message.body
    )
    assert "as nurse" in message.body
    assert "/clinic/staff/join/" in message.body
    # The link carries a signed nonce, never the address or an id.
    assert "nora" not in message.body.split("/clinic/staff/join/")[1]
    (event,) = _events("staff_invitation")
    assert event.action == "create"
    assert event.detail["email"] == NEW_EMAIL
    assert event.detail["role"] == "nurse"
    assert event.detail["locations"] == [world.cleveland.pk]
    page = client_for("clinic_admin").get("/clinic/staff/").content.decode()
    assert NEW_EMAIL in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nurse@example.test"}, "Email: Someone already has an account with this email"),
        ({"email": "not-an-address"}, "Email: Enter a valid email address."),
        ({"role": "patient"}, "Role: Select a valid choice."),
        ({"locations": ["999999"]}, "Locations: Select a valid choice."),
    ],
)
def test_bad_invitations_are_refused_by_field_and_nothing_is_sent(
    client_for: Any,
    world: World,
    django_capture_on_commit_callbacks: Any,
    data: dict[str, Any],
    message: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("clinic_admin").post(
            "/clinic/staff/invite/", {"email": NEW_EMAIL, "role": "nurse"} | data
        )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert StaffInvitation.objects.count() == 0
    assert mail.outbox == []
    assert _events("staff_invitation") == []


def test_the_service_refuses_a_patient_role_and_another_clinics_location(world: World) -> None:
    admin = Actor(user=world.clinic_admin)
    with pytest.raises(ValidationError) as info:
        services.staff_invitation_create(
            actor=admin, email=NEW_EMAIL, role=Role.PATIENT, location_ids=[]
        )
    assert list(info.value.message_dict) == ["role"]
    other_site = world.other_physician.locations.get()
    with pytest.raises(ValidationError) as info:
        services.staff_invitation_create(
            actor=admin, email=NEW_EMAIL, role=Role.NURSE, location_ids=[other_site.pk]
        )
    assert list(info.value.message_dict) == ["locations"]
    assert StaffInvitation.objects.count() == 0


@pytest.mark.parametrize("persona", ["physician", "nurse", "front_desk", "alice"])
def test_only_a_clinic_admin_may_invite(world: World, persona: str) -> None:
    with pytest.raises(Http404):
        services.staff_invitation_create(
            actor=Actor(user=world.persona(persona)),
            email=NEW_EMAIL,
            role=Role.CLINIC_ADMIN,
            location_ids=[],
        )
    assert StaffInvitation.objects.count() == 0


# --- joining ----------------------------------------------------------------------------------


def test_the_invitee_sets_a_name_and_password_and_joins_with_role_and_locations(
    world: World,
) -> None:
    path = _invite(world, location_ids=[world.charlotte.pk, world.cleveland.pk])
    client = Client()
    page = client.get(path).content.decode()
    assert "Join Lakeshore Neuropathic Pain Clinic" in page
    assert "invited as <strong>nurse</strong> at Charlotte, Cleveland" in page
    response = _join(client, path)
    assert response.status_code == 302
    assert response["Location"] == "/home/"
    user = User.objects.get(email=NEW_EMAIL)
    assert (user.role, user.clinic, user.full_name) == ("nurse", world.clinic, "Nora Nurse")
    assert set(user.locations.all()) == {world.charlotte, world.cleveland}
    assert user.check_password(GOOD_PASSWORD)
    # The link proved the address, so it is verified and the log-in needs no confirmation mail.
    assert EmailAddress.objects.filter(user=user, email=NEW_EMAIL, verified=True).exists()
    # Signed in, but as staff without a second factor: setting one up comes first.
    assert client.get("/home/")["Location"] == "/accounts/2fa/"
    assert client.get("/accounts/2fa/").status_code == 200
    factories.accounts.enrol_totp(user)
    assert client.get("/home/").status_code == 200
    invitation = StaffInvitation.objects.get()
    assert invitation.accepted_user == user
    assert invitation.accepted_at is not None
    # The account's creation, then the sign-in the join page makes (an authentication event).
    event, login = _events("user")
    assert (login.action, login.actor, login.object_id) == ("login", user, str(user.pk))
    assert event.actor == user
    assert event.action == "create"
    assert event.clinic_id == world.clinic.pk
    assert event.detail["role"] == "nurse"
    assert event.detail["invitation"] == invitation.pk
    # And the new account logs in on its own afterwards.
    fresh = Client()
    factories.accounts.client_sign_in(fresh, user, GOOD_PASSWORD)
    assert fresh.get("/home/").status_code == 200


def test_a_used_link_is_refused_the_second_time(world: World) -> None:
    path = _invite(world)
    assert _join(Client(), path).status_code == 302
    again = _join(Client(), path, full_name="Someone Else")
    assert again.status_code == 400
    assert "already been used" in again.content.decode()
    assert Client().get(path).status_code == 400
    assert User.objects.filter(email=NEW_EMAIL).count() == 1
    assert User.objects.get(email=NEW_EMAIL).full_name == "Nora Nurse"


def test_an_expired_link_is_refused_and_creates_nothing(world: World) -> None:
    path = _invite(world, now=timezone.now() - dt.timedelta(days=8))
    response = _join(Client(), path)
    assert response.status_code == 400
    assert "This invitation has expired" in response.content.decode()
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert StaffInvitation.objects.get().accepted_at is None


def test_a_link_whose_signature_is_too_old_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even if the row's expiry were moved, the signature's own age limit still holds.
    path = _invite(world)
    StaffInvitation.objects.update(expires_at=timezone.now() + dt.timedelta(days=365))
    later = timezone.now().timestamp() + dt.timedelta(days=30).total_seconds()
    monkeypatch.setattr(time, "time", lambda: later)  # the clock django.core.signing reads
    response = _join(Client(), path)
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not User.objects.filter(email=NEW_EMAIL).exists()


@pytest.mark.parametrize("tamper", ["swap_last", "other_nonce", "truncate"])
def test_a_tampered_link_is_refused_and_creates_nothing(world: World, tamper: str) -> None:
    path = _invite(world)
    token = path.rstrip("/").rsplit("/", 1)[1]
    if tamper == "swap_last":
        bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif tamper == "other_nonce":
        # A validly shaped token for a nonce we never issued (the signature would not match a
        # forged nonce; this is the "guessing" case).
        bad = signing.dumps("guessed-nonce", salt="wrong-salt")
    else:
        bad = token[: len(token) // 2]
    response = _join(Client(), f"/clinic/staff/join/{bad}/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert StaffInvitation.objects.get().accepted_at is None


def test_a_withdrawn_invitation_is_refused(client_for: Any, world: World) -> None:
    path = _invite(world)
    invitation = StaffInvitation.objects.get()
    response = client_for("clinic_admin").post(
        f"/clinic/staff/invitations/{invitation.pk}/revoke/", {"confirmed": "1"}
    )
    assert response.status_code == 302
    refused = _join(Client(), path)
    assert refused.status_code == 400
    assert "withdrawn" in refused.content.decode()
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    revoke = _events("staff_invitation")[-1]
    assert revoke.detail == {"email": NEW_EMAIL, "status": {"old": "open", "new": "revoked"}}
    assert NEW_EMAIL not in client_for("clinic_admin").get("/clinic/staff/").content.decode()


def test_inviting_the_same_address_again_replaces_the_earlier_link(world: World) -> None:
    first = _invite(world, role=Role.NURSE)
    second = _invite(world, role=Role.PHYSICIAN)
    assert _join(Client(), first).status_code == 400
    assert _join(Client(), second).status_code == 302
    assert User.objects.get(email=NEW_EMAIL).role == "physician"
    statuses = [e.detail.get("status") for e in _events("staff_invitation")]
    assert {"old": "open", "new": "superseded"} in statuses


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"password": "short", "password2": "short"},
            "Choose a password: This password is too short",
        ),
        ({"password2": "something-else-entirely"}, "The password again: The two passwords differ."),
        ({"full_name": "  "}, "Your name: This field is required."),
    ],
)
def test_a_refused_join_form_keeps_the_link_usable(
    world: World, data: dict[str, str], message: str
) -> None:
    path = _invite(world)
    client = Client()
    response = _join(client, path, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert _join(client, path).status_code == 302


def test_a_signed_in_visitor_is_asked_to_sign_out_first(client_for: Any, world: World) -> None:
    path = _invite(world)
    client = client_for("physician")
    page = client.get(path).content.decode()
    assert "sign out first" in page
    assert (
        client.post(
            path, {"full_name": "X", "password": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
        ).status_code
        == 200
    )
    assert not User.objects.filter(email=NEW_EMAIL).exists()


def test_an_address_that_got_an_account_meanwhile_is_refused(world: World) -> None:
    path = _invite(world)
    factories.make_user(world.clinic, Role.PATIENT, email=NEW_EMAIL)
    response = _join(Client(), path)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.get(email=NEW_EMAIL).role == "patient"


def test_another_clinics_admin_cannot_revoke_our_invitation(world: World) -> None:
    _invite(world)
    invitation = StaffInvitation.objects.get()
    other = factories.make_user(world.other_clinic, Role.CLINIC_ADMIN)
    client = Client()
    client.force_login(other)
    assert client.post(f"/clinic/staff/invitations/{invitation.pk}/revoke/").status_code == 404
    assert StaffInvitation.objects.get().revoked_at is None
