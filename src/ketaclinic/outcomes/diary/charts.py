"""The pain chart as SVG, drawn with matplotlib's object API (``lib.figures``).

Two shapes of the same drawing: the patient's (``wide=False``) is sized for a 390 px phone,
where the SVG scales to the page's width and a 12.5 pt font shows at about 12.3 px
(``lib.figures.phone_font_px``); the clinician's and the letter's (``wide=True``) is wide and
fitted to the data. Either way the x-axis runs from the first to the last thing drawn (a diary
score, a PEG, a session, a relapse) with a small margin, not from months before to today. The
page also offers the numbers as a table (``chart_rows``, "Show as a table"). The progress
letter (``letters.pdf``) embeds the wide chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from matplotlib import dates as mdates

from ketaclinic.lib.figures import figure_svg, new_figure
from ketaclinic.outcomes.selectors import SeriesSpan

__all__ = [
    "CLINICIAN_LAYOUT",
    "PATIENT_LAYOUT",
    "ChartLayout",
    "ChartRow",
    "chart_rows",
    "pain_chart_svg",
]

NRS_COLOUR = "#0969da"
PEG_COLOUR = "#8250df"
INFUSION_COLOUR = "#cf222e"
BASELINE_COLOUR = "#57606a"
RELAPSE_COLOUR = "#9a6700"

# matplotlib.dates ships no type hints; these names give its callables a type once.
_date2num: Callable[[dt.date], float] = mdates.date2num
_DateLocator: Callable[..., Any] = mdates.AutoDateLocator
_DateFormatter: Callable[..., Any] = mdates.ConciseDateFormatter


@dataclass(frozen=True)
class ChartLayout:
    """A figure's size (inches; 72 points each) and its one font size (points)."""

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


def _x_range(days: Sequence[dt.date], today: dt.date) -> tuple[dt.date, dt.date, dt.timedelta]:
    if not days:
        return today - dt.timedelta(days=30), today, dt.timedelta(days=1)
    first, last = min(days), max(days)
    if first == last:
        return first - dt.timedelta(days=3), last + dt.timedelta(days=3), dt.timedelta(0)
    margin = max(dt.timedelta(days=1), (last - first) * _MARGIN_FRACTION)
    return first, last, dt.timedelta(days=margin.days)


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
    figure = new_figure(width_in=layout.width_in, height_in=layout.height_in)
    axes = figure.add_subplot()
    days = [
        *(d for d, _ in nrs),
        *(d for d, _ in peg),
        *(d for s in series for d in (s.start, s.end, *s.sessions)),
        *relapses,
    ]
    first, last, margin = _x_range(days, today)
    for number, span in enumerate(series, start=1):
        axes.axvspan(
            _date2num(span.start),
            _date2num(span.end + dt.timedelta(days=1)),
            color=INFUSION_COLOUR,
            alpha=0.1,
            linewidth=0,
            label="Infusion series" if number == 1 else None,
        )
        for session in span.sessions:
            axes.axvline(
                _date2num(session),
                color=INFUSION_COLOUR,
                linewidth=1.4,
                alpha=0.85,
                label="Infusion" if number == 1 and session == span.sessions[0] else None,
            )
    if nrs:
        axes.plot(
            [_date2num(d) for d, _ in nrs],
            [v for _, v in nrs],
            color=NRS_COLOUR,
            marker="o",
            markersize=2.5 if len(nrs) > 60 else 4.5,
            linewidth=1.6,
            label="Daily pain (0-10)",
        )
    if peg:
        axes.plot(
            [_date2num(d) for d, _ in peg],
            [v for _, v in peg],
            color=PEG_COLOUR,
            marker="s",
            markersize=6,
            linestyle="none",
            label="Weekly PEG",
        )
    if baseline is not None:
        axes.axhline(
            baseline,
            color=BASELINE_COLOUR,
            linestyle="--",
            linewidth=1.3,
            label=f"Baseline {baseline:.1f}",
        )
    if threshold is not None:
        axes.axhline(
            threshold,
            color=RELAPSE_COLOUR,
            linestyle=":",
            linewidth=1.5,
            label=f"Relapse level {threshold:.1f}",
        )
    for index, day in enumerate(relapses):
        axes.axvline(
            _date2num(day),
            color=RELAPSE_COLOUR,
            linestyle="-.",
            linewidth=1.6,
            label="Relapse" if index == 0 else None,
        )
    axes.set_ylim(-0.3, 10.3)
    axes.set_yticks(range(0, 11, 2))
    axes.set_ylabel("Pain (0 none - 10 worst)", fontsize=font)
    axes.set_xlim(_date2num(first - margin), _date2num(last + margin + dt.timedelta(days=1)))
    locator = _DateLocator(minticks=3, maxticks=layout.max_ticks)
    axes.xaxis.set_major_locator(locator)
    # The year once, under the last tick ("2026", not "2026-Dec").
    axes.xaxis.set_major_formatter(
        _DateFormatter(locator, offset_formats=["", "%Y", "%Y", "%d %b %Y", "%d %b %Y", "%d %b %Y"])
    )
    axes.xaxis.get_offset_text().set_fontsize(font)
    axes.tick_params(labelsize=font)
    axes.grid(axis="y", color="#d0d7de", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if axes.get_legend_handles_labels()[0]:
        # Below the plot, so the plot keeps the full width on a phone.
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14 if wide else -0.16),
            ncols=layout.legend_columns,
            frameon=False,
            fontsize=font,
            handlelength=1.6,
            columnspacing=1.2,
        )
    return figure_svg(
        figure,
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
