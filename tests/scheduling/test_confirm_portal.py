"""The patient sees only what she can still do, with the deadline and whom to call; visits in
order (coming up soonest first, past newest first); every time in the location's zone, named."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from html import unescape
from typing import Any

from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.api import Actor
from ketaclinic.lib.when import local_text
from ketaclinic.scheduling import services
from ketaclinic.scheduling.links import link_issue
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, LinkAction
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule, setup_series
from tests.scheduling.helpers import book_first_series, some_slots

NY = zoneinfo.ZoneInfo("America/New_York")
PHONE = "216-555-0100"


def _page(client: Client) -> str:
    return unescape(client.get(reverse("scheduling:my_appointments")).content.decode())


def _cards(html: str) -> list[str]:
    return html.split('data-testid="appointment"')[1:]


def _consults(world: World, *days: float) -> list[Appointment]:
    sched = setup_schedule(world)
    world.cleveland.phone = PHONE
    world.cleveland.save()
    now = timezone.now().replace(microsecond=0)
    return [
        consultation_appointment(sched, world.alice_patient, now + dt.timedelta(days=d))
        for d in days
    ]


def test_coming_up_is_soonest_first_and_the_past_newest_first(
    world: World, client_for: Any
) -> None:
    later, sooner, old, older = _consults(world, 9, 4, -2, -6)
    Appointment.objects.filter(pk__in=[old.pk, older.pk]).update(status="completed")
    html = _page(client_for("alice"))
    coming, past = html.split("Past and cancelled")
    when = [local_text(a.start, a.location) for a in (sooner, later, old, older)]
    assert coming.index(when[0]) < coming.index(when[1])
    assert past.index(when[2]) < past.index(when[3])
    # Each time in Cleveland's zone, the zone named.
    assert re.search(r"\d:\d\d [AP]M E[SD]T", coming)


def test_before_the_cut_off_the_deadline_is_shown_with_both_actions(
    world: World, client_for: Any
) -> None:
    (a,) = _consults(world, 5)
    (card,) = _cards(_page(client_for("alice")))
    deadline = local_text(a.start - dt.timedelta(hours=24), a.location, "D j M, g:i A")
    assert f"Online changes until {deadline}; after that call {PHONE}." in card
    assert ">Reschedule<" in card
    assert ">Cancel<" in card


def test_past_the_cut_off_the_patient_is_told_to_call_and_no_action_is_offered(
    world: World, client_for: Any
) -> None:
    (a,) = _consults(world, 0.5)
    alice = client_for("alice")
    (card,) = _cards(_page(alice))
    assert "Online changes closed" in card
    assert f"call {PHONE}" in card
    assert ">Reschedule<" not in card
    assert ">Cancel<" not in card
    # The pages behind the buttons say the same instead of offering a change that would fail.
    for name in ("my_appointment_cancel", "my_appointment_reschedule"):
        html = unescape(
            alice.get(reverse(f"scheduling:{name}", args=[a.public_id])).content.decode()
        )
        assert 'data-testid="change-deadline"' in html
        assert PHONE in html
        assert 'data-testid="confirm-step"' not in html
    assert Appointment.objects.get(pk=a.pk).status == AppointmentStatus.BOOKED


def test_an_emailed_cancel_link_past_the_cut_off_shows_the_deadline_and_phone(
    world: World,
) -> None:
    (a,) = _consults(world, 0.5)
    with transaction.atomic():
        token = link_issue(
            action=LinkAction.CANCEL,
            expires_at=timezone.now() + dt.timedelta(days=1),
            appointment=a,
        )
    html = unescape(Client().get(reverse("scheduling:link_cancel", args=[token])).content.decode())
    assert "Online changes closed" in html
    assert PHONE in html
    assert 'data-testid="confirm-step"' not in html


def test_a_series_session_offers_cancel_but_never_reschedule(world: World, client_for: Any) -> None:
    sw = setup_series(world)
    world.cleveland.phone = PHONE
    world.cleveland.save()
    book_first_series(sw)
    cards = _cards(_page(client_for("alice")))
    assert len(cards) == 5
    for card in cards:
        assert ">Reschedule<" not in card
        assert ">Cancel<" in card
        assert "Part of your infusion series: to move it, call the clinic." in card


def test_the_confirmation_email_states_the_same_deadline(
    world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sched = setup_schedule(world)
    world.cleveland.phone = PHONE
    world.cleveland.save()
    slot = some_slots(sched, days_ahead=4)[0]
    with django_capture_on_commit_callbacks(execute=True):
        a = services.appointment_book(
            actor=Actor(user=world.front_desk),
            patient=world.alice_patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            provider_id=slot.provider_id,
            start=slot.start,
            online=False,
        )
    body = next(m.body for m in mail.outbox if m.to == [world.alice_patient.email])
    deadline = local_text(a.start - dt.timedelta(hours=24), a.location, "D j M, g:i A")
    assert f"Online changes until {deadline}; after that, please call {PHONE}." in body
    assert local_text(a.start, a.location, "l j F Y, g:i A") in body
    assert re.search(r"\d:\d\d [AP]M E[SD]T", str(body))
