"""Scores come from the clinical core only, and each answer reaches the right items."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketaclinic.clinical.instruments import REGISTRY, score
from ketaclinic.screening import questions as q
from ketaclinic.screening.questions import evaluate
from tests.screening.helpers import FEEL, FLAGS, SELF_TESTS

# Written out by hand, independently of questions.py: which self-check answer feeds each item.
ITEM_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "dn4-interview": {
        "burning": ("burning",),
        "painful_cold": ("painful_cold",),
        "electric_shocks": ("electric_shocks",),
        "tingling": ("tingling",),
        "pins_and_needles": ("pins_and_needles",),
        "numbness": ("numbness",),
        "itching": ("itching",),
    },
    "id-pain": {
        "pins_and_needles": ("pins_and_needles",),
        "hot_burning": ("burning",),
        "numb": ("numbness",),
        "electrical_shocks": ("electric_shocks",),
        "worse_with_touch": ("touch_evoked_pain",),
        "limited_to_joints": ("limited_to_joints",),
    },
    "s-lanss": {
        # S-LANSS asks about pins and needles, tingling or prickling: either answer counts.
        "pins_and_needles": ("pins_and_needles", "tingling"),
        "skin_color_change": ("skin_colour_change",),
        "touch_sensitive": ("touch_evoked_pain",),
        "sudden_bursts": ("sudden_bursts",),
        "hot_burning": ("burning",),
        "rub_test": ("rub_self_test",),
        "press_test": ("press_self_test",),
    },
}


def stored_answers(concepts: dict[str, bool]) -> dict[str, dict[str, object]]:
    return {
        "feel": {key: concepts[key] for key in FEEL},
        "duration": {"duration": "6_to_12"},
        "where": {"regions": ["feet"]},
        "triggers": {"triggers": ["none"]},
        "conditions": {"conditions": ["unknown"]},
        "treatments": {"treatments": ["none"]},
        "self-tests": {key: concepts[key] for key in SELF_TESTS},
        "warning-signs": dict.fromkeys(FLAGS, False),
    }


def test_the_hand_written_map_covers_every_item_of_the_three_instruments() -> None:
    for code in q.SCREENING_CODES:
        assert set(ITEM_SOURCES[code]) == set(REGISTRY[code].item_keys)


def test_every_symptom_concept_is_asked_exactly_once() -> None:
    concepts = [question.concept for question in q.SYMPTOM_QUESTIONS]
    assert len(concepts) == len(set(concepts))
    assert set(concepts) == {
        c for sources in ITEM_SOURCES.values() for s in sources.values() for c in s
    }


# Drawing ~20 booleans is instant; "too slow" here only ever meant a machine busy with other work.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({key: st.booleans() for key in FEEL + SELF_TESTS}))
def test_scores_match_the_clinical_core_for_any_answers(concepts: dict[str, bool]) -> None:
    outcome = evaluate(stored_answers(concepts))
    for code, items in ITEM_SOURCES.items():
        answers = {key: any(concepts[c] for c in sources) for key, sources in items.items()}
        assert outcome.scores[code] == score(code, answers)


def test_all_yes_reaches_each_instruments_maximum_except_the_joint_item() -> None:
    outcome = evaluate(stored_answers(dict.fromkeys(FEEL + SELF_TESTS, True)))
    assert outcome.scores["dn4-interview"].total == 7.0
    assert outcome.scores["id-pain"].total == 4.0  # "limited to joints" scores -1
    assert outcome.scores["s-lanss"].total == 24.0


def test_tingling_alone_counts_for_s_lanss_but_not_as_dn4_pins_and_needles() -> None:
    concepts = dict.fromkeys(FEEL + SELF_TESTS, False) | {"tingling": True}
    outcome = evaluate(stored_answers(concepts))
    assert outcome.scores["dn4-interview"].total == 1.0
    assert outcome.scores["id-pain"].total == 0.0
    assert outcome.scores["s-lanss"].total == 5.0


@pytest.mark.parametrize(
    ("months", "chronic"), [(0.5, False), (3.0, False), (3.01, True), (18, True)]
)
def test_chronic_means_longer_than_three_months(months: float, chronic: bool) -> None:
    assert q.is_chronic(months) is chronic


@pytest.mark.parametrize("band", q.DURATIONS, ids=[d.value for d in q.DURATIONS])
def test_each_duration_band_sits_on_its_side_of_the_three_month_line(
    band: q.DurationOption,
) -> None:
    chronic = band.value in {"3_to_6", "6_to_12", "over_12"}
    assert q.is_chronic(band.months) is chronic


def test_red_flags_are_listed_in_the_order_asked() -> None:
    answers = stored_answers(dict.fromkeys(FEEL + SELF_TESTS, False))
    answers["warning-signs"] = dict.fromkeys(FLAGS, True)
    assert evaluate(answers).red_flags == tuple(FLAGS)


@pytest.mark.parametrize(
    ("step", "change", "message"),
    [
        ("feel", {"burning": "yes"}, "feel.burning: answer yes or no"),
        ("duration", {"duration": "forever"}, "duration.duration:"),
        ("where", {"regions": []}, "where.regions: choose at least one"),
        (
            "triggers",
            {"triggers": ["none", "heat"]},
            "triggers.triggers: 'none' cannot be combined",
        ),
        ("treatments", {"treatments": ["aspirin"]}, "treatments.treatments: 'aspirin' is not one"),
        ("warning-signs", {"fever": 1}, "warning-signs.fever: answer yes or no"),
    ],
)
def test_evaluate_names_the_bad_field(step: str, change: dict[str, object], message: str) -> None:
    answers = stored_answers(dict.fromkeys(FEEL + SELF_TESTS, False))
    answers[step] = {**answers[step], **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        evaluate(answers)


def test_evaluate_refuses_a_missing_step() -> None:
    answers = stored_answers(dict.fromkeys(FEEL + SELF_TESTS, False))
    del answers["self-tests"]
    with pytest.raises(ValueError, match="self-tests: this step has not been answered"):
        evaluate(answers)


def test_scores_are_stored_with_every_field_of_the_score() -> None:
    outcome = evaluate(stored_answers(dict.fromkeys(FEEL + SELF_TESTS, False)))
    fields = {f.name for f in dataclasses.fields(outcome.scores["s-lanss"])}
    assert fields == {"code", "total", "maximum", "cutoff", "positive", "band", "source"}
