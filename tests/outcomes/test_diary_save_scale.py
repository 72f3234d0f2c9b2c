"""A diary save costs the same whatever the diary's length: it writes the entry, its audit event
and the patient's results mark, and judges nothing (the periodic refresh does, in batches)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaclinic.audit.services import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.outcomes.diary import services
from ketaclinic.outcomes.models import ResultsMark
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries
from tests.factories.patients import registered_since
from tests.outcomes.helpers import snapshot


def _diary_of(world: World, entries: int) -> None:
    """Alice with a series in the middle of ``entries`` daily scores ending yesterday."""
    patient = world.alice_patient
    registered_since(patient, entries + 30)
    t = today()
    day = dt.timedelta(days=1)
    infusions(world, patient, [t - (entries // 2) * day + n * day for n in range(3)])
    nrs_entries(patient, {t - n * day: n % 9 for n in range(1, entries + 1)})


def _save_queries(world: World, capture: Any, *, pain: int, version: int) -> int:
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        services.diary_entry_record(
            actor=Actor(user=world.alice),
            patient=world.alice_patient,
            instrument="nrs",
            entry_date=today(),
            answers={"pain": pain},
            expected_version=version,
        )
    return len(queries)


@pytest.mark.parametrize("entries", [7, 1252])
def test_a_save_costs_the_same_queries_at_7_or_1252_entries(
    world: World, django_capture_on_commit_callbacks: Any, entries: int
) -> None:
    _diary_of(world, entries)
    # The first save of the day creates the entry, a correction updates it: both fixed.
    created = _save_queries(world, django_capture_on_commit_callbacks, pain=3, version=0)
    corrected = _save_queries(world, django_capture_on_commit_callbacks, pain=4, version=1)
    # The same numbers for both lengths (the after-commit work, none, included): the entry's
    # lookup and write, its checks, the audit event and the one upsert of the mark.
    assert (created, corrected) == (12, 11)
    assert ResultsMark.objects.get(patient=world.alice_patient).dirty is not None


def test_a_refused_save_leaves_no_mark(world: World) -> None:
    _diary_of(world, 7)
    before = snapshot()
    with pytest.raises((StaleObjectError, ValidationError)):
        services.diary_entry_record(
            actor=Actor(user=world.alice),
            patient=world.alice_patient,
            instrument="nrs",
            entry_date=today(),
            answers={"pain": 3},
            expected_version=4,  # the form showed an entry that does not exist
        )
    assert snapshot() == before
    assert not ResultsMark.objects.exists()


def test_a_weekly_peg_does_not_mark_the_results(world: World) -> None:
    # The stored results and the booster check read the daily score only.
    _diary_of(world, 7)
    services.diary_entry_record(
        actor=Actor(user=world.alice),
        patient=world.alice_patient,
        instrument="peg",
        entry_date=today(),
        answers={"pain": 4, "enjoyment": 5, "general_activity": 6},
        expected_version=0,
    )
    assert not ResultsMark.objects.exists()
