"""Breaker probes of the paged lists (issue 17): page numbers and audit cursors typed by hand.

Every list that grows (patients, open boosters, the desk's new bookings, the clinic's staff, the
audit trail) reads its position from the query string. Whatever is typed there answers a page
of the reader's own clinic, never a server error. These held when probed; they stay as guards.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from tests.conftest import World

pytestmark = pytest.mark.django_db

LISTS = (
    ("patients:list", "physician"),
    ("outcomes:staff_boosters", "physician"),
    ("scheduling:desk_bookings", "front_desk"),
    ("clinics:staff", "clinic_admin"),
)
PAGES = ("-1", "0", "1e30", "inf", "nan", "abc", "1.5", "9" * 5000, "\u0661", "", "2\x00")


def _client(make: Any, persona: str) -> Client:
    client: Client = make(persona)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(("route", "persona"), LISTS)
def test_a_typed_page_number_shows_a_page_not_an_error(
    client_for: Any, route: str, persona: str
) -> None:
    client = _client(client_for, persona)
    for page in PAGES:
        assert client.get(reverse(route), {"page": page}).status_code == 200, page


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        "o.-99999999999999999.1.",  # before year 1
        "o.999999999999999999999.1.",  # after year 9999
        "n.253402300799999999.1.",  # the last microsecond of 9999
        "o.-62135596800000000.1.",  # the first of year 1
        "o.0.9223372036854775807.",  # the largest id
        "o.0.-5.",
        "o.0.1.99999999999999999999999999999999",  # an absurd page ordinal
        "x.0.1.",
        "o.0.1",
        "o.\u0661.1.",
    ],
)
def test_a_forged_audit_cursor_shows_the_readers_own_clinic_or_nothing(
    world: World, client_for: Any, raw: str
) -> None:
    other = AuditEvent.objects.exclude(clinic=world.clinic).exclude(clinic__isnull=True)
    admin = _client(client_for, "clinic_admin")
    response = admin.get(reverse("audit:events"), {"at": _cursor(raw)})
    assert response.status_code == 200
    rows = response.context["rows"]
    assert all(row.event.clinic_id == world.clinic.pk for row in rows)
    assert not other.filter(pk__in=[row.event.pk for row in rows]).exists()
