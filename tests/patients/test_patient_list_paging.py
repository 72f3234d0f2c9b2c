"""The staff patient list with the shared pager (issue 17): the same queries for 5 patients or
60, page N of M with a named nav and the current page marked, and only a page number in links."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import factories
from tests.conftest import World

LIST = "/staff/patients/"


@pytest.mark.parametrize("n", [5, 60])
def test_the_list_costs_the_same_queries_for_5_or_60_patients(
    client_for: Any, world: World, django_assert_num_queries: Any, n: int
) -> None:
    for i in range(n):
        factories.make_patient(world.clinic, given=f"Many{i:02d}", family="Paged")
    client = client_for("front_desk")
    client.get(LIST)  # warm the session
    # session, user, savepoint, count, rows with their location, audit chain head lock, audit
    # insert, chain head move, release; the clinic's brand for the page
    with django_assert_num_queries(10):
        html = client.get(LIST, {"page": "2"}).content.decode()
    total = n + 2  # and the world's Alice and Bob
    assert f"{total} patients" in html
    if n == 60:
        assert "page 2 of 3" in html
        assert html.count(", Many") == 25


def test_the_pager_is_a_named_nav_with_the_current_page_marked(
    client_for: Any, world: World
) -> None:
    for i in range(60):
        factories.make_patient(world.clinic, given=f"Many{i:02d}", family="Paged")
    html = client_for("front_desk").get(LIST, {"page": "2"}).content.decode()
    nav = re.search(r'<nav class="pager" aria-label="Pages of patients">(.*?)</nav>', html, re.S)
    assert nav is not None
    links = re.findall(r'<a href="([^"]*)"', nav.group(1))
    assert links == ["?page=1", "?page=1", "?page=3", "?page=3"]  # previous, 1, 3, next
    assert 'aria-current="page" aria-label="Page 2, current page">2</span>' in nav.group(1)
    assert 'rel="prev"' in nav.group(1)
    assert 'rel="next"' in nav.group(1)


def test_one_page_of_patients_draws_no_pager(client_for: Any, world: World) -> None:
    html = client_for("front_desk").get(LIST).content.decode()
    assert "2 patients" in html
    assert 'class="pager"' not in html
