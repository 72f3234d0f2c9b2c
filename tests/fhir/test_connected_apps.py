"""A patient's connected apps: the page lists each app she authorized with what it may read,
and Disconnect (after a confirmation) ends its access at once, for her alone."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.models import FhirClient
from tests.conftest import World
from tests.fhir.test_smart_oauth import (
    CALLBACK,
    HIDDEN,
    _authorize,
    _patient_app,
    _read,
    _token_for,
)

Browser = Callable[[str], Client]
PAGE = "/me/apps/"


def _disconnect_url(app: FhirClient) -> str:
    return reverse("fhir:my_app_disconnect", kwargs={"client_id": app.pk})


@pytest.mark.django_db
def test_she_sees_her_app_and_disconnecting_ends_its_access(
    world: World, client_for: Browser
) -> None:
    app = _patient_app(world)
    alice = client_for("alice")
    token = _token_for(alice, app, "patient/Patient.read launch/patient offline_access")
    _read(f"Patient/{world.alice_patient.public_id}", token["access_token"])
    page = alice.get(PAGE).content.decode()
    assert "Pain diary app" in page
    assert "Read your Patient resources" in page
    assert "until you disconnect it" in page  # offline access: it may renew
    # The first post asks; nothing changes until she confirms.
    asked = alice.post(_disconnect_url(app))
    assert "its access ends at once" in asked.content.decode()
    assert AccessToken.objects.filter(user=world.alice).count() == 1
    done = alice.post(_disconnect_url(app), {"confirmed": "1"})
    assert done.status_code == 302
    assert not AccessToken.objects.filter(user=world.alice).exists()
    assert not RefreshToken.objects.filter(user=world.alice, revoked__isnull=True).exists()
    _read(f"Patient/{world.alice_patient.public_id}", token["access_token"], 401)
    renewed = Client().post(
        "/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.application.client_id,
        },
    )
    assert renewed.status_code == 400
    event = AuditEvent.objects.get(object_type="fhir_app_access")
    assert event.patient == world.alice_patient
    assert event.action == "delete"
    assert "No app can read your record" in alice.get(PAGE).content.decode()


@pytest.mark.django_db
def test_nobody_else_sees_or_disconnects_her_app(world: World, client_for: Browser) -> None:
    app = _patient_app(world)
    _token_for(client_for("alice"), app, "patient/*.read launch/patient")
    bob = client_for("bob")
    assert "Pain diary app" not in bob.get(PAGE).content.decode()
    before = (AccessToken.objects.count(), AuditEvent.objects.count())
    # Bob never connected it: a 404, and Alice's token stays.
    assert bob.post(_disconnect_url(app), {"confirmed": "1"}).status_code == 404
    for persona in ("front_desk", "physician", "clinic_admin"):
        staff = client_for(persona)
        assert staff.get(PAGE).status_code == 404
        assert staff.post(_disconnect_url(app), {"confirmed": "1"}).status_code == 404
    assert (AccessToken.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_the_page_costs_the_same_queries_for_one_app_or_four(
    world: World, client_for: Browser
) -> None:
    alice = client_for("alice")
    _token_for(alice, _patient_app(world), "patient/*.read launch/patient")
    with CaptureQueriesContext(connection) as one:
        assert alice.get(PAGE).status_code == 200
    for _ in range(3):
        _token_for(alice, _patient_app(world), "patient/*.read launch/patient")
    with CaptureQueriesContext(connection) as four:
        page = alice.get(PAGE)
    assert page.content.decode().count('class="card"') == 4
    assert len(four) == len(one)


@pytest.mark.django_db
def test_a_refresh_token_only_with_offline_access_and_the_page_says_which(
    world: World, client_for: Browser
) -> None:
    app = _patient_app(world)
    alice = client_for("alice")
    online = _token_for(alice, app, "patient/*.read launch/patient")
    assert "refresh_token" not in online  # she did not allow reading after she closes it
    assert not RefreshToken.objects.filter(user=world.alice).exists()
    page = alice.get(PAGE).content.decode()
    assert "until you disconnect it" not in page
    offline = _token_for(alice, app, "patient/Patient.read launch/patient offline_access")
    assert offline["refresh_token"]
    assert "until you disconnect it" in alice.get(PAGE).content.decode()


@pytest.mark.django_db
def test_the_page_lists_what_any_of_the_apps_live_tokens_may_read(
    world: World, client_for: Browser
) -> None:
    app = _patient_app(world)
    alice = client_for("alice")
    wide = _token_for(alice, app, "patient/*.read launch/patient offline_access")
    _token_for(alice, app, "patient/Patient.read")  # a later, narrower authorization
    _read("Appointment", wide["access_token"])  # the first one still reads everything
    page = alice.get(PAGE).content.decode()
    assert "Read your whole record" in page
    assert "Read your Patient resources" in page


@pytest.mark.django_db
def test_disconnecting_ends_a_code_not_yet_exchanged(world: World, client_for: Browser) -> None:
    app = _patient_app(world)
    alice = client_for("alice")
    page, verifier = _authorize(alice, app, "patient/*.read launch/patient")
    form = dict(HIDDEN.findall(page.content.decode()))
    allowed = alice.post("/oauth/authorize/", {**form, "allow": "Authorize"})
    code = parse_qs(urlparse(allowed["Location"]).query)["code"][0]
    assert alice.post(_disconnect_url(app), {"confirmed": "1"}).status_code == 302
    assert not Grant.objects.filter(user=world.alice).exists()
    exchanged = Client().post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": app.application.client_id,
            "code_verifier": verifier,
        },
    )
    assert exchanged.status_code == 400
    assert not AccessToken.objects.filter(user=world.alice).exists()
