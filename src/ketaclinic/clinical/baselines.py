"""Baseline pain before a series, and the reading of 0-10 diary entries the outcome rules share.

docs/clinical-policy.md "Outcomes [6.1]": the baseline is the mean daily NRS over the 7 days before
the first infusion, or the intake NRS when no diary exists, recorded to hundredths. The helpers
below validate (date, score) pairs and average one day's entries exactly, as the
``clinical.outcomes`` docstring explains ("Exact arithmetic"); the durability rule there reads
the diary through them. Kept apart from the response and durability rules, which re-export every
public name here from ``clinical.outcomes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Final, Literal

from ketaclinic.clinical._exact import exact
from ketaclinic.clinical._validate import (
    date_problem,
    number_problem,
    require_date,
    require_int,
    require_number,
    type_name,
)

__all__ = ["baseline_choice", "baseline_from_entries", "recorded_baseline"]

_PAIN_MIN: Final = 0
_PAIN_MAX: Final = 10


def _daily_means(entries: object) -> dict[dt.date, Fraction]:
    """Validate ``entries`` and average several entries on one day into that day's value."""
    # A str is a Sequence too; refusing it (and one-shot iterators) keeps the error at the input.
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise ValueError(
            f"entries must be a sequence of (date, value) pairs, not {type_name(entries)}"
        )
    by_day: dict[dt.date, list[Fraction]] = {}
    for index, entry in enumerate(entries):
        name = f"entries[{index}]"
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ValueError(
                f"{name} must be a (date, value) pair, not {type_name(entry)} {entry!r}"
            )
        day, value = entry
        problem = date_problem(day)
        if problem is not None:
            raise ValueError(f"{name} date {problem}")
        problem = number_problem(value, minimum=_PAIN_MIN, maximum=_PAIN_MAX)
        if problem is not None:
            raise ValueError(f"{name} value {problem}")
        by_day.setdefault(day, []).append(exact(value))
    return {day: sum(values, Fraction(0)) / len(values) for day, values in by_day.items()}


def _check_window(window_days: object, min_days: object, min_days_field: str) -> tuple[int, int]:
    window = require_int(window_days, "window_days", minimum=1, maximum=366)
    minimum = require_int(min_days, min_days_field, minimum=1, maximum=window)
    return window, minimum


def baseline_from_entries(
    entries: Sequence[tuple[dt.date, float]],
    first_infusion: dt.date,
    *,
    window_days: int = 7,
    min_days: int = 1,
) -> float | None:
    """Baseline pain: the mean daily NRS over the ``window_days`` days before ``first_infusion``.

    docs/clinical-policy.md "Outcomes [6.1]": baseline = mean daily NRS over the 7 days before the
    first infusion, or the intake NRS when no diary exists. Days are first_infusion - 7 to
    first_infusion - 1 (the infusion day itself is excluded: pain that morning may already be
    affected by the session).
    Several entries on one day count as their mean, and each day counts once. Returns None when
    fewer than ``min_days`` days have an entry (default 1: any diary day in the week is used); the
    caller then falls back to the intake NRS. A result of 0 is returned as is, though it cannot
    serve as a baseline for ``classify_response``.
    """
    start = require_date(first_infusion, "first_infusion")
    window, minimum = _check_window(window_days, min_days, "min_days")
    daily = _daily_means(entries)
    values = [
        daily[d]
        for offset in range(1, window + 1)
        if (d := start - dt.timedelta(days=offset)) in daily
    ]
    if len(values) < minimum:
        return None
    return float(sum(values, Fraction(0)) / len(values))


_RECORDED_PLACES: Final = 2


def recorded_baseline(value: float) -> float:
    """``value`` rounded half up to 2 decimal places: the baseline as recorded and shown.

    Why: a baseline is a mean of up to 7 daily scores (e.g. 40/7), which no float holds exactly,
    and the float's shortest decimal (5.714285714285714) sits just below 40/7, so a window mean of
    exactly 4.0 would be judged above 70% of that baseline but not above 70% of 40/7. Recording the
    baseline to 2 decimals (5.71; clinically the same) makes the value every decision stores the
    exact value it used, and lets a reader with integers alone (the clinic analytics, an analyst's
    export) reproduce each decision: 1000 x window sum <= 7 x baseline in hundredths x days.
    ``value`` must be a number in [0, 10]; rounding reads it as the decimal it prints as.
    """
    number = require_number(value, "baseline", minimum=_PAIN_MIN, maximum=_PAIN_MAX)
    hundredths = exact(number) * 10**_RECORDED_PLACES
    # Half up: floor(x + 1/2), exact on fractions (round() would round a half to even).
    rounded = (hundredths + Fraction(1, 2)).__floor__()
    return rounded / 10**_RECORDED_PLACES


def baseline_choice(
    entries: Sequence[tuple[dt.date, float]],
    first_infusion: dt.date,
    *,
    intakes: Sequence[tuple[dt.date, float]],
) -> tuple[float | None, Literal["diary", "intake", ""]]:
    """(baseline, source) before the first given session (docs/clinical-policy.md
    "Outcomes [6.1]"): the mean daily NRS of the 7 days before ``first_infusion``
    (``baseline_from_entries``), else the intake NRS of the latest consultation on or before it
    (``intakes``: (exam date, NRS) pairs, newest first, so a same-day tie goes to the first
    listed); recorded to hundredths (``recorded_baseline``). (None, "") when there is neither.
    """
    start = require_date(first_infusion, "first_infusion")
    baseline = baseline_from_entries(entries, start)
    if baseline is not None:
        return recorded_baseline(baseline), "diary"
    for day, value in _daily_pairs(intakes, "intakes"):
        if day <= start:
            return recorded_baseline(value), "intake"
    return None, ""


def _daily_pairs(pairs: object, name: str) -> list[tuple[dt.date, int | float]]:
    """``pairs`` checked as a sequence of (date, 0-10 score) pairs, in their order."""
    if not isinstance(pairs, Sequence) or isinstance(pairs, str | bytes):
        raise ValueError(
            f"{name} must be a sequence of (date, value) pairs, not {type_name(pairs)}"
        )
    checked = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(
                f"{name}[{index}] must be a (date, value) pair, not {type_name(pair)} {pair!r}"
            )
        day = require_date(pair[0], f"{name}[{index}] date")
        value = require_number(
            pair[1], f"{name}[{index}] value", minimum=_PAIN_MIN, maximum=_PAIN_MAX
        )
        checked.append((day, value))
    return checked
