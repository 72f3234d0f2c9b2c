"""One table of plausible ranges serves the exam and the infusion chart."""

from __future__ import annotations

from ketaclinic.clinical.monitoring import VITAL_LIMITS, Vitals
from ketaclinic.clinical.ranges import RECORDED_RANGES, VITAL_SIGNS


def test_the_chart_reads_the_vital_signs_rows_of_the_one_table() -> None:
    assert set(VITAL_LIMITS) == set(VITAL_SIGNS)
    for name, (lowest, highest) in VITAL_LIMITS.items():
        assert (lowest, highest) == RECORDED_RANGES[name]


def test_every_range_is_ordered_and_the_vitals_are_whole_numbers() -> None:
    for name, (lowest, highest) in RECORDED_RANGES.items():
        assert lowest < highest, name
    for name in VITAL_SIGNS:
        assert all(float(bound).is_integer() for bound in RECORDED_RANGES[name]), name


def test_a_reading_at_the_bounds_is_accepted() -> None:
    low, high = RECORDED_RANGES["respiratory_rate"]
    assert Vitals(respiratory_rate=int(low)).respiratory_rate == low
    assert Vitals(respiratory_rate=int(high)).respiratory_rate == high
