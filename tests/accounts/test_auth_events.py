"""Authentication events in the audit trail (issue 15 item 4), each with the client's address,
and passwords of at least 12 characters wherever one is chosen (item 10)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action, AuditEvent
from tests import factories
from tests.accounts.test_invitations import _invite, _join
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.scheduling.helpers import some_slots

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"
NEW_PASSWORD = "an-other-long-passphrase"
ELEVEN = "kx7-qp2-mw9"  # 11 characters, not common, not numeric: refused only for its length


def _client() -> Client:
    return Client(REMOTE_ADDR=ADDRESS)


def _sign_in(client: Client, email: str, password: str) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _events(*actions: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__in=actions).order_by("id"))


def _as_text(event: AuditEvent) -> str:
    """Every stored field of an event, to search for what must not be there."""
    return " ".join(
        str(v)
        for v in (
            event.actor_id,
            event.actor_role,
            event.object_type,
            event.object_id,
            event.ip_address,
            json.dumps(event.detail),
        )
    )


def test_a_sign_in_is_audited_with_the_address(world: World) -> None:
    client = _client()
    assert _sign_in(client, world.alice.email, factories.PASSWORD).status_code == 302
    (event,) = _events(Action.LOGIN)
    assert (event.actor_id, event.object_type, event.object_id, event.clinic_id) == (
        world.alice.pk,
        "user",
        str(world.alice.pk),
        world.clinic.pk,
    )
    assert event.ip_address == ADDRESS


def test_a_staff_password_alone_is_not_yet_a_sign_in(world: World) -> None:
    # The session is made after the second factor, so the event is written then, not now.
    client = _client()
    response = _sign_in(client, world.physician.email, factories.PASSWORD)
    assert response.status_code == 302
    assert response["Location"] != "/home/"
    assert _events(Action.LOGIN) == []


def test_a_wrong_password_names_the_account_and_never_the_password(world: World) -> None:
    client = _client()
    response = _sign_in(client, world.nurse.email, "Wrong-Guess-4711")
    assert response.status_code == 200
    (event,) = _events(Action.LOGIN_REFUSED)
    assert (event.actor_id, event.object_id, event.clinic_id, event.ip_address) == (
        None,
        str(world.nurse.pk),
        world.clinic.pk,
        ADDRESS,
    )
    assert event.detail == {"known_account": True}
    assert "Wrong-Guess-4711" not in _as_text(event)
    assert _events(Action.LOGIN) == []


def test_an_unknown_email_leaves_nothing_identifying(world: World) -> None:
    client = _client()
    _sign_in(client, "someones.typo@example.test", "Wrong-Guess-4711")
    (event,) = _events(Action.LOGIN_REFUSED)
    assert (event.actor_id, event.object_id, event.clinic_id, event.patient_id) == (
        None,
        "",
        None,
        None,
    )
    assert event.detail == {"known_account": False}
    text = _as_text(event)
    assert "typo" not in text
    assert "Wrong-Guess" not in text


def test_a_sign_out_is_audited_once(world: World) -> None:
    client = _client()
    _sign_in(client, world.alice.email, factories.PASSWORD)
    assert client.post(reverse("account_logout")).status_code == 302
    (event,) = _events(Action.LOGOUT)
    assert (event.actor_id, event.object_id, event.ip_address) == (
        world.alice.pk,
        str(world.alice.pk),
        ADDRESS,
    )
    # Nobody signed in: signing out again writes nothing.
    client.post(reverse("account_logout"))
    assert len(_events(Action.LOGOUT)) == 1


def test_a_password_change_is_audited_and_needs_12_characters(world: World) -> None:
    client = _client()
    _sign_in(client, world.alice.email, factories.PASSWORD)
    url = reverse("account_change_password")
    response = client.post(
        url, {"oldpassword": factories.PASSWORD, "password1": ELEVEN, "password2": ELEVEN}
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert _events(Action.PASSWORD_CHANGE) == []
    response = client.post(
        url,
        {"oldpassword": factories.PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    (event,) = _events(Action.PASSWORD_CHANGE)
    assert (event.actor_id, event.object_id, event.ip_address) == (
        world.alice.pk,
        str(world.alice.pk),
        ADDRESS,
    )
    world.alice.refresh_from_db()
    assert world.alice.check_password(NEW_PASSWORD)


def test_a_password_reset_is_audited_and_needs_12_characters(world: World) -> None:
    client = _client()
    mail.outbox.clear()
    client.post(reverse("account_reset_password"), {"email": world.alice.email})
    (message,) = mail.outbox
    # Links in emails start with SITE_URL, whatever host the request came in on.
    match = re.search(
        re.escape(settings.SITE_URL) + r"(/accounts/password/reset/key/\S+/)", str(message.body)
    )
    assert match is not None, message.body
    form_url = client.get(match.group(1))["Location"]  # allauth swaps the key for a session
    response = client.post(form_url, {"password1": ELEVEN, "password2": ELEVEN})
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert _events(Action.PASSWORD_RESET) == []
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    (event,) = _events(Action.PASSWORD_RESET)
    assert (event.actor_id, event.object_id, event.clinic_id, event.ip_address) == (
        world.alice.pk,
        str(world.alice.pk),
        world.clinic.pk,
        ADDRESS,
    )
    world.alice.refresh_from_db()
    assert world.alice.check_password(NEW_PASSWORD)


def test_the_invitation_join_form_needs_12_characters(world: World) -> None:
    path = _invite(world)
    response = _join(Client(), path, password=ELEVEN, password2=ELEVEN)
    assert response.status_code in (200, 422)
    assert "at least 12 characters" in response.content.decode()
    assert not User.objects.filter(email="nora.nurse@example.test").exists()


def test_booking_sign_up_needs_12_characters(world: World) -> None:
    sched: Sched = setup_schedule(world)
    client = _client()
    slot = some_slots(sched)[2]
    client.post(reverse("scheduling:book_slots", args=[world.cleveland.pk]), {"slot": slot.key})
    client.post(
        reverse("scheduling:book_details"),
        {
            "given_name": "Nora",
            "family_name": "New",
            "date_of_birth": "1980-05-06",
            "sex": "female",
            "phone": "555-0100",
        },
    )
    response = client.post(
        reverse("account_signup"),
        {"email": "nora@example.test", "password1": ELEVEN, "password2": ELEVEN},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert not User.objects.filter(email="nora@example.test").exists()
