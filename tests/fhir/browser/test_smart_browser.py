"""SMART on FHIR in Chromium: a patient lets an app read her record on the authorization page
(phone and desktop, no accessibility finding) and disconnects it from her connected apps, and the
clinic admin registers and revokes a backend system on the API clients page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken
from playwright.sync_api import Page, Route, expect

from ketaclinic.audit.api import Actor
from ketaclinic.fhir.models import FhirClient
from ketaclinic.fhir.services import fhir_client_register
from tests.conftest import World
from tests.fhir.test_smart_oauth import CALLBACK, _pkce, _read
from tests.plugins.axe import Audit
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("KETACLINIC_SHOTS") or Path(__file__).parents[3] / "var/screenshots")


def test_a_patient_lets_an_app_read_her_record(live_server: Any, page: Page, world: World) -> None:
    app, _ = fhir_client_register(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        name="Pain diary app",
        kind="patient_app",
        redirect_uris=[CALLBACK],
    )
    returned: list[str] = []

    def the_app(route: Route) -> None:  # the app's own page, which is not ours to serve
        returned.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Back in the app</h1>")

    page.route("https://diary-app.example/**", the_app)
    sign_in_by_cookie(page, live_server.url, world.alice)
    verifier, challenge = _pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.application.client_id,
            "redirect_uri": CALLBACK,
            "scope": "patient/*.read launch/patient",
            "state": "s-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    audit = Audit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/oauth/authorize/?{query}")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Let Pain diary app read your record?"
        )
        expect(page.get_by_test_id("scopes")).to_contain_text("Read your whole record")
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / f"smart-authorize-{size['width']}.png"), full_page=True)
    audit.check(page, "the authorization page")
    audit.assert_clean()
    page.get_by_role("button", name="Allow", exact=True).click()
    expect(page.get_by_role("heading", name="Back in the app")).to_be_visible()
    [url] = returned
    answer = parse_qs(urlparse(url).query)
    assert answer["state"] == ["s-1"]
    token = Client().post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": CALLBACK,
            "client_id": app.application.client_id,
            "code_verifier": verifier,
        },
    )
    assert token.json()["patient"] == str(world.alice_patient.public_id)
    _read(f"Patient/{world.alice_patient.public_id}", token.json()["access_token"])


def test_the_admin_registers_and_revokes_a_backend(
    live_server: Any, page: Page, world: World
) -> None:
    sign_in_by_cookie(page, live_server.url, world.clinic_admin)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/clinic/api-clients/")
    page.get_by_label("Name").fill("Registry export")
    page.get_by_label("Backend system").check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("registered")).to_contain_text("Registry export is registered")
    expect(page.get_by_test_id("secret")).not_to_be_empty()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "api-clients-390.png"), full_page=True)
    audit = Audit()
    audit.check(page, "the API clients page")
    audit.assert_clean()
    assert FhirClient.objects.filter(clinic=world.clinic).count() == 1
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke Registry export?")
    page.get_by_role("button", name="Revoke Registry export").click()
    expect(page.get_by_role("status")).to_contain_text("Registry export revoked")
    assert not FhirClient.objects.exists()


def test_a_patient_disconnects_an_app_from_her_connected_apps(
    live_server: Any, page: Page, world: World
) -> None:
    from tests.fhir.matrix_entries import _alices_app

    _alices_app(world)  # "Diary app", with a live token of hers
    sign_in_by_cookie(page, live_server.url, world.alice)
    page.goto(f"{live_server.url}/me/")
    page.get_by_role("link", name="Connected apps").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connected apps")
    expect(page.get_by_role("heading", name="Diary app")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Read your whole record")
    audit = Audit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / f"connected-apps-{size['width']}.png"), full_page=True)
    audit.check(page, "the connected apps page")
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Diary app?")
    audit.check(page, "the disconnect confirmation")
    audit.assert_clean()
    page.get_by_role("button", name="Disconnect Diary app").click()
    expect(page.get_by_role("status")).to_contain_text("Diary app is disconnected")
    expect(page.locator("main")).to_contain_text("No app can read your record")
    assert not AccessToken.objects.filter(user=world.alice).exists()
