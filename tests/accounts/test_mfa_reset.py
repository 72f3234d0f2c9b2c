"""A clinic admin resets a colleague's second factor (a lost phone): asked first, one audited
transaction, only in their own clinic, never their own; and the audit events of a user's own
enrolment and removal (issue 15 item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from ketaclinic.accounts import services
from ketaclinic.accounts.models import Role
from ketaclinic.audit.models import Action, AuditEvent
from tests import factories
from tests.conftest import World
from tests.factories.accounts import totp_code
from tests.factories.sessions import signed_in_client


def _reset_url(user_id: int) -> str:
    return reverse("clinics:staff_mfa_reset", kwargs={"user_id": user_id})


def _state() -> tuple[list[tuple[int, int, str]], list[tuple[str, str]]]:
    """Every authenticator, and every audit event but reads: what a refusal must leave as is."""
    authenticators = list(Authenticator.objects.order_by("pk").values_list("pk", "user_id", "type"))
    events = list(
        AuditEvent.objects.exclude(action=Action.READ)
        .order_by("pk")
        .values_list("action", "object_id")
    )
    return authenticators, events


def test_the_staff_page_shows_the_factor_and_offers_the_reset(
    client_for: Any, world: World
) -> None:
    page = client_for("clinic_admin").get(f"/clinic/staff/{world.nurse.pk}/").content.decode()
    assert "Signs in with a password and: Authenticator app." in page
    assert _reset_url(world.nurse.pk) in page
    own = client_for("clinic_admin").get(f"/clinic/staff/{world.clinic_admin.pk}/")
    assert _reset_url(world.clinic_admin.pk) not in own.content.decode()


def test_the_reset_asks_first_then_removes_every_factor_in_one_audited_write(
    client_for: Any, world: World
) -> None:
    admin = client_for("clinic_admin")
    nurse_ids = sorted(Authenticator.objects.filter(user=world.nurse).values_list("pk", flat=True))
    before = _state()
    confirm = admin.get(_reset_url(world.nurse.pk))
    assert confirm.status_code == 200
    assert "Reset Nina Nurse's second factor?" in confirm.content.decode()
    assert _state() == before  # asking changes nothing
    response = admin.post(_reset_url(world.nurse.pk))
    assert response["Location"] == f"/clinic/staff/{world.nurse.pk}/"
    assert not Authenticator.objects.filter(user=world.nurse).exists()
    # Other people's factors are untouched.
    assert Authenticator.objects.filter(user=world.physician).count() == 2
    (event,) = AuditEvent.objects.filter(action=Action.MFA_RESET)
    assert event.actor == world.clinic_admin
    assert (event.object_type, event.object_id) == ("user", str(world.nurse.pk))
    assert event.clinic_id == world.clinic.pk
    assert event.ip_address == "127.0.0.1"
    assert sorted(a["id"] for a in event.detail["authenticators"]) == nurse_ids
    assert {a["type"] for a in event.detail["authenticators"]} == {"totp", "recovery_codes"}
    # The colleague, still signed in, must enrol again on their next page.
    assert signed_in_client(world.nurse).get("/home/")["Location"] == "/accounts/2fa/"


@pytest.mark.parametrize("persona", ["front_desk", "nurse", "physician", "other_physician"])
def test_only_an_admin_of_the_clinic_may_reset(client_for: Any, world: World, persona: str) -> None:
    client = client_for(persona)
    before = _state()
    assert client.get(_reset_url(world.nurse.pk)).status_code == 404
    assert client.post(_reset_url(world.nurse.pk)).status_code == 404
    assert _state() == before


def test_another_clinics_staff_are_not_found(client_for: Any, world: World) -> None:
    admin = client_for("clinic_admin")
    before = _state()
    url = _reset_url(world.other_physician.pk)
    assert admin.get(url).status_code == 404
    assert admin.post(url).status_code == 404
    assert _state() == before
    with pytest.raises(Http404):
        services.staff_mfa_reset(
            actor=factories.actor(world.clinic_admin), user_id=world.other_physician.pk
        )
    # Patients are not staff: not found either.
    assert admin.post(_reset_url(world.alice.pk)).status_code == 404
    assert _state() == before


def test_an_admin_cannot_reset_their_own(client_for: Any, world: World) -> None:
    admin = client_for("clinic_admin")
    before = _state()
    response = admin.post(_reset_url(world.clinic_admin.pk), follow=True)
    assert "You cannot reset your own second factor here" in response.content.decode()
    assert _state() == before
    with pytest.raises(ValidationError, match="your own second factor"):
        services.staff_mfa_reset(
            actor=factories.actor(world.clinic_admin), user_id=world.clinic_admin.pk
        )
    assert _state() == before


def test_a_colleague_without_a_factor_has_nothing_to_reset(world: World) -> None:
    fresh = factories.make_user(world.clinic, Role.NURSE, mfa=False)
    before = _state()
    with pytest.raises(ValidationError, match="has no second factor to reset"):
        services.staff_mfa_reset(actor=factories.actor(world.clinic_admin), user_id=fresh.pk)
    assert _state() == before


# --- the user's own enrolment and removal ------------------------------------------------------


def test_enrolment_and_removal_are_audited_with_the_address(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    alice = signed_in_client(world.alice)
    alice.post("/accounts/reauthenticate/", {"password": factories.PASSWORD})
    page = alice.get("/accounts/2fa/totp/activate/").content.decode()
    secret = factories.accounts.otpauth_secret(page)
    with django_capture_on_commit_callbacks(execute=True):
        alice.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    added = list(AuditEvent.objects.filter(action=Action.MFA_ENROL).order_by("pk"))
    assert [e.detail["type"] for e in added] == ["totp", "recovery_codes"]
    for event in added:
        assert (event.actor, event.ip_address, event.clinic_id) == (
            world.alice,
            "127.0.0.1",
            world.clinic.pk,
        )
        assert event.object_type == "authenticator"
    with django_capture_on_commit_callbacks(execute=True):
        alice.post("/accounts/2fa/recovery-codes/generate/")
    regenerated = AuditEvent.objects.filter(action=Action.MFA_ENROL).order_by("pk").last()
    assert regenerated is not None
    assert regenerated.detail == {
        "user": world.alice.pk,
        "type": "recovery_codes",
        "regenerated": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        alice.post("/accounts/2fa/totp/deactivate/")
    assert not Authenticator.objects.filter(user=world.alice).exists()
    removed = list(AuditEvent.objects.filter(action=Action.MFA_REMOVE).order_by("pk"))
    assert [e.detail["type"] for e in removed] == ["totp", "recovery_codes"]
    assert {(e.actor, e.ip_address) for e in removed} == {(world.alice, "127.0.0.1")}


def test_staff_cannot_switch_off_their_only_factor(world: World) -> None:
    nurse = signed_in_client(world.nurse)
    nurse.post("/accounts/reauthenticate/", {"password": factories.PASSWORD})
    before = _state()
    response = nurse.post("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 200
    assert "Clinic staff must keep a second factor" in response.content.decode()
    assert _state() == before
