"""The emailed diary link: it records exactly one entry (that patient, that day, that
instrument), once, for 48 hours; anything else is refused clearly and saves nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.diary import links, services
from ketaclinic.outcomes.models import DiaryEntry, DiaryLink
from tests.clock import today
from tests.conftest import World
from tests.outcomes.helpers import snapshot


def _link(world: World, *, instrument: str = "nrs", day: dt.date | None = None, **kw: Any) -> str:
    with transaction.atomic():
        return links.diary_link_issue(
            patient=world.alice_patient,
            instrument=instrument,
            entry_date=day or today(),
            **kw,
        )


def _url(token: str) -> str:
    return reverse("outcomes:diary_link", args=[token])


def test_the_link_records_that_one_entry_without_logging_in(
    diary_world: World, client: Client
) -> None:
    day = today() - dt.timedelta(days=1)
    token = _link(diary_world, day=day)
    page = client.get(_url(token))
    assert page.status_code == 200
    assert f"{day:%A} {day.day} {day:%B}" in page.content.decode()
    response = client.post(_url(token), {"pain": "4", "note": "Better"})
    assert response.status_code == 200
    assert "Thank you, it is saved" in response.content.decode()
    entry = DiaryEntry.objects.get()
    assert (entry.patient, entry.instrument, entry.entry_date, entry.score, entry.source) == (
        diary_world.alice_patient,
        "nrs",
        day,
        4.0,
        "link",
    )
    assert entry.recorded_by is None
    assert DiaryLink.objects.get().used_at is not None
    event = AuditEvent.objects.get(object_type="diary_entry")
    assert (event.action, event.actor_id, event.detail["via_link"]) == ("create", None, True)


def test_a_peg_link_asks_the_three_peg_questions(diary_world: World, client: Client) -> None:
    token = _link(diary_world, instrument="peg")
    page = client.get(_url(token)).content.decode()
    for key in ("pain", "enjoyment", "general_activity"):
        assert f'data-testid="item-{key}"' in page
    client.post(_url(token), {"pain": "6", "enjoyment": "5", "general_activity": "4"})
    assert DiaryEntry.objects.get().score == 5.0


def test_a_used_link_is_refused_and_changes_nothing(diary_world: World, client: Client) -> None:
    token = _link(diary_world)
    client.post(_url(token), {"pain": "4"})
    before = snapshot()
    response = client.post(_url(token), {"pain": "9"})
    assert response.status_code == 400
    assert "already been used" in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert snapshot() == before
    assert client.get(_url(token)).status_code == 400


def test_an_expired_link_is_refused_and_changes_nothing(diary_world: World, client: Client) -> None:
    token = _link(diary_world, now=timezone.now() - dt.timedelta(hours=49))
    before = snapshot()
    response = client.post(_url(token), {"pain": "4"})
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert snapshot() == before
    assert DiaryLink.objects.get().used_at is None


def test_a_link_expires_at_48_hours(diary_world: World) -> None:
    _link(diary_world)
    link = DiaryLink.objects.get()
    lifetime = link.expires_at - link.created_at
    assert abs(lifetime - dt.timedelta(hours=48)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(":")[0] + ":" + "x" * 27,
        lambda t: signing.dumps("guessed-nonce", salt=links.SALT + ".other"),
        lambda t: "not-a-token",
    ],
    ids=["signature-edited", "signature-replaced", "other-salt", "garbage"],
)
def test_a_tampered_link_is_refused_and_changes_nothing(
    diary_world: World, client: Client, tamper: Any
) -> None:
    token = _link(diary_world)
    before = snapshot()
    response = client.post(_url(tamper(token)), {"pain": "4"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert snapshot() == before


def test_a_purged_link_is_refused(diary_world: World, client: Client) -> None:
    token = _link(diary_world)
    DiaryLink.objects.all().delete()
    response = client.post(_url(token), {"pain": "4"})
    assert response.status_code == 400
    assert "no longer works" in response.content.decode()
    assert DiaryEntry.objects.count() == 0


def test_the_link_ignores_a_posted_day_instrument_or_patient(
    diary_world: World, client: Client
) -> None:
    token = _link(diary_world)
    client.post(
        _url(token),
        {
            "pain": "4",
            "entry_date": (today() - dt.timedelta(days=5)).isoformat(),
            "instrument": "pgic",
            "patient": str(diary_world.bob_patient.public_id),
        },
    )
    entry = DiaryEntry.objects.get()
    assert (entry.patient, entry.instrument, entry.entry_date) == (
        diary_world.alice_patient,
        "nrs",
        today(),
    )


def test_another_signed_in_patient_cannot_use_alices_link(
    diary_world: World, client_for: Any
) -> None:
    token = _link(diary_world)
    before = snapshot()
    bob = client_for("bob")
    assert bob.get(_url(token)).status_code == 400
    response = bob.post(_url(token), {"pain": "4"})
    assert response.status_code == 400
    assert "emailed to someone else" in response.content.decode()
    assert snapshot() == before
    # The link still works for Alice.
    assert client_for("alice").post(_url(token), {"pain": "4"}).status_code == 200
    assert DiaryEntry.objects.get().recorded_by == diary_world.alice


def test_a_bad_answer_through_the_link_leaves_the_link_usable(
    diary_world: World, client: Client
) -> None:
    token = _link(diary_world)
    before = snapshot()
    response = client.post(_url(token), {"pain": "11"})
    assert response.status_code == 422
    assert "Pain: must be at least 0 and at most 10, not 11" in response.content.decode()
    assert snapshot() == before
    assert client.post(_url(token), {"pain": "3"}).status_code == 200
    assert DiaryEntry.objects.get().score == 3.0


def test_a_link_for_a_day_before_registration_saves_nothing(world: World, client: Client) -> None:
    # Alice registered just now (no back-dating): a link for last week names a day before it.
    token = _link(world, day=today() - dt.timedelta(days=7))
    before = snapshot()
    response = client.post(_url(token), {"pain": "3"})
    assert response.status_code == 422
    assert "before you joined the clinic" in response.content.decode()
    assert snapshot() == before


def test_two_submits_at_once_record_one_entry(diary_world: World) -> None:
    _link(diary_world)
    first = DiaryLink.objects.get()
    second = DiaryLink.objects.get()
    with transaction.atomic():
        links.diary_link_consume(first)
    with pytest.raises(links.LinkError, match="already been used"):
        links.diary_link_consume(second)


def test_spent_links_are_purged_after_the_retention_period(diary_world: World) -> None:
    old = timezone.now() - dt.timedelta(days=40)
    _link(diary_world, now=old)
    _link(diary_world)
    assert links.diary_links_purge(older_than=dt.timedelta(days=30)) == 1
    assert DiaryLink.objects.count() == 1
    event = AuditEvent.objects.get(object_type="diary_link_purge")
    assert event.detail["deleted"] == 1
    assert links.diary_links_purge(older_than=dt.timedelta(days=30)) == 0


def test_the_service_refuses_a_link_that_names_another_entry(diary_world: World) -> None:
    _link(diary_world)
    link = DiaryLink.objects.get()
    before = snapshot()
    for patient, instrument, day in (
        (diary_world.bob_patient, "nrs", today()),
        (diary_world.alice_patient, "peg", today()),
        (diary_world.alice_patient, "nrs", today() - dt.timedelta(days=1)),
    ):
        with pytest.raises(ValidationError) as refused:
            services.diary_entry_record(
                actor=Actor(user=None),
                patient=patient,
                instrument=instrument,
                entry_date=day,
                answers={"pain": 4} if instrument == "nrs" else {},
                link=link,
            )
        assert list(refused.value.message_dict) == ["link"]
    assert snapshot() == before
