"""The pain chart as SVG, drawn by our own small writer (``lib.plot``), not matplotlib.

Two shapes of the same drawing: the patient's (``wide=False``) is sized for a 390 px phone,
where the SVG scales to the page's width and a 12.5 pt font shows at about 12.3 px
(``lib.plot.phone_font_px``); the clinician's and the letter's (``wide=True``) is wide and
fitted to the data. Either way the x-axis runs from the first to the last thing drawn (a diary
score, a PEG, a session, a relapse) with a small margin, not from months before to today. The
page also offers the numbers as a table (``chart_rows``, "Show as a table"). The progress
letter (``letters.pdf``) embeds the wide chart (fpdf2 draws the same SVG).

``lib.plot`` needs only the standard library: a web worker that draws this chart loads neither
matplotlib nor numpy (docs/benchmarks.md "Web worker memory").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ketaclinic.lib import plot
from ketaclinic.lib.plot import Axes, Fill, LegendEntry, Marker, Pen, Svg
from ketaclinic.outcomes.selectors import SeriesSpan

__all__ = [
    "CLINICIAN_LAYOUT",
    "PATIENT_LAYOUT",
    "ChartLayout",
    "ChartRow",
    "chart_rows",
    "pain_chart_svg",
]

# Each at least 4.5:1 against white (the relapse level's ochre 4.9:1), and told apart by dash
# and marker as well as colour, so greyscale print and colour-vision deficiencies keep them.
NRS_COLOUR = "#0969da"
PEG_COLOUR = "#8250df"
INFUSION_COLOUR = "#cf222e"
BASELINE_COLOUR = "#57606a"
RELAPSE_COLOUR = "#9a6700"
_GRID_COLOUR: Final = "#d0d7de"
# matplotlib's "--", ":" and "-." patterns, in line widths, so the chart reads as it did.
_DASHED: Final = (3.7, 1.6)
_DOTTED: Final = (1.0, 1.65)
_DASH_DOT: Final = (6.4, 1.6, 1.0, 1.6)


@dataclass(frozen=True)
class ChartLayout:
    """A chart's size (inches; 72 user units each) and its one font size (points)."""

    width_in: float
    height_in: float
    font_pt: float
    legend_columns: int
    max_ticks: int


#: On a 390 px phone the chart is 340 px wide: 12.5 pt x 340 / 345.6 = 12.3 px.
PATIENT_LAYOUT: Final = ChartLayout(
    width_in=4.8, height_in=4.3, font_pt=12.5, legend_columns=2, max_ticks=5
)
#: The clinician's page and the letter: wide, read on a desktop or paper.
CLINICIAN_LAYOUT: Final = ChartLayout(
    width_in=8.0, height_in=3.9, font_pt=11, legend_columns=3, max_ticks=9
)
# The margin either side of the data: 3% of its span, at least a day.
_MARGIN_FRACTION: Final = 0.03
_Y_LABEL: Final = "Pain (0 none - 10 worst)"
_Y_TICKS: Final = tuple(plot.Tick(float(v), str(v)) for v in range(0, 11, 2))
_PAD: Final = 6.0  # around the chart's edge


def _x_range(days: Sequence[dt.date], today: dt.date) -> tuple[dt.date, dt.date, dt.timedelta]:
    if not days:
        return today - dt.timedelta(days=30), today, dt.timedelta(days=1)
    first, last = min(days), max(days)
    if first == last:
        return first - dt.timedelta(days=3), last + dt.timedelta(days=3), dt.timedelta(0)
    margin = max(dt.timedelta(days=1), (last - first) * _MARGIN_FRACTION)
    return first, last, dt.timedelta(days=margin.days)


def _dashed(pattern: tuple[float, ...], width: float) -> tuple[float, ...]:
    return tuple(part * width for part in pattern)


def pain_chart_svg(
    *,
    nrs: Sequence[tuple[dt.date, float]],
    peg: Sequence[tuple[dt.date, float]] = (),
    series: Sequence[SeriesSpan] = (),
    baseline: float | None = None,
    threshold: float | None = None,
    relapses: Sequence[dt.date] = (),
    today: dt.date,
    label: str = "Pain over time",
    wide: bool = False,
) -> str:
    """Daily NRS (line), weekly PEG (squares), infusion sessions (red lines, each series
    shaded), and for clinicians the baseline, the relapse level and relapse dates."""
    layout = CLINICIAN_LAYOUT if wide else PATIENT_LAYOUT
    font = layout.font_pt
    width, height = 72 * layout.width_in, 72 * layout.height_in
    days = [
        *(d for d, _ in nrs),
        *(d for d, _ in peg),
        *(d for s in series for d in (s.start, s.end, *s.sessions)),
        *relapses,
    ]
    first, last, margin = _x_range(days, today)
    x_min = float((first - margin).toordinal())
    x_max = float((last + margin + dt.timedelta(days=1)).toordinal())

    series_fill = Fill(INFUSION_COLOUR, 0.1)
    session_pen = Pen(INFUSION_COLOUR, 1.4, opacity=0.85)
    nrs_pen = Pen(NRS_COLOUR, 1.6)
    nrs_marker = Marker("circle", 2.5 if len(nrs) > 60 else 4.5, NRS_COLOUR)
    peg_marker = Marker("square", 6, PEG_COLOUR)
    baseline_pen = Pen(BASELINE_COLOUR, 1.3, _dashed(_DASHED, 1.3))
    threshold_pen = Pen(RELAPSE_COLOUR, 1.5, _dashed(_DOTTED, 1.5))
    relapse_pen = Pen(RELAPSE_COLOUR, 1.6, _dashed(_DASH_DOT, 1.6))
    entries = [
        *([LegendEntry("Infusion series", fill=series_fill)] if series else []),
        *([LegendEntry("Infusion", pen=session_pen)] if any(s.sessions for s in series) else []),
        *([LegendEntry("Daily pain (0-10)", pen=nrs_pen, marker=nrs_marker)] if nrs else []),
        *([LegendEntry("Weekly PEG", marker=peg_marker)] if peg else []),
        *(
            [LegendEntry(f"Baseline {baseline:.1f}", pen=baseline_pen)]
            if baseline is not None
            else []
        ),
        *(
            [LegendEntry(f"Relapse level {threshold:.1f}", pen=threshold_pen)]
            if threshold is not None
            else []
        ),
        *([LegendEntry("Relapse", pen=relapse_pen)] if relapses else []),
    ]

    # Left to right: the rotated axis label, the tick labels, the plot; room on the right for
    # half of a last tick label at the axis's end.
    left = _PAD + (plot.ASCENT + plot.DESCENT) * font + font * 0.5
    left += plot.y_tick_width(list(_Y_TICKS), font)
    right = width - _PAD - plot.text_width("2026", font) / 2
    # Top to bottom: the plot, the tick labels, the year once, then the legend (below the plot,
    # so the plot keeps the full width on a phone).
    legend = plot.legend_layout(
        entries,
        size=font,
        max_width=width - 2 * _PAD,
        max_columns=layout.legend_columns,
        handle=1.6 if wide else 1.8,
    )
    tick_band = plot.TICK_LENGTH + plot.TICK_PAD + (plot.ASCENT + plot.DESCENT) * font
    x_ticks = plot.date_ticks(
        x_min, x_max, length=right - left, size=font, max_ticks=layout.max_ticks
    )
    offset_band = plot.LINE_HEIGHT * font if x_ticks.offset else 0.0
    legend_band = legend.height + font * 0.6 if entries else 0.0
    top = _PAD + font * 0.4
    bottom = height - _PAD - legend_band - offset_band - tick_band
    axes = Axes(left, top, right - left, bottom - top, x_min, x_max, -0.3, 10.3)

    svg = Svg(width, height)
    for number, span in enumerate(series, start=1):
        with svg.group(f"series-{number}"):
            x0 = axes.x(span.start.toordinal())
            x1 = axes.x((span.end + dt.timedelta(days=1)).toordinal())
            svg.rect(x0, axes.top, x1 - x0, axes.height, series_fill)
    plot.draw_y_ticks(svg, axes, _Y_TICKS, size=font, grid=_GRID_COLOUR)
    with svg.group("infusions"):
        for span in series:
            for session in span.sessions:
                x = axes.x(session.toordinal())
                svg.line(x, axes.top, x, axes.bottom, session_pen)
    if nrs:
        points = [axes.point(d.toordinal(), v) for d, v in nrs]
        with svg.group("nrs"):
            svg.polyline(points, nrs_pen)
            svg.markers(points, nrs_marker)
    if peg:
        with svg.group("peg"):
            svg.markers([axes.point(d.toordinal(), v) for d, v in peg], peg_marker)
    for gid, level, pen in (
        ("baseline", baseline, baseline_pen),
        ("threshold", threshold, threshold_pen),
    ):
        if level is not None and axes.y_min <= level <= axes.y_max:
            with svg.group(gid):
                svg.line(axes.left, axes.y(level), axes.right, axes.y(level), pen)
    if relapses:
        with svg.group("relapses"):
            for day in relapses:
                x = axes.x(day.toordinal())
                svg.line(x, axes.top, x, axes.bottom, relapse_pen)
    plot.draw_spines(svg, axes)
    under_ticks = plot.draw_x_ticks(svg, axes, x_ticks.ticks, size=font)
    if x_ticks.offset:
        # The year once, under the axis's end ("2026", not "2026-Dec" on every tick).
        svg.text(axes.right, under_ticks, x_ticks.offset, size=font, anchor="end", valign="top")
    svg.text(
        _PAD,
        axes.top + axes.height / 2,
        _Y_LABEL,
        size=font,
        anchor="middle",
        valign="top",
        rotate=-90,
    )
    if entries:
        plot.draw_legend(
            svg,
            entries,
            legend,
            x=(width - legend.width) / 2,
            y=height - _PAD - legend.height,
        )
    return svg.render(
        label=label,
        css_class=f"chart-svg {'chart-wide' if wide else 'chart-phone'}",
        testid="pain-chart",
    )


@dataclass(frozen=True)
class ChartRow:
    """One day of the chart, for its table view."""

    day: dt.date
    nrs: float | None
    peg: float | None
    infusion: bool


def chart_rows(
    *,
    nrs: Sequence[tuple[dt.date, float]],
    peg: Sequence[tuple[dt.date, float]] = (),
    series: Sequence[SeriesSpan] = (),
) -> list[ChartRow]:
    """The chart's numbers by day, newest first: every day with a score or an infusion."""
    daily = dict(nrs)
    weekly = dict(peg)
    sessions = {d for s in series for d in s.sessions}
    return [
        ChartRow(day=day, nrs=daily.get(day), peg=weekly.get(day), infusion=day in sessions)
        for day in sorted(daily.keys() | weekly.keys() | sessions, reverse=True)
    ]
