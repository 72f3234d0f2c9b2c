"""The audit page at scale (issue 17): keyset pages over (time, id), filters that are index
ranges, a capped count, a flat number of queries, and links that carry no patient data."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from ketaclinic.audit import selectors
from ketaclinic.audit.cursor import Cursor, capped_count
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.selectors import AuditFilters, day_bounds
from ketaclinic.audit.services import Actor
from tests.clock import NEW_YORK
from tests.conftest import World

URL = "/clinic/audit/"
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _bulk(world: World, n: int, *, start: dt.datetime = T0, ties: int = 1, **fields: Any) -> None:
    """``n`` patient-read events of the clinic, ``ties`` to each microsecond, written as a bulk
    insert (the page reads them; it does not check the hash chain, ``audit verify`` does)."""
    values = {
        "clinic": world.clinic,
        "actor": world.nurse,
        "actor_role": "nurse",
        "action": "read",
        "object_type": "patient",
        "patient": world.alice_patient,
        **fields,
    }
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=start + dt.timedelta(seconds=i // ties),
            prev_hash="0" * 64,
            hash="0" * 64,
            **values,
        )
        for i in range(n)
    )


def _filter(client: Client, **data: str) -> None:
    response = client.post(URL, data)
    assert response.status_code == 302, response.content.decode()[:500]


def _shown_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-event="(\d+)"', html)]


def _link(html: str, label: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)"[^>]*>{label}</a>', html)
    return unescape(found.group(1)) if found else None


def _walk(client: Client, direction: str, first: str) -> tuple[list[int], list[str]]:
    """Follow "Older" (or "Newer") links from ``first`` to the end: the ids shown and the
    summaries of each page."""
    shown: list[int] = []
    summaries: list[str] = []
    url: str | None = first
    while url is not None:
        html = client.get(URL + url).content.decode()
        shown.extend(_shown_ids(html))
        summaries.append(re.findall(r'<span class="pager-current"[^>]*>([^<]*)</span>', html)[0])
        url = _link(html, direction)
    return shown, summaries


def test_older_and_newer_walk_every_matching_event_once_even_with_ties(
    client_for: Any, world: World
) -> None:
    # 250 events, five to each microsecond-identical time: a seek on time alone would skip or
    # repeat the ties at a page boundary.
    _bulk(world, 250, ties=5)
    client = client_for("clinic_admin")
    # Only patient reads: the page's own "read audit_log" events must not shift the walk.
    _filter(client, object_type="patient")
    expected = list(
        AuditEvent.objects.filter(object_type="patient")
        .order_by("-occurred_at", "-id")
        .values_list("id", flat=True)
    )
    older, pages = _walk(client, "Older", "?")
    assert older == expected
    assert pages == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    # From the oldest end back up: the same events, each once, newest first on every page.
    oldest_page = client.get(URL + "?at=oldest").content.decode()
    assert _shown_ids(oldest_page) == expected[-100:]
    newer, pages = _walk(client, "Newer", "?at=oldest")
    assert sorted(newer, reverse=True) == expected
    assert len(newer) == len(set(newer))
    # Pages cut from the oldest end are not numbered (they do not line up with page 1's).
    assert pages == ["Oldest page", "This page", "Newest page"]


def test_the_count_is_exact_up_to_the_cap_then_says_more_than(
    client_for: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk(world, 30)
    client = client_for("clinic_admin")
    _filter(client, object_type="patient")
    assert "30 events match" in client.get(URL).content.decode()
    monkeypatch.setattr(selectors, "COUNT_CAP", 20)
    html = client.get(URL).content.decode()
    assert "More than 20 events match" in html
    # Without an exact count the page says where it is, not of how many.
    assert ">Page 1<" in html
    assert "Page 1 of" not in html


def test_capped_count_reads_no_further_than_the_cap(world: World) -> None:
    _bulk(world, 12)
    qs = AuditEvent.objects.filter(clinic=world.clinic)
    assert capped_count(qs, 20) == (12, True)
    assert capped_count(qs, 12) == (12, True)
    assert capped_count(qs, 11) == (11, False)


@pytest.mark.parametrize("size", [10, 1000])
def test_every_kind_of_page_costs_the_same_queries_at_any_size(
    client_for: Any, world: World, django_assert_num_queries: Any, size: int
) -> None:
    _bulk(world, size, ties=3)
    client = client_for("clinic_admin")
    client.get(URL)  # warm the session
    older = _link(client.get(URL).content.decode(), "Older") or "?at=oldest"
    # session, user, savepoint, capped count, events (actor and patient joined), chain head
    # lock, audit insert, chain head move, release: nine, filtered or not, at 10 or 1,000
    # events, on the newest page, a cursor's page or the oldest page.
    for url in ("", older, "?at=oldest"):
        with django_assert_num_queries(9):
            assert client.get(URL + url).status_code == 200
    _filter(
        client,
        action="read",
        object_type="patient",
        actor="NURSE@example.test",
        record_number=world.alice_patient.mrn.lower(),
        date_from="2026-03-01",
        date_to="2026-03-31",
    )
    for url in ("", older, "?at=oldest"):
        with django_assert_num_queries(9):
            html = client.get(URL + url).content.decode()
        assert _shown_ids(html), url


def test_the_staff_and_record_filters_find_their_events_only(client_for: Any, world: World) -> None:
    _bulk(world, 3)
    _bulk(world, 2, actor=world.physician, actor_role="physician", patient=world.bob_patient)
    client = client_for("clinic_admin")
    _filter(client, actor="Doc@Example.test")
    html = client.get(URL).content.decode()
    assert "2 events match" in html
    assert "nurse@example.test" not in html
    _filter(client, record_number=world.alice_patient.mrn.lower())
    assert "3 events match" in client.get(URL).content.decode()
    # An email or a record number nobody has matches nothing (never everything).
    _filter(client, actor="nobody@example.test")
    assert "0 events match" in client.get(URL).content.decode()
    _filter(client, record_number="ZZ999999")
    assert "0 events match" in client.get(URL).content.decode()


def test_dates_are_whole_days_in_the_zone_the_page_shows(client_for: Any, world: World) -> None:
    # 23:30 in New York on 1 March is 04:30 UTC on 2 March; midnight starting 2 March is 05:00.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=NEW_YORK)
    midnight = dt.datetime(2026, 3, 2, 0, 0, tzinfo=NEW_YORK)
    _bulk(world, 1, start=late, object_type="consultation")
    _bulk(world, 1, start=midnight, object_type="plan")
    client = client_for("clinic_admin")
    _filter(client, date_from="2026-03-01", date_to="2026-03-01")
    html = client.get(URL).content.decode()
    assert "consultation" in html
    assert "read · plan" not in html
    _filter(client, date_from="2026-03-02", date_to="2026-03-02")
    html = client.get(URL).content.decode()
    assert "read · plan" in html
    assert "read · consultation" not in html


def test_day_bounds_are_half_open_and_survive_the_ends_of_the_calendar() -> None:
    start, end = day_bounds(dt.date(2026, 3, 8), dt.date(2026, 3, 8), NEW_YORK)
    # The day clocks go forward in New York is 23 hours long.
    assert (start, end) == (
        dt.datetime(2026, 3, 8, 5, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 9, 4, 0, tzinfo=dt.UTC),
    )
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert day_bounds(dt.date.min, dt.date.max, tokyo) == (None, None)
    assert day_bounds(None, None, NEW_YORK) == (None, None)


def test_the_selector_accepts_the_calendar_ends_without_an_error(world: World) -> None:
    _bulk(world, 2)
    page = selectors.audit_event_list(
        actor=Actor(user=world.clinic_admin),
        filters=AuditFilters(date_from=dt.date.min, date_to=dt.date.max),
    )
    assert page.count == 2


def test_links_carry_only_an_opaque_cursor_of_time_and_id(client_for: Any, world: World) -> None:
    _bulk(world, 150)
    client = client_for("clinic_admin")
    _filter(client, record_number=world.alice_patient.mrn)
    html = client.get(URL).content.decode()
    hrefs = [unescape(h) for h in re.findall(r'href="(\?[^"]*)"', html)]
    assert hrefs, html
    for href in hrefs:
        assert re.fullmatch(r"\?(at=[A-Za-z0-9_-]+)?", href), href
        assert world.alice_patient.mrn not in href
    older = Cursor.decode((_link(html, "Older") or "").removeprefix("?at="))
    assert older is not None
    oldest_shown = _shown_ids(html)[-1]
    assert (older.direction, older.row_id, older.ordinal) == ("older", oldest_shown, 2)
    assert older.at == AuditEvent.objects.get(pk=oldest_shown).occurred_at


def test_a_cursor_past_the_end_or_unreadable_is_a_page_not_an_error(
    client_for: Any, world: World
) -> None:
    _bulk(world, 5)
    client = client_for("clinic_admin")
    _filter(client, object_type="patient")
    first = AuditEvent.objects.filter(object_type="patient").order_by("occurred_at", "id")[0]
    beyond = Cursor("older", first.occurred_at, first.pk, 7).encode()
    response = client.get(URL, {"at": beyond})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="audit-past-end"' in html
    assert _link(html, "Newest") == "?"
    for garbage in ("x", "!!", "bzEyMzQ", "A" * 500, "eC4xLjIuMw"):
        response = client.get(URL, {"at": garbage})
        assert response.status_code == 200, garbage
        assert len(_shown_ids(response.content.decode())) == 5, garbage


def test_a_page_link_older_than_the_page_then_back_is_the_same_page(
    client_for: Any, world: World
) -> None:
    _bulk(world, 120)
    client = client_for("clinic_admin")
    _filter(client, object_type="patient")
    first = client.get(URL).content.decode()
    second = client.get(URL + (_link(first, "Older") or "")).content.decode()
    assert _link(second, "Newer") == "?"  # page 2's "Newer" is the newest page itself
    assert _shown_ids(client.get(URL).content.decode()) == _shown_ids(first)


def test_cursor_round_trip_and_refusals() -> None:
    at = dt.datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=dt.UTC)
    for cursor in (Cursor("older", at, 42, 3), Cursor("newer", at, 7, None)):
        assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(Cursor("older", at, 0).encode()) is None
    assert Cursor.decode(Cursor("older", at, 5, 0).encode()) is None
    assert Cursor.decode("") is None


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"action": "read"},
        {"object_type": "patient"},
        {"actor_id": 1},
        {"patient_id": 1},
        {"action": "read", "object_type": "patient"},
    ],
)
def test_sqlite_reads_a_month_in_index_order_without_a_sort(
    world: World, filters: dict[str, Any]
) -> None:
    """EXPLAIN QUERY PLAN of the page's query for each filter: an index answers the WHERE and
    the ORDER BY, no temporary B-tree sorts the clinic's events (PostgreSQL's plans are in the
    notes of issue 17; its planner weighs table statistics a test database does not have)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN; PostgreSQL's plans depend on statistics")
    qs = (
        AuditEvent.objects.filter(
            clinic_id=world.clinic.pk,
            occurred_at__gte=T0,
            occurred_at__lt=T0 + dt.timedelta(days=31),
            **filters,
        )
        .select_related("actor", "patient")
        .order_by("-occurred_at", "-id")[:101]
    )
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "audit_auditevent USING INDEX audit_" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
