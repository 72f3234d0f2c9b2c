"""The pain chart is drawn once per change of what it shows (``outcomes.diary.chart_cache``):
an unchanged diary page is served the drawing from the cache, and a save draws it afresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import caches
from django.urls import reverse

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.diary import chart_cache, services
from ketaclinic.outcomes.selectors import SeriesSpan
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries
from tests.factories.patients import registered_since


@pytest.fixture
def charted(world: World) -> World:
    """Alice with a series and a month of daily scores, and an empty chart cache."""
    caches["charts"].clear()
    registered_since(world.alice_patient, 90)
    t = today()
    infusions(world, world.alice_patient, [t - dt.timedelta(days=40 - n) for n in range(3)])
    nrs_entries(world.alice_patient, {t - dt.timedelta(days=n): n % 9 for n in range(1, 31)})
    return world


def _chart_of(response: Any) -> str:
    assert response.status_code == 200
    chart = str(response.context["chart"])
    assert chart.startswith("<svg") or "<svg" in chart[:200]
    return chart


@pytest.mark.parametrize(
    ("persona", "url_of"),
    [
        ("alice", lambda w: reverse("outcomes:my_diary")),
        (
            "physician",
            lambda w: reverse("outcomes:staff_patient_diary", args=[w.alice_patient.public_id]),
        ),
    ],
    ids=["patient", "clinician"],
)
def test_two_visits_draw_the_chart_once_and_a_save_draws_it_again(
    charted: World, client_for: Any, persona: str, url_of: Any
) -> None:
    client = client_for(persona)
    url = url_of(charted)
    drawn = chart_cache.COUNTS.drawn
    first = _chart_of(client.get(url))
    assert chart_cache.COUNTS.drawn == drawn + 1
    second = _chart_of(client.get(url))
    assert chart_cache.COUNTS.drawn == drawn + 1  # served from the cache, not drawn
    assert second == first
    services.diary_entry_record(
        actor=Actor(user=charted.alice),
        patient=charted.alice_patient,
        instrument="nrs",
        entry_date=today(),
        answers={"pain": 9},
        expected_version=0,
    )
    third = _chart_of(client.get(url))
    assert chart_cache.COUNTS.drawn == drawn + 2  # the new score is another chart
    assert third != first


def test_the_patients_and_the_clinicians_chart_are_two_drawings(
    charted: World, client_for: Any
) -> None:
    drawn = chart_cache.COUNTS.drawn
    patient = _chart_of(client_for("alice").get(reverse("outcomes:my_diary")))
    staff = _chart_of(
        client_for("physician").get(
            reverse("outcomes:staff_patient_diary", args=[charted.alice_patient.public_id])
        )
    )
    assert chart_cache.COUNTS.drawn == drawn + 2
    assert "chart-phone" in patient
    assert "chart-wide" in staff


def _key(**changes: Any) -> str:
    day = dt.date(2026, 5, 4)
    inputs: dict[str, Any] = {
        "patient_id": 7,
        "nrs": [(day, 5.0), (day + dt.timedelta(days=1), 4.0)],
        "peg": [],
        "series": [SeriesSpan(start=day, end=day, sessions=(day,))],
        "baseline": 7.5,
        "threshold": 5.25,
        "relapses": [],
        "today": day + dt.timedelta(days=9),
        "label": "Pain",
        "wide": False,
    }
    inputs.update(changes)
    return chart_cache.chart_key(**inputs)


def test_the_key_changes_with_every_input_the_drawing_depends_on() -> None:
    day = dt.date(2026, 5, 4)
    keys = [
        _key(),
        _key(patient_id=8),
        _key(nrs=[(day, 5.0), (day + dt.timedelta(days=1), 4.5)]),
        _key(peg=[(day, 3.0)]),
        _key(series=[SeriesSpan(start=day, end=day + dt.timedelta(days=1), sessions=(day,))]),
        _key(baseline=7.0),
        _key(threshold=None),
        _key(relapses=[day]),
        _key(label="Pain diary"),
        _key(wide=True),
    ]
    assert len(set(keys)) == len(keys)


def test_today_is_in_the_key_only_when_there_is_nothing_to_draw() -> None:
    # With data the x-axis runs over the data, so tomorrow serves the same drawing.
    assert _key(today=dt.date(2026, 6, 1)) == _key(today=dt.date(2026, 6, 2))
    empty: dict[str, Any] = {"nrs": [], "series": []}
    assert _key(today=dt.date(2026, 6, 1), **empty) != _key(today=dt.date(2026, 6, 2), **empty)


def test_the_key_names_no_patient_and_no_value(charted: World) -> None:
    key = _key(patient_id=charted.alice_patient.pk)
    assert str(charted.alice_patient.public_id) not in key
    assert key.startswith("pain-chart:")
    assert len(key.split(":")[1]) == 64  # a SHA-256, nothing readable
