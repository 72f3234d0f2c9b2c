"""The pain chart people can read (issue 16, item 7): the patient's legible on a 390 px phone
with a table beside it; the clinician's fitted to the data with the infusions in its legend."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.lib.plot import PHONE_CONTENT_PX, phone_font_px, view_box_width
from ketaclinic.outcomes.diary.charts import (
    CLINICIAN_LAYOUT,
    PATIENT_LAYOUT,
    ChartRow,
    chart_rows,
    pain_chart_svg,
)
from ketaclinic.outcomes.selectors import SeriesSpan
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries

SVG = "{http://www.w3.org/2000/svg}"
FEB = dt.date(2026, 2, 2)


def _history() -> dict[str, Any]:
    """Ten weeks of diary from February, five infusions in its second week; today is December."""
    sessions = tuple(FEB + dt.timedelta(days=7 + n) for n in range(5))
    return {
        "nrs": [(FEB + dt.timedelta(days=n), float(8 - (n > 12) * 4)) for n in range(70)],
        "peg": [(FEB + dt.timedelta(days=n), 6.0) for n in range(0, 70, 7)],
        "series": [SeriesSpan(start=sessions[0], end=sessions[-1], sessions=sessions)],
        "baseline": 8.0,
        "today": dt.date(2026, 12, 4),
    }


def _texts(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    return list(root.iter(f"{SVG}text"))


def _font_px(element: ET.Element) -> float:
    # In user units: the SVG's own scale, which the page maps to CSS pixels.
    match = re.fullmatch(r"([\d.]+)", element.attrib["font-size"])
    assert match is not None
    return float(match.group(1))


def test_every_label_of_the_patients_chart_is_at_least_12_px_on_a_390_px_phone() -> None:
    svg = pain_chart_svg(**_history())
    width = view_box_width(svg)
    assert width == pytest.approx(72 * PATIENT_LAYOUT.width_in)
    texts = _texts(svg)
    assert {"Pain (0 none - 10 worst)", "Daily pain (0-10)", "Infusion", "Weekly PEG"} <= {
        t.text for t in texts
    }
    # The SVG scales to the width the phone gives it: user units x 340 / viewBox width.
    smallest = min(_font_px(t) for t in texts) * PHONE_CONTENT_PX / width
    assert smallest >= 12
    assert phone_font_px(PATIENT_LAYOUT.font_pt, width_in=PATIENT_LAYOUT.width_in) >= 12
    assert 'class="chart-svg chart-phone"' in svg


def test_the_clinicians_chart_spans_the_data_not_the_months_to_today() -> None:
    svg = pain_chart_svg(
        **_history(), threshold=5.6, relapses=[FEB + dt.timedelta(days=60)], wide=True
    )
    assert view_box_width(svg) == pytest.approx(72 * CLINICIAN_LAYOUT.width_in)
    labels = {t.text for t in _texts(svg)}
    # Ticks from February to April (the data), none for the empty months up to December.
    assert {"Feb", "Mar", "Apr"} <= labels
    assert not labels & {"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
    # The infusions are marked and named in the legend, with the clinician's lines.
    assert {"Infusion", "Infusion series", "Baseline 8.0", "Relapse level 5.6", "Relapse"} <= labels


def test_a_single_day_of_data_gets_a_week_of_axis_around_it() -> None:
    svg = pain_chart_svg(nrs=[(FEB, 5.0)], today=dt.date(2026, 12, 4), wide=True)
    labels = {t.text for t in _texts(svg)}
    assert "Dec" not in labels
    assert "Daily pain (0-10)" in labels


def test_the_table_lists_each_day_newest_first_with_its_scores_and_infusions() -> None:
    day = dt.date(2026, 3, 2)
    rows = chart_rows(
        nrs=[(day, 7.0), (day + dt.timedelta(days=2), 4.5)],
        peg=[(day, 6.0)],
        series=[
            SeriesSpan(
                start=day + dt.timedelta(days=1),
                end=day + dt.timedelta(days=1),
                sessions=(day + dt.timedelta(days=1),),
            )
        ],
    )
    assert rows == [
        ChartRow(day=day + dt.timedelta(days=2), nrs=4.5, peg=None, infusion=False),
        ChartRow(day=day + dt.timedelta(days=1), nrs=None, peg=None, infusion=True),
        ChartRow(day=day, nrs=7.0, peg=6.0, infusion=False),
    ]


def test_the_patient_page_offers_the_chart_as_a_table(diary_world: World, client_for: Any) -> None:
    day = today() - dt.timedelta(days=3)
    infusions(diary_world, diary_world.alice_patient, [day])
    nrs_entries(diary_world.alice_patient, {day - dt.timedelta(days=1): 7, today(): 3})
    html = client_for("alice").get(reverse("outcomes:my_diary")).content.decode()
    assert 'class="chart-svg chart-phone"' in html
    table = html.split('data-testid="chart-table"', 1)[1].split("</details>", 1)[0]
    assert "<summary>Show as a table</summary>" in table
    dates = re.findall(r'<th scope="row">([^<]+)</th>', table)
    assert dates == [f"{d.day} {d:%b %Y}" for d in (today(), day, day - dt.timedelta(days=1))]
    assert ">Infusion</td>" in table


def test_the_clinician_page_shows_the_wide_chart_in_a_scrolling_region(
    diary_world: World, client_for: Any
) -> None:
    nrs_entries(diary_world.alice_patient, {today(): 3})
    html = (
        client_for("nurse")
        .get(reverse("outcomes:staff_patient_diary", args=[diary_world.alice_patient.public_id]))
        .content.decode()
    )
    assert 'class="chart-scroll" tabindex="0" role="region"' in html
    assert 'class="chart-svg chart-wide"' in html
    assert "<summary>Show as a table</summary>" in html
