"""Screening instruments and bedside scales (ketaclinic.clinical.instruments)."""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical import instruments
from ketaclinic.clinical.instruments import (
    CHARTING_SCALES,
    CONCEPTS,
    NOT_BUILT_IN,
    REGISTRY,
    Band,
    Instrument,
    InvalidAnswers,
    Score,
    UnknownInstrument,
    get_instrument,
    score,
)

REPO = Path(__file__).resolve().parents[2]
CLINICAL_PACKAGE = REPO / "src" / "ketaclinic" / "clinical"

CONTRACT_CODES = {
    "dn4",
    "dn4-interview",
    "id-pain",
    "s-lanss",
    "nrs",
    "peg",
    "pgic",
    "rass",
    "moaas",
    "aldrete",
}

DN4_KEYS = [
    "burning",
    "painful_cold",
    "electric_shocks",
    "tingling",
    "pins_and_needles",
    "numbness",
    "itching",
    "touch_hypoesthesia",
    "pinprick_hypoesthesia",
    "brushing",
]
ID_PAIN_POINTS = {
    "pins_and_needles": 1,
    "hot_burning": 1,
    "numb": 1,
    "electrical_shocks": 1,
    "worse_with_touch": 1,
    "limited_to_joints": -1,
}
S_LANSS_POINTS = {
    "pins_and_needles": 5,
    "skin_color_change": 5,
    "touch_sensitive": 3,
    "sudden_bursts": 2,
    "hot_burning": 1,
    "rub_test": 5,
    "press_test": 3,
}
ALDRETE_KEYS = ["activity", "respiration", "circulation", "consciousness", "oxygen_saturation"]
CADSS6_KEYS = ["item_1", "item_2", "item_6", "item_7", "item_15", "item_22"]

# Instruments whose items are all yes/no symptoms: the self-check screening set.
YES_NO_CODES = ["dn4", "dn4-interview", "id-pain", "s-lanss"]


def yes(code: str, *keys: str) -> dict[str, object]:
    """Answers for a yes/no instrument: yes to ``keys``, no to everything else."""
    unknown = set(keys) - set(REGISTRY[code].item_keys)
    assert not unknown, unknown
    return {key: key in keys for key in REGISTRY[code].item_keys}


def every(code: str, value: object) -> dict[str, object]:
    instrument = instruments.get_instrument(code)
    return dict.fromkeys(instrument.item_keys, value)


def all_answer_sets(instrument: Instrument) -> Iterator[dict[str, bool | int]]:
    """Every possible completed form (at most 5**6 for CADSS-6)."""
    keys = instrument.item_keys
    for combination in itertools.product(*(item.allowed for item in instrument.items)):
        yield dict(zip(keys, combination, strict=True))


# --- published scoring, instrument by instrument ---------------------------------------------


SCORING_CASES = [
    # DN4: yes = 1, cut-off 4 of 10 (Bouhassira 2005).
    pytest.param("dn4", every("dn4", False), 0, False, "unlikely neuropathic", id="dn4-none"),
    pytest.param(
        "dn4",
        yes("dn4", "burning", "tingling", "brushing"),
        3,
        False,
        "unlikely neuropathic",
        id="dn4-3-below-cutoff",
    ),
    pytest.param(
        "dn4",
        yes("dn4", "burning", "tingling", "numbness", "brushing"),
        4,
        True,
        "likely neuropathic",
        id="dn4-4-at-cutoff",
    ),
    pytest.param("dn4", every("dn4", True), 10, True, "likely neuropathic", id="dn4-all"),
    # DN4 interview: the first seven items, cut-off 3 of 7.
    pytest.param(
        "dn4-interview",
        yes("dn4-interview", "burning", "itching"),
        2,
        False,
        "unlikely neuropathic",
        id="dn4i-2-below-cutoff",
    ),
    pytest.param(
        "dn4-interview",
        yes("dn4-interview", "painful_cold", "electric_shocks", "pins_and_needles"),
        3,
        True,
        "likely neuropathic",
        id="dn4i-3-at-cutoff",
    ),
    pytest.param(
        "dn4-interview",
        every("dn4-interview", True),
        7,
        True,
        "likely neuropathic",
        id="dn4i-all",
    ),
    # ID Pain: five items +1, "limited to joints" -1; cut-off 2; bands -1..0, 1, 2-3, 4-5.
    pytest.param(
        "id-pain",
        yes("id-pain", "limited_to_joints"),
        -1,
        False,
        "unlikely neuropathic",
        id="id-pain-minus-1",
    ),
    pytest.param(
        "id-pain", every("id-pain", False), 0, False, "unlikely neuropathic", id="id-pain-0"
    ),
    pytest.param(
        "id-pain", yes("id-pain", "numb"), 1, False, "borderline", id="id-pain-1-borderline"
    ),
    pytest.param(
        "id-pain",
        yes("id-pain", "pins_and_needles", "hot_burning"),
        2,
        True,
        "possibly neuropathic",
        id="id-pain-2-at-cutoff",
    ),
    pytest.param(
        "id-pain",
        yes("id-pain", "pins_and_needles", "hot_burning", "numb", "limited_to_joints"),
        2,
        True,
        "possibly neuropathic",
        id="id-pain-joints-subtracts",
    ),
    pytest.param(
        "id-pain",
        yes("id-pain", "pins_and_needles", "hot_burning", "numb"),
        3,
        True,
        "possibly neuropathic",
        id="id-pain-3",
    ),
    pytest.param(
        "id-pain",
        yes("id-pain", "pins_and_needles", "hot_burning", "numb", "electrical_shocks"),
        4,
        True,
        "likely neuropathic",
        id="id-pain-4",
    ),
    pytest.param(
        "id-pain",
        yes(
            "id-pain",
            "pins_and_needles",
            "hot_burning",
            "numb",
            "electrical_shocks",
            "worse_with_touch",
        ),
        5,
        True,
        "likely neuropathic",
        id="id-pain-5",
    ),
    pytest.param(
        "id-pain", every("id-pain", True), 4, True, "likely neuropathic", id="id-pain-all"
    ),
    # S-LANSS: weights 5, 5, 3, 2, 1, 5, 3; cut-off 12 of 24 (Bennett 2005).
    pytest.param(
        "s-lanss", every("s-lanss", False), 0, False, "unlikely neuropathic", id="s-lanss-0"
    ),
    pytest.param(
        "s-lanss",
        yes("s-lanss", "pins_and_needles", "skin_color_change", "hot_burning"),
        11,
        False,
        "unlikely neuropathic",
        id="s-lanss-11-below-cutoff",
    ),
    pytest.param(
        "s-lanss",
        yes("s-lanss", "pins_and_needles", "skin_color_change", "sudden_bursts"),
        12,
        True,
        "likely neuropathic",
        id="s-lanss-12-at-cutoff",
    ),
    pytest.param(
        "s-lanss",
        yes("s-lanss", "touch_sensitive", "rub_test", "press_test", "hot_burning"),
        12,
        True,
        "likely neuropathic",
        id="s-lanss-12-other-mix",
    ),
    pytest.param(
        "s-lanss", every("s-lanss", True), 24, True, "likely neuropathic", id="s-lanss-24"
    ),
    # NRS: no cut-off; bands 0 none, 1-3 mild, 4-6 moderate, 7-10 severe.
    pytest.param("nrs", {"pain": 0}, 0, None, "none", id="nrs-0"),
    pytest.param("nrs", {"pain": 1}, 1, None, "mild", id="nrs-1"),
    pytest.param("nrs", {"pain": 3}, 3, None, "mild", id="nrs-3"),
    pytest.param("nrs", {"pain": 4}, 4, None, "moderate", id="nrs-4"),
    pytest.param("nrs", {"pain": 6}, 6, None, "moderate", id="nrs-6"),
    pytest.param("nrs", {"pain": 7}, 7, None, "severe", id="nrs-7"),
    pytest.param("nrs", {"pain": 10}, 10, None, "severe", id="nrs-10"),
    # PEG: the mean of three 0-10 items (Krebs 2009).
    pytest.param(
        "peg", {"pain": 0, "enjoyment": 0, "general_activity": 0}, 0, None, "minimal", id="peg-0"
    ),
    pytest.param(
        "peg",
        {"pain": 1, "enjoyment": 0, "general_activity": 0},
        1 / 3,
        None,
        "minimal",
        id="peg-one-third",
    ),
    pytest.param(
        "peg",
        {"pain": 4, "enjoyment": 4, "general_activity": 3},
        11 / 3,
        None,
        "mild",
        id="peg-eleven-thirds",
    ),
    pytest.param(
        "peg",
        {"pain": 3, "enjoyment": 6, "general_activity": 9},
        6,
        None,
        "moderate",
        id="peg-6",
    ),
    pytest.param(
        "peg",
        {"pain": 10, "enjoyment": 10, "general_activity": 10},
        10,
        None,
        "severe",
        id="peg-10",
    ),
    # PGIC: 1 very much improved ... 4 no change ... 7 very much worse.
    pytest.param("pgic", {"change": 1}, 1, None, "very much improved", id="pgic-1"),
    pytest.param("pgic", {"change": 2}, 2, None, "much improved", id="pgic-2"),
    pytest.param("pgic", {"change": 3}, 3, None, "minimally improved", id="pgic-3"),
    pytest.param("pgic", {"change": 4}, 4, None, "no change", id="pgic-4"),
    pytest.param("pgic", {"change": 5}, 5, None, "minimally worse", id="pgic-5"),
    pytest.param("pgic", {"change": 6}, 6, None, "much worse", id="pgic-6"),
    pytest.param("pgic", {"change": 7}, 7, None, "very much worse", id="pgic-7"),
    # RASS (Sessler 2002), -5..+4.
    pytest.param("rass", {"level": 4}, 4, None, "combative", id="rass+4"),
    pytest.param("rass", {"level": 3}, 3, None, "very agitated", id="rass+3"),
    pytest.param("rass", {"level": 2}, 2, None, "agitated", id="rass+2"),
    pytest.param("rass", {"level": 1}, 1, None, "restless", id="rass+1"),
    pytest.param("rass", {"level": 0}, 0, None, "alert and calm", id="rass0"),
    pytest.param("rass", {"level": -1}, -1, None, "drowsy", id="rass-1"),
    pytest.param("rass", {"level": -2}, -2, None, "light sedation", id="rass-2"),
    pytest.param("rass", {"level": -3}, -3, None, "moderate sedation", id="rass-3"),
    pytest.param("rass", {"level": -4}, -4, None, "deep sedation", id="rass-4"),
    pytest.param("rass", {"level": -5}, -5, None, "unarousable", id="rass-5"),
    # MOAA/S (Chernik 1990), 0..5.
    pytest.param("moaas", {"level": 5}, 5, None, "responds readily to name", id="moaas5"),
    pytest.param("moaas", {"level": 4}, 4, None, "lethargic response to name", id="moaas4"),
    pytest.param("moaas", {"level": 3}, 3, None, "responds to loud or repeated name", id="moaas3"),
    pytest.param("moaas", {"level": 2}, 2, None, "responds to prodding or shaking", id="moaas2"),
    pytest.param("moaas", {"level": 1}, 1, None, "no response to prodding or shaking", id="moaas1"),
    pytest.param("moaas", {"level": 0}, 0, None, "no response to pain", id="moaas0"),
    # Modified Aldrete: five domains 0-2; discharge at 9 or more.
    pytest.param("aldrete", every("aldrete", 2), 10, True, "ready for discharge", id="aldrete-10"),
    pytest.param(
        "aldrete",
        {**every("aldrete", 2), "circulation": 1},
        9,
        True,
        "ready for discharge",
        id="aldrete-9-at-cutoff",
    ),
    pytest.param(
        "aldrete",
        {**every("aldrete", 2), "circulation": 1, "consciousness": 1},
        8,
        False,
        "not ready for discharge",
        id="aldrete-8-below-cutoff",
    ),
    pytest.param(
        "aldrete",
        {**every("aldrete", 2), "oxygen_saturation": 0},
        8,
        False,
        "not ready for discharge",
        id="aldrete-8-low-saturation",
    ),
    pytest.param(
        "aldrete", every("aldrete", 0), 0, False, "not ready for discharge", id="aldrete-0"
    ),
    # CADSS-6 (charting scale): six items 0-4, total 0-24, no cut-off.
    pytest.param("cadss6", every("cadss6", 0), 0, None, "none reported", id="cadss6-0"),
    pytest.param(
        "cadss6",
        {**every("cadss6", 0), "item_7": 1},
        1,
        None,
        "dissociative symptoms reported",
        id="cadss6-1",
    ),
    pytest.param(
        "cadss6", every("cadss6", 4), 24, None, "dissociative symptoms reported", id="cadss6-24"
    ),
]


@pytest.mark.parametrize(("code", "answers", "total", "positive", "band"), SCORING_CASES)
def test_it_scores_each_instrument_as_published(
    code: str, answers: dict[str, object], total: float, positive: bool | None, band: str
) -> None:
    instrument = get_instrument(code)

    result = score(code, answers)

    assert result == Score(
        code=code,
        total=total,
        maximum=float(instrument.maximum),
        cutoff=None if instrument.cutoff is None else float(instrument.cutoff),
        positive=positive,
        band=band,
        source=instrument.source,
    )
    assert type(result.total) is float
    assert type(result.maximum) is float


@pytest.mark.parametrize(("key", "points"), S_LANSS_POINTS.items())
def test_each_s_lanss_item_scores_its_own_weight(key: str, points: int) -> None:
    assert score("s-lanss", yes("s-lanss", key)).total == points


@pytest.mark.parametrize("key", DN4_KEYS)
def test_each_dn4_item_scores_one(key: str) -> None:
    assert score("dn4", yes("dn4", key)).total == 1


def test_the_peg_total_is_the_exact_mean_of_its_three_items() -> None:
    for pain, enjoyment, activity in itertools.product(range(11), repeat=3):
        result = score("peg", {"pain": pain, "enjoyment": enjoyment, "general_activity": activity})
        assert result.total == (pain + enjoyment + activity) / 3


def test_a_score_without_a_cutoff_is_neither_positive_nor_negative() -> None:
    result = score("nrs", {"pain": 9})

    assert result.cutoff is None
    assert result.positive is None


def test_the_aldrete_cutoff_means_ready_for_discharge() -> None:
    assert REGISTRY["aldrete"].cutoff == 9
    assert "discharge" in (REGISTRY["aldrete"].positive_meaning or "")


# --- the registry matches the contract -------------------------------------------------------


def test_the_registry_holds_exactly_the_contract_instruments() -> None:
    assert set(REGISTRY) == CONTRACT_CODES
    assert all(code == instrument.code for code, instrument in REGISTRY.items())


def test_cadss6_is_a_charting_scale_kept_apart_from_the_contract_list() -> None:
    assert set(CHARTING_SCALES) == {"cadss6"}
    assert "cadss6" not in REGISTRY
    assert get_instrument("cadss6") is CHARTING_SCALES["cadss6"]
    cadss6 = CHARTING_SCALES["cadss6"]
    assert list(cadss6.item_keys) == CADSS6_KEYS
    assert (cadss6.minimum, cadss6.maximum, cadss6.cutoff) == (0, 24, None)
    assert all(item.allowed == (0, 1, 2, 3, 4) for item in cadss6.items)


CONTRACT_TABLE = [
    # code, {key: (answer type, allowed values, points for each value)}, minimum, maximum, cutoff
    ("dn4", dict.fromkeys(DN4_KEYS, ("bool", (False, True), (0, 1))), 0, 10, 4),
    ("dn4-interview", dict.fromkeys(DN4_KEYS[:7], ("bool", (False, True), (0, 1))), 0, 7, 3),
    ("id-pain", {k: ("bool", (False, True), (0, p)) for k, p in ID_PAIN_POINTS.items()}, -1, 5, 2),
    (
        "s-lanss",
        {k: ("bool", (False, True), (0, p)) for k, p in S_LANSS_POINTS.items()},
        0,
        24,
        12,
    ),
    ("nrs", {"pain": ("int", tuple(range(11)), tuple(range(11)))}, 0, 10, None),
    (
        "peg",
        {
            k: ("int", tuple(range(11)), tuple(range(11)))
            for k in ("pain", "enjoyment", "general_activity")
        },
        0,
        10,
        None,
    ),
    ("pgic", {"change": ("int", tuple(range(1, 8)), tuple(range(1, 8)))}, 1, 7, None),
    ("rass", {"level": ("int", tuple(range(-5, 5)), tuple(range(-5, 5)))}, -5, 4, None),
    ("moaas", {"level": ("int", tuple(range(6)), tuple(range(6)))}, 0, 5, None),
    ("aldrete", dict.fromkeys(ALDRETE_KEYS, ("int", (0, 1, 2), (0, 1, 2))), 0, 10, 9),
]


@pytest.mark.parametrize(("code", "items", "minimum", "maximum", "cutoff"), CONTRACT_TABLE)
def test_the_registry_describes_items_points_range_and_cutoff_as_the_contract_says(
    code: str,
    items: dict[str, tuple[str, tuple[bool | int, ...], tuple[int, ...]]],
    minimum: int,
    maximum: int,
    cutoff: int | None,
) -> None:
    instrument = REGISTRY[code]

    assert list(instrument.item_keys) == list(items)
    for item in instrument.items:
        answer_type, allowed, points = items[item.key]
        assert item.answer_type == answer_type
        assert item.allowed == allowed
        assert tuple(item.points_for(value) for value in allowed) == points
        assert dict(item.points) == dict(zip(allowed, points, strict=True))
        assert item.wording.strip()
        assert all(choice.label.strip() for choice in item.choices)
    assert (instrument.minimum, instrument.maximum, instrument.cutoff) == (
        minimum,
        maximum,
        cutoff,
    )
    assert instrument.range == (minimum, maximum)


def test_dn4_interview_is_the_first_seven_dn4_items() -> None:
    assert REGISTRY["dn4-interview"].items == REGISTRY["dn4"].items[:7]


def test_the_peg_alone_is_scored_as_a_mean() -> None:
    means = {code for code, i in REGISTRY.items() if i.aggregation == "mean"}
    assert means == {"peg"}


@pytest.mark.parametrize("instrument", [*REGISTRY.values(), *CHARTING_SCALES.values()])
def test_every_instrument_cites_its_source_and_carries_a_licence_note(
    instrument: Instrument,
) -> None:
    assert instrument.name.strip()
    assert instrument.instructions.strip()
    assert len(instrument.source) > 40
    assert len(instrument.licence) > 30


@pytest.mark.parametrize("instrument", [*REGISTRY.values(), *CHARTING_SCALES.values()])
def test_every_possible_total_falls_in_exactly_one_band_and_within_the_range(
    instrument: Instrument,
) -> None:
    totals = set()
    for answers in all_answer_sets(instrument):
        result = score(instrument.code, answers)
        totals.add(result.total)
        matching = [band for band in instrument.bands if band.contains(result.total)]
        assert len(matching) == 1, (instrument.code, result.total, matching)
        assert matching[0].label == result.band
    # The declared range is exactly the range of achievable totals.
    assert min(totals) == instrument.minimum
    assert max(totals) == instrument.maximum


@pytest.mark.parametrize("instrument", [*REGISTRY.values(), *CHARTING_SCALES.values()])
def test_bands_are_ordered_and_contiguous(instrument: Instrument) -> None:
    bands = instrument.bands
    assert bands[0].lower == instrument.minimum
    assert bands[-1].upper == instrument.maximum
    assert bands[-1].includes_upper
    for before, after in itertools.pairwise(bands):
        # Either half-open bands that meet, or one-value bands on consecutive integer levels.
        assert before.upper == after.lower or (
            before.includes_upper and before.upper + 1 == after.lower
        )


def test_a_band_is_half_open_unless_it_includes_its_upper_bound() -> None:
    mild = Band(1, 4, "mild")
    top = Band(7, 10, "severe", includes_upper=True)

    assert mild.contains(1)
    assert mild.contains(3.999)
    assert not mild.contains(4)
    assert not mild.contains(0.5)
    assert top.contains(10)
    assert not top.contains(10.5)


def test_integer_items_allow_a_contiguous_range() -> None:
    for instrument in [*REGISTRY.values(), *CHARTING_SCALES.values()]:
        for item in instrument.items:
            if item.answer_type == "int":
                values = [int(v) for v in item.allowed]
                assert values == list(range(min(values), max(values) + 1))


def test_the_cutoffs_sit_where_the_positive_band_starts() -> None:
    for instrument in REGISTRY.values():
        if instrument.cutoff is not None:
            assert instrument.positive_meaning
            assert instrument.band_for(instrument.cutoff) != instrument.band_for(
                instrument.cutoff - 1
            )


# --- shared symptom concepts -----------------------------------------------------------------


def concept_of(code: str, key: str) -> str | None:
    return REGISTRY[code].item(key).concept


def test_every_screening_item_has_a_described_concept() -> None:
    used = set()
    for code in YES_NO_CODES:
        for item in REGISTRY[code].items:
            assert item.concept in CONCEPTS, (code, item.key)
            used.add(item.concept)
    assert used == set(CONCEPTS)


def test_non_screening_items_have_no_concept() -> None:
    for code in CONTRACT_CODES - set(YES_NO_CODES):
        assert all(item.concept is None for item in REGISTRY[code].items)


def test_pins_and_needles_is_one_concept_across_dn4_id_pain_and_s_lanss() -> None:
    assert (
        concept_of("dn4", "pins_and_needles")
        == concept_of("id-pain", "pins_and_needles")
        == concept_of("s-lanss", "pins_and_needles")
        == "pins_and_needles"
    )


def test_burning_is_one_concept_across_dn4_id_pain_and_s_lanss() -> None:
    assert (
        concept_of("dn4", "burning")
        == concept_of("id-pain", "hot_burning")
        == concept_of("s-lanss", "hot_burning")
        == "burning"
    )


def test_electric_shocks_are_shared_but_s_lanss_sudden_bursts_are_not() -> None:
    assert concept_of("dn4", "electric_shocks") == concept_of("id-pain", "electrical_shocks")
    assert concept_of("s-lanss", "sudden_bursts") != concept_of("dn4", "electric_shocks")
    assert "sudden_bursts" in CONCEPTS["electric_shocks"]


def test_touch_evoked_pain_reported_by_the_patient_is_not_the_dn4_brushing_exam() -> None:
    assert concept_of("id-pain", "worse_with_touch") == concept_of("s-lanss", "touch_sensitive")
    assert concept_of("dn4", "brushing") != concept_of("id-pain", "worse_with_touch")


def test_no_instrument_asks_one_concept_twice() -> None:
    for code in YES_NO_CODES:
        concepts = [item.concept for item in REGISTRY[code].items]
        assert len(concepts) == len(set(concepts)), code


# --- licensed instruments are not built in ---------------------------------------------------


def test_licensed_instruments_are_listed_as_not_built_in() -> None:
    assert set(NOT_BUILT_IN) == {"bpi", "paindetect", "promis"}
    assert not set(NOT_BUILT_IN) & set(REGISTRY)
    reasons = {
        "bpi": "MD Anderson BPI user guide",
        "paindetect": "Freynhagen R et al. Curr Med Res Opin 2006",
        "promis": "HealthMeasures terms of use",
    }
    for code, note in NOT_BUILT_IN.items():
        assert reasons[code] in note, code
        with pytest.raises(UnknownInstrument):
            score(code, {})


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "DN4", "dn-4", "bpi", "cadss", None, 4, ("dn4",)])
def test_it_refuses_an_unknown_instrument_code(code: object) -> None:
    with pytest.raises(UnknownInstrument, match="code: unknown instrument") as caught:
        score(code, {})  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == code


@pytest.mark.parametrize("answers", [None, [], [("pain", 3)], "pain=3", 3])
def test_it_refuses_answers_that_are_not_a_mapping(answers: object) -> None:
    with pytest.raises(InvalidAnswers, match="answers: must be a mapping") as caught:
        score("nrs", answers)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert set(caught.value.errors) == {"answers"}


def test_it_names_every_missing_item() -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score("dn4", {"burning": True})

    assert caught.value.code == "dn4"
    assert set(caught.value.errors) == set(DN4_KEYS) - {"burning"}
    for key in DN4_KEYS[1:]:
        assert f"{key}: missing answer" in str(caught.value)


def test_it_names_an_unknown_extra_item() -> None:
    answers: dict[Any, object] = {**every("nrs", 3), "mood": 4, 7: 1}

    with pytest.raises(InvalidAnswers) as caught:
        score("nrs", answers)

    assert set(caught.value.errors) == {"mood", "7"}
    assert "mood: unknown item" in str(caught.value)
    assert "7: unknown item" in str(caught.value)


def test_it_names_every_bad_item_at_once() -> None:
    answers = {
        "activity": True,  # bool where an int is expected
        "respiration": 3,  # out of range
        "circulation": 1.0,  # float where an int is expected
        # consciousness missing
        "oxygen_saturation": 2,  # the only good answer
        "colour": 2,  # unknown extra (the pre-1995 domain)
    }

    with pytest.raises(InvalidAnswers) as caught:
        score("aldrete", answers)

    errors = caught.value.errors
    assert set(errors) == {"activity", "respiration", "circulation", "consciousness", "colour"}
    assert errors["activity"] == "must be a whole number, not bool True"
    assert errors["respiration"] == "must be at least 0 and at most 2, not 3"
    assert errors["circulation"] == "must be a whole number, not float 1.0"
    assert errors["consciousness"] == "missing answer"
    message = str(caught.value)
    for key in errors:
        assert f"{key}: " in message


@pytest.mark.parametrize("value", [1, 0, "yes", "true", None, 1.0])
def test_it_refuses_anything_but_a_bool_for_a_yes_no_item(value: object) -> None:
    answers = {**every("dn4-interview", False), "burning": value}

    with pytest.raises(InvalidAnswers) as caught:
        score("dn4-interview", answers)

    assert set(caught.value.errors) == {"burning"}
    assert caught.value.errors["burning"].startswith("must be true or false, not ")


@pytest.mark.parametrize("value", [True, False, 3.0, "3", None, -1, 11, 2**64])
def test_it_refuses_a_bool_float_string_or_out_of_range_value_for_an_integer_item(
    value: object,
) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score("nrs", {"pain": value})

    assert set(caught.value.errors) == {"pain"}


@pytest.mark.parametrize(
    ("code", "key", "value"),
    [
        ("pgic", "change", 0),
        ("pgic", "change", 8),
        ("rass", "level", -6),
        ("rass", "level", 5),
        ("moaas", "level", -1),
        ("moaas", "level", 6),
        ("peg", "enjoyment", 11),
        ("cadss6", "item_22", 5),
    ],
)
def test_it_refuses_a_value_just_outside_the_allowed_range(code: str, key: str, value: int) -> None:
    answers = {**every(code, get_instrument(code).item(key).allowed[0]), key: value}

    with pytest.raises(InvalidAnswers) as caught:
        score(code, answers)

    assert set(caught.value.errors) == {key}
    assert "must be at least" in caught.value.errors[key]


def test_the_answers_are_not_changed_by_scoring() -> None:
    answers = yes("dn4", "burning")
    before = dict(answers)

    score("dn4", answers)

    assert answers == before


def test_an_item_refuses_points_for_a_value_it_does_not_allow() -> None:
    burning = REGISTRY["dn4"].item("burning")
    pain = REGISTRY["nrs"].item("pain")

    assert burning.points_for(True) == 1
    with pytest.raises(KeyError):
        burning.points_for(1)  # True == 1 in Python, but 1 is not a yes
    with pytest.raises(KeyError):
        pain.points_for(True)
    with pytest.raises(KeyError):
        pain.points_for(11)


def test_an_instrument_refuses_an_unknown_item_key_or_an_impossible_total() -> None:
    with pytest.raises(KeyError, match="mood"):
        REGISTRY["nrs"].item("mood")
    with pytest.raises(ValueError, match="total: 11 falls in no band of nrs"):
        REGISTRY["nrs"].band_for(11)


def test_get_instrument_returns_the_registry_entry() -> None:
    assert get_instrument("dn4") is REGISTRY["dn4"]


def test_the_registries_are_read_only() -> None:
    with pytest.raises(TypeError):
        REGISTRY["x"] = REGISTRY["nrs"]  # type: ignore[index]
    with pytest.raises(TypeError):
        CONCEPTS["x"] = "y"  # type: ignore[index]


# --- properties ------------------------------------------------------------------------------


def yes_no_answers(code: str) -> st.SearchStrategy[dict[str, bool]]:
    keys = REGISTRY[code].item_keys
    return st.fixed_dictionaries({key: st.booleans() for key in keys})


@pytest.mark.parametrize("code", YES_NO_CODES)
@given(data=st.data())
def test_one_more_yes_never_lowers_a_symptom_score(code: str, data: st.DataObject) -> None:
    answers = data.draw(yes_no_answers(code))
    # ID Pain's "limited to your joints" is the one item where yes counts against neuropathic pain.
    candidates = [k for k, v in answers.items() if not v and k != "limited_to_joints"]
    if not candidates:
        return
    key = data.draw(st.sampled_from(candidates))

    before = score(code, answers)
    after = score(code, {**answers, key: True})

    assert after.total > before.total
    assert after.total - before.total == REGISTRY[code].item(key).points_for(True)
    assert before.positive is None or after.positive or not before.positive


@given(answers=yes_no_answers("id-pain"))
def test_limited_to_joints_lowers_id_pain_by_one(answers: dict[str, bool]) -> None:
    without = score("id-pain", {**answers, "limited_to_joints": False})
    with_joints = score("id-pain", {**answers, "limited_to_joints": True})

    assert with_joints.total == without.total - 1


def answer_sets(instrument: Instrument) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {item.key: st.sampled_from(item.allowed) for item in instrument.items}
    )


@pytest.mark.parametrize("instrument", [*REGISTRY.values(), *CHARTING_SCALES.values()])
@given(data=st.data())
def test_every_valid_form_scores_within_range_and_positive_means_at_or_above_the_cutoff(
    instrument: Instrument, data: st.DataObject
) -> None:
    answers = data.draw(answer_sets(instrument))

    result = score(instrument.code, answers)

    assert instrument.minimum <= result.total <= instrument.maximum
    if instrument.cutoff is None:
        assert result.positive is None
    else:
        assert result.positive == (result.total >= instrument.cutoff)
    points = [item.points_for(answers[item.key]) for item in instrument.items]  # type: ignore[arg-type]
    expected = Fraction(sum(points), len(points) if instrument.aggregation == "mean" else 1)
    assert result.total == float(expected)


@given(
    extra=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in REGISTRY["dn4"].item_keys),
        st.booleans(),
        min_size=1,
        max_size=4,
    )
)
def test_any_unknown_extra_item_is_named(extra: Mapping[str, bool]) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score("dn4", {**every("dn4", False), **extra})

    assert set(caught.value.errors) == set(extra)


# --- the clinical core stays pure ------------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_clinical_package_imports_django() -> None:
    files = sorted(CLINICAL_PACKAGE.glob("*.py"))
    assert {p.name for p in files} >= {
        "__init__.py",
        "instruments.py",
        "grading.py",
        "eligibility.py",
        "outcomes.py",
    }
    for path in files:
        for name in imported_modules(path):
            assert name.split(".")[0] != "django", f"{path.name} imports {name}"


def test_importing_the_clinical_core_loads_no_django() -> None:
    code = (
        "import sys\n"
        "import ketaclinic.clinical.instruments, ketaclinic.clinical.grading\n"
        "import ketaclinic.clinical.eligibility, ketaclinic.clinical.outcomes\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(loaded))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )

    assert result.stdout.strip() == ""


# --- shared validation helpers (ketaclinic.clinical._validate) -------------------------------
# Exercised through every module above; these cases pin the one-sided ranges that the other
# clinical modules (dosing, pk) may use.


def test_validation_helpers_describe_one_sided_ranges() -> None:
    from ketaclinic.clinical import _validate

    assert _validate.int_problem(5, maximum=3) == "must be at most 3, not 5"
    assert _validate.int_problem(-1, minimum=0) == "must be at least 0, not -1"
    assert _validate.int_problem(10**9) is None
    assert _validate.number_problem(0.0, minimum=0, min_exclusive=True) == (
        "must be greater than 0, not 0.0"
    )
    assert (
        _validate.number_problem(1, maximum=1, max_exclusive=True) == "must be less than 1, not 1"
    )
    assert _validate.number_problem(-1e300) is None
    assert _validate.require_number(7, "dose") == 7
    assert type(_validate.require_number(7, "dose")) is int
    assert _validate.require_int(3, "count") == 3
    assert _validate.require_bool(False, "flag") is False
    with pytest.raises(ValueError, match=r"^dose must be a number, not bool True$"):
        _validate.require_number(True, "dose")
