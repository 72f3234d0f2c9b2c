"""Units in words (clinical/units.py): every branch of the display mapping, the core's own tests."""

from __future__ import annotations

import pytest

from ketaclinic.clinical.units import unit_label, with_unit


@pytest.mark.parametrize("code", [None, ""])
def test_no_unit_reads_as_nothing_and_the_value_stands_alone(code: str | None) -> None:
    assert unit_label(code) == ""
    assert with_unit("7", code) == "7"


def test_a_rate_per_minute_says_what_it_counts_only_for_a_counted_observation() -> None:
    assert unit_label("/min", loinc="8867-4") == "beats/min"
    assert unit_label("/min", loinc="9279-1") == "breaths/min"
    assert unit_label("/min", loinc="0000-0") == "/min"
    assert unit_label("mm[Hg]", loinc="8867-4") == "mmHg"


def test_annotations_read_as_nothing_and_unknown_codes_as_they_are() -> None:
    assert unit_label("{score}") == ""
    assert unit_label("{beats}") == ""
    assert unit_label("L/min") == "L/min"
    assert with_unit("97", "%") == "97%"
    assert with_unit("36.7", "Cel") == "36.7 °C"
