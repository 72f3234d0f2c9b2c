"""The Kaplan-Meier chart (issue 16, item 7): every stratum on one chart with labelled axes in
percent and weeks, a legend entry each, "+" censor marks, and the numbers at risk drawn under
the tick they belong to. The estimates are the selectors' (lifelines); the chart only draws."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from ketaclinic.analytics.charts import (
    AT_RISK_TITLE,
    CENSORED_LABEL,
    X_LABEL,
    Y_LABEL,
    km_chart_svg,
)
from ketaclinic.analytics.selectors import Curve, kaplan_meier
from tests.analytics.helpers import seed
from tests.conftest import World

SVG = "{http://www.w3.org/2000/svg}"
# Days of relief and whether relief ended (a relapse) or is still lasting (censored).
NERVE = ([14, 30, 45, 60, 90], [True, False, True, True, False])
CRPS = ([20, 40, 70], [True, True, False])


def _curves() -> list[Curve]:
    curves = [
        kaplan_meier("All series", NERVE[0] + CRPS[0], NERVE[1] + CRPS[1]),
        kaplan_meier("Nerve injury", *NERVE),
        kaplan_meier("Complex regional pain syndrome", *CRPS),
    ]
    return [c for c in curves if c is not None]


def _groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    return {g.attrib["id"]: g for g in root.iter(f"{SVG}g") if "id" in g.attrib}


def _text(group: ET.Element) -> tuple[str, float]:
    element = next(group.iter(f"{SVG}text"))
    assert element.text is not None
    return element.text, float(element.attrib["x"])


def test_the_strata_share_one_chart_with_axes_in_percent_and_weeks_and_a_legend() -> None:
    svg = km_chart_svg(_curves())
    assert svg.count("<svg") == 1
    texts = {t.text for t in ET.fromstring(svg).iter(f"{SVG}text")}  # noqa: S314
    assert {Y_LABEL, X_LABEL, "100%", "50%" if "50%" in texts else "60%", "0%"} <= texts
    assert {
        "All series (n=8)",
        "Nerve injury (n=5)",
        "Complex regional pain syndrome (n=3)",
        CENSORED_LABEL,
    } <= texts
    groups = _groups(svg)
    assert {"km-curve-0", "km-curve-1", "km-curve-2"} <= groups.keys()


def test_each_censored_series_is_marked_with_a_plus_on_its_curve() -> None:
    curves = _curves()
    # Nerve injury: censored on days 30 and 90, where the curve stands at 4/5 and 4/5 x 2/3 x 1/2.
    assert [day for day, _ in curves[1].censor_marks] == [30.0, 90.0]
    assert [level for _, level in curves[1].censor_marks] == pytest.approx([0.8, 4 / 15])
    svg = km_chart_svg(curves)
    groups = _groups(svg)
    for index in range(3):
        marks = groups[f"km-censored-{index}"]
        assert len(list(marks.iter(f"{SVG}use"))) == len(curves[index].censor_marks)
    # The marker drawn is a plus: two strokes crossing at the centre.
    plus = re.search(r'<path id="[^"]+" d="M -4\.5 0 L 4\.5 0 M 0 4\.5 L 0 -4\.5"', svg)
    assert plus is not None


def test_the_numbers_at_risk_sit_under_their_ticks() -> None:
    curves = _curves()
    svg = km_chart_svg(curves)
    groups = _groups(svg)
    ticks = {}
    for name, group in groups.items():
        if re.fullmatch(r"xtick_\d+", name):
            label, x = _text(group)
            ticks[int(label)] = x
    # The follow-up ends at 13 weeks: the axis runs to the at-risk week 16, every 4 weeks.
    assert sorted(ticks) == [0, 4, 8, 12, 16]
    assert _text(groups["km-at-risk-title"])[0] == AT_RISK_TITLE
    assert _text(groups["km-at-risk-label-2"])[0] == "Complex regional pain syn\u2026"
    for index, curve in enumerate(curves):
        for week, count in curve.at_risk:
            if week > 16:
                assert f"km-at-risk-{index}-{week}" not in groups
                continue
            text, x = _text(groups[f"km-at-risk-{index}-{week}"])
            assert text == str(count)
            assert x == pytest.approx(ticks[week], abs=0.01)
    assert [n for _, n in curves[0].at_risk[:5]] == [8, 6, 3, 1, 0]


@pytest.mark.django_db
def test_the_page_draws_one_chart_for_all_causes(world: World, client_for: object) -> None:
    seed(world.clinic, 30)
    html = client_for("physician").get(reverse("analytics:clinic")).content.decode()  # type: ignore[operator]
    assert html.count('data-testid="km-chart"') == 1
    assert html.count("<svg") == html.count('data-testid="km-chart"') + html.count('class="icon')
    chart = html.split('data-testid="km-chart"', 1)[1].split("</svg>", 1)[0]
    assert "All series (n=" in chart
    assert X_LABEL in chart
    assert Y_LABEL in chart
    assert "style=" not in chart
    assert "Show the numbers at risk as a table" in html
