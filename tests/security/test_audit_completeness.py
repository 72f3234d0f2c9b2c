"""Issue 15 item 9: one audit event for every page that shows patient data, one per write.

The walk goes over every route of the authorization matrix and every persona the matrix lets
open it (plus the pages behind valid emailed links, which the matrix opens only with forged
tokens). A page of one patient leaves exactly one read event naming that patient; a list or a
board leaves exactly one read event; any other page leaves none, and no GET writes anything.
Then every POST form the pages draw is sent back as the page filled it in: a submission leaves
at most one write event, never two. A few writes the walk cannot reach in a fresh world (the
discharge, the booster booking) are driven through their pages below.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.links import link_issue
from ketaclinic.scheduling.models import LinkAction, WaitlistEntry, WaitlistOffer
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule
from tests.security.walk import (
    describe,
    events_since,
    flat,
    last_event_id,
    personas_allowed,
    post_forms,
    reads,
    route_kwargs,
    url_for,
    writer_for,
    writes,
)
from tests.test_authorization_matrix import MATRIX

ONE, MANY, OWN, NONE = "one patient", "many patients", "own record", "no patient data"
# The FHIR API's searches: one event for each patient whose record the Bundle shows.
EACH = "each patient shown"

# What each route shows. ONE: one patient's record (the event names them). MANY: lists and
# boards (one event for the page). OWN: a patient's own record for patients; for staff the
# home's worklist, which lists patients by name (one event for the page, as a list).
# Every matrix route is here, so a new page must say what it shows.
SHOWS: dict[str, str] = {
    "home": OWN,
    "my_record": ONE,
    "analytics:clinic": MANY,
    "analytics:clinic_csv": MANY,
    "audit:events": MANY,
    "infusions:board_home": MANY,
    "infusions:board": MANY,
    "infusions:board_live": MANY,
    "infusions:patient_sessions": ONE,
    "infusions:session": ONE,
    "outcomes:diary_link": ONE,
    "outcomes:my_booster": ONE,
    "outcomes:my_diary": ONE,
    "outcomes:my_diary_record": ONE,
    "outcomes:my_diary_reminders": ONE,
    "outcomes:staff_booster": ONE,
    "outcomes:staff_boosters": MANY,
    "outcomes:staff_letter_pdf": ONE,
    "outcomes:staff_patient_diary": ONE,
    "outcomes:staff_patient_letters": ONE,
    "patients:list": MANY,
    "patients:detail": ONE,
    "patients:edit": ONE,
    "plans:my_plan": ONE,
    "plans:patient_plans": ONE,
    "plans:plan_detail": ONE,
    "plans:plan_edit": ONE,
    "plans:plan_new": ONE,
    "plans:plan_print": ONE,
    "plans:protocol_edit": ONE,
    "scheduling:desk_appointment": ONE,
    "scheduling:desk_book": ONE,
    "scheduling:desk_bookings": MANY,
    "scheduling:my_appointment_cancel": ONE,
    "scheduling:my_appointment_reschedule": ONE,
    "scheduling:my_appointments": ONE,
    "scheduling:plan_series": ONE,
    "scheduling:schedule": MANY,
    "scheduling:series_detail": ONE,
    **{name: ONE for name in MATRIX if name.startswith("assessments:")},
    "fhir:read": ONE,
    "fhir:search": EACH,
    # A letter's PDF, as the letters page's download.
    "fhir:binary": ONE,
    # An export's file: one event for the download (each patient in it had hers when the
    # export read the records).
    "fhir:export_file": MANY,
}
SHOWS.update({name: NONE for name in MATRIX if name not in SHOWS})

# Routes no persona opens with a 200 in the matrix (POST-only actions, forged links, redirects):
# their pages are walked elsewhere (the links below) or draw nothing.
WALKED = sorted(name for name in MATRIX if personas_allowed(name))


def _shown_patient(world: World, persona: str) -> Patient:
    # The matrix opens every one-patient page on Alice's record, a patient on their own.
    return world.bob_patient if persona == "bob" else world.alice_patient


def _names_in(body: str, world: World) -> list[str]:
    """The world's patients named on a page: by full name either way round, or record number."""
    found = []
    for p in (world.alice_patient, world.bob_patient, world.other_patient):
        shapes = (f"{p.given_name} {p.family_name}", f"{p.family_name}, {p.given_name}")
        found += [shape for shape in shapes if shape in body]
        found += [p.mrn] if re.search(rf"\b{re.escape(p.mrn)}\b", body) else []
    return found


def _check_page(
    client: Client, world: World, url: str, kind: str, persona: str, label: str
) -> None:
    mark = last_event_id()
    response = client.get(url)
    assert response.status_code == 200, (label, persona, response.status_code)
    events = events_since(mark)
    assert writes(events) == [], (label, persona, "a GET wrote", describe(events))
    shown = reads(events)
    if kind == OWN:
        kind = ONE if persona in ("alice", "bob") else MANY
    if kind == NONE:
        assert shown == [], (label, persona, describe(shown))
        if persona not in ("alice", "bob", "anonymous"):
            # A page said to show nothing of a patient must not draw one (a patient's own name
            # is in the navigation of every page they open, so only staff pages are read).
            body = response.content.decode(errors="replace")
            assert _names_in(body, world) == [], (label, persona, "shows a patient")
        return
    if kind == EACH:
        resources = [entry["resource"] for entry in response.json().get("entry", [])]
        public_ids = [r["id"] for r in resources if r["resourceType"] == "Patient"]
        expected = Patient.objects.filter(public_id__in=public_ids).values_list("pk", flat=True)
        assert sorted(e.patient_id or 0 for e in shown) == sorted(expected), (label, persona)
        assert expected, (label, persona, "the walk shows no patient")
        return
    assert len(shown) == 1, (label, persona, describe(shown))
    if kind == ONE:
        assert shown[0].patient_id == _shown_patient(world, persona).pk, (label, persona)


def test_every_route_says_what_it_shows() -> None:
    assert set(SHOWS) == set(MATRIX)


@pytest.mark.parametrize("name", WALKED)
def test_a_page_leaves_one_read_event_per_view_of_patient_data(
    client_for: Any, world: World, name: str
) -> None:
    url = url_for(name, route_kwargs(world, name))
    for persona in personas_allowed(name):
        _check_page(client_for(persona), world, url, SHOWS[name], persona, name)


@pytest.mark.parametrize("name", WALKED)
def test_each_form_sent_as_drawn_leaves_at_most_one_write_event(
    client_for: Any, world: World, name: str
) -> None:
    persona = writer_for(name)
    assert persona is not None
    client = client_for(persona)
    url = url_for(name, route_kwargs(world, name))
    first = post_forms(client.get(url), url)
    for i, form in enumerate(first):
        for j in range(len(form.submissions())):
            # Drawn again before each submission: the one before may have moved a version on.
            again = post_forms(client.get(url), url)
            if i >= len(again) or j >= len(again[i].submissions()):
                continue
            data = again[i].submissions()[j]
            mark = last_event_id()
            response = client.post(again[i].action, flat(data))
            assert response.status_code < 500, (name, again[i].action, response.status_code)
            changed = writes(events_since(mark))
            assert len(changed) <= 1, (name, again[i].action, describe(changed))


# --- pages behind emailed links -------------------------------------------------------------


def _appointment_link(world: World, action: LinkAction) -> str:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    appointment = consultation_appointment(sched, world.alice_patient, start)
    with transaction.atomic():
        token = link_issue(
            action=action, expires_at=timezone.now() + dt.timedelta(days=2), appointment=appointment
        )
    return token


def _waitlist_link(world: World) -> str:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=5)
    appointment = consultation_appointment(sched, world.alice_patient, start)
    entry = WaitlistEntry.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        location=appointment.location,
        type=appointment.type,
        appointment=appointment,
    )
    earlier = start - dt.timedelta(days=2)
    offer = WaitlistOffer.objects.create(
        entry=entry,
        provider=appointment.provider,
        location=appointment.location,
        start=earlier,
        end=earlier + (appointment.end - appointment.start),
        block_end=earlier + (appointment.block_end - appointment.start),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    with transaction.atomic():
        return link_issue(
            action=LinkAction.WAITLIST_ACCEPT, expires_at=offer.expires_at, offer=offer
        )


@pytest.mark.parametrize(
    ("route", "make_token"),
    [
        ("scheduling:link_cancel", lambda w: _appointment_link(w, LinkAction.CANCEL)),
        ("scheduling:link_reschedule", lambda w: _appointment_link(w, LinkAction.RESCHEDULE)),
        ("scheduling:link_waitlist", _waitlist_link),
    ],
)
def test_a_page_behind_an_emailed_link_leaves_one_read_event_naming_the_patient(
    world: World, route: str, make_token: Any
) -> None:
    url = url_for(route, {"token": make_token(world)})
    _check_page(Client(), world, url, ONE, "anonymous", route)
    event = AuditEvent.objects.filter(action=Action.READ).latest("pk")
    assert event.actor is None
    assert event.detail.get("via") == "link"
