"""Response classes, durability and baseline (ketaclinic.clinical.outcomes)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.outcomes import (
    BOOSTER_BUFFER_MIN,
    BOOSTER_DURATION_MIN,
    FOLLOWUP_DAYS,
    FOLLOWUP_MIN_DAYS,
    MIN_DAYS_IN_WINDOW,
    PGIC_AFTER_DAYS,
    RELAPSE_RUN_DAYS,
    RESPONSE_CLASSES,
    SERIES_GAP_DAYS,
    SOURCE,
    WINDOW_DAYS,
    Durability,
    SeriesJudgement,
    baseline_choice,
    baseline_from_entries,
    classify_response,
    durability,
    gap_groups,
    judge_series,
    recorded_baseline,
    relapse_window_means,
)

END = dt.date(2025, 3, 3)
NO_RESPONSE = Durability(
    responded=False, response_date=None, relapse_date=None, days_of_relief=None, censored=False
)


def day(n: int) -> dt.date:
    """The date n days after the end of the series (negative: before it)."""
    return END + dt.timedelta(days=n)


def diary(values: dict[int, float | Sequence[float]]) -> list[tuple[dt.date, float]]:
    """Entries from {day offset: value or several values that day}."""
    entries: list[tuple[dt.date, float]] = []
    for offset, value in values.items():
        for v in value if isinstance(value, Sequence) else [value]:
            entries.append((day(offset), v))
    return entries


def daily(offsets: range, value: float | Sequence[float]) -> dict[int, float | Sequence[float]]:
    return dict.fromkeys(offsets, value)


def entered(value: float) -> Fraction:
    """The decimal a float was typed as, exactly (independent of the module's own helper)."""
    return Fraction(str(value))


# --- classify_response -----------------------------------------------------------------------

# Boundaries are chosen where the reduction is exactly 50%, 30%, 10% or 0% in decimal. Several
# (7 -> 4.9, 6 -> 4.2, 0.7 -> 0.49) are not exact in binary floating point, where a naive
# (b - f) / b lands just below the threshold; the module computes on the decimals as entered.
RESPONSE_CASES = [
    (10, 5, "substantial"),  # r = 0.5 exactly
    (10, 0, "substantial"),
    (4, 2, "substantial"),
    (10, 5.1, "moderate"),  # r = 0.49
    (10, 7, "moderate"),  # r = 0.3 exactly
    (6, 4.2, "moderate"),  # r = 0.3 in decimal; 0.29999999999999993 in naive floating point
    (7, 4.9, "moderate"),  # same
    (0.7, 0.49, "moderate"),  # same
    (10, 7.1, "minimal"),  # r = 0.29
    (10, 9, "minimal"),  # r = 0.1 exactly
    (3, 2.7, "minimal"),  # r = 0.1 in decimal
    (10, 9.1, "none"),  # r = 0.09
    (10, 10, "none"),  # r = 0
    (8, 8.0, "none"),
    (5, 6, "worse"),  # r = -0.2
    (2, 2.01, "worse"),  # r = -0.005
    (0.1, 0, "substantial"),  # smallest sensible baseline
]


@pytest.mark.parametrize(("baseline", "followup", "expected"), RESPONSE_CASES)
def test_it_classifies_the_response_by_immpact_thresholds(
    baseline: float, followup: float, expected: str
) -> None:
    assert classify_response(baseline, followup) == expected


def test_response_classes_are_listed_best_first() -> None:
    assert RESPONSE_CLASSES == ("substantial", "moderate", "minimal", "none", "worse")
    assert "Dworkin" in SOURCE


@pytest.mark.parametrize(
    ("baseline", "match"),
    [
        (0, "baseline must be greater than 0 and at most 10, not 0"),
        (0.0, "baseline must be greater than 0"),
        (-1, "baseline must be greater than 0"),
        (10.5, "baseline must be greater than 0 and at most 10, not 10.5"),
        (math.nan, "baseline must be a finite number"),
        (math.inf, "baseline must be a finite number"),
        (True, "baseline must be a number, not bool"),
        ("5", "baseline must be a number, not str"),
        (None, "baseline must be a number, not NoneType"),
    ],
)
def test_it_refuses_a_baseline_outside_0_to_10(baseline: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"^{match}"):
        classify_response(baseline, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("followup", "match"),
    [
        (-0.1, "followup must be at least 0 and at most 10, not -0.1"),
        (10.1, "followup must be at least 0 and at most 10"),
        (math.nan, "followup must be a finite number"),
        (-math.inf, "followup must be a finite number"),
        (False, "followup must be a number, not bool"),
        ("3", "followup must be a number"),
    ],
)
def test_it_refuses_a_followup_outside_0_to_10(followup: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"^{match}"):
        classify_response(5, followup)  # type: ignore[arg-type]


def test_numpy_floats_are_read_as_the_decimals_they_print_as() -> None:
    assert classify_response(np.float64(6), np.float64(4.2)) == "moderate"


def test_the_edges_of_the_scale_are_accepted() -> None:
    assert classify_response(10, 0) == "substantial"
    assert classify_response(0.5, 10) == "worse"


pain = st.one_of(
    st.integers(0, 10),
    st.floats(0, 10, allow_nan=False),
    st.decimals(0, 10, places=1).map(float),
)
positive_pain = pain.filter(lambda v: v > 0)


def reference_class(baseline: float, followup: float) -> str:
    r = (entered(baseline) - entered(followup)) / entered(baseline)
    if r >= Fraction(1, 2):
        return "substantial"
    if r >= Fraction(3, 10):
        return "moderate"
    if r >= Fraction(1, 10):
        return "minimal"
    return "none" if r >= 0 else "worse"


@given(baseline=positive_pain, followup=pain)
def test_the_class_matches_exact_decimal_arithmetic(baseline: float, followup: float) -> None:
    assert classify_response(baseline, followup) == reference_class(baseline, followup)


@given(baseline=positive_pain, a=pain, b=pain)
def test_a_lower_followup_never_gives_a_worse_class(baseline: float, a: float, b: float) -> None:
    better, worse = sorted([a, b])
    assert RESPONSE_CLASSES.index(classify_response(baseline, better)) <= RESPONSE_CLASSES.index(
        classify_response(baseline, worse)
    )


# --- durability: scenarios -------------------------------------------------------------------


def test_a_response_followed_by_a_relapse() -> None:
    # Baseline 8, so the response level is 5.6. Pain 2 for ten days, then 9.
    # Window means: day 3 = 2 (first with 4 days) -> response. From day 10 the 9s enter the
    # window: day 12 = (4*2 + 3*9)/7 = 5, day 13 = (3*2 + 4*9)/7 = 6 > 5.6, day 14 = 7, day 15 = 8.
    entries = diary({**daily(range(10), 2), **daily(range(10, 30), 9)})

    result = durability(baseline=8, entries=entries, series_end=END)

    assert result == Durability(
        responded=True,
        response_date=day(3),
        relapse_date=day(13),
        days_of_relief=13,
        censored=False,
    )


def test_a_response_without_relapse_is_censored_at_the_last_entry() -> None:
    entries = diary(daily(range(10), 2))

    result = durability(baseline=8, entries=entries, series_end=END)

    assert result == Durability(
        responded=True, response_date=day(3), relapse_date=None, days_of_relief=9, censored=True
    )


def test_no_response_when_the_window_mean_never_reaches_70_percent_of_baseline() -> None:
    entries = diary(daily(range(30), 6))  # 6 > 0.7 x 8 = 5.6

    assert durability(baseline=8, entries=entries, series_end=END) == NO_RESPONSE


def test_no_entries_at_all_is_no_response() -> None:
    assert durability(baseline=8, entries=[], series_end=END) == NO_RESPONSE


def test_a_window_needs_four_days_with_a_value() -> None:
    # Pain 0 on three days: no window is defined, so there is no response yet.
    assert durability(baseline=8, entries=diary(daily(range(3), 0)), series_end=END) == NO_RESPONSE
    # A fourth day defines the window on that day.
    result = durability(baseline=8, entries=diary(daily(range(4), 0)), series_end=END)
    assert result.response_date == day(3)


def test_sparse_entries_leave_every_window_undefined() -> None:
    # Every third day: any seven-day window holds at most three entries.
    entries = diary(daily(range(0, 60, 3), 0))

    assert durability(baseline=8, entries=entries, series_end=END) == NO_RESPONSE


def test_every_other_day_fills_exactly_four_days_of_a_window() -> None:
    entries = diary(daily(range(0, 20, 2), 0))

    result = durability(baseline=8, entries=entries, series_end=END)

    assert result.response_date == day(6)  # days 0, 2, 4, 6


def test_entries_before_the_end_of_the_series_are_ignored() -> None:
    # Without the pre-series entries only two days count, so no window is ever defined.
    entries = diary({**daily(range(-5, 0), 0), **daily(range(2), 0)})

    assert durability(baseline=8, entries=entries, series_end=END) == NO_RESPONSE


def test_entries_only_before_the_end_of_the_series_are_no_response() -> None:
    entries = diary(daily(range(-20, 0), 0))

    assert durability(baseline=8, entries=entries, series_end=END) == NO_RESPONSE


def test_a_high_pre_series_entry_does_not_delay_the_response() -> None:
    before = diary(daily(range(-6, 0), 10))
    after = diary(daily(range(10), 2))

    assert durability(baseline=8, entries=before + after, series_end=END) == durability(
        baseline=8, entries=after, series_end=END
    )


def test_several_entries_on_one_day_count_as_their_mean() -> None:
    # Each day: 4 and 6 -> 5 <= 5.6. Taking the last or the highest (6) would miss the response.
    entries = diary(daily(range(4), [4, 6]))

    result = durability(baseline=8, entries=entries, series_end=END)

    assert result.response_date == day(3)


def test_several_entries_on_one_day_count_once_toward_the_four_days() -> None:
    entries = diary(daily(range(3), [0, 0, 0]))

    assert durability(baseline=8, entries=entries, series_end=END) == NO_RESPONSE


def test_a_day_is_averaged_before_the_window_mean_not_after() -> None:
    # Baseline 10 -> level 7. Day 0 has three entries (0, 0, 9 -> daily mean 3), days 1-3 have 9.
    # Window mean on day 3 = (3 + 9 + 9 + 9) / 4 = 7.5 > 7: no response. Pooling the six raw
    # entries instead would give 36 / 6 = 6 and a false response.
    entries = diary({0: [0, 0, 9], 1: 9, 2: 9, 3: 9})

    assert durability(baseline=10, entries=entries, series_end=END) == NO_RESPONSE

    # With 6 on day 3 the window mean is 27 / 4 = 6.75 <= 7: a response on day 3.
    entries = diary({0: [0, 0, 9], 1: 9, 2: 9, 3: 6})
    assert durability(baseline=10, entries=entries, series_end=END).response_date == day(3)


def test_a_window_mean_exactly_at_70_percent_is_a_response_and_not_a_relapse() -> None:
    # 0.7 x 6 = 4.2 exactly (binary floating point would give 4.199999999999999).
    entries = diary(daily(range(20), 4.2))

    result = durability(baseline=6, entries=entries, series_end=END)

    assert result == Durability(
        responded=True, response_date=day(3), relapse_date=None, days_of_relief=19, censored=True
    )


# With a one-day window the window mean is the day's value, which makes run logic easy to read.
ONE_DAY = {"window_days": 1, "min_days_in_window": 1}


def test_a_relapse_needs_three_consecutive_days_above_the_level() -> None:
    # Baseline 10 -> level 7. Response day 0; two days above, one below, then three above.
    entries = diary({0: 2, 1: 8, 2: 8, 3: 5, 4: 8, 5: 8, 6: 8, 7: 1})

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert result == Durability(
        responded=True, response_date=day(0), relapse_date=day(4), days_of_relief=4, censored=False
    )


def test_an_undefined_window_interrupts_a_relapse_run() -> None:
    entries = diary({0: 2, 1: 8, 2: 8, 4: 8, 5: 8, 6: 8})  # day 3 missing

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert result.relapse_date == day(4)


def test_a_run_cut_short_by_the_last_entry_is_not_a_relapse() -> None:
    entries = diary({0: 2, 1: 8, 2: 8})

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert result == Durability(
        responded=True, response_date=day(0), relapse_date=None, days_of_relief=2, censored=True
    )


def test_a_run_ending_on_the_last_entry_is_a_relapse() -> None:
    entries = diary({0: 2, 1: 8, 2: 8, 3: 8})

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert (result.relapse_date, result.days_of_relief, result.censored) == (day(1), 1, False)


def test_values_exactly_at_the_level_never_relapse() -> None:
    entries = diary({0: 7, 1: 7, 2: 7, 3: 7, 4: 7.1, 5: 7.1, 6: 7.1})

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert (result.response_date, result.relapse_date) == (day(0), day(4))


def test_days_above_the_level_before_the_response_are_not_a_relapse() -> None:
    entries = diary({0: 9, 1: 9, 2: 9, 3: 9, 4: 2, 5: 3})

    result = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)

    assert result == Durability(
        responded=True, response_date=day(4), relapse_date=None, days_of_relief=5, censored=True
    )


def test_a_response_on_the_last_day_has_relief_to_that_day() -> None:
    result = durability(baseline=10, entries=diary({0: 2}), series_end=END, **ONE_DAY)

    assert result == Durability(
        responded=True, response_date=day(0), relapse_date=None, days_of_relief=0, censored=True
    )


def test_the_fraction_and_run_length_can_be_tuned() -> None:
    entries = diary({0: 6, 1: 4, 2: 6, 3: 1})

    default = durability(baseline=10, entries=entries, series_end=END, **ONE_DAY)
    strict = durability(
        baseline=10, entries=entries, series_end=END, relapse_fraction=0.5, **ONE_DAY
    )
    one_day_run = durability(
        baseline=10,
        entries=entries,
        series_end=END,
        relapse_fraction=0.5,
        relapse_run_days=1,
        **ONE_DAY,
    )

    assert default.response_date == day(0)  # 6 <= 7
    assert strict.response_date == day(1)  # 6 > 5, 4 <= 5
    assert (one_day_run.response_date, one_day_run.relapse_date) == (day(1), day(2))


def test_the_window_can_be_tuned() -> None:
    entries = diary(daily(range(10), 2))

    result = durability(
        baseline=8, entries=entries, series_end=END, window_days=14, min_days_in_window=7
    )

    assert result.response_date == day(6)


# --- durability: refusals --------------------------------------------------------------------


def durability_of(**overrides: object) -> Durability:
    arguments: dict[str, object] = {
        "baseline": 8,
        "entries": diary(daily(range(10), 2)),
        "series_end": END,
    }
    arguments.update(overrides)
    return durability(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"baseline": 0}, "baseline must be greater than 0"),
        ({"baseline": 11}, "baseline must be greater than 0 and at most 10"),
        ({"baseline": True}, "baseline must be a number, not bool"),
        ({"baseline": math.nan}, "baseline must be a finite number"),
        ({"series_end": dt.datetime(2025, 3, 3, 9, 0)}, "series_end must be a date without a time"),
        ({"series_end": "2025-03-03"}, "series_end must be a date, not str"),
        ({"series_end": None}, "series_end must be a date"),
        ({"entries": None}, "entries must be a sequence of \\(date, value\\) pairs"),
        ({"entries": "2025-03-03,4"}, "entries must be a sequence"),
        ({"entries": {END: 4}}, "entries must be a sequence"),
        ({"entries": iter([(END, 4)])}, "entries must be a sequence"),
        ({"entries": [(END, 4), END]}, "entries\\[1\\] must be a \\(date, value\\) pair"),
        ({"entries": [(END, 4, 5)]}, "entries\\[0\\] must be a \\(date, value\\) pair"),
        (
            {"entries": [(dt.datetime(2025, 3, 3, 8, 30), 4)]},
            "entries\\[0\\] date must be a date without a time",
        ),
        ({"entries": [("2025-03-03", 4)]}, "entries\\[0\\] date must be a date, not str"),
        ({"entries": [(END, True)]}, "entries\\[0\\] value must be a number, not bool"),
        ({"entries": [(END, math.nan)]}, "entries\\[0\\] value must be a finite number"),
        ({"entries": [(END, 10.5)]}, "entries\\[0\\] value must be at least 0 and at most 10"),
        ({"entries": [(END, 3), (END, -1)]}, "entries\\[1\\] value must be at least 0"),
        ({"entries": [(END, "4")]}, "entries\\[0\\] value must be a number, not str"),
        ({"relapse_fraction": 0}, "relapse_fraction must be greater than 0 and at most 1"),
        ({"relapse_fraction": 1.5}, "relapse_fraction must be greater than 0 and at most 1"),
        ({"relapse_fraction": True}, "relapse_fraction must be a number, not bool"),
        ({"window_days": 0}, "window_days must be at least 1"),
        ({"window_days": 7.0}, "window_days must be a whole number"),
        ({"min_days_in_window": 8}, "min_days_in_window must be at least 1 and at most 7"),
        ({"min_days_in_window": True}, "min_days_in_window must be a whole number"),
        ({"relapse_run_days": 0}, "relapse_run_days must be at least 1"),
        ({"relapse_run_days": False}, "relapse_run_days must be a whole number"),
    ],
)
def test_durability_refuses_bad_input_naming_the_field(
    overrides: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=f"^{match}"):
        durability_of(**overrides)


def test_entries_may_be_lists_and_any_sequence() -> None:
    as_lists = [[d, v] for d, v in diary(daily(range(10), 2))]

    assert durability_of(entries=as_lists) == durability_of()
    assert durability_of(entries=tuple(diary(daily(range(10), 2)))) == durability_of()


def test_the_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        durability(8, [], END)  # type: ignore[misc]


# --- durability: properties ------------------------------------------------------------------

scattered_diaries = st.lists(st.tuples(st.integers(-10, 60).map(day), pain), max_size=80)


@st.composite
def dense_diaries(draw: st.DrawFn) -> list[tuple[dt.date, float]]:
    """Mostly daily diaries in stretches of low, middling or high pain, with some gaps and some
    days with several entries, starting a little before the end of the series. Random scattered
    entries rarely define a window; these respond and relapse often."""
    entries: list[tuple[dt.date, float]] = []
    offset = draw(st.integers(-7, 2))
    for _ in range(draw(st.integers(0, 8))):
        low, high = draw(st.sampled_from([(0, 3), (4, 7), (8, 10)]))
        for _ in range(draw(st.integers(1, 12))):
            if draw(st.integers(0, 6)) > 0:  # about one day in seven left empty
                for _ in range(draw(st.integers(1, 3)) if draw(st.booleans()) else 1):
                    value = draw(st.one_of(st.integers(low, high), st.floats(low, high)))
                    entries.append((day(offset), value))
            offset += 1
    return draw(st.permutations(entries))


entry_lists = st.one_of(dense_diaries(), scattered_diaries)
# Baselines of 5-10 are what a series is offered for; any valid baseline must still work.
baselines = st.one_of(st.integers(5, 10), positive_pain)


def reference_durability(
    baseline: float, entries: list[tuple[dt.date, float]]
) -> tuple[dt.date | None, dt.date | None]:
    """The contract, read literally, with exact decimals."""
    by_day: dict[dt.date, list[Fraction]] = {}
    for d, v in entries:
        if d >= END:
            by_day.setdefault(d, []).append(entered(v))
    if not by_day:
        return None, None
    means = {d: sum(vs, Fraction(0)) / len(vs) for d, vs in by_day.items()}
    level = Fraction(7, 10) * entered(baseline)

    def window(d: dt.date) -> Fraction | None:
        inside = [means[x] for k in range(7) if (x := d - dt.timedelta(days=k)) in means]
        return sum(inside, Fraction(0)) / len(inside) if len(inside) >= 4 else None

    days = [END + dt.timedelta(days=n) for n in range((max(means) - END).days + 1)]
    response = next((d for d in days if (w := window(d)) is not None and w <= level), None)
    if response is None:
        return None, None
    for start in days:
        run = [start + dt.timedelta(days=k) for k in range(3)]
        if start > response and run[-1] <= days[-1]:
            windows = [window(d) for d in run]
            if all(w is not None and w > level for w in windows):
                return response, start
    return response, None


@given(baseline=baselines, entries=entry_lists)
def test_durability_matches_the_contract_read_literally(
    baseline: float, entries: list[tuple[dt.date, float]]
) -> None:
    result = durability(baseline=baseline, entries=entries, series_end=END)

    assert (result.response_date, result.relapse_date) == reference_durability(baseline, entries)


@given(baseline=baselines, entries=entry_lists)
def test_durability_never_reports_a_relapse_before_a_response(
    baseline: float, entries: list[tuple[dt.date, float]]
) -> None:
    result = durability(baseline=baseline, entries=entries, series_end=END)

    if result.relapse_date is not None:
        assert result.responded
        assert result.response_date is not None
        assert result.relapse_date > result.response_date
        assert result.days_of_relief == (result.relapse_date - END).days
        assert not result.censored
    if result.responded:
        assert result.response_date is not None
        assert result.response_date >= END
        assert result.days_of_relief is not None
        assert result.days_of_relief >= (result.response_date - END).days
        assert result.censored == (result.relapse_date is None)
        if result.censored:
            last = max(d for d, _ in entries if d >= END)
            assert result.days_of_relief == (last - END).days
    else:
        assert result == NO_RESPONSE


@given(baseline=baselines, entries=entry_lists, early=entry_lists)
def test_entries_before_the_series_end_never_change_the_result(
    baseline: float, entries: list[tuple[dt.date, float]], early: list[tuple[dt.date, float]]
) -> None:
    before_end = [(d, v) for d, v in early if d < END]

    assert durability(baseline=baseline, entries=entries + before_end, series_end=END) == (
        durability(baseline=baseline, entries=entries, series_end=END)
    )


# --- baseline --------------------------------------------------------------------------------


def test_the_baseline_is_the_mean_daily_score_of_the_week_before_the_first_infusion() -> None:
    entries = [
        (day(-1), 6),
        (day(-1), 7),  # day -1 counts once, as 6.5
        (day(-7), 5),
        (day(-8), 1),  # eight days before: outside the week
        (day(0), 10),  # the infusion day itself: excluded
    ]

    assert baseline_from_entries(entries, first_infusion=END) == 5.75


def test_the_baseline_is_exact_for_decimal_scores() -> None:
    entries = [(day(-n), v) for n, v in ((1, 6.1), (2, 6.2), (3, 6.3))]

    assert baseline_from_entries(entries, END) == 6.2


def test_there_is_no_baseline_without_a_diary_that_week() -> None:
    assert baseline_from_entries([], END) is None
    assert baseline_from_entries([(day(-8), 5), (day(0), 5)], END) is None


def test_a_clinic_can_require_more_diary_days_or_a_longer_window() -> None:
    entries = [(day(-1), 6), (day(-2), 8), (day(-10), 1)]

    assert baseline_from_entries(entries, END, min_days=3) is None
    assert baseline_from_entries(entries, END, min_days=2) == 7.0
    assert baseline_from_entries(entries, END, window_days=14) == 5.0


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"first_infusion": dt.datetime(2025, 3, 3, 9)}, "first_infusion must be a date without"),
        ({"first_infusion": None}, "first_infusion must be a date"),
        ({"window_days": 0}, "window_days must be at least 1"),
        ({"min_days": 0}, "min_days must be at least 1 and at most 7"),
        ({"min_days": 8}, "min_days must be at least 1 and at most 7"),
        ({"entries": [(END, 11)]}, "entries\\[0\\] value must be at least 0 and at most 10"),
        ({"entries": "x"}, "entries must be a sequence"),
    ],
)
def test_the_baseline_refuses_bad_input_naming_the_field(
    arguments: dict[str, object], match: str
) -> None:
    call: dict[str, object] = {"entries": [(day(-1), 5)], "first_infusion": END, **arguments}

    with pytest.raises(ValueError, match=f"^{match}"):
        baseline_from_entries(**call)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (40 / 7, 5.71),
        (44 / 7, 6.29),
        (6.125, 6.13),  # a half goes up, not to the even neighbour
        (6.115, 6.12),  # read as the decimal it prints as, though the float is just below
        (7, 7.0),
        (0, 0.0),
        (10, 10.0),
    ],
)
def test_recorded_baseline_rounds_half_up_to_hundredths(value: float, expected: float) -> None:
    assert recorded_baseline(value) == expected


def test_recorded_baseline_lets_integers_reproduce_every_relief_decision() -> None:
    # Every diary baseline a week can give (k/n, n <= 7 days of whole scores) and the whole
    # window means on either side of 70% of it: durability on the recorded baseline agrees with
    # integer arithmetic on hundredths (1000 x mean <= 7 x hundredths), the analytics' reading.
    # Without the rounding they disagree: a baseline of 20/7 (hundredths 286) and a mean of 2
    # (exactly 70%) is no relief on the float, whose 70% falls just below 2, but 2000 <= 2002.
    checked = 0
    for n in range(1, 8):
        for total in range(1, 10 * n + 1):
            recorded = recorded_baseline(total / n)
            hundredths = round(recorded * 100)
            for mean in {math.floor(0.7 * total / n), math.ceil(0.7 * total / n)}:
                entries = [(day(k), mean) for k in range(1, 5)]
                result = durability(baseline=recorded, entries=entries, series_end=END)
                assert result.responded == (1000 * mean <= 7 * hundredths), (total, n, mean)
                checked += 1
    assert checked > 500
    exact = durability(baseline=40 / 7, entries=[(day(k), 4) for k in range(1, 5)], series_end=END)
    assert exact.responded is False  # the float threshold sits just below 4


@pytest.mark.parametrize("bad", [-0.5, 10.5, float("nan"), True, "6"])
def test_recorded_baseline_refuses_what_is_not_a_pain_score(bad: object) -> None:
    with pytest.raises(ValueError, match="baseline"):
        recorded_baseline(bad)  # type: ignore[arg-type]


# --- series: baseline choice, judgement, gap rule, relapse window ------------------------------


def test_the_gate_constants_are_the_policys_values() -> None:
    # docs/clinical-policy.md "Outcomes [6.1]" and docs/design.md "Clinical core contract".
    assert (WINDOW_DAYS, MIN_DAYS_IN_WINDOW, RELAPSE_RUN_DAYS) == (7, 4, 3)
    assert (FOLLOWUP_DAYS, FOLLOWUP_MIN_DAYS, PGIC_AFTER_DAYS) == (7, 4, 7)
    assert SERIES_GAP_DAYS == 14
    assert (BOOSTER_DURATION_MIN, BOOSTER_BUFFER_MIN) == (40, 30)


def test_the_baseline_is_the_diary_week_before_the_first_session_recorded_to_hundredths() -> None:
    entries = [(day(-3), 6), (day(-2), 6), (day(-1), 5)]
    assert baseline_choice(entries, day(0), intakes=[(day(-30), 9)]) == (5.67, "diary")


def test_without_a_diary_week_the_latest_intake_on_or_before_the_first_session_is_used() -> None:
    # Newest first; the intake after the first session does not count.
    intakes = [(day(2), 9), (day(0), 7.25), (day(-20), 8)]
    assert baseline_choice([(day(-9), 3)], day(0), intakes=intakes) == (7.25, "intake")


def test_without_diary_or_intake_there_is_no_baseline() -> None:
    assert baseline_choice([], day(0), intakes=[(day(1), 8)]) == (None, "")


@pytest.mark.parametrize(
    ("intakes", "message"),
    [
        ("8", "intakes must be a sequence"),
        ([(day(-1),)], r"intakes\[0\] must be a \(date, value\) pair"),
        ([("2025-03-01", 8)], r"intakes\[0\] date"),
        ([(day(-1), 11)], r"intakes\[0\] value"),
    ],
)
def test_the_baseline_choice_refuses_bad_intakes_naming_the_field(
    intakes: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        baseline_choice([], day(0), intakes=intakes)  # type: ignore[arg-type]


def test_a_series_is_judged_on_its_follow_up_week_and_the_diary_before_the_next_series() -> None:
    entries = [(day(k), 3) for k in range(1, 8)] + [(day(k), 8) for k in range(8, 20)]
    judged = judge_series(baseline=8.0, entries=entries, series_end=END, next_start=day(9))
    # Follow-up 3 of 8: 62.5% less. Relief from day 4 (4 days of 3); the 8s from day 9 on belong
    # to the next series, so there is no relapse: censored at day 8, the last entry before it.
    assert judged == SeriesJudgement(
        followup=3.0,
        response="substantial",
        durability=Durability(
            responded=True,
            response_date=day(4),
            relapse_date=None,
            days_of_relief=8,
            censored=True,
        ),
    )


def test_a_series_without_enough_follow_up_days_has_no_class_but_its_durability() -> None:
    entries = [(day(1), 2), (day(2), 2), (day(3), 2)]
    judged = judge_series(baseline=8.0, entries=entries, series_end=END, next_start=None)
    assert (judged.followup, judged.response) == (None, None)
    assert judged.durability == NO_RESPONSE


@pytest.mark.parametrize("baseline", [None, 0, 0.0])
def test_without_a_usable_baseline_nothing_is_judged(baseline: float | None) -> None:
    entries = [(day(k), 3) for k in range(1, 8)]
    assert judge_series(
        baseline=baseline, entries=entries, series_end=END, next_start=None
    ) == SeriesJudgement(followup=None, response=None, durability=None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"series_end": "2025-03-03"}, "series_end"),
        ({"next_start": "2025-04-01"}, "next_start"),
        ({"baseline": -1.0}, "baseline"),
        ({"entries": [(day(1), "3")]}, r"entries\[0\] value"),
    ],
)
def test_the_judgement_refuses_bad_input_naming_the_field(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "baseline": 8.0,
        "entries": [(day(1), 3)],
        "series_end": END,
        "next_start": None,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        judge_series(**args)  # type: ignore[arg-type]


def test_sessions_at_most_14_days_apart_form_one_run() -> None:
    days = [day(0), day(7), day(21), day(36), day(36)]  # gaps 7, 14, 15, 0
    assert gap_groups(days) == [range(0, 3), range(3, 5)]
    assert gap_groups(days, gap_days=7) == [range(0, 2), range(2, 3), range(3, 5)]
    assert gap_groups([]) == []


@pytest.mark.parametrize(
    ("days", "gap_days", "message"),
    [
        ([day(3), day(1)], 14, r"days\[1\] comes before days\[0\]"),
        ([day(1), "2025-03-05"], 14, r"days\[1\]"),
        ("2025-03-05", 14, "days must be a sequence"),
        ([day(1)], -1, "gap_days"),
    ],
)
def test_the_gap_rule_refuses_bad_input_naming_the_field(
    days: object, gap_days: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        gap_groups(days, gap_days=gap_days)  # type: ignore[arg-type]


def test_the_relapse_window_means_are_those_of_the_relapse_run() -> None:
    # Relief (2) for days 0-20, then 8 from day 21 on; entries before the series end are left out.
    entries = (
        [(day(-1), 10)] + [(day(k), 2) for k in range(21)] + [(day(k), 8) for k in range(21, 30)]
    )
    means = relapse_window_means(entries=entries, series_end=END, relapse_date=day(24))
    # Day 24's window (days 18-24): three 2s and four 8s.
    assert means == {day(24): 38 / 7, day(25): 44 / 7, day(26): 50 / 7}


def test_a_relapse_day_without_enough_diary_days_has_no_window_mean() -> None:
    entries = [(day(k), 8) for k in (0, 1, 2, 3)]
    means = relapse_window_means(entries=entries, series_end=END, relapse_date=day(3))
    # Day 3: four days (0-3); day 4: still four; day 5: four (days 0-3 of 5's window d-6..d).
    assert means == {day(3): 8.0, day(4): 8.0, day(5): 8.0}
    sparse = relapse_window_means(entries=entries[:3], series_end=END, relapse_date=day(3))
    assert sparse == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"series_end": None}, "series_end"), ({"relapse_date": "2025-04-01"}, "relapse_date")],
)
def test_the_relapse_window_refuses_bad_input_naming_the_field(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"entries": [], "series_end": END, "relapse_date": day(3)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        relapse_window_means(**args)  # type: ignore[arg-type]
