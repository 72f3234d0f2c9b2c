"""The shell around the apps: health check, role homes and the navigation's current item."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests import factories
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _current_nav_items(page: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]*)</a>', page)


def test_the_health_check_answers_without_a_log_in(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_front_desk_home_searches_and_registers_patients(client_for: Any, world: World) -> None:
    page = client_for("front_desk").get("/home/").content.decode()
    assert 'action="/staff/patients/"' in page
    assert 'href="/staff/patients/new/"' in page


def test_the_clinic_admin_home_opens_the_audit_trail_and_the_patients(
    client_for: Any, world: World
) -> None:
    page = client_for("clinic_admin").get("/home/").content.decode()
    assert 'href="/clinic/audit/"' in page
    assert 'href="/staff/patients/"' in page


def test_an_account_without_a_clinic_role_gets_the_empty_home(world: World) -> None:
    client = Client()
    client.force_login(factories.make_user(None, ""))
    response = client.get("/home/")
    assert response.status_code == 200
    assert "Your account is not linked to a clinic yet" in response.content.decode()
    assert _current_nav_items(response.content.decode()) == []


def test_the_navigation_marks_the_longest_matching_item_as_current(
    client_for: Any, world: World
) -> None:
    # /me/diary/ starts with /me/ ("My details") too: the longer match wins.
    assert _current_nav_items(client_for("alice").get("/me/diary/").content.decode()) == [
        "My pain diary"
    ]
    assert _current_nav_items(client_for("alice").get("/me/").content.decode()) == ["My details"]
    chart = client_for("nurse").get(f"/staff/patients/{world.alice_patient.public_id}/")
    assert _current_nav_items(chart.content.decode()) == ["Patients"]
