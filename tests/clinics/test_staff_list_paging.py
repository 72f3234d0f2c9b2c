"""The clinic admin's staff list a page at a time (issue 17): a count, the same queries for 5 or
60 colleagues, everyone on exactly one page, a page past the end that is the last page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.clinics.selectors import STAFF_PAGE_SIZE
from tests.conftest import World

STAFF = reverse("clinics:staff")


def _hire(world: World, n: int) -> None:
    # Same name for all: the id settles the order, so none is on two pages or none.
    User.objects.bulk_create(
        User(
            email=f"nurse{i}@paged.test", full_name="Sam Same", role=Role.NURSE, clinic=world.clinic
        )
        for i in range(n)
    )


def _listed(html: str) -> list[str]:
    return re.findall(r'<tr data-staff="(\d+)"', html)


@pytest.mark.parametrize("n", [5, 60])
def test_the_staff_list_costs_the_same_queries_for_5_or_60(
    world: World, client_for: Any, django_assert_num_queries: Any, n: int
) -> None:
    _hire(world, n)
    client = client_for("clinic_admin")
    client.get(STAFF)  # warm the session
    staff = User.objects.filter(clinic=world.clinic, role__in=STAFF_ROLES).count()
    # session, user, count, one page of staff, their locations, the open invitations (none
    # here, so no query for their locations), the clinic's brand
    with django_assert_num_queries(7):
        html = client.get(STAFF).content.decode()
    assert f"{staff} staff accounts" in html
    assert len(_listed(html)) == min(staff, STAFF_PAGE_SIZE)


def test_every_colleague_is_on_exactly_one_page(world: World, client_for: Any) -> None:
    _hire(world, STAFF_PAGE_SIZE + 5)
    client = client_for("clinic_admin")
    first = client.get(STAFF).content.decode()
    second = client.get(STAFF, {"page": "2"}).content.decode()
    listed = _listed(first) + _listed(second)
    assert len(listed) == len(set(listed))
    assert {int(i) for i in listed} == set(
        User.objects.filter(clinic=world.clinic)
        .exclude(role=Role.PATIENT)
        .values_list("id", flat=True)
    )
    assert '<nav class="pager" aria-label="Pages of staff, above the list">' in first
    past = client.get(STAFF, {"page": "9"})
    assert past.status_code == 200
    assert _listed(past.content.decode()) == _listed(second)
