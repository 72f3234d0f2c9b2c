from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.devdata.demo import DEMO_PASSWORD, PATIENTS, STAFF
from ketaclinic.patients.models import Patient
from tests import factories
from tests.conftest import World


def _login(client: Client, email: str, password: str) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_a_verified_user_logs_in_by_email(world: World) -> None:
    client = Client()
    response = _login(client, "nurse@example.test", factories.PASSWORD)
    # Staff are enrolled in a second factor: allauth asks for the app's code next.
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": factories.accounts.totp_code()})
    assert response.status_code == 302
    assert client.get("/home/").status_code == 200
    assert "Nursing" in client.get("/home/").content.decode()


def test_a_wrong_password_is_refused(world: World) -> None:
    client = Client()
    response = _login(client, "nurse@example.test", "wrong-password")
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert client.get("/home/").status_code == 302


@pytest.mark.django_db
def test_demo_logins_work_in_demo_mode() -> None:
    call_command("demo", "--no-history", verbosity=0)
    client = Client()
    assert _login(client, STAFF[0].email, DEMO_PASSWORD).status_code == 302
    assert client.get("/home/").status_code == 200


@pytest.mark.django_db
def test_demo_logins_are_refused_when_demo_mode_is_off() -> None:
    call_command("demo", "--no-history", verbosity=0)
    client = Client()
    with override_settings(DEMO_MODE=False):
        response = _login(client, STAFF[0].email, DEMO_PASSWORD)
        assert response.status_code == 200
        assert "Demo accounts work only on a demo server" in response.content.decode()
        assert client.get("/home/").status_code == 302


@pytest.mark.django_db
def test_an_existing_demo_session_stops_when_demo_mode_is_off() -> None:
    call_command("demo", "--no-history", verbosity=0)
    client = Client()
    _login(client, STAFF[0].email, DEMO_PASSWORD)
    assert client.get("/home/").status_code == 200
    with override_settings(DEMO_MODE=False):
        assert client.get("/home/").status_code == 302


@pytest.mark.django_db
def test_the_demo_command_refuses_outside_demo_mode() -> None:
    with override_settings(DEMO_MODE=False), pytest.raises(CommandError, match="KETACLINIC_MODE"):
        call_command("demo", "--no-history", verbosity=0)
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_the_demo_clinic_is_complete_and_loading_it_twice_keeps_the_data() -> None:
    call_command("demo", "--no-history", verbosity=0)
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {r.value for r in Role}
    assert set(Location.objects.values_list("city", "region")) == {
        ("Cleveland", "OH"),
        ("Charlotte", "NC"),
    }
    assert Chair.objects.filter(location__city="Cleveland").count() > 0
    assert Chair.objects.filter(location__city="Charlotte").count() > 0
    assert Patient.objects.count() == len(PATIENTS) == 20
    alice = Patient.objects.get(given_name="Alice")
    alice.phone = "(216) 555-0000"
    alice.save()
    counts = (User.objects.count(), Patient.objects.count(), Chair.objects.count())
    call_command("demo", "--no-history", verbosity=0)
    assert (User.objects.count(), Patient.objects.count(), Chair.objects.count()) == counts
    assert Patient.objects.get(given_name="Alice").phone == "(216) 555-0000"


def test_signup_is_closed_until_the_booking_flow_opens_it(world: World) -> None:
    before = User.objects.count()
    response = Client().post(
        "/accounts/signup/",
        {
            "email": "new@example.test",
            "password1": "a-long-password-1",
            "password2": "a-long-password-1",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    # The page says how accounts are made here instead of "Sign Up Closed".
    assert "New patients: book your first visit" in page
    assert 'href="/book/"' in page
    assert User.objects.count() == before


def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "KETACLINIC_MODE"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import ketaclinic.settings as s; print(s.DEBUG, s.MODE)"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_mode_without_a_secret_key_stops_with_a_clear_message() -> None:
    result = _settings_in_subprocess({"KETACLINIC_MODE": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_mode_without_allowed_hosts_stops_with_a_clear_message() -> None:
    result = _settings_in_subprocess({"KETACLINIC_MODE": "production", "SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_production_mode_starts_with_its_settings_and_debug_off() -> None:
    result = _settings_in_subprocess(
        {"KETACLINIC_MODE": "production", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "clinic.example"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False production"


def test_a_malformed_boolean_names_the_variable() -> None:
    result = _settings_in_subprocess({"KETACLINIC_MODE": "demo", "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG: expected true or false" in result.stderr


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    # Built from the settings' own parser on a real file: the test database may be in memory
    # (or PostgreSQL), where journal_mode cannot be WAL.
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from ketaclinic.settings import _database

    config = _database(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    wrapper = DatabaseWrapper(
        {
            **config,
            "TIME_ZONE": None,
            "AUTOCOMMIT": True,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "TEST": {},
        }
    )
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    finally:
        wrapper.close()
