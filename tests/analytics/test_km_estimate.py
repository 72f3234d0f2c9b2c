"""The analytics page's Kaplan-Meier estimate is lifelines' own, bit for bit, without lifelines.

The page computes the product-limit estimate itself (``analytics.selectors.kaplan_meier``) so a
web worker never imports lifelines, pandas or scipy (docs/benchmarks.md "Web worker memory");
lifelines stays the independent check, here on every shape of data the page can meet: ties,
relief that ended on day 0, every series censored, every series relapsed, one series.
"""

from __future__ import annotations

import math
import random

import pytest
from lifelines import KaplanMeierFitter

from ketaclinic.analytics.selectors import kaplan_meier


def _lifelines(days: list[int], relapsed: list[bool]) -> tuple[list[float], list[float], float]:
    fitter = KaplanMeierFitter(label="x").fit(days, event_observed=relapsed)
    survival = fitter.survival_function_
    return (
        [float(t) for t in survival.index],
        [float(v) for v in survival.iloc[:, 0]],
        float(fitter.median_survival_time_),
    )


def _random_cases() -> list[tuple[list[int], list[bool]]]:
    rng = random.Random(17)
    cases = []
    for size in (1, 2, 3, 7, 40, 250, 3000):
        days = [rng.choice((0, rng.randint(0, 400), rng.randint(0, 30))) for _ in range(size)]
        cases.append((days, [rng.random() < 0.6 for _ in days]))
    return cases


CASES = [
    ([0, 0], [True, False]),
    ([5], [True]),
    ([5], [False]),
    ([10, 10, 10, 20], [True, True, True, True]),
    ([3, 9, 9, 30, 30, 30], [False, False, False, False, False, False]),
    ([1, 2, 2, 3, 8, 8, 8, 13], [True, False, True, True, False, True, True, False]),
    *_random_cases(),
]


@pytest.mark.parametrize(("days", "relapsed"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_it_equals_lifelines_to_the_last_bit(days: list[int], relapsed: list[bool]) -> None:
    timeline, survival, median = _lifelines(days, relapsed)
    curve = kaplan_meier("x", days, relapsed)
    assert curve is not None
    assert curve.timeline == timeline
    assert curve.survival == survival
    assert curve.median_days == (median if math.isfinite(median) else None)
    assert (curve.events, curve.censored) == (sum(relapsed), len(days) - sum(relapsed))


def test_censor_marks_sit_on_the_curve_where_each_censored_series_left_it() -> None:
    days = [2, 4, 4, 6, 9, 9]
    relapsed = [True, False, True, False, True, False]
    fitter = KaplanMeierFitter().fit(days, event_observed=relapsed)
    curve = kaplan_meier("x", days, relapsed)
    assert curve is not None
    expected = fitter.survival_function_at_times([4.0, 6.0, 9.0])
    assert curve.censor_marks == [
        (4.0, expected.iloc[0]),
        (6.0, expected.iloc[1]),
        (9.0, expected.iloc[2]),
    ]
    assert 0 < curve.censor_marks[-1][1] < curve.censor_marks[0][1] < 1


def test_no_relieved_series_has_no_curve() -> None:
    assert kaplan_meier("x", [], []) is None
