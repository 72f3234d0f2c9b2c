"""The pain chart as SVG, drawn with matplotlib's object API.

A ``matplotlib.figure.Figure`` with its own Agg canvas per chart, never pyplot: pyplot keeps
global state (the current figure) that two requests in two threads would share. The SVG is
inlined in the page, so it is sized by CSS (``width: 100%``) and named for screen readers; the
page also lists the numbers as text. The progress letter (``letters.pdf``) embeds the same chart.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
from django.utils.html import escape
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaclinic.lib.svg import svg_without_inline_style
from ketaclinic.outcomes.selectors import SeriesSpan

NRS_COLOUR = "#0969da"
PEG_COLOUR = "#8250df"
INFUSION_COLOUR = "#cf222e"
BASELINE_COLOUR = "#57606a"
RELAPSE_COLOUR = "#bf8700"

# Text as SVG <text> rather than outlines: smaller, selectable, read by screen readers and found
# by tests. A process-wide setting read only by the SVG writer, set once at import (the same
# value for every chart), so no request changes state another request sees.
matplotlib.rcParams["svg.fonttype"] = "none"

# matplotlib.dates ships no type hints; these names give its callables a type once.
_date2num: Callable[[dt.date], float] = mdates.date2num
_DateLocator: Callable[..., Any] = mdates.AutoDateLocator
_DateFormatter: Callable[..., Any] = mdates.ConciseDateFormatter

_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _svg_root(svg: str, *, label: str) -> str:
    """The ``<svg>`` element alone, scalable and named (no XML prolog, no fixed size)."""
    start = svg.index("<svg")
    svg = svg[start:]
    match = _SVG_OPEN.match(svg)
    assert match is not None
    opening = match.group(0)
    label = escape(label)
    view_box = re.search(r'viewBox="([^"]+)"', opening)
    new_open = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="{view_box.group(1) if view_box else "0 0 576 230"}" '
        'preserveAspectRatio="xMidYMid meet" class="chart-svg" '
        f'role="img" aria-label="{label}" data-testid="pain-chart">'
        f"<title>{label}</title>"
    )
    # Colours and strokes as attributes: the Content-Security-Policy refuses style attributes.
    return svg_without_inline_style(new_open + svg[match.end() :])


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
) -> str:
    """Daily NRS (line), weekly PEG (squares), infusion sessions (red ticks, series shaded),
    and for clinicians the baseline, the relapse level and relapse dates."""
    # Narrow enough that the text stays legible when a phone scales the SVG to its width.
    figure = Figure(figsize=(6.4, 4.0), dpi=72, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = [d for d, _ in nrs] + [d for d, _ in peg] + [d for s in series for d in s.sessions]
    first = min(days) if days else today - dt.timedelta(days=30)
    last = max([*days, today])
    if first == last:
        first = last - dt.timedelta(days=7)
    for number, span in enumerate(series, start=1):
        axes.axvspan(
            _date2num(span.start),
            _date2num(span.end + dt.timedelta(days=1)),
            color=INFUSION_COLOUR,
            alpha=0.08,
            linewidth=0,
            label="Infusion series" if number == 1 else None,
        )
        for session in span.sessions:
            axes.axvline(
                _date2num(session),
                color=INFUSION_COLOUR,
                linewidth=1.2,
                alpha=0.8,
                label="Infusion" if number == 1 and session == span.sessions[0] else None,
            )
    if nrs:
        axes.plot(
            [_date2num(d) for d, _ in nrs],
            [v for _, v in nrs],
            color=NRS_COLOUR,
            marker="o",
            markersize=3 if len(nrs) > 60 else 5,
            linewidth=1.5,
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
            linewidth=1.2,
            label=f"Baseline {baseline:.1f}",
        )
    if threshold is not None:
        axes.axhline(
            threshold,
            color=RELAPSE_COLOUR,
            linestyle=":",
            linewidth=1.2,
            label=f"Relapse level {threshold:.1f}",
        )
    for index, day in enumerate(relapses):
        axes.axvline(
            _date2num(day),
            color=RELAPSE_COLOUR,
            linestyle="-.",
            linewidth=1.5,
            label="Relapse" if index == 0 else None,
        )
    axes.set_ylim(-0.3, 10.3)
    axes.set_yticks(range(0, 11, 2))
    axes.set_ylabel("Pain (0 none - 10 worst)")
    axes.set_xlim(_date2num(first - dt.timedelta(days=1)), _date2num(last + dt.timedelta(days=1)))
    locator = _DateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(_DateFormatter(locator))
    axes.grid(axis="y", color="#d0d7de", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if axes.get_legend_handles_labels()[0]:
        # Below the plot, so the plot keeps the full width on a phone.
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncols=3,
            frameon=False,
            fontsize=9,
        )
    buffer = io.StringIO()
    # No date in the metadata: the same data draws the same chart.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _svg_root(buffer.getvalue(), label=label)
