"""The predicted plasma-concentration chart (plans.charts) and the small template filters."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

from ketaclinic.clinical import pk
from ketaclinic.plans.charts import (
    ESTIMATE_CAPTION,
    chart_caption,
    concentration_chart_svg,
    peak_concentration,
    protocol_curve,
)
from ketaclinic.plans.templatetags.plans_tags import minutes, num, pattern_words, policy_value

# 0.5 mg/kg x 70 kg = 35 mg over 40 min = 52.5 mg/h.
CLEVELAND = [pk.infusion_segment(start_min=0, duration_min=40, rate_mg_per_h=52.5)]


def _desc(svg: str) -> str:
    match = re.search(r"<desc>(.*?)</desc>", svg, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_chart_is_a_bare_labelled_svg_element() -> None:
    svg = concentration_chart_svg(segments=CLEVELAND, weight_kg=70)
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.attrib["role"], root.attrib["aria-label"], root.attrib["class"]) == (
        "img",
        "Predicted plasma concentration",
        "pk-chart-svg",
    )
    assert "width" not in root.attrib
    assert "style=" not in svg
    # Labels are text, not glyph outlines: read aloud, selectable, found here.
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {
        "Predicted plasma concentration",
        "Minutes from the start of the infusion",
        "Plasma ketamine (ng/mL)",
        "Predicted",
        "Analgesia 70-160 ng/mL",
    } <= texts
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    assert "<!DOCTYPE" not in svg
    assert "<title>Predicted plasma concentration</title>" in svg
    assert svg.rstrip().endswith("</svg>")


def test_the_reference_bands_are_shaded_and_labelled() -> None:
    svg = concentration_chart_svg(segments=CLEVELAND, weight_kg=70)
    # On the scale of a 0.5 mg/kg infusion: analgesia and dissociation are drawn ...
    for code in ("analgesia", "dissociation"):
        assert f'<g id="band-{code}">' in svg
        assert f'<g id="band-label-{code}">' in svg
    # ... and the higher ones are named above the scale rather than squashing the curve.
    assert '<g id="bands-off-scale">' in svg
    assert '<g id="band-emergence">' not in svg
    desc = _desc(svg)
    assert "Analgesia 70-160 ng/mL; Dissociation 100-250 ng/mL;" in desc
    assert "Emergence from anaesthesia about 640 ng/mL (above the scale shown)" in desc
    assert "General anaesthesia 1200-2400 ng/mL (above the scale shown)" in desc


def test_a_high_curve_brings_the_emergence_level_onto_the_scale() -> None:
    # 600 mg/h for 60 min in 70 kg peaks far above 640 ng/mL.
    heavy = [pk.infusion_segment(start_min=0, duration_min=60, rate_mg_per_h=600)]
    svg = concentration_chart_svg(segments=heavy, weight_kg=70)
    assert '<g id="band-emergence">' in svg
    assert '<g id="band-anaesthesia">' in svg
    assert '<g id="bands-off-scale">' not in svg


def test_the_chart_says_it_is_an_estimate_with_the_measured_comparison() -> None:
    svg = concentration_chart_svg(segments=CLEVELAND, weight_kg=70)
    assert ESTIMATE_CAPTION in _desc(svg)
    assert "185 ng/mL was measured" in ESTIMATE_CAPTION
    assert "predicts about 240 ng/mL" in ESTIMATE_CAPTION
    assert '<g id="caption">' in svg


def test_other_models_carry_their_own_caveat() -> None:
    caption = chart_caption("hijazi")
    assert caption.startswith("An estimate from the Hijazi (2-compartment) model")
    assert pk.MODELS["hijazi"].caveat in caption
    assert chart_caption("domino") == ESTIMATE_CAPTION


def test_the_curve_peaks_where_the_domino_model_says_for_the_cleveland_protocol() -> None:
    peak, at = peak_concentration(segments=CLEVELAND, weight_kg=70)
    assert at == 40.0
    assert peak == pytest.approx(240, abs=1)
    assert "peaking at about 240 ng/mL" in _desc(
        concentration_chart_svg(segments=CLEVELAND, weight_kg=70)
    )


def test_actual_rates_can_be_drawn_over_the_planned_curve() -> None:
    # Infusion day: slowed to half rate after 20 minutes, against the plan.
    actual = [(0.0, 20.0, 52.5 / 60), (20.0, 60.0, 26.25 / 60)]
    svg = concentration_chart_svg(
        segments=actual, weight_kg=70, compare_segments=CLEVELAND, curve_label="Given"
    )
    assert '<g id="curve-predicted">' in svg
    assert '<g id="curve-compare">' in svg
    assert '<g id="infusion-0">' in svg
    assert '<g id="infusion-1">' in svg
    assert _desc(svg).startswith("Given curve peaking")


def test_an_empty_infusion_draws_a_flat_line() -> None:
    svg = concentration_chart_svg(segments=[], weight_kg=70)
    assert "peaking at about 0 ng/mL" in _desc(svg)
    assert peak_concentration(segments=[], weight_kg=70) == (0.0, 0.0)


def test_bad_input_raises_the_pk_modules_errors() -> None:
    with pytest.raises(pk.UnknownModel, match="model must be one of"):
        concentration_chart_svg(segments=CLEVELAND, weight_kg=70, model="marsh")
    with pytest.raises(ValueError, match="weight_kg"):
        concentration_chart_svg(segments=CLEVELAND, weight_kg=0)


def test_charts_render_in_parallel_threads() -> None:
    # The object API keeps no global state: threads drawing different charts do not mix.
    weights = [60.0 + i for i in range(6)]

    def draw(weight: float) -> str:
        return concentration_chart_svg(segments=CLEVELAND, weight_kg=weight, until_min=90)

    with ThreadPoolExecutor(max_workers=3) as pool:
        charts = list(pool.map(draw, weights))
    for weight, svg in zip(weights, charts, strict=True):
        peak, _ = peak_concentration(segments=CLEVELAND, weight_kg=weight)
        assert f"peaking at about {peak:.0f} ng/mL" in _desc(svg)


def test_protocol_curve_uses_the_actual_weight_and_the_chosen_model() -> None:
    class Protocol:
        duration_min = 40
        rate_mg_per_h = 52.5
        weight_kg = 70.0
        pk_model = "clements"

    curve = protocol_curve(Protocol())
    assert curve.model_label == "Clements 250 (2-compartment)"
    assert curve.caption == chart_caption("clements")
    assert curve.peak_min == 40.0
    assert curve.svg.startswith("<svg")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (40, "40 minutes"),
        (60, "1 hour"),
        (240, "4 hours"),
        (150, "2 hours 30 minutes"),
        (1, "1 minute"),
        (0, "0 minutes"),
        (None, ""),
    ],
)
def test_minutes_reads_as_words(value: int | None, text: str) -> None:
    assert minutes(value) == text


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (52.5, 2, "52.5"),
        (35.0, 2, "35"),
        (4.268203, 2, "4.27"),
        (0.525, 3, "0.525"),
        (240.33, 0, "240"),
        (None, 2, ""),
        ("", 2, ""),
        (200, 1, "200"),
    ],
)
def test_num_drops_trailing_zeros(value: object, places: int, text: str) -> None:
    assert num(value, places) == text


def test_policy_value_reads_a_snapshot() -> None:
    assert policy_value({"max_session_mg": 200.0}, "max_session_mg") == 200.0
    assert policy_value(None, "max_session_mg") == ""


def test_pattern_words_are_plain() -> None:
    assert pattern_words("weekdays") == "on consecutive weekdays"
    assert pattern_words("three_per_week").startswith("three a week")
    assert pattern_words("daily") == "one a day"
    assert pattern_words("unknown") == ""
