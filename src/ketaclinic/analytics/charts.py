"""The Kaplan-Meier curves of relief as one SVG chart (our own writer, ``lib.plot``).

The estimates are the selectors' (``selectors.kaplan_meier``, computed as lifelines computes
them, over the stored series results): this module only draws them. All strata share one chart:
"All series" in a heavy dark line and one coloured line per cause (colours and dashes that stay
apart in greyscale and for the common colour-vision deficiencies), with a legend above the plot.
The y-axis is the percent still relieved, the x-axis weeks since the series; a "+" marks each
censored series (relief still lasting at its last diary entry). The numbers at risk are drawn
in the same chart, as text under the axis at the tick positions (the same x, computed once), so
the table cannot drift out of line with the ticks whatever the width the page gives the chart.

``lib.plot`` needs only the standard library: the analytics page loads neither matplotlib nor
numpy to draw this (docs/benchmarks.md "Web worker memory").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from ketaclinic.analytics.selectors import AT_RISK_WEEKS, Curve
from ketaclinic.lib import plot
from ketaclinic.lib.plot import INK, Axes, LegendEntry, Marker, Pen, Svg, Tick

__all__ = ["AT_RISK_TITLE", "CENSORED_LABEL", "X_LABEL", "Y_LABEL", "km_chart_svg"]

Y_LABEL: Final = "% still relieved"
X_LABEL: Final = "Weeks since the series"
AT_RISK_TITLE: Final = "Number at risk"
CENSORED_LABEL: Final = "Censored: relief lasting at the last entry"

# Okabe-Ito colours; "All series" first, in the page's ink. Its orange and sky blue are a shade
# darker than Okabe and Ito's (3.5:1 on white, not 2.3:1), so those lines stand out as well.
_COLOURS: Final = ("#24292f", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b87f00", "#4590ba")
# matplotlib's "-", "-", "--", "-.", ":", (5, 1, 1, 1) and (3, 1), in line widths.
_DASHES: Final[tuple[tuple[float, ...], ...]] = (
    (),
    (),
    (3.7, 1.6),
    (6.4, 1.6, 1.0, 1.6),
    (1.0, 1.65),
    (5.0, 1.0, 1.0, 1.0),
    (3.0, 1.0),
)
_FONT_PT: Final = 11.0
_TABLE_PT: Final = 10.0  # the numbers at risk
_ROW_PT: Final = 15.0  # the height of one row of the at-risk table
_LABEL_CHARS: Final = 26
_PAD: Final = 6.0
_WIDTH_PT: Final = 576.0
_PLOT_HEIGHT_PT: Final = 280.8  # the chart's height without the table (3.9 in)
_HANDLE_PT: Final = 18.0  # the sample of a curve's line before its row of the table
_Y_TICKS: Final = tuple(Tick(float(v), f"{v}%") for v in range(0, 101, 20))

# What the drawing needs of a curve, hashable so a page view after the first costs nothing.
_Frozen = tuple[
    str,
    tuple[float, ...],
    tuple[float, ...],
    tuple[tuple[int, int], ...],
    tuple[tuple[float, float], ...],
    int,
    int,
]


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1].rstrip() + "\u2026"


def _last_week(curves: Sequence[_Frozen]) -> int:
    """The axis ends at the first at-risk week that covers every series followed (at most
    the last one): a clinic with 10 weeks of follow-up gets 12 weeks, not a year of nothing."""
    longest = max((max(timeline, default=0.0) for _, timeline, *_ in curves), default=0.0) / 7
    # Past week 0 even when every series ended on its first day: an axis from 0 to 0 is none.
    return next((week for week in AT_RISK_WEEKS if week >= longest and week > 0), AT_RISK_WEEKS[-1])


def km_chart_svg(curves: Sequence[Curve]) -> str:
    """One chart of every curve (the first is "All series"), with the numbers at risk."""
    return _render(
        tuple(
            (
                c.label,
                tuple(c.timeline),
                tuple(c.survival),
                tuple(c.at_risk),
                tuple(c.censor_marks),
                c.events,
                c.censored,
            )
            for c in curves
        )
    )


def _pen(index: int) -> Pen:
    width = 2.6 if index == 0 else 1.8
    dash = tuple(part * width for part in _DASHES[index % len(_DASHES)])
    return Pen(_COLOURS[index % len(_COLOURS)], width, dash)


@functools.lru_cache(maxsize=16)
def _render(curves: tuple[_Frozen, ...]) -> str:
    last_week = _last_week(curves)
    ticks = [Tick(float(week), str(week)) for week in AT_RISK_WEEKS if week <= last_week]
    rows = len(curves)
    # The plot keeps its height; the chart grows by one row per stratum for the table.
    width, height = _WIDTH_PT, _PLOT_HEIGHT_PT + (rows + 1) * _ROW_PT
    censored_marker = Marker("plus", 9, INK, edge=1.6)
    entries = [
        LegendEntry(f"{label} (n={events + censored})", pen=_pen(index))
        for index, (label, _, _, _, _, events, censored) in enumerate(curves)
    ]
    if any(curve[4] for curve in curves):
        entries.append(LegendEntry(CENSORED_LABEL, marker=censored_marker))
    legend = plot.legend_layout(
        entries, size=_FONT_PT, max_width=width - 2 * _PAD, max_columns=2, handle=2.4
    )

    # Left of the plot: the table's row labels (a line sample and the stratum's name, clear of
    # the week-0 number centred under the axis's start), or the y label and tick labels.
    row_labels = [_short(curve[0]) for curve in curves]
    widest_zero = max(
        (plot.text_width(str(n), _TABLE_PT) for c in curves for week, n in c[3] if week == 0),
        default=0.0,
    )
    label_column = max(plot.text_width(text, _TABLE_PT) for text in [*row_labels, ""])
    label_column = max(label_column, plot.text_width(AT_RISK_TITLE, _TABLE_PT, bold=True))
    table_left = _HANDLE_PT + 4 + label_column + 8 + widest_zero / 2
    axis_left = (plot.ASCENT + plot.DESCENT) * _FONT_PT + 6
    axis_left += plot.y_tick_width(list(_Y_TICKS), _FONT_PT)
    left = _PAD + max(table_left, axis_left)
    right = width - _PAD - plot.text_width(str(AT_RISK_WEEKS[-1]), _FONT_PT)
    # Top to bottom: the legend, the plot, the tick labels, the x label, then the table.
    top = _PAD + legend.height + 6
    tick_band = plot.TICK_LENGTH + plot.TICK_PAD + (plot.ASCENT + plot.DESCENT) * _FONT_PT
    label_band = plot.LINE_HEIGHT * _FONT_PT + 2
    bottom = _PLOT_HEIGHT_PT - _PAD - tick_band - label_band
    axes = Axes(left, top, right - left, bottom - top, 0.0, last_week * 1.02, 0.0, 103.0)

    svg = Svg(width, height)
    plot.draw_legend(svg, entries, legend, x=(width - legend.width) / 2, y=_PAD)
    plot.draw_y_ticks(svg, axes, _Y_TICKS, size=_FONT_PT, grid="#d0d7de")
    for tick in ticks:
        x = axes.x(tick.value)
        svg.line(x, axes.top, x, axes.bottom, Pen("#d0d7de", 0.6))
    described = []
    table_top = _PLOT_HEIGHT_PT - _PAD + 2
    with svg.group("km-at-risk-title"):
        svg.text(
            left - widest_zero / 2 - 8,
            table_top,
            AT_RISK_TITLE,
            size=_TABLE_PT,
            anchor="end",
            valign="middle",
            bold=True,
        )
    for index, (label, timeline, survival, at_risk, censors, events, censored) in enumerate(curves):
        pen = _pen(index)
        weeks = [0.0, *(t / 7 for t in timeline)]
        percent = [100.0, *(100 * s for s in survival)]
        steps = [axes.point(weeks[0], percent[0])]
        for week, value, previous in zip(weeks[1:], percent[1:], percent, strict=False):
            steps += [axes.point(week, previous), axes.point(week, value)]
        with svg.group(f"km-curve-{index}"):
            svg.polyline(steps, pen)
        if censors:
            marker = Marker("plus", 9, pen.colour, edge=1.6)
            with svg.group(f"km-censored-{index}"):
                svg.markers([axes.point(t / 7, 100 * s) for t, s in censors], marker)
        described.append(
            f"{label}: {events + censored} series, {events} relapsed, {censored} censored; "
            "at risk " + ", ".join(f"week {week} {n}" for week, n in at_risk if week <= last_week)
        )
        # The numbers at risk: one row per curve, centred on the ticks, after a sample of the
        # curve's line and its name (in ink: the lighter curve colours are too faint for text).
        middle = table_top + _ROW_PT * (index + 1)
        label_end = left - widest_zero / 2 - 8
        with svg.group(f"km-at-risk-label-{index}"):
            svg.text(
                label_end, middle, row_labels[index], size=_TABLE_PT, anchor="end", valign="middle"
            )
            handle_end = label_end - plot.text_width(row_labels[index], _TABLE_PT) - 4
            svg.line(handle_end - _HANDLE_PT, middle, handle_end, middle, pen)
        for week, count in at_risk:
            if week <= last_week:
                with svg.group(f"km-at-risk-{index}-{week}"):
                    svg.text(
                        axes.x(week),
                        middle,
                        str(count),
                        size=_TABLE_PT,
                        anchor="middle",
                        valign="middle",
                    )
    plot.draw_spines(svg, axes)
    under_ticks = plot.draw_x_ticks(svg, axes, ticks, size=_FONT_PT)
    svg.text(
        axes.left + axes.width / 2,
        under_ticks + 2,
        X_LABEL,
        size=_FONT_PT,
        anchor="middle",
        valign="top",
    )
    svg.text(
        left - axis_left,  # just left of the tick labels
        axes.top + axes.height / 2,
        Y_LABEL,
        size=_FONT_PT,
        anchor="middle",
        valign="top",
        rotate=-90,
    )
    return svg.render(
        label="Kaplan-Meier curves: share of series still relieved by weeks since the series",
        description=". ".join(described) + ".",
        css_class="chart-svg chart-wide",
        testid="km-chart",
    )
