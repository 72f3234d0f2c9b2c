"""Breaker probe (issue 15 item 1): the operators' Django admin is no way around the second
factor.

allauth's own admin for authenticators showed every staff member's authenticator-app key in clear
and let an operator add one for anyone, unaudited: a copy of a physician's key and their password
would sign as them. The admin now lists factors without their data, adds and edits nothing, and a
removal (the operator's way to help a clinic's only admin who lost their phone) is audited.
"""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action, AuditEvent
from tests.conftest import World
from tests.factories.accounts import TOTP_SECRET, make_user
from tests.factories.sessions import signed_in_client

pytestmark = pytest.mark.django_db

BASE = "/operator/mfa/authenticator/"


def _operator() -> tuple[User, Client]:
    operator = make_user(None, "", is_staff=True, is_superuser=True, mfa=True)
    return operator, signed_in_client(operator)


def _state() -> tuple[list[tuple[int, int, str, object]], int]:
    rows = list(Authenticator.objects.order_by("pk").values_list("pk", "user_id", "type", "data"))
    return rows, AuditEvent.objects.exclude(action=Action.READ).count()


def test_the_operator_sees_who_has_a_factor_but_never_the_key(world: World) -> None:
    _, client = _operator()
    totp = Authenticator.objects.get(user=world.physician, type=Authenticator.Type.TOTP)
    listing = client.get(BASE)
    assert listing.status_code == 200
    page = client.get(f"{BASE}{totp.pk}/change/")
    assert page.status_code == 200
    for response in (listing, page):
        text = response.content.decode()
        assert TOTP_SECRET not in text
        assert '"secret"' not in text
        assert "&quot;secret&quot;" not in text


def test_the_operator_can_neither_add_nor_edit_a_factor(world: World) -> None:
    _, client = _operator()
    totp = Authenticator.objects.get(user=world.physician, type=Authenticator.Type.TOTP)
    before = _state()
    assert client.get(f"{BASE}add/").status_code == 403
    posted = {"user": str(world.physician.pk), "type": "totp", "data": '{"secret": "AAAA"}'}
    assert client.post(f"{BASE}add/", posted).status_code == 403
    client.post(f"{BASE}{totp.pk}/change/", posted)
    assert _state() == before


def test_removing_a_factor_in_the_admin_is_audited(world: World) -> None:
    operator, client = _operator()
    totp = Authenticator.objects.get(user=world.clinic_admin, type=Authenticator.Type.TOTP)
    response = client.post(f"{BASE}{totp.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=totp.pk).exists()
    (event,) = AuditEvent.objects.filter(action=Action.MFA_RESET)
    assert (event.actor_id, event.object_id, event.clinic_id) == (
        operator.pk,
        str(world.clinic_admin.pk),
        world.clinic.pk,
    )
    assert event.detail == {
        "via": "operator admin",
        "authenticators": [{"id": totp.pk, "type": "totp"}],
    }
    assert event.ip_address == "127.0.0.1"
