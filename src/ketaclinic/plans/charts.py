"""Predicted plasma-concentration charts, as SVG text to inline in a page or a letter.

The curve comes from ``ketaclinic.clinical.pk.simulate`` for any constant-rate segments, so the
same function draws a plan's single infusion and, on the infusion day, the curve of the rates
actually given (``compare_segments`` overlays the planned curve). Behind the curve are the
reference bands of docs/clinical-policy.md "Pharmacokinetics [7]" (``pk.REFERENCE_BANDS``),
shaded and labelled.
Every chart says it is an estimate: decision support only, never automatic dosing.

Drawing uses matplotlib's object API through ``lib.figures`` (a figure with its own canvas),
never ``pyplot``: pyplot keeps a global current figure and would load a GUI backend, neither of
which is safe in a multi-threaded web server.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from matplotlib.artist import Artist

from ketaclinic.clinical import pk
from ketaclinic.lib.figures import figure_svg, new_figure

__all__ = [
    "ESTIMATE_CAPTION",
    "ProtocolCurve",
    "Segment",
    "chart_caption",
    "concentration_chart_svg",
    "peak_concentration",
    "protocol_curve",
]

# Text is SVG text (``lib.figures``); the chart is named for screen readers by its <title> and
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
_CURVE_COLOUR: Final = "#0b5cad"
_COMPARE_COLOUR: Final = "#555555"
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


def _times(segments: tuple[Segment, ...], until_min: float) -> np.ndarray:
    grid = np.linspace(0.0, until_min, _SAMPLES)
    # Segment boundaries too: a constant infusion peaks exactly at its end.
    edges = [t for s, e, _ in segments for t in (s, e) if t <= until_min]
    return np.union1d(grid, np.array(edges, dtype=np.float64))


def peak_concentration(
    *, segments: Sequence[Segment], weight_kg: float, model: str = pk.DEFAULT_MODEL
) -> tuple[float, float]:
    """The highest predicted concentration (ng/mL) and when it occurs (minutes)."""
    frozen = _frozen(segments) or ()
    times = _times(frozen, _default_until(frozen))
    values = pk.simulate(model=model, weight_kg=weight_kg, segments=frozen, times_min=times)
    index = int(np.argmax(values))
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
    curve = pk.simulate(model=model, weight_kg=weight_kg, segments=segments, times_min=times)
    compared = (
        None
        if compare is None
        else pk.simulate(model=model, weight_kg=weight_kg, segments=compare, times_min=times)
    )
    peak = float(max(curve.max(initial=0.0), 0.0 if compared is None else compared.max()))
    top = max(_MIN_TOP_NG_PER_ML, peak * _HEADROOM)

    figure = new_figure(width_in=_WIDTH_IN, height_in=_HEIGHT_IN)
    axes = figure.add_subplot()
    axes.set_xlim(0, until)
    axes.set_ylim(0, top)
    axes.set_xlabel("Minutes from the start of the infusion", fontsize=_FONT_PT)
    axes.set_ylabel("Plasma ketamine (ng/mL)", fontsize=_FONT_PT)
    # The title above the legend, both above the plot, so neither covers the other or a curve.
    figure.suptitle(title, x=0.01, ha="left", fontsize=_FONT_PT + 1)
    axes.tick_params(labelsize=_SMALL_PT)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)

    off_scale: list[str] = []
    described: list[str] = []
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
        artist: Artist
        if band.low_ng_per_ml == band.high_ng_per_ml:
            artist = axes.axhline(band.low_ng_per_ml, color=colour, linestyle=":", linewidth=1.2)
            label_y = band.low_ng_per_ml
        else:
            artist = axes.axhspan(
                band.low_ng_per_ml, band.high_ng_per_ml, color=colour, alpha=0.12, linewidth=0
            )
            label_y = min(band.high_ng_per_ml, top)
        artist.set_gid(f"band-{band.code}")
        text = axes.text(
            until * 0.99,
            label_y,
            f"{band.label} {span} ng/mL",
            ha="right",
            va="top",
            fontsize=_SMALL_PT,
            color=colour,
        )
        text.set_gid(f"band-label-{band.code}")
    if off_scale:
        note = axes.text(
            0.01,
            0.98,
            _wrap("Above this scale: " + "; ".join(off_scale), width=72),
            transform=axes.transAxes,
            ha="left",
            va="top",
            fontsize=_SMALL_PT,
            color="#444444",
        )
        note.set_gid("bands-off-scale")
        # Inside the plot: the layout need not make room for it.
        note.set_in_layout(False)

    for index, (start, end, rate) in enumerate(segments):
        if rate > 0 and end > start:
            axes.axvspan(start, end, color="#90a4ae", alpha=0.12, linewidth=0).set_gid(
                f"infusion-{index}"
            )
    if compared is not None:
        (line,) = axes.plot(
            times,
            compared,
            color=_COMPARE_COLOUR,
            linestyle="--",
            linewidth=1.5,
            label=compare_label,
        )
        line.set_gid("curve-compare")
    (line,) = axes.plot(times, curve, color=_CURVE_COLOUR, linewidth=2.2, label=curve_label)
    line.set_gid("curve-predicted")
    # Above the plot, beside the title, where it can never hide the curve or a band label.
    axes.legend(
        loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize=_SMALL_PT, frameon=False
    )
    caption = _wrap(chart_caption(model))
    figure.text(0.01, 0.01, caption, fontsize=_CAPTION_PT, color="#444444", va="bottom").set_gid(
        "caption"
    )
    # Keep a bottom strip free for the caption (constrained layout ignores figure text): a line
    # is about 1.2 x its font size, in points of the figure's height.
    lines = caption.count("\n") + 1
    strip = (4 + 1.2 * _CAPTION_PT * lines) / (72 * _HEIGHT_IN)
    figure.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))  # type: ignore[union-attr, call-arg]
    description = (
        f"{curve_label} curve peaking at about {curve.max(initial=0.0):.0f} ng/mL. "
        f"Reference bands: {'; '.join(described)}. {chart_caption(model)}"
    )
    return figure_svg(figure, label=title, description=description, css_class="pk-chart-svg")


def _wrap(text: str, width: int = 100) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


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
