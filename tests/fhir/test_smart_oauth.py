"""SMART on FHIR's two flows through the real authorization server (django-oauth-toolkit),
driven as a client would: a patient app (authorization code with PKCE S256) and a backend
system (client credentials), each registered for one clinic, each reading exactly what its
token allows."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.models import FhirClient
from ketaclinic.fhir.services import ClientError, fhir_client_register, fhir_client_revoke
from ketaclinic.patients.models import Patient
from tests.conftest import World
from tests.fhir.test_fhir_api import ids_of
from tests.fhir.validate import valid

CALLBACK = "https://diary-app.example/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _patient_app(world: World) -> FhirClient:
    client, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        name="Pain diary app",
        kind="patient_app",
        redirect_uris=[CALLBACK],
    )
    assert secret == ""  # a public client has none
    return client


def _authorize(
    browser: Client, app: FhirClient, scope: str, method: str = "S256", **more: str
) -> Any:
    verifier, challenge = _pkce()
    query = more | {
        "response_type": "code",
        "client_id": app.application.client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": method,
    }
    return browser.get(f"/oauth/authorize/?{urlencode(query)}"), verifier


def _token_for(browser: Client, app: FhirClient, scope: str) -> dict[str, Any]:
    page, verifier = _authorize(browser, app, scope)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pain diary app" in html
    form = dict(HIDDEN.findall(html))
    answer = browser.post("/oauth/authorize/", {**form, "allow": "Authorize"})
    assert answer.status_code == 302
    back = urlparse(answer["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    returned = parse_qs(back.query)
    assert returned["state"] == ["state-123"]
    token = Client().post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": returned["code"][0],
            "redirect_uri": CALLBACK,
            "client_id": app.application.client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.content
    body: dict[str, Any] = token.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _read(path: str, token: str, status: int = 200) -> dict[str, Any]:
    response = Client().get(f"/fhir/R4/{path}", headers=_bearer(token))
    assert response.status_code == status, (path, response.status_code, response.content[:200])
    body: dict[str, Any] = response.json()
    return valid(body)


@pytest.mark.django_db
def test_a_patient_app_reads_her_record_and_nothing_else(
    world: World, client_for: Callable[[str], Client]
) -> None:
    app = _patient_app(world)
    token = _token_for(client_for("alice"), app, "patient/*.read launch/patient")
    alice = world.alice_patient
    assert token["patient"] == str(alice.public_id)
    assert set(token["scope"].split()) == {"patient/*.read", "launch/patient"}
    access = token["access_token"]
    assert _read(f"Patient/{alice.public_id}", access)["id"] == str(alice.public_id)
    assert ids_of(_read("Patient", access)) == [str(alice.public_id)]
    _read(f"Patient/{world.bob_patient.public_id}", access, 404)
    _read(f"Patient/{world.other_patient.public_id}", access, 404)
    assert _read("Organization", access)["entry"][0]["resource"]["id"] == str(
        world.clinic.public_id
    )
    events = AuditEvent.objects.filter(object_type="fhir_read", patient=alice)
    assert events.exists()
    assert {e.actor_id for e in events} == {world.alice.pk}
    assert {e.detail["client"] for e in events} == {app.application.client_id}


@pytest.mark.django_db
def test_a_narrow_scope_reads_only_its_types(
    world: World, client_for: Callable[[str], Client]
) -> None:
    app = _patient_app(world)
    token = _token_for(client_for("bob"), app, "patient/Patient.read")
    assert "patient" not in token  # no launch/patient asked: no context given
    access = token["access_token"]
    assert ids_of(_read("Patient", access)) == [str(world.bob_patient.public_id)]
    outcome = _read("Appointment", access, 403)
    assert "Appointment" in outcome["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_only_the_clinics_patients_may_authorize_and_only_with_s256(
    world: World, client_for: Callable[[str], Client]
) -> None:
    app = _patient_app(world)
    before = AccessToken.objects.count()
    for persona in ("physician", "front_desk", "other_physician"):
        page, _ = _authorize(client_for(persona), app, "patient/*.read")
        assert page.status_code == 400
        assert "Only a patient of the clinic" in page.content.decode()
    page, _ = _authorize(client_for("alice"), app, "patient/*.read", method="plain")
    assert page.status_code == 400
    assert "S256" in page.content.decode()
    # A backend's scope is not a patient app's to ask for: the app hears invalid_scope.
    page, _ = _authorize(client_for("alice"), app, "system/*.read")
    assert page.status_code == 302
    assert parse_qs(urlparse(page["Location"]).query)["error"] == ["invalid_scope"]
    # Signed out: the sign-in page first, then back here.
    page, _ = _authorize(Client(), app, "patient/*.read")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert AccessToken.objects.count() == before


@pytest.mark.django_db
def test_she_confirms_every_authorization_whatever_the_app_asks(
    world: World, client_for: Callable[[str], Client]
) -> None:
    app = _patient_app(world)
    alice = client_for("alice")
    _token_for(alice, app, "patient/*.read launch/patient")  # she let it in once
    codes = Grant.objects.count()
    # DOT's approval_prompt=auto would skip the page for an app that holds a token: any site
    # could then send her browser here and have a code issued on a GET.
    page, _ = _authorize(alice, app, "patient/*.read launch/patient", approval_prompt="auto")
    assert page.status_code == 200
    assert "Pain diary app" in page.content.decode()
    assert Grant.objects.count() == codes


@pytest.mark.django_db
def test_a_deactivated_patients_app_is_not_renewed(
    world: World, client_for: Callable[[str], Client]
) -> None:
    app = _patient_app(world)
    token = _token_for(client_for("alice"), app, "patient/*.read launch/patient offline_access")
    User.objects.filter(pk=world.alice.pk).update(is_active=False)
    _read(f"Patient/{world.alice_patient.public_id}", token["access_token"], 401)
    tokens = AccessToken.objects.count()
    renewed = Client().post(
        "/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.application.client_id,
        },
    )
    assert renewed.status_code == 400
    assert AccessToken.objects.count() == tokens


def _backend(world: World) -> tuple[FhirClient, str]:
    return fhir_client_register(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        name="Registry export",
        kind="backend",
    )


def _client_credentials(client: FhirClient, secret: str, scope: str) -> Any:
    basic = base64.b64encode(f"{client.application.client_id}:{secret}".encode()).decode()
    return Client().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )


@pytest.mark.django_db
def test_a_backend_system_reads_its_clinic_and_no_other(world: World) -> None:
    backend, secret = _backend(world)
    assert secret
    response = _client_credentials(backend, secret, "system/*.read")
    assert response.status_code == 200
    access = response.json()["access_token"]
    ours = {str(p.public_id) for p in Patient.objects.filter(clinic=world.clinic)}
    assert set(ids_of(_read("Patient?_count=100", access))) == ours
    _read(f"Patient/{world.other_patient.public_id}", access, 404)
    events = AuditEvent.objects.filter(object_type="fhir_read", detail__client__isnull=False)
    assert {e.actor_id for e in events} == {None}
    assert {e.patient_id for e in events} == set(
        Patient.objects.filter(clinic=world.clinic).values_list("pk", flat=True)
    )
    # A wrong secret, or a patient's scope, gets no token.
    assert _client_credentials(backend, "not-the-secret", "system/*.read").status_code == 401
    assert _client_credentials(backend, secret, "patient/*.read").status_code == 400


@pytest.mark.django_db
def test_revoked_expired_or_unknown_tokens_read_nothing(world: World) -> None:
    backend, secret = _backend(world)
    access = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    _read("Patient", access)
    # Tokens are stored hashed (RFC 9700): the client's one token is found by its client.
    assert AccessToken.objects.filter(token=access).count() == 0
    AccessToken.objects.filter(application=backend.application).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )
    outcome = _read("Patient", access, 401)
    assert outcome["issue"][0]["code"] == "login"
    _read("Patient", "made-up-token", 401)
    access = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    assert fhir_client_revoke(actor=Actor(user=world.clinic_admin), client=backend) >= 1
    _read("Patient", access, 401)
    assert not FhirClient.objects.filter(pk=backend.pk).exists()


@pytest.mark.django_db
def test_registration_refuses_what_cannot_work_and_changes_nothing(world: World) -> None:
    before = FhirClient.objects.count()
    for kwargs, field in (
        ({"name": " ", "kind": "backend"}, "name"),
        ({"name": "App", "kind": "robot"}, "kind"),
        ({"name": "App", "kind": "patient_app"}, "redirect_uri"),
        ({"name": "App", "kind": "patient_app", "redirect_uris": ["ftp://x/cb"]}, "redirect_uri"),
    ):
        with pytest.raises(ClientError) as refused:
            fhir_client_register(actor=Actor(user=None), clinic=world.clinic, **kwargs)
        assert refused.value.field == field
    assert FhirClient.objects.count() == before


@pytest.mark.django_db
def test_discovery_and_metadata_name_the_endpoints(client: Client) -> None:
    config = client.get("/fhir/R4/.well-known/smart-configuration").json()
    assert config["token_endpoint"].endswith("/oauth/token/")
    assert config["authorization_endpoint"].endswith("/oauth/authorize/")
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "patient/Appointment.read" in config["scopes_supported"]
    statement = client.get("/fhir/R4/metadata").json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"] == config["token_endpoint"]
