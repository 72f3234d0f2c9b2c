"""Predicted plasma-concentration charts, as SVG text to inline in a page or a letter.

The curve comes from ``ketaclinic.clinical.pk.simulate`` for any constant-rate segments, so the
same function draws a plan's single infusion and, on the infusion day, the curve of the rates
actually given (``compare_segments`` overlays the planned curve). Behind the curve are the
reference bands of docs/clinical-policy.md "Pharmacokinetics [7]" (``pk.REFERENCE_BANDS``),
shaded and labelled.
Every chart says it is an estimate: decision support only, never automatic dosing.

Drawing uses matplotlib's object API (``matplotlib.figure.Figure`` with its own canvas), never
``pyplot``: pyplot keeps a global current figure and would load a GUI backend, neither of which
is safe in a multi-threaded web server. No GUI backend is ever imported here.
"""

from __future__ import annotations

import functools
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaclinic.clinical import pk
from ketaclinic.lib.svg import svg_without_inline_style

__all__ = [
    "ESTIMATE_CAPTION",
    "ProtocolCurve",
    "Segment",
    "chart_caption",
    "concentration_chart_svg",
    "peak_concentration",
    "protocol_curve",
]

# No rcParams are changed here: they are process-wide, and other charts (the pain diary) share
# them. So text is drawn as glyph outlines; the chart is named for screen readers by its
# <title> and <desc>, and each band is an element with a stable id ("band-analgesia", ...).

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

    figure = Figure(figsize=(7.2, 3.9), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_xlim(0, until)
    axes.set_ylim(0, top)
    axes.set_xlabel("Minutes from the start of the infusion")
    axes.set_ylabel("Plasma ketamine (ng/mL)")
    axes.set_title(title, loc="left", fontsize=11)
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
            fontsize=8,
            color=colour,
        )
        text.set_gid(f"band-label-{band.code}")
    if off_scale:
        note = axes.text(
            0.01,
            0.98,
            "Above this scale: " + "; ".join(off_scale),
            transform=axes.transAxes,
            ha="left",
            va="top",
            fontsize=8,
            color="#444444",
        )
        note.set_gid("bands-off-scale")

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
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=8, frameon=False)
    caption = _wrap(chart_caption(model))
    figure.text(0.01, 0.01, caption, fontsize=7, color="#444444", va="bottom").set_gid("caption")
    # Keep a bottom strip free for the caption (constrained layout ignores figure text): about
    # 0.1 in per 7-pt line on a 3.9 in tall figure.
    strip = 0.02 + 0.032 * (caption.count("\n") + 1)
    figure.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))  # type: ignore[union-attr, call-arg]

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    description = (
        f"{curve_label} curve peaking at about {curve.max(initial=0.0):.0f} ng/mL. "
        f"Reference bands: {'; '.join(described)}. {chart_caption(model)}"
    )
    return _inline(buffer.getvalue(), title, description)


def _wrap(text: str, width: int = 120) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)


def _inline(svg: str, title: str, description: str) -> str:
    """The bare ``<svg>`` element, named and described for screen readers (text is outlines)."""
    svg = svg_without_inline_style(_PROLOG.sub("", svg, count=1))
    label = html.escape(title, quote=True)
    desc = html.escape(description, quote=False)
    return svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{label}" class="pk-chart-svg" ',
        1,
    ).replace(">", f"><title>{label}</title><desc>{desc}</desc>", 1)


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
