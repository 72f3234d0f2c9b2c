"""Breaker probes (issue 15 item 3): actions that hand someone a signature ask who is at the
keyboard, as signing does.

Resetting a colleague's second factor lets whoever knows that colleague's password enrol a new
factor and then sign as them (a physician's decisions and doses). allauth asks for the password
again before a user removes their own factor; an admin's unattended session removed a colleague's
with one click. It now asks for the password and code first, keeps the POST, and resets once
after the proof.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from ketaclinic.audit.models import Action, AuditEvent
from tests.conftest import World
from tests.factories import PASSWORD
from tests.factories.accounts import unused_totp_code
from tests.factories.sessions import signed_in_client

pytestmark = pytest.mark.django_db

REAUTH = reverse("account_reauthenticate")
CODE = reverse("mfa_reauthenticate")


def _state() -> tuple[list[tuple[int, int, str]], list[tuple[str, str]]]:
    authenticators = list(Authenticator.objects.order_by("pk").values_list("pk", "user_id", "type"))
    events = list(
        AuditEvent.objects.exclude(action=Action.READ)
        .order_by("pk")
        .values_list("action", "object_id")
    )
    return authenticators, events


def test_an_unattended_admin_session_cannot_reset_a_colleagues_second_factor(
    world: World,
) -> None:
    admin = signed_in_client(world.clinic_admin, minutes_ago=10)
    url = reverse("clinics:staff_mfa_reset", kwargs={"user_id": world.physician.pk})
    before = _state()

    # Showing the confirmation asks nothing.
    assert admin.get(url).status_code == 200
    response = admin.post(url)
    assert response.status_code == 302
    assert response["Location"] == f"{REAUTH}?next={quote(url, safe='')}"
    assert _state() == before
    assert Authenticator.objects.filter(user=world.physician).exists()

    # The admin proves the password, then the code: the kept POST resets once.
    response = admin.post(REAUTH, {"password": PASSWORD, "next": url})
    assert response["Location"] == f"{CODE}?next={quote(url, safe='')}"
    assert Authenticator.objects.filter(user=world.physician).exists()
    response = admin.post(CODE, {"code": unused_totp_code(world.clinic_admin), "next": url})
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=world.physician).exists()
    assert AuditEvent.objects.filter(action=Action.MFA_RESET).count() == 1


def test_a_recent_sign_in_resets_without_asking_again(world: World) -> None:
    admin = signed_in_client(world.clinic_admin)
    url = reverse("clinics:staff_mfa_reset", kwargs={"user_id": world.nurse.pk})
    response = admin.post(url)
    assert response["Location"] == f"/clinic/staff/{world.nurse.pk}/"
    assert not Authenticator.objects.filter(user=world.nurse).exists()
