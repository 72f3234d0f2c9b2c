"""The Kaplan-Meier chart at its edges: relief that ended the day the series did still gets a
weeks axis to read it against."""

from __future__ import annotations

import warnings

from ketaclinic.analytics.charts import km_chart_svg
from ketaclinic.analytics.selectors import kaplan_meier
from tests.analytics.test_km_chart import _groups, _text


def test_relief_ended_on_day_0_still_gets_an_axis_of_weeks() -> None:
    curve = kaplan_meier("All series", [0, 0], [True, False])
    assert curve is not None
    with warnings.catch_warnings():
        # matplotlib warns (and draws a -1..1 axis) when the axis starts and ends at week 0.
        warnings.simplefilter("error")
        svg = km_chart_svg([curve])
    groups = _groups(svg)
    # The numbers at risk: week 0 and week 4 (the first at-risk week after it) are drawn.
    assert _text(groups["km-at-risk-0-0"])[0] == "2"
    assert "km-at-risk-0-4" in groups
