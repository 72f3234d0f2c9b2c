"""The physician's booster queue a page at a time (issue 17): a count of the open suggestions,
page N of M, the same queries for 5 or 60, and a page past the end that is the last page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from ketaclinic.outcomes.boosters.selectors import QUEUE_PAGE_SIZE
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from tests.clock import today
from tests.conftest import World

QUEUE = reverse("outcomes:staff_boosters")


def _open(world: World, n: int, *, status: str = BoosterStatus.OPEN) -> list[BoosterSuggestion]:
    """``n`` suggestions for Alice, one a relapse day (one per patient and relapse), oldest
    relapse first; declined ones need a reason and someone who decided."""
    decided = (
        {
            "decided_by": world.physician,
            "decided_at": dt.datetime.now(dt.UTC),
            "decline_reason": "x",
        }
        if status != BoosterStatus.OPEN
        else {}
    )
    return BoosterSuggestion.objects.bulk_create(
        BoosterSuggestion(
            clinic=world.clinic,
            patient=world.alice_patient,
            series_end=today() - dt.timedelta(days=400),
            relapse_date=today() - dt.timedelta(days=300 - i - (150 if decided else 0)),
            baseline=7.5,
            window_means={},
            source="test",
            status=status,
            **decided,
        )
        for i in range(n)
    )


def _rows(html: str) -> list[str]:
    return re.findall(r'href="/staff/boosters/([0-9a-f-]+)/"', html)


@pytest.mark.parametrize("n", [5, 60])
def test_the_queue_costs_the_same_queries_for_5_or_60(
    world: World, client_for: Any, django_assert_num_queries: Any, n: int
) -> None:
    _open(world, n)
    client = client_for("physician")
    client.get(QUEUE)  # warm the session
    # session, user, savepoint, count, rows (patient joined), chain head lock, audit insert,
    # chain head move, release, the clinic's brand: the same for one page or two.
    with django_assert_num_queries(10):
        html = client.get(QUEUE).content.decode()
    assert len(_rows(html)) == min(n, QUEUE_PAGE_SIZE)
    assert f"{n} open suggestions" in html


def test_the_queue_pages_oldest_relapse_first_with_a_count(world: World, client_for: Any) -> None:
    made = _open(world, QUEUE_PAGE_SIZE + 10)
    _open(world, 3, status=BoosterStatus.DECLINED)  # decided: never in the queue
    client = client_for("physician")
    first = client.get(QUEUE).content.decode()
    second = client.get(QUEUE, {"page": "2"}).content.decode()
    assert f"{QUEUE_PAGE_SIZE + 10} open suggestions · page 1 of 2" in first
    assert "page 2 of 2" in second
    assert _rows(first) + _rows(second) == [str(s.public_id) for s in made]
    # The pager: a named nav, the current page marked, next and previous by rel.
    assert '<nav class="pager" aria-label="Pages, above the suggestions">' in first
    assert 'aria-current="page" aria-label="Page 1, current page">1</span>' in first
    assert '<a href="?page=2" rel="next">Next</a>' in first
    assert '<a href="?page=1" rel="prev">Previous</a>' in second
    event = AuditEvent.objects.filter(object_type="booster_queue").latest("id")
    assert event.detail == {"open": QUEUE_PAGE_SIZE + 10, "page": 2}


def test_a_page_past_the_end_or_not_a_number_is_a_page_that_exists(
    world: World, client_for: Any
) -> None:
    made = _open(world, QUEUE_PAGE_SIZE + 1)
    client = client_for("physician")
    past = client.get(QUEUE, {"page": "99"})
    assert past.status_code == 200
    assert _rows(past.content.decode()) == [str(made[-1].public_id)]
    for junk in ("x", "-1", "0", "1e309", "9" * 400):
        response = client.get(QUEUE, {"page": junk})
        assert response.status_code == 200, junk
        assert _rows(response.content.decode()), junk


def test_one_page_draws_no_pager_links(world: World, client_for: Any) -> None:
    _open(world, 2)
    html = client_for("physician").get(QUEUE).content.decode()
    assert "2 open suggestions" in html
    assert 'class="pager"' not in html
