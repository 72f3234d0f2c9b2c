"""Predicted plasma-concentration charts, as SVG text to inline in a page or a letter.

The curve comes from ``ketaclinic.clinical.pk.simulate`` for any constant-rate segments, so the
same function draws a plan's single infusion and, on the infusion day, the curve of the rates
actually given (``compare_segments`` overlays the planned curve). Behind the curve are the
reference bands of docs/clinical-policy.md "Pharmacokinetics [7]" (``pk.REFERENCE_BANDS``),
shaded and labelled.
Every chart says it is an estimate: decision support only, never automatic dosing.

Drawing uses our own small SVG writer (``lib.plot``, standard library only), not matplotlib:
a web worker that draws this chart loads only numpy, which ``pk.simulate`` computes with
(docs/benchmarks.md "Web worker memory"). The plan forms import ``chart_caption`` and never
draw, so a worker serving them loads not even that.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from ketaclinic.clinical import pk
from ketaclinic.lib import plot
from ketaclinic.lib.plot import Axes, Fill, LegendEntry, Pen, Svg

__all__ = [
    "ESTIMATE_CAPTION",
    "ProtocolCurve",
    "Segment",
    "chart_caption",
    "concentration_chart_svg",
    "peak_concentration",
    "protocol_curve",
]

# Text is SVG text (``lib.plot``); the chart is named for screen readers by its <title> and
# <desc>, and each band is an element with a stable id ("band-analgesia", ...).

#: (start_min, end_min, rate_mg_per_min), as ``pk.simulate`` takes them.
Segment = tuple[float, float, float]

# docs/clinical-policy.md "Pharmacokinetics [7]"; docs/clinical-sources.md §7.1, §7.2
ESTIMATE_CAPTION: Final = (
    "An estimate from a population model, not a measurement. After 0.5 mg/kg over 40 min about "
    "185 ng/mL was measured (Zarate 2006, as tabulated in Zanos P et al. Pharmacol Rev "
    "2018;70:621) where the Domino model predicts about 240 ng/mL."
)

# Colours that stay distinguishable in greyscale print and for common colour-vision deficiencies.
_BAND_COLOURS: Final = {
    "analgesia": "#2e7d32",
    "dissociation": "#ef6c00",
    "emergence": "#6a1b9a",
    "anaesthesia": "#c62828",
}
# The band's name in a darker shade of its colour: at least 4.5:1 on the band's tint (the
# orange of the dissociation band itself is 3:1 on white, too faint for text).
_LABEL_COLOURS: Final = {
    "analgesia": "#256428",
    "dissociation": "#a74c00",
    "emergence": "#6a1b9a",
    "anaesthesia": "#9e2020",
}
_CURVE_COLOUR: Final = "#0b5cad"
_COMPARE_COLOUR: Final = "#555555"
_NOTE_COLOUR: Final = "#444444"
_GRID_COLOUR: Final = "#dddddd"
# The visible scale: at least this high, so the analgesia and dissociation bands always show.
_MIN_TOP_NG_PER_ML: Final = 300.0
_HEADROOM: Final = 1.25
_SAMPLES: Final = 361
# Points: read on a tablet at the infusion chair, and at 34 rem at least (plans.css).
_FONT_PT: Final = 11.0
_SMALL_PT: Final = 10.0
_CAPTION_PT: Final = 9.0
_WIDTH_IN: Final = 7.2
_HEIGHT_IN: Final = 4.2
_PAD: Final = 5.0
_X_LABEL: Final = "Minutes from the start of the infusion"
_Y_LABEL: Final = "Plasma ketamine (ng/mL)"


def chart_caption(model: str = pk.DEFAULT_MODEL) -> str:
    """The sentence printed under a chart drawn with ``model``."""
    if model == pk.DEFAULT_MODEL:
        return ESTIMATE_CAPTION
    chosen = pk.MODELS[model]
    return f"An estimate from the {chosen.label} model, not a measurement. {chosen.caveat}"


def _frozen(segments: Sequence[Segment] | None) -> tuple[Segment, ...] | None:
    if segments is None:
        return None
    return tuple((float(s), float(e), float(r)) for s, e, r in segments)


def _default_until(segments: tuple[Segment, ...]) -> float:
    last_end = max((end for _, end, _ in segments), default=0.0)
    # Long enough after the infusion to show the fall, rounded up to ten minutes.
    return float(math.ceil((last_end + max(60.0, last_end / 2)) / 10) * 10)


def _times(segments: tuple[Segment, ...], until_min: float) -> list[float]:
    """361 evenly spaced minutes from 0 to ``until_min`` (as ``numpy.linspace`` spaces them,
    to the bit), and the segment boundaries too: a constant infusion peaks exactly at its end."""
    step = until_min / (_SAMPLES - 1)
    grid = [index * step for index in range(_SAMPLES - 1)] + [until_min]
    edges = [t for s, e, _ in segments for t in (s, e) if t <= until_min]
    return sorted({*grid, *edges})


def _simulate(
    model: str, weight_kg: float, segments: tuple[Segment, ...], times: list[float]
) -> list[float]:
    values: list[float] = pk.simulate(
        model=model, weight_kg=weight_kg, segments=segments, times_min=times
    ).tolist()
    return values


def peak_concentration(
    *, segments: Sequence[Segment], weight_kg: float, model: str = pk.DEFAULT_MODEL
) -> tuple[float, float]:
    """The highest predicted concentration (ng/mL) and when it occurs (minutes)."""
    frozen = _frozen(segments) or ()
    times = _times(frozen, _default_until(frozen))
    values = _simulate(model, weight_kg, frozen, times)
    # The first time the highest value is reached, as numpy's argmax picks it.
    index = max(range(len(values)), key=values.__getitem__)
    return float(values[index]), float(times[index])


def concentration_chart_svg(
    *,
    segments: Sequence[Segment],
    weight_kg: float,
    model: str = pk.DEFAULT_MODEL,
    until_min: float | None = None,
    compare_segments: Sequence[Segment] | None = None,
    title: str = "Predicted plasma concentration",
    curve_label: str = "Predicted",
    compare_label: str = "Planned",
) -> str:
    """An SVG chart of the predicted plasma concentration for ``segments`` (``pk.simulate``).

    ``weight_kg`` is the patient's actual weight (the models' volumes are per kg of body weight).
    ``compare_segments``, when given, is drawn dashed (e.g. the planned infusion under the rates
    actually given). Returns the ``<svg>`` element only (no XML prolog), ready to inline in HTML.
    Invalid input raises ``ValueError`` from ``pk.simulate`` naming the field.
    """
    return _render(
        _frozen(segments) or (),
        float(weight_kg),
        model,
        None if until_min is None else float(until_min),
        _frozen(compare_segments),
        title,
        curve_label,
        compare_label,
    )


@functools.lru_cache(maxsize=128)
def _render(
    segments: tuple[Segment, ...],
    weight_kg: float,
    model: str,
    until_min: float | None,
    compare: tuple[Segment, ...] | None,
    title: str,
    curve_label: str,
    compare_label: str,
) -> str:
    # The same inputs always give the same chart, so a page view after the first costs nothing.
    pk_model = pk.MODELS.get(model)
    if pk_model is None:
        # Let simulate raise its own UnknownModel message naming the field.
        pk.simulate(model=model, weight_kg=weight_kg, segments=segments, times_min=[0.0])
    until = until_min if until_min is not None else _default_until(segments + (compare or ()))
    times = _times(segments + (compare or ()), until)
    curve = _simulate(model, weight_kg, segments, times)
    compared = None if compare is None else _simulate(model, weight_kg, compare, times)
    curve_peak = max([0.0, *curve])
    peak = max(curve_peak, 0.0, *(compared or ()))
    top = max(_MIN_TOP_NG_PER_ML, peak * _HEADROOM)

    width, height = 72 * _WIDTH_IN, 72 * _HEIGHT_IN
    curve_pen = Pen(_CURVE_COLOUR, 2.2)
    compare_pen = Pen(_COMPARE_COLOUR, 1.5, (5.55, 2.4))  # matplotlib's "--" at 1.5
    entries = [
        *([LegendEntry(compare_label, pen=compare_pen)] if compared is not None else []),
        LegendEntry(curve_label, pen=curve_pen),
    ]
    # Top to bottom: the title, the legend (above the plot, where it can never hide the curve or
    # a band label), the plot, the tick labels, the axis label, the caption.
    legend = plot.legend_layout(
        entries, size=_SMALL_PT, max_width=width - 2 * _PAD, max_columns=2, handle=2.0
    )
    caption = plot.wrap_text(chart_caption(model), width=width - 2 * _PAD, size=_CAPTION_PT)
    title_bottom = _PAD + plot.LINE_HEIGHT * (_FONT_PT + 1)
    top_y = title_bottom + legend.height + 6
    caption_top = height - _PAD - len(caption) * plot.LINE_HEIGHT * _CAPTION_PT
    x_label_top = caption_top - 4 - (plot.ASCENT + plot.DESCENT) * _FONT_PT
    bottom_y = x_label_top - 3 - plot.TICK_LENGTH - plot.TICK_PAD
    bottom_y -= (plot.ASCENT + plot.DESCENT) * _SMALL_PT
    y_ticks = plot.linear_ticks(
        0.0, top, length=bottom_y - top_y, extent=lambda _: 1.8 * _SMALL_PT, max_ticks=9
    )
    left = _PAD + (plot.ASCENT + plot.DESCENT) * _FONT_PT + 4
    left += plot.y_tick_width(y_ticks, _SMALL_PT)
    right = width - _PAD - plot.text_width(f"{until:.0f}", _SMALL_PT) / 2
    axes = Axes(left, top_y, right - left, bottom_y - top_y, 0.0, until, 0.0, top)
    x_ticks = plot.linear_ticks(
        0.0,
        until,
        length=axes.width,
        extent=lambda label: plot.text_width(label, _SMALL_PT) + _SMALL_PT,
        max_ticks=9,
    )

    svg = Svg(width, height)
    svg.text(_PAD, _PAD, title, size=_FONT_PT + 1, valign="top")
    plot.draw_legend(svg, entries, legend, x=axes.left, y=title_bottom)
    plot.draw_y_ticks(svg, axes, y_ticks, size=_SMALL_PT, grid=_GRID_COLOUR)

    off_scale: list[str] = []
    described: list[str] = []
    # (level, a single level?, gid, text, band code)
    labels: list[tuple[float, bool, str, str, str]] = []
    for band in pk.REFERENCE_BANDS:
        colour = _BAND_COLOURS.get(band.code, "#777777")
        span = f"{band.low_ng_per_ml:g}-{band.high_ng_per_ml:g}"
        if band.low_ng_per_ml == band.high_ng_per_ml:
            span = f"about {band.low_ng_per_ml:g}"
        if band.low_ng_per_ml >= top:
            off_scale.append(f"{band.label} {span} ng/mL")
            described.append(f"{band.label} {span} ng/mL (above the scale shown)")
            continue
        described.append(f"{band.label} {span} ng/mL")
        with svg.group(f"band-{band.code}"):
            if band.low_ng_per_ml == band.high_ng_per_ml:
                y = axes.y(band.low_ng_per_ml)
                svg.line(axes.left, y, axes.right, y, Pen(colour, 1.2, (1.2, 1.98)))
                label_y = band.low_ng_per_ml
            else:
                label_y = min(band.high_ng_per_ml, top)
                y_top, y_bottom = axes.y(label_y), axes.y(band.low_ng_per_ml)
                svg.rect(axes.left, y_top, axes.width, y_bottom - y_top, Fill(colour, 0.12))
        single = band.low_ng_per_ml == band.high_ng_per_ml
        labels.append(
            (label_y, single, f"band-label-{band.code}", f"{band.label} {span} ng/mL", band.code)
        )
    # Each band's name just under its top edge, a level's just above its line, right-aligned;
    # from the lowest up, a name that would run into the one below it (bands close together on
    # a high scale) moves up above it.
    line = plot.LINE_HEIGHT * _SMALL_PT
    ceiling = axes.bottom - 2
    for level, single, gid, text, code in sorted(labels):
        label_top = axes.y(level) - 2 - line if single else axes.y(level) + 2
        label_top = min(label_top, ceiling - line)
        ceiling = label_top
        with svg.group(gid):
            svg.text(
                axes.x(until * 0.99),
                label_top,
                text,
                size=_SMALL_PT,
                colour=_LABEL_COLOURS.get(code, _NOTE_COLOUR),
                anchor="end",
                valign="top",
            )
    if off_scale:
        note = plot.wrap_text(
            "Above this scale: " + "; ".join(off_scale), width=axes.width * 0.7, size=_SMALL_PT
        )
        with svg.group("bands-off-scale"):
            for number, text in enumerate(note):
                svg.text(
                    axes.left + 5,
                    axes.top + 4 + number * line,
                    text,
                    size=_SMALL_PT,
                    colour=_NOTE_COLOUR,
                    valign="top",
                )

    for index, (start, end, rate) in enumerate(segments):
        if rate > 0 and end > start:
            with svg.group(f"infusion-{index}"):
                x0, x1 = axes.x(min(start, until)), axes.x(min(end, until))
                svg.rect(x0, axes.top, x1 - x0, axes.height, Fill("#90a4ae", 0.12))
    if compared is not None:
        with svg.group("curve-compare"):
            svg.polyline(
                [axes.point(t, c) for t, c in zip(times, compared, strict=True)], compare_pen
            )
    with svg.group("curve-predicted"):
        svg.polyline([axes.point(t, c) for t, c in zip(times, curve, strict=True)], curve_pen)
    plot.draw_spines(svg, axes, box=True)
    plot.draw_x_ticks(svg, axes, x_ticks, size=_SMALL_PT)
    svg.text(
        axes.left + axes.width / 2,
        x_label_top,
        _X_LABEL,
        size=_FONT_PT,
        anchor="middle",
        valign="top",
    )
    svg.text(
        _PAD,
        axes.top + axes.height / 2,
        _Y_LABEL,
        size=_FONT_PT,
        anchor="middle",
        valign="top",
        rotate=-90,
    )
    with svg.group("caption"):
        for number, text in enumerate(caption):
            svg.text(
                _PAD,
                caption_top + number * plot.LINE_HEIGHT * _CAPTION_PT,
                text,
                size=_CAPTION_PT,
                colour=_NOTE_COLOUR,
                valign="top",
            )
    description = (
        f"{curve_label} curve peaking at about {curve_peak:.0f} ng/mL. "
        f"Reference bands: {'; '.join(described)}. {chart_caption(model)}"
    )
    return svg.render(label=title, description=description, css_class="pk-chart-svg")


class _Infusion(Protocol):
    # The fields of plans.models.KetamineProtocol the curve needs (no model import here).
    duration_min: int
    rate_mg_per_h: float
    weight_kg: float
    pk_model: str


@dataclass(frozen=True)
class ProtocolCurve:
    svg: str
    caption: str
    model_label: str
    peak_ng_per_ml: float
    peak_min: float


def protocol_curve(protocol: _Infusion) -> ProtocolCurve:
    """The predicted curve of one planned session: a constant rate from 0 to the duration."""
    segments = [
        pk.infusion_segment(
            start_min=0, duration_min=protocol.duration_min, rate_mg_per_h=protocol.rate_mg_per_h
        )
    ]
    peak, at = peak_concentration(
        segments=segments, weight_kg=protocol.weight_kg, model=protocol.pk_model
    )
    return ProtocolCurve(
        svg=concentration_chart_svg(
            segments=segments, weight_kg=protocol.weight_kg, model=protocol.pk_model
        ),
        caption=chart_caption(protocol.pk_model),
        model_label=pk.MODELS[protocol.pk_model].label,
        peak_ng_per_ml=peak,
        peak_min=at,
    )
