"""The Kaplan-Meier curves of relief as one SVG figure (matplotlib, ``lib.figures``).

The estimates are the selectors' (``selectors.kaplan_meier``, lifelines over the stored series
results): this module only draws them. All strata share one chart: "All series" in a heavy dark
line and one coloured line per cause (colours and dashes that stay apart in greyscale and for
the common colour-vision deficiencies), with a legend above the plot. The y-axis is the percent
still relieved, the x-axis weeks since the series; a "+" marks each censored series (relief
still lasting at its last diary entry). The numbers at risk are drawn in the same figure, as
text under the axis at the tick positions, so the table cannot drift out of line with the ticks
whatever the width the page gives the chart.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from ketaclinic.analytics.selectors import AT_RISK_WEEKS, Curve
from ketaclinic.lib.figures import figure_svg, new_figure

__all__ = ["AT_RISK_TITLE", "CENSORED_LABEL", "X_LABEL", "Y_LABEL", "km_chart_svg"]

Y_LABEL: Final = "% still relieved"
X_LABEL: Final = "Weeks since the series"
AT_RISK_TITLE: Final = "Number at risk"
CENSORED_LABEL: Final = "Censored: relief lasting at the last entry"

# Okabe-Ito colours; "All series" first, in the page's ink.
_COLOURS: Final = ("#24292f", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
_DASHES: Final = ("-", "-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1)))
_FONT_PT: Final = 11.0
_ROW_PT: Final = 15.0  # the height of one row of the at-risk table
_TABLE_TOP_PT: Final = 44.0  # under the tick labels and the x-axis label
_LABEL_CHARS: Final = 26

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


def _under_axis(
    axes: Axes,
    text: str,
    *,
    gid: str,
    below: float,
    colour: str = "#24292f",
    week: int | None = None,
    bold: bool = False,
) -> None:
    """Text ``below`` points under the axis: centred on ``week``'s tick (in data units, so it
    moves with the tick), or right-aligned left of the axis as a row label."""
    coords: str | tuple[str, str]
    if week is None:
        xy, coords, ha, dx = (0.0, 0.0), "axes fraction", "right", -10.0
    else:
        xy, coords, ha, dx = (float(week), 0.0), ("data", "axes fraction"), "center", 0.0
    note = axes.annotate(
        text,
        xy=xy,
        xycoords=coords,
        xytext=(dx, -below),
        textcoords="offset points",
        ha=ha,
        va="top",
        fontsize=_FONT_PT - 1,
        fontweight="bold" if bold else "normal",
        color=colour,
    )
    note.set_gid(gid)
    # The layout makes room for the row labels (left of the axis, as low as the last row); the
    # numbers lie within that room, and measuring each of them for the layout is slow.
    note.set_in_layout(week is None)


@functools.lru_cache(maxsize=16)
def _render(curves: tuple[_Frozen, ...]) -> str:
    last_week = _last_week(curves)
    ticks = [week for week in AT_RISK_WEEKS if week <= last_week]
    rows = len(curves)
    # The plot keeps its height; the figure grows by one row per stratum for the table.
    figure = new_figure(width_in=8.0, height_in=3.9 + (rows + 1) * _ROW_PT / 72)
    axes = figure.add_subplot()
    described = []
    for index, (label, timeline, survival, at_risk, censors, events, censored) in enumerate(curves):
        colour = _COLOURS[index % len(_COLOURS)]
        weeks = [0.0, *(t / 7 for t in timeline)]
        percent = [100.0, *(100 * s for s in survival)]
        (line,) = axes.step(
            weeks,
            percent,
            where="post",
            color=colour,
            linestyle=_DASHES[index % len(_DASHES)],
            linewidth=2.6 if index == 0 else 1.8,
            label=f"{label} (n={events + censored})",
        )
        line.set_gid(f"km-curve-{index}")
        if censors:
            (marks,) = axes.plot(
                [t / 7 for t, _ in censors],
                [100 * s for _, s in censors],
                linestyle="none",
                marker="+",
                markersize=9,
                markeredgewidth=1.6,
                color=colour,
            )
            marks.set_gid(f"km-censored-{index}")
        described.append(
            f"{label}: {events + censored} series, {events} relapsed, {censored} censored; "
            "at risk " + ", ".join(f"week {week} {n}" for week, n in at_risk if week <= last_week)
        )
        # The numbers at risk: one row per curve, at the tick positions, in the curve's colour.
        offset = _TABLE_TOP_PT + _ROW_PT * (index + 1)
        _under_axis(
            axes, _short(label), gid=f"km-at-risk-label-{index}", below=offset, colour=colour
        )
        for week, count in at_risk:
            if week <= last_week:
                _under_axis(
                    axes,
                    str(count),
                    gid=f"km-at-risk-{index}-{week}",
                    below=offset,
                    colour=colour,
                    week=week,
                )
    _under_axis(axes, AT_RISK_TITLE, gid="km-at-risk-title", below=_TABLE_TOP_PT, bold=True)
    axes.set_xlim(0, last_week * 1.02)
    axes.set_xticks(ticks)
    axes.set_ylim(0, 103)
    axes.set_yticks(range(0, 101, 20))
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    axes.set_ylabel(Y_LABEL, fontsize=_FONT_PT)
    axes.set_xlabel(X_LABEL, fontsize=_FONT_PT)
    axes.tick_params(labelsize=_FONT_PT)
    axes.grid(color="#d0d7de", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    handles, labels = axes.get_legend_handles_labels()
    if any(curve[4] for curve in curves):
        handles.append(Line2D([], [], linestyle="none", marker="+", markersize=9, color="#24292f"))
        labels.append(CENSORED_LABEL)
    # Above the plot, across the figure: it never hides a curve.
    figure.legend(
        handles,
        labels,
        loc="outside upper center",
        ncols=2,
        frameon=False,
        fontsize=_FONT_PT,
        handlelength=2.4,
    )
    return figure_svg(
        figure,
        label="Kaplan-Meier curves: share of series still relieved by weeks since the series",
        description=". ".join(described) + ".",
        css_class="chart-svg chart-wide",
        testid="km-chart",
    )
