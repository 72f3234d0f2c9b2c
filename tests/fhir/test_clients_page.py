"""The clinic admin's page of FHIR API clients: register (a backend's secret shown once),
refuse what cannot work naming the field, revoke after a confirmation; nobody else may."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.models import FhirClient
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.lib.confirm import CONFIRMED
from tests.conftest import World
from tests.fhir.test_smart_oauth import _client_credentials, _read

PAGE = "/clinic/api-clients/"


@pytest.mark.django_db
def test_the_admin_registers_a_backend_and_sees_its_secret_once(
    world: World, client_for: Callable[[str], Client]
) -> None:
    admin = client_for("clinic_admin")
    assert admin.get(PAGE).status_code == 200
    response = admin.post(PAGE, {"name": "Registry export", "kind": "backend"})
    assert response.status_code == 201
    body = response.content.decode()
    client = FhirClient.objects.get(clinic=world.clinic)
    secret = body.split('data-testid="secret">', 1)[1].split("<", 1)[0]
    assert client.application.client_id in body
    assert secret not in admin.get(PAGE).content.decode()  # shown once
    token = _client_credentials(client, secret, "system/Patient.read").json()["access_token"]
    _read("Patient", token)
    event = AuditEvent.objects.get(object_type="fhir_client", action="create")
    assert event.actor_id == world.clinic_admin.pk
    assert secret not in str(event.detail)


@pytest.mark.django_db
def test_what_cannot_work_is_refused_naming_the_field(
    world: World, client_for: Callable[[str], Client]
) -> None:
    admin = client_for("clinic_admin")
    for data, words in (
        ({"name": "Diary app", "kind": "patient_app"}, "A patient app needs its redirect"),
        (
            {"name": "Export", "kind": "backend", "redirect_uri": "https://x.example/cb"},
            "A backend system has no redirect",
        ),
        ({"name": "", "kind": "backend"}, "Name"),
        ({"name": "App", "kind": "robot"}, "Select a valid choice"),
        (
            {"name": "App", "kind": "patient_app", "redirect_uri": "not an address"},
            "Redirect address",
        ),
    ):
        response = admin.post(PAGE, data)
        assert response.status_code == 422, data
        assert words in response.content.decode(), data
    assert not FhirClient.objects.exists()


@pytest.mark.django_db
def test_revoking_asks_first_then_stops_every_token(
    world: World, client_for: Callable[[str], Client]
) -> None:
    client, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Export", kind="backend"
    )
    token = _client_credentials(client, secret, "system/*.read").json()["access_token"]
    admin = client_for("clinic_admin")
    url = f"{PAGE}{client.pk}/revoke/"
    asked = admin.post(url)
    assert asked.status_code == 200
    assert "Revoke Export?" in asked.content.decode()
    assert FhirClient.objects.filter(pk=client.pk).exists()
    _read("Patient", token)
    done = admin.post(url, {CONFIRMED: "1"})
    assert done.status_code == 302
    assert not FhirClient.objects.filter(pk=client.pk).exists()
    _read("Patient", token, 401)


@pytest.mark.django_db
def test_nobody_else_registers_or_revokes(
    world: World, client_for: Callable[[str], Client]
) -> None:
    theirs, _ = fhir_client_register(
        actor=Actor(user=None), clinic=world.other_clinic, name="Theirs", kind="backend"
    )
    for persona in ("physician", "nurse", "front_desk", "alice", "other_physician"):
        browser = client_for(persona)
        assert browser.post(PAGE, {"name": "Mine", "kind": "backend"}).status_code == 404
        assert browser.post(f"{PAGE}{theirs.pk}/revoke/", {CONFIRMED: "1"}).status_code == 404
    # Our admin cannot revoke another clinic's client either.
    admin = client_for("clinic_admin")
    assert admin.post(f"{PAGE}{theirs.pk}/revoke/", {CONFIRMED: "1"}).status_code == 404
    assert list(FhirClient.objects.values_list("pk", flat=True)) == [theirs.pk]
