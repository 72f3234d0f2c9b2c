"""matplotlib figures as SVG to inline in a page or embed in a letter, written once.

Every chart is a ``matplotlib.figure.Figure`` with its own Agg canvas, never pyplot: pyplot
keeps a global current figure (two requests in two threads would share it) and may load a GUI
backend. The figure is 72 dpi, so one point is one SVG user unit: a chart drawn
``width_in`` inches wide has a viewBox ``72 * width_in`` wide, and a font of ``n`` points shows
at ``n * rendered_width / (72 * width_in)`` CSS pixels once the page scales it to its container
(``phone_font_px`` says how large).

Text stays text (``<text>``, not glyph outlines): smaller, selectable, read by screen readers,
found by tests, and drawn by fpdf2 in the letter. That is matplotlib's process-wide
``svg.fonttype`` setting: set here once at import, to the same value for every chart, so no
request changes what another request sees (a per-call ``rc_context`` would, for a moment).
"""

from __future__ import annotations

import html
import io
import re

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaclinic.lib.svg import svg_without_inline_style

__all__ = ["PHONE_CONTENT_PX", "figure_svg", "new_figure", "phone_font_px", "view_box_width"]

matplotlib.rcParams["svg.fonttype"] = "none"
# Element ids from a fixed salt: the same data draws the same SVG, byte for byte.
matplotlib.rcParams["svg.hashsalt"] = "ketaclinic"

#: The width a chart gets on a 390 px phone: 390 less the page's 1 rem padding either side
#: (app.css ``main``) and the chart card's .5 rem padding and 1 px border (outcomes.css
#: ``.diary-chart``); the ``figure`` itself has no margin (app.css "charts").
PHONE_CONTENT_PX = 340

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")
_VIEW_BOX = re.compile(r'viewBox="([^"]+)"')
_FONT_PX = re.compile(r'font-size="([\d.]+)px"')


def new_figure(*, width_in: float, height_in: float) -> Figure:
    """A figure at 72 dpi (points = SVG units) with constrained layout and its own canvas."""
    figure = Figure(figsize=(width_in, height_in), dpi=72, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_svg(
    figure: Figure,
    *,
    label: str,
    description: str = "",
    css_class: str = "chart-svg",
    testid: str = "",
) -> str:
    """The bare ``<svg>`` element of ``figure``: no prolog, no fixed size (CSS sizes it),
    named for screen readers (``aria-label``, ``<title>``, ``<desc>``), and with no style
    attribute or element (the Content-Security-Policy refuses them; ``lib.svg``)."""
    buffer = io.StringIO()
    # No date or creator in the metadata: the same data draws the same chart.
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    match = _SVG_OPEN.match(svg)
    assert match is not None
    view_box = _VIEW_BOX.search(match.group(0))
    assert view_box is not None
    name = html.escape(label, quote=True)
    opening = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="{view_box.group(1)}" preserveAspectRatio="xMidYMid meet" '
        f'class="{html.escape(css_class, quote=True)}" role="img" aria-label="{name}"'
        + (f' data-testid="{html.escape(testid, quote=True)}"' if testid else "")
        + f"><title>{name}</title>"
        + (f"<desc>{html.escape(description, quote=False)}</desc>" if description else "")
    )
    svg = svg_without_inline_style(opening + svg[match.end() :])
    # Font sizes in user units ("11", not "11px"): the same size in a browser, where a px is a
    # user unit, and in the letter, where fpdf2 reads "px" as 0.75 pt and would shrink the text.
    return _FONT_PX.sub(r'font-size="\1"', svg)


def view_box_width(svg: str) -> float:
    """The width of an SVG's viewBox (user units: points, for our figures)."""
    match = _VIEW_BOX.search(svg)
    if match is None:
        raise ValueError("svg has no viewBox")
    return float(match.group(1).split()[2])


def phone_font_px(font_pt: float, *, width_in: float, shown_px: float = PHONE_CONTENT_PX) -> float:
    """How many CSS pixels a ``font_pt`` font measures when a ``width_in`` figure is shown
    ``shown_px`` wide (the SVG scales to its container)."""
    return font_pt * shown_px / (72 * width_in)
