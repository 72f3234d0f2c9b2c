"""A small SVG chart writer: the three web charts without matplotlib (issue 17).

matplotlib, with numpy and Pillow under it, was about 56 MiB of every web worker that drew a
chart (docs/benchmarks.md "Web worker memory"), to draw lines, markers, spans, ticks, a legend
and some text. This module draws exactly that with the standard library only:

* ``Svg``: the document, in user units (points: a 7.2 in chart is 518.4 units wide, as it was
  with matplotlib at 72 dpi), with named groups (``<g id="...">``), paths, rectangles, text and
  markers (one ``<path>`` per marker shape in ``<defs>``, one ``<use>`` per point).
* ``Axes``: the mapping from data to the plot box; ``draw_x_ticks``/``draw_y_ticks``/
  ``draw_spines`` draw its furniture.
* ``linear_ticks`` and ``date_ticks``: "nice" steps (1, 2, 2.5, 5 x 10^n; days, months, years)
  chosen so the labels never overlap at the width the chart is drawn, and concise date labels
  ("Feb", "15", "2025" where the year turns, the year once under the axis).
* ``text_width``: DejaVu Sans advance widths (the font the chart names first, and the widest
  common sans face: a phone that falls back to Arial or Roboto draws narrower text, so a
  layout that fits in DejaVu fits there too), used to size margins, legends and wrapped
  captions.
* ``legend_layout``/``draw_legend`` and ``wrap_text``.

Rules the output keeps: every colour, stroke and font is a presentation attribute, never a
``style`` attribute or a ``<style>`` element (the page's Content-Security-Policy refuses both);
every piece of text is escaped (a label may carry a clinic's or a patient's name); text stays
``<text>`` (read by screen readers, found by tests, drawn by fpdf2 in the progress letter); the
root is named for screen readers (``role="img"``, ``aria-label``, ``<title>``, ``<desc>``) and
has no fixed size (CSS sizes it); and the same data draws the same bytes (numbers rounded to
0.01 unit, no ids from counters shared between charts).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "FONT_FAMILY",
    "INK",
    "PHONE_CONTENT_PX",
    "Axes",
    "DateTicks",
    "Fill",
    "LegendEntry",
    "LegendLayout",
    "Marker",
    "Pen",
    "Svg",
    "Tick",
    "date_ticks",
    "draw_legend",
    "draw_spines",
    "draw_x_ticks",
    "draw_y_ticks",
    "legend_layout",
    "linear_ticks",
    "num",
    "phone_font_px",
    "text_width",
    "view_box_width",
    "wrap_text",
]

#: The width a chart gets on a 390 px phone: 390 less the page's 1 rem padding either side
#: (app.css ``main``) and the chart card's .5 rem padding and 1 px border (outcomes.css
#: ``.diary-chart``); the ``figure`` itself has no margin (app.css "charts").
PHONE_CONTENT_PX: Final = 340

#: DejaVu Sans first (the widths below are its own), then faces as wide or narrower. "DejaVu" is
#: the name the progress letter registers the same font under in fpdf2 (``letters.pdf``), so the
#: letter draws the chart's text in it rather than in a Latin-1-only core font.
FONT_FAMILY: Final = "DejaVu Sans, DejaVu, Verdana, Arial, Helvetica, sans-serif"
#: The page's ink (app.css ``--ink``): 15:1 on white.
INK: Final = "#24292f"
_MUTED: Final = "#57606a"  # 6.4:1 on white

# DejaVu Sans advance widths, in 1/2048 em, of the printable ASCII characters (32 to 126), read
# from the font's hmtx table.
_ASCII_WIDTHS: Final = (
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690,
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087,
    2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
    1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024,
    1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253,
    1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
)  # fmt: skip
_OTHER_WIDTHS: Final = {
    "\u2026": 2048, "\u2013": 1024, "\u2014": 2048, "\u2018": 651, "\u2019": 651,
    "\u201c": 1061, "\u201d": 1061, "\u00b0": 1024, "\u00b5": 1303, "\u00b1": 1716,
    "\u2265": 1716, "\u2264": 1716, "\u00d7": 1716, "\u00b7": 651, "\u2022": 1208,
}  # fmt: skip
_UNITS_PER_EM: Final = 2048
# Anything else (a letter of another script, a symbol) counts as a full em: wider than any
# character above but "@", so text of unknown width is laid out too wide, never too narrow.
_UNKNOWN_WIDTH: Final = 2048
# DejaVu Sans Bold is 1.0 to 1.26 times as wide, 1.12 on average over ASCII; the few bold
# labels are words, so 1.15 leaves room.
_BOLD_FACTOR: Final = 1.15
#: The font's vertical metrics, in em: the top of "d" or "l" above the baseline, half the
#: height of a capital, the depth of "g" or "p", and the distance between two lines.
ASCENT: Final = 0.76
HALF_CAP: Final = 0.365
DESCENT: Final = 0.236
LINE_HEIGHT: Final = 1.25

VAlign = Literal["baseline", "top", "middle", "bottom"]
Anchor = Literal["start", "middle", "end"]
MarkerKind = Literal["circle", "square", "plus"]

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_VIEW_BOX = re.compile(r'viewBox="([^"]+)"')


# -- numbers and text -----------------------------------------------------------------------


def num(value: float) -> str:
    """A coordinate as written: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _char_width(char: str) -> int:
    code = ord(char)
    if 32 <= code <= 126:
        return _ASCII_WIDTHS[code - 32]
    if char in _OTHER_WIDTHS:
        return _OTHER_WIDTHS[char]
    # An accented Latin letter is as wide as its base letter ("ë" as "e", "Ł" about "L").
    base = unicodedata.normalize("NFD", char)[:1]
    if base and base != char and 32 <= ord(base) <= 126:
        return _ASCII_WIDTHS[ord(base) - 32]
    return _UNKNOWN_WIDTH


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The advance width of ``text`` at ``size`` (user units) in DejaVu Sans."""
    width = sum(_char_width(char) for char in text) * size / _UNITS_PER_EM
    return width * _BOLD_FACTOR if bold else width


def wrap_text(text: str, *, width: float, size: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` (a single word wider than
    that keeps a line of its own)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and text_width(candidate, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


# -- drawing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pen:
    """How a line is stroked: a colour, a width and a dash pattern (user units)."""

    colour: str
    width: float = 1.0
    dash: tuple[float, ...] = ()
    opacity: float = 1.0

    def attributes(self) -> str:
        parts = f' stroke="{_escape(self.colour)}" stroke-width="{num(self.width)}"'
        if self.dash:
            parts += f' stroke-dasharray="{" ".join(num(d) for d in self.dash)}"'
        if self.opacity < 1:
            parts += f' stroke-opacity="{num(self.opacity)}"'
        return parts


@dataclass(frozen=True)
class Fill:
    """A flat fill: a colour and its opacity."""

    colour: str
    opacity: float = 1.0

    def attributes(self) -> str:
        parts = f' fill="{_escape(self.colour)}"'
        if self.opacity < 1:
            parts += f' fill-opacity="{num(self.opacity)}"'
        return parts


@dataclass(frozen=True)
class Marker:
    """A marker drawn at each point: ``size`` is its width in user units."""

    kind: MarkerKind
    size: float
    colour: str
    edge: float = 1.0  # the stroke around a circle or square, or of a "plus" (as matplotlib)

    @property
    def ref(self) -> str:
        # Named by its look, not by a counter: two charts on one page that share a marker
        # define it identically, and the same chart always writes the same bytes.
        return f"mk-{self.kind}-{self.colour.lstrip('#')}-{num(self.size).replace('.', '_')}"

    def definition(self) -> str:
        r = self.size / 2
        if self.kind == "plus":
            d = f"M {num(-r)} 0 L {num(r)} 0 M 0 {num(r)} L 0 {num(-r)}"
            paint = Pen(self.colour, self.edge).attributes() + ' fill="none"'
        elif self.kind == "square":
            d = f"M {num(-r)} {num(-r)} H {num(r)} V {num(r)} H {num(-r)} Z"
            paint = f' fill="{_escape(self.colour)}"' + Pen(self.colour, self.edge).attributes()
        else:
            arc = f"A {num(r)} {num(r)} 0 1 0"
            d = f"M {num(-r)} 0 {arc} {num(r)} 0 {arc} {num(-r)} 0 Z"
            paint = f' fill="{_escape(self.colour)}"' + Pen(self.colour, self.edge).attributes()
        return f'<path id="{self.ref}" d="{d}"{paint}/>'


class Svg:
    """An SVG document being drawn, in user units, ``width`` by ``height``."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self._parts: list[str] = []
        self._defs: dict[str, str] = {}

    @contextmanager
    def group(self, gid: str | None = None) -> Iterator[None]:
        """Everything drawn inside is one ``<g>``, named ``gid`` (tests and pages find it)."""
        self._parts.append(f'<g id="{_escape(gid)}">' if gid else "<g>")
        try:
            yield
        finally:
            self._parts.append("</g>")

    def path(self, d: str, *, pen: Pen | None = None, fill: Fill | None = None) -> None:
        paint = pen.attributes() if pen else ""
        paint += fill.attributes() if fill else ' fill="none"'
        if pen is not None and fill is None:
            paint += ' stroke-linejoin="round"'
        self._parts.append(f'<path d="{d}"{paint}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, pen: Pen) -> None:
        self.path(f"M {num(x1)} {num(y1)} L {num(x2)} {num(y2)}", pen=pen)

    def polyline(self, points: Sequence[tuple[float, float]], pen: Pen) -> None:
        if points:
            self.path(polyline_d(points), pen=pen)

    def rect(self, x: float, y: float, width: float, height: float, fill: Fill) -> None:
        self._parts.append(
            f'<rect x="{num(x)}" y="{num(y)}" width="{num(width)}" height="{num(height)}"'
            f"{fill.attributes()}/>"
        )

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float,
        colour: str = INK,
        anchor: Anchor = "start",
        valign: VAlign = "baseline",
        bold: bool = False,
        rotate: float = 0.0,
    ) -> None:
        """One line of text at ``(x, y)``. ``valign`` places the line's top, middle or bottom
        there instead of its baseline (computed from the font's metrics, since
        ``dominant-baseline`` is not read by every renderer: fpdf2 ignores it). ``rotate`` is
        in degrees about ``(x, y)``; the vertical offset then turns with the text."""
        shift = {
            "baseline": 0.0,
            "top": ASCENT * size,
            "middle": HALF_CAP * size,
            "bottom": -DESCENT * size,
        }[valign]
        rad = math.radians(rotate)
        bx, by = x - shift * math.sin(rad), y + shift * math.cos(rad)
        attributes = f'x="{num(bx)}" y="{num(by)}" font-size="{num(size)}"'
        attributes += f' fill="{_escape(colour)}"'
        if anchor != "start":
            attributes += f' text-anchor="{anchor}"'
        if bold:
            attributes += ' font-weight="bold"'
        if rotate:
            attributes += f' transform="rotate({num(rotate)} {num(bx)} {num(by)})"'
        self._parts.append(f"<text {attributes}>{_escape(content)}</text>")

    def markers(self, points: Sequence[tuple[float, float]], marker: Marker) -> None:
        """``marker`` at each point: its shape once in ``<defs>``, then one ``<use>`` each."""
        self._defs.setdefault(marker.ref, marker.definition())
        self._parts.extend(
            f'<use xlink:href="#{marker.ref}" x="{num(x)}" y="{num(y)}"/>' for x, y in points
        )

    def render(
        self, *, label: str, description: str = "", css_class: str = "chart-svg", testid: str = ""
    ) -> str:
        """The bare ``<svg>`` element: no prolog, no fixed size (CSS sizes it by its viewBox),
        named for screen readers, white behind (the chart's colours are chosen against white)."""
        name = _escape(label)
        opening = (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="0 0 {num(self.width)} {num(self.height)}" '
            f'preserveAspectRatio="xMidYMid meet" class="{_escape(css_class)}" role="img" '
            f'aria-label="{name}"' + (f' data-testid="{_escape(testid)}"' if testid else "") + ">"
        )
        head = f"<title>{name}</title>" + (
            f"<desc>{_escape(description)}</desc>" if description else ""
        )
        defs = f"<defs>{''.join(self._defs.values())}</defs>" if self._defs else ""
        background = (
            f'<rect x="0" y="0" width="{num(self.width)}" height="{num(self.height)}" '
            'fill="#ffffff"/>'
        )
        body = "\n".join(self._parts)
        # The font once, inherited by every <text>; lines end butt and join round.
        return (
            f"{opening}{head}{defs}\n"
            f'<g font-family="{FONT_FAMILY}" stroke-linecap="butt">{background}\n{body}\n</g></svg>'
        )


def polyline_d(points: Sequence[tuple[float, float]]) -> str:
    """Path data through ``points`` in order."""
    head, *rest = points
    return f"M {num(head[0])} {num(head[1])}" + "".join(f" L {num(x)} {num(y)}" for x, y in rest)


# -- axes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axes:
    """A plot box (user units, y downwards) and the data range it shows."""

    left: float
    top: float
    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, value: float) -> float:
        span = self.x_max - self.x_min
        return self.left + (value - self.x_min) / span * self.width if span else self.left

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min
        return self.bottom - (value - self.y_min) / span * self.height if span else self.bottom

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.x(x), self.y(y)

    def clamp_y(self, value: float) -> float:
        return min(max(value, self.y_min), self.y_max)


@dataclass(frozen=True)
class Tick:
    value: float
    label: str


#: The length of a tick mark and the gap between it and its label.
TICK_LENGTH: Final = 3.5
TICK_PAD: Final = 3.5
_SPINE: Final = Pen(INK, 0.8)


def draw_x_ticks(
    svg: Svg,
    axes: Axes,
    ticks: Sequence[Tick],
    *,
    size: float,
    grid: str | None = None,
    colour: str = INK,
) -> float:
    """Tick marks and labels under the plot, each tick a group ``xtick_<n>``; with ``grid``, a
    line of that colour up through the plot. Returns the y under the labels."""
    for index, tick in enumerate(ticks):
        x = axes.x(tick.value)
        if grid:
            svg.line(x, axes.top, x, axes.bottom, Pen(grid, 0.6))
        with svg.group(f"xtick_{index}"):
            svg.line(x, axes.bottom, x, axes.bottom + TICK_LENGTH, _SPINE)
            svg.text(
                x,
                axes.bottom + TICK_LENGTH + TICK_PAD,
                tick.label,
                size=size,
                colour=colour,
                anchor="middle",
                valign="top",
            )
    return axes.bottom + TICK_LENGTH + TICK_PAD + (ASCENT + DESCENT) * size


def draw_y_ticks(
    svg: Svg,
    axes: Axes,
    ticks: Sequence[Tick],
    *,
    size: float,
    grid: str | None = None,
    colour: str = INK,
) -> None:
    """Tick marks and labels left of the plot, each tick a group ``ytick_<n>``; with ``grid``,
    a line of that colour across the plot."""
    for index, tick in enumerate(ticks):
        y = axes.y(tick.value)
        if grid:
            svg.line(axes.left, y, axes.right, y, Pen(grid, 0.6))
        with svg.group(f"ytick_{index}"):
            svg.line(axes.left - TICK_LENGTH, y, axes.left, y, _SPINE)
            svg.text(
                axes.left - TICK_LENGTH - TICK_PAD,
                y,
                tick.label,
                size=size,
                colour=colour,
                anchor="end",
                valign="middle",
            )


def y_tick_width(ticks: Sequence[Tick], size: float) -> float:
    """How far the y tick labels and marks reach left of the plot."""
    widest = max((text_width(t.label, size) for t in ticks), default=0.0)
    return widest + TICK_LENGTH + TICK_PAD


def draw_spines(svg: Svg, axes: Axes, *, box: bool = False) -> None:
    """The left and bottom edges of the plot (all four with ``box``)."""
    svg.line(axes.left, axes.top, axes.left, axes.bottom, _SPINE)
    svg.line(axes.left, axes.bottom, axes.right, axes.bottom, _SPINE)
    if box:
        svg.line(axes.left, axes.top, axes.right, axes.top, _SPINE)
        svg.line(axes.right, axes.top, axes.right, axes.bottom, _SPINE)


# -- ticks ------------------------------------------------------------------------------------


def _decimals(step: float) -> int:
    return next((d for d in range(7) if abs(round(step, d) - step) < step * 1e-9), 6)


def linear_ticks(
    low: float,
    high: float,
    *,
    length: float,
    extent: Callable[[str], float],
    max_ticks: int = 11,
    suffix: str = "",
) -> list[Tick]:
    """Ticks at multiples of a "nice" step (1, 2, 2.5 or 5 x 10^n) between ``low`` and
    ``high``: the finest step whose labels, each ``extent(label)`` long along an axis
    ``length`` long, do not overlap, with at most ``max_ticks`` ticks."""
    span = high - low
    if not span > 0 or not math.isfinite(span):
        return [Tick(low, f"{low:g}{suffix}")]
    exponent = math.floor(math.log10(span / max_ticks))
    best: list[Tick] = []
    for power in range(exponent, exponent + 4):
        for mult in (1.0, 2.0, 2.5, 5.0):
            step = mult * 10.0**power
            first = math.ceil(low / step - 1e-9)
            last = math.floor(high / step + 1e-9)
            count = last - first + 1
            if count > max_ticks:
                continue
            decimals = _decimals(step)
            ticks = []
            for n in range(first, last + 1):
                value = n * step + 0.0  # + 0.0: never "-0"
                ticks.append(Tick(value, f"{value:.{decimals}f}{suffix}"))
            gap = step / span * length
            best = ticks
            if all(gap >= extent(t.label) for t in ticks):
                return ticks
    return best


@dataclass(frozen=True)
class DateTicks:
    """Date ticks with concise labels, and the ``offset`` to print once under the axis (the
    year, when the labels do not say it)."""

    ticks: list[Tick]
    offset: str


def _day_candidates(low: dt.date, high: dt.date, step: int) -> list[dt.date]:
    # Days 1, 1 + step, ... of each month, as calendars and matplotlib do, leaving out the last
    # of a month when the 1st of the next comes less than half a step later ("29" before "1").
    days = []
    day = low
    while day <= high:
        if (day.day - 1) % step == 0:
            next_first = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            if step == 1 or (next_first - day).days * 2 > step:
                days.append(day)
        day += dt.timedelta(days=1)
    return days


def _month_candidates(low: dt.date, high: dt.date, step: int) -> list[dt.date]:
    days = []
    year, month = low.year, low.month
    while (year, month) <= (high.year, high.month):
        first = dt.date(year, month, 1)
        if low <= first <= high and (month - 1) % step == 0:
            days.append(first)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


def _year_candidates(low: dt.date, high: dt.date, step: int) -> list[dt.date]:
    return [
        dt.date(year, 1, 1)
        for year in range(low.year, high.year + 1)
        if year % step == 0 and low <= dt.date(year, 1, 1) <= high
    ]


def _date_labels(days: list[dt.date], level: str) -> tuple[list[str], str]:
    if level == "years":
        return [str(d.year) for d in days], ""
    if level == "months":
        labels = [str(d.year) if d.month == 1 else _MONTHS[d.month - 1] for d in days]
        # The year is in the labels where it turns; otherwise once, under the axis.
        return labels, "" if any(d.month == 1 for d in days) else str(days[0].year)
    labels = [_MONTHS[d.month - 1] if d.day == 1 else str(d.day) for d in days]
    years = sorted({d.year for d in days})
    return labels, str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"


#: (level, step, the widest gap between two ticks a unit apart, in days), finest first: a day
#: tick left out before the 1st of a month (``_day_candidates``) makes a gap of up to 1.5 steps.
_DATE_STEPS: Final = (
    *(("days", step, 1.5) for step in (1, 2, 3, 4, 5, 7, 14)),
    *(("months", step, 31.0) for step in (1, 2, 3, 4, 6)),
    *(("years", step, 366.0) for step in (1, 2, 5, 10, 20, 50, 100)),
)


def date_ticks(
    low: float,
    high: float,
    *,
    length: float,
    size: float,
    max_ticks: int,
    gap: float | None = None,
) -> DateTicks:
    """Ticks on an axis of days (``date.toordinal()`` values from ``low`` to ``high``, ``length``
    user units long): the finest of every 1, 2, 3, 4, 5, 7 or 14 days, 1, 2, 3, 4 or 6 months,
    or 1, 2, 5, 10 ... years whose labels at ``size`` leave ``gap`` between them, at most
    ``max_ticks`` (and two at least, when any choice gives two)."""
    gap = size if gap is None else gap
    first = dt.date.fromordinal(math.ceil(low))
    last = dt.date.fromordinal(max(math.floor(high), first.toordinal()))
    span = max(high - low, 1e-9)
    generators: dict[str, Callable[[dt.date, dt.date, int], list[dt.date]]] = {
        "days": _day_candidates,
        "months": _month_candidates,
        "years": _year_candidates,
    }
    fallback: DateTicks | None = None
    for level, step, unit_days in _DATE_STEPS:
        # No two ticks are further apart than that: a step that must give more than
        # ``max_ticks`` is passed over without listing its days.
        if (last - first).days // (step * unit_days) > max_ticks:
            continue
        days = generators[level](first, last, step)
        if not days:
            continue
        labels, offset = _date_labels(days, level)
        ticks = [Tick(float(d.toordinal()), label) for d, label in zip(days, labels, strict=True)]
        fits = len(ticks) <= max_ticks and all(
            (b.value - a.value) / span * length
            >= (text_width(a.label, size) + text_width(b.label, size)) / 2 + gap
            for a, b in itertools.pairwise(ticks)
        )
        if fits and len(ticks) >= 2:
            return DateTicks(ticks, offset)
        if fits and fallback is None:
            fallback = DateTicks(ticks, offset)
    if fallback is not None:
        return fallback
    label = f"{first.day} {_MONTHS[first.month - 1]} {first.year}"
    return DateTicks([Tick(float(first.toordinal()), label)], "")


# -- legend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegendEntry:
    """One legend row: a line (``pen``), a marker, a shaded patch (``fill``), or a line with
    markers on it, and its label."""

    label: str
    pen: Pen | None = None
    marker: Marker | None = None
    fill: Fill | None = None


@dataclass(frozen=True)
class LegendLayout:
    columns: int
    rows: int
    column_widths: tuple[float, ...]
    width: float
    height: float
    size: float
    handle: float


_HANDLE_PAD: Final = 0.8  # em between the handle and its label
_COLUMN_GAP: Final = 1.5  # em between columns


def legend_layout(
    entries: Sequence[LegendEntry],
    *,
    size: float,
    max_width: float,
    max_columns: int,
    handle: float = 2.0,
) -> LegendLayout:
    """The most columns (at most ``max_columns``) whose width fits ``max_width``; entries run
    down each column in turn. ``handle`` is the length of a line's sample, in em."""
    widths = [text_width(entry.label, size) + (handle + _HANDLE_PAD) * size for entry in entries]
    for columns in range(max(1, min(max_columns, len(entries))), 0, -1):
        rows = math.ceil(len(entries) / columns)
        column_widths = tuple(
            max(widths[c * rows : (c + 1) * rows], default=0.0) for c in range(columns)
        )
        total = sum(column_widths) + _COLUMN_GAP * size * (columns - 1)
        if total <= max_width or columns == 1:
            return LegendLayout(
                columns, rows, column_widths, total, rows * LINE_HEIGHT * size, size, handle
            )
    raise AssertionError("unreachable: one column always fits")


def draw_legend(
    svg: Svg, entries: Sequence[LegendEntry], layout: LegendLayout, *, x: float, y: float
) -> None:
    """The legend with its top-left corner at ``(x, y)``, in a group ``legend``."""
    size, row_height = layout.size, LINE_HEIGHT * layout.size
    handle = layout.handle * size
    with svg.group("legend"):
        left = x
        for column in range(layout.columns):
            for row in range(layout.rows):
                index = column * layout.rows + row
                if index >= len(entries):
                    break
                entry = entries[index]
                middle = y + row * row_height + row_height / 2
                if entry.fill is not None:
                    svg.rect(left, middle - size * 0.35, handle, size * 0.7, entry.fill)
                if entry.pen is not None:
                    svg.line(left, middle, left + handle, middle, entry.pen)
                if entry.marker is not None:
                    svg.markers([(left + handle / 2, middle)], entry.marker)
                svg.text(
                    left + handle + _HANDLE_PAD * size,
                    middle,
                    entry.label,
                    size=size,
                    valign="middle",
                )
            left += layout.column_widths[column] + _COLUMN_GAP * size


# -- sizes ------------------------------------------------------------------------------------


def view_box_width(svg: str) -> float:
    """The width of an SVG's viewBox (user units: points, for our charts)."""
    match = _VIEW_BOX.search(svg)
    if match is None:
        raise ValueError("svg has no viewBox")
    return float(match.group(1).split()[2])


def phone_font_px(font_pt: float, *, width_in: float, shown_px: float = PHONE_CONTENT_PX) -> float:
    """How many CSS pixels a ``font_pt`` font measures when a ``width_in`` chart (72 user units
    an inch) is shown ``shown_px`` wide (the SVG scales to its container)."""
    return font_pt * shown_px / (72 * width_in)
