"""No page's number of queries grows with the data behind it.

Every page of the authorization matrix (``tests/test_authorization_matrix.py``), as every
persona it answers 200 to, is asked twice: in a small world (the personas plus 3 of each kind of
record) and after growing it to 40 of each. The records are those a clinic piles up: seeded
patients with their consultations, plans, series, infusion appointments, sessions, adverse
events, diaries, stored results and audit events (``ketaclinic.devdata.seeding``), and for the
personas' own pages Alice's diary days and appointments, today's appointments at Cleveland and
open booster suggestions. A page whose count differs has a query per row somewhere (an N+1), or
lists everything where it should page.

One test walks every page (building the two worlds once, not once a page); its failure lists
every page that is not flat, with both counts. Each page is asked once before it is counted, so
the first visit's own work (a session touched, a cache filled) is not counted as growth.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketaclinic.devdata.seeding import seed_clinic
from ketaclinic.outcomes.models import (
    NRS_LOINC,
    BoosterSuggestion,
    DiaryEntry,
    EntrySource,
    Instrument,
)
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
)
from tests.authz import OK
from tests.clock import today
from tests.conftest import PERSONAS, World
from tests.test_authorization_matrix import MATRIX

SMALL, LARGE = 3, 40
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _consultation_type(world: World) -> AppointmentType:
    found = AppointmentType.objects.filter(
        clinic=world.clinic, kind=AppointmentKind.CONSULTATION
    ).first()
    return found or AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.CONSULTATION,
        name="Follow-up consultation",
        duration_min=15,
    )


def grow(world: World, count: int, *, first: int, seed: int) -> None:
    """Add ``count`` of each kind of record (numbered from ``first``, so growing twice never
    collides)."""
    seed_clinic(
        clinic=world.clinic,
        patients=count,
        years=1.0,
        seed=seed,
        today=today(),
        nurses=[world.nurse],
        audit_per_patient=5,
    )
    new = list(Patient.objects.filter(clinic=world.clinic, mrn__startswith=f"S{seed}-"))
    kind = _consultation_type(world)
    day = dt.timedelta(days=1)
    alice = world.alice_patient
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            clinic=world.clinic,
            patient=alice,
            instrument=Instrument.NRS,
            entry_date=today() - (400 + first + n) * day,
            answers={"pain": 5},
            score=5.0,
            loinc=NRS_LOINC,
            source=EntrySource.PORTAL,
        )
        for n in range(count)
    )
    morning = dt.datetime.combine(today(), dt.time(8, 0), tzinfo=NEW_YORK)
    quarter = dt.timedelta(minutes=15)
    appointments = [
        # Alice's past visits, one a day.
        Appointment(
            clinic=world.clinic,
            location=world.cleveland,
            provider=world.physician,
            patient=alice,
            type=kind,
            start=morning - (400 + first + n) * day,
            end=morning - (400 + first + n) * day + quarter,
            block_end=morning - (400 + first + n) * day + quarter,
            status=AppointmentStatus.COMPLETED,
        )
        for n in range(count)
    ] + [
        # Today's day at Cleveland: one new patient every quarter of an hour from 8:00.
        Appointment(
            clinic=world.clinic,
            location=world.cleveland,
            provider=world.physician,
            patient=patient,
            type=kind,
            start=morning + (first + n) * quarter,
            end=morning + (first + n + 1) * quarter,
            block_end=morning + (first + n + 1) * quarter,
        )
        for n, patient in enumerate(new)
    ]
    Appointment.objects.bulk_create(appointments)
    BoosterSuggestion.objects.bulk_create(
        BoosterSuggestion(
            clinic=world.clinic,
            patient=patient,
            series_end=today() - 40 * day,
            relapse_date=today() - 5 * day,
            baseline=8.0,
            window_means={},
            source="test",
        )
        for patient in new
    )


# Pages whose content shows the growth (more table rows or list items), so the test is known
# to have reached the data it grew.
SHOWS_GROWTH = (
    ("patients:list", "physician"),
    ("audit:events", "clinic_admin"),
    ("outcomes:staff_boosters", "physician"),
    ("outcomes:my_diary", "alice"),
    ("scheduling:my_appointments", "alice"),
)


def _measure(
    world: World, clients: dict[str, Client], rows: dict[tuple[str, str], int]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(status, queries) of every page the matrix says answers a persona 200, as that persona.

    Each route's records (an open suggestion, a letter, a link...) are made, used and rolled
    back in a savepoint of their own: the matrix's factories expect a world of their own, and
    two of them in one world may ask for the same unique name.
    """
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for name, (expected, kwargs_of) in MATRIX.items():
        openers = [p for column, p in enumerate(PERSONAS) if expected[column] == OK]
        if not openers:
            continue
        savepoint = transaction.savepoint()
        try:
            kwargs = kwargs_of(world) if kwargs_of else {}
            url = reverse(name, kwargs=kwargs or None)
            for persona in openers:
                clients[persona].get(url)  # the first visit's own work (session, caches) aside
                counts[(name, persona)] = _count(clients[persona], url, rows, (name, persona))
        finally:
            transaction.savepoint_rollback(savepoint)
    return counts


def _count(
    client: Client, url: str, rows: dict[tuple[str, str], int], key: tuple[str, str]
) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if key in SHOWS_GROWTH:
        rows[key] = response.content.count(b"<tr") + response.content.count(b"<li")
    return response.status_code, len(queries.captured_queries)


@pytest.mark.django_db
def test_no_page_asks_more_queries_as_the_data_grows(world: World, client_for: Any) -> None:
    # The clock stands still: a signed-in session records its activity once per 30 s
    # (accounts/session_timeout.py), and whichever page a run of the walk happened to be on
    # when a step passed would pay a session write the other run's same page did not.
    with time_machine.travel(timezone.now(), tick=False):
        _walk_twice(world, client_for)


def _walk_twice(world: World, client_for: Any) -> None:
    clients = {persona: client_for(persona) for persona in PERSONAS}
    grow(world, SMALL, first=0, seed=101)
    small_rows: dict[tuple[str, str], int] = {}
    small = _measure(world, clients, small_rows)

    grow(world, LARGE - SMALL, first=SMALL, seed=102)
    assert Patient.objects.filter(clinic=world.clinic).count() >= LARGE
    large_rows: dict[tuple[str, str], int] = {}
    large = _measure(world, clients, large_rows)
    # Table rows and list items: more of them in the larger world, or the growth never reached
    # the page and its flat count would prove nothing.
    unchanged = {k: (small_rows.get(k), large_rows.get(k)) for k in SHOWS_GROWTH}
    unchanged = {k: v for k, v in unchanged.items() if v[0] is None or v[0] >= (v[1] or 0)}
    assert not unchanged, f"the grown records never reached these pages: {unchanged}"

    not_flat = {
        key: (small[key], large[key])
        for key in small
        if small[key] != large[key] or small[key][0] != OK
    }
    report = "\n".join(
        f"{name} as {persona}: {a[1]} queries ({a[0]}) with {SMALL} of each, "
        f"{b[1]} ({b[0]}) with {LARGE}"
        for (name, persona), (a, b) in sorted(not_flat.items())
    )
    assert not not_flat, f"{len(not_flat)} of {len(small)} pages are not flat:\n{report}"
    assert len(small) > 100  # every matrix page was asked, not a few
