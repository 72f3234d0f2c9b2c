"""Suggested tasks on a plan: baseline ECG and liver tests (ketaclinic.clinical.tasks_suggested)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.eligibility import CONDITIONS, RULES
from ketaclinic.clinical.tasks_suggested import (
    ECG_CONDITIONS,
    ECG_REASONS,
    LIVER_CONDITIONS,
    SuggestedTask,
    suggested_tasks,
)

TODAY = dt.date(2026, 12, 3)


def codes(**kwargs: object) -> list[str]:
    arguments: dict[str, object] = {
        "conditions": (),
        "reason_codes": (),
        "previous_series_ends": (),
        "today": TODAY,
    }
    arguments.update(kwargs)
    return [t.code for t in suggested_tasks(**arguments)]  # type: ignore[arg-type]


def test_the_trigger_codes_are_known_to_the_eligibility_rules() -> None:
    assert set(CONDITIONS) >= ECG_CONDITIONS
    assert set(CONDITIONS) >= LIVER_CONDITIONS
    assert set(ECG_REASONS) <= set(RULES)


def test_nothing_is_suggested_for_a_healthy_first_series() -> None:
    assert (
        suggested_tasks(conditions=[], reason_codes=[], previous_series_ends=[], today=TODAY) == ()
    )


@pytest.mark.parametrize("condition", sorted(ECG_CONDITIONS))
def test_a_cardiovascular_condition_suggests_an_ecg(condition: str) -> None:
    assert codes(conditions=[condition]) == ["baseline_ecg"]


@pytest.mark.parametrize("reason", sorted(ECG_REASONS))
def test_a_blood_pressure_reason_suggests_an_ecg(reason: str) -> None:
    assert codes(reason_codes=[reason]) == ["baseline_ecg"]


@pytest.mark.parametrize("condition", sorted(LIVER_CONDITIONS))
def test_liver_disease_or_substance_misuse_suggests_liver_tests(condition: str) -> None:
    assert codes(conditions=[condition]) == ["baseline_liver_tests"]


def test_other_conditions_and_reasons_suggest_nothing() -> None:
    assert codes(conditions=["pregnancy", "psychosis_history"], reason_codes=["tachycardia"]) == []


def test_an_ecg_says_every_trigger_once_in_words() -> None:
    (task,) = suggested_tasks(
        conditions=["uncontrolled_hypertension", "uncontrolled_hypertension"],
        reason_codes=["blood_pressure_elevated"],
        previous_series_ends=[],
        today=TODAY,
    )
    assert task == SuggestedTask(
        code="baseline_ecg",
        label="Baseline ECG",
        why="Cardiovascular risk recorded: uncontrolled hypertension; raised blood pressure at "
        "the exam.",
        source=task.source,
    )
    assert "Reg Anesth Pain Med 2018" in task.source


def test_liver_tests_name_alkaline_phosphatase_and_ggt_and_the_recent_series() -> None:
    (task,) = suggested_tasks(
        conditions=["moderate_hepatic_disease"],
        reason_codes=[],
        previous_series_ends=[dt.date(2026, 3, 1), dt.date(2026, 6, 30)],
        today=TODAY,
    )
    assert task.label == "Baseline liver tests, including alkaline phosphatase and GGT"
    assert task.why == (
        "Recorded: moderate hepatic disease; a series ended on 2026-06-30, within 12 months."
    )
    assert "alkaline phosphatase and GGT" in task.source


@pytest.mark.parametrize(
    ("end", "suggested"),
    [
        (dt.date(2025, 12, 3), True),  # exactly 12 months before
        (dt.date(2025, 12, 2), False),  # a day more
        (TODAY, True),
        (dt.date(2026, 12, 4), False),  # a future "end" is not an earlier series
    ],
)
def test_a_second_series_within_twelve_months_suggests_liver_tests(
    end: dt.date, suggested: bool
) -> None:
    assert codes(previous_series_ends=[end]) == (["baseline_liver_tests"] if suggested else [])


def test_both_tasks_come_ecg_first() -> None:
    assert codes(conditions=["substance_use_history", "uncontrolled_cardiovascular_disease"]) == [
        "baseline_ecg",
        "baseline_liver_tests",
    ]


@pytest.mark.parametrize("field", ["conditions", "reason_codes"])
def test_codes_must_be_strings_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must hold codes"):
        codes(**{field: [1]})


def test_series_ends_must_be_dates() -> None:
    with pytest.raises(ValueError, match=r"^previous_series_ends must hold dates"):
        codes(previous_series_ends=["2026-01-01"])


@given(
    conditions=st.lists(st.sampled_from(sorted(CONDITIONS))),
    reasons=st.lists(st.sampled_from(sorted(RULES))),
)
def test_a_task_is_suggested_exactly_when_a_trigger_is_recorded(
    conditions: list[str], reasons: list[str]
) -> None:
    found = codes(conditions=conditions, reason_codes=reasons)
    assert ("baseline_ecg" in found) == bool(
        ECG_CONDITIONS & set(conditions) or set(ECG_REASONS) & set(reasons)
    )
    assert ("baseline_liver_tests" in found) == bool(LIVER_CONDITIONS & set(conditions))
