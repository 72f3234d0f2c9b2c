"""NeuPSIG 2016 grading of neuropathic pain (ketaclinic.clinical.grading)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.grading import GRADES, SOURCE, neuropathic_grade

FIELDS = ("history", "plausible_distribution", "sensory_signs", "confirmatory_test")


def grade(history: bool, distribution: bool, signs: bool, test: bool) -> str:
    return neuropathic_grade(
        history=history,
        plausible_distribution=distribution,
        sensory_signs=signs,
        confirmatory_test=test,
    )


# All 16 combinations, written out from the contract: each grade needs every step before it.
TABLE = [
    # history, distribution, signs, test -> grade
    (False, False, False, False, "unlikely"),
    (False, False, False, True, "unlikely"),
    (False, False, True, False, "unlikely"),
    (False, False, True, True, "unlikely"),
    (False, True, False, False, "unlikely"),
    (False, True, False, True, "unlikely"),
    (False, True, True, False, "unlikely"),
    (False, True, True, True, "unlikely"),
    (True, False, False, False, "unlikely"),
    (True, False, False, True, "unlikely"),
    (True, False, True, False, "unlikely"),
    (True, False, True, True, "unlikely"),
    (True, True, False, False, "possible"),
    # A confirmatory test without sensory signs does not skip "probable" (contract wording;
    # Finnerup 2016 leaves "probable" to the clinician's judgement in that case).
    (True, True, False, True, "possible"),
    (True, True, True, False, "probable"),
    (True, True, True, True, "definite"),
]


@pytest.mark.parametrize(("history", "distribution", "signs", "test", "expected"), TABLE)
def test_it_grades_every_combination_of_findings(
    history: bool, distribution: bool, signs: bool, test: bool, expected: str
) -> None:
    assert grade(history, distribution, signs, test) == expected


def test_the_table_covers_every_combination() -> None:
    assert {row[:4] for row in TABLE} == set(itertools.product([False, True], repeat=4))


def test_history_alone_is_not_enough_for_possible() -> None:
    assert grade(True, False, False, False) == "unlikely"


def test_the_self_check_without_an_exam_reaches_at_most_possible() -> None:
    # A self-check records history and distribution only; signs and tests need a clinician.
    assert grade(True, True, False, False) == "possible"


def test_grades_are_listed_in_increasing_certainty() -> None:
    assert GRADES == ("unlikely", "possible", "probable", "definite")
    assert "Finnerup" in SOURCE
    assert "2016" in SOURCE


@given(findings=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()))
def test_adding_a_finding_never_lowers_the_grade(
    findings: tuple[bool, bool, bool, bool],
) -> None:
    before = GRADES.index(grade(*findings))
    for index in range(4):
        more = list(findings)
        more[index] = True
        assert GRADES.index(grade(*more)) >= before


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [None, 0, 1, "yes", "false", 1.0])
def test_it_refuses_anything_but_a_bool_and_names_the_field(field: str, value: object) -> None:
    arguments: dict[str, object] = dict.fromkeys(FIELDS, True)
    arguments[field] = value

    with pytest.raises(ValueError, match=f"^{field} must be true or false"):
        neuropathic_grade(**arguments)  # type: ignore[arg-type]


def test_its_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        neuropathic_grade(True, True, True, True)  # type: ignore[misc]
