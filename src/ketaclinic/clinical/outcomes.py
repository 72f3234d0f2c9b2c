"""Treatment response and its durability, from 0-10 pain scores.

Response classes follow IMMPACT (Dworkin RH et al. Interpreting the clinical importance of
treatment outcomes in chronic pain clinical trials: IMMPACT recommendations. J Pain
2008;9(2):105-121; Farrar JT et al. Pain 2001;94:149-158; docs/clinical-sources.md §6.1): a
reduction of 30% or more is moderately important, 50% or more substantial, 10-20% minimal.
Durability and relapse follow docs/clinical-policy.md "Outcomes [6.1]" and the exact rule in
docs/design.md "Clinical core contract":
relief has faded when the 7-day window mean climbs back above 70% of baseline for 3 consecutive
days after a response. The window, minimum days, run length and fraction are clinic-tunable
keyword parameters with the contract's values as defaults.

Exact arithmetic. Thresholds such as "30% reduction" sit exactly on values patients report: a
baseline of 6 and a follow-up of 4.2 is a 30% reduction, but in binary floating point
``(6 - 4.2) / 6`` is 0.29999999999999993, which would be classed one level lower. Every score is
therefore read as the decimal it prints as (its shortest ``repr``, i.e. what was typed or stored)
and all comparisons, means and window means are computed with exact fractions. Integers are exact
already.
Baselines, and the exact reading of diary entries shared with them, live in ``baselines``; every
public name of both is imported from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from ketaclinic.clinical._exact import exact
from ketaclinic.clinical._validate import require_date, require_int, require_number, type_name
from ketaclinic.clinical.baselines import (
    _PAIN_MAX,
    _PAIN_MIN,
    _check_window,
    _daily_means,
    _daily_pairs,
    baseline_choice,
    baseline_from_entries,
    recorded_baseline,
)

__all__ = [
    "BOOSTER_BUFFER_MIN",
    "BOOSTER_DURATION_MIN",
    "DEFAULT_RELAPSE_FRACTION",
    "FOLLOWUP_DAYS",
    "FOLLOWUP_MIN_DAYS",
    "MIN_DAYS_IN_WINDOW",
    "PGIC_AFTER_DAYS",
    "RELAPSE_RUN_DAYS",
    "RESPONSE_CLASSES",
    "SERIES_GAP_DAYS",
    "SOURCE",
    "WINDOW_DAYS",
    "Durability",
    "ResponseClass",
    "SeriesJudgement",
    "baseline_choice",
    "baseline_from_entries",
    "classify_response",
    "durability",
    "gap_groups",
    "judge_series",
    "recorded_baseline",
    "relapse_window_means",
]

ResponseClass = Literal["substantial", "moderate", "minimal", "none", "worse"]

RESPONSE_CLASSES: Final[tuple[ResponseClass, ...]] = (
    "substantial",
    "moderate",
    "minimal",
    "none",
    "worse",
)
"""From best to worst."""

# docs/clinical-sources.md §6.1, §2.1; docs/clinical-policy.md "Outcomes [6.1]"
SOURCE: Final = (
    "Dworkin RH et al. Interpreting the clinical importance of treatment outcomes in chronic pain "
    "clinical trials: IMMPACT recommendations. J Pain 2008;9(2):105-121. Relapse and durability: "
    "ketaclinic's own rule (pain back above 70% of baseline for 3 consecutive days); no "
    "evidence-based relapse definition or booster interval was found in the literature."
)

# Lower bounds of each class, as exact fractions of the baseline
# (IMMPACT; docs/design.md "Clinical core contract").
_SUBSTANTIAL: Final = Fraction(1, 2)
_MODERATE: Final = Fraction(3, 10)
_MINIMAL: Final = Fraction(1, 10)

DEFAULT_RELAPSE_FRACTION: Final = 0.7
"""Relief has faded above this fraction (docs/design.md "Clinical core contract"); tunable."""

WINDOW_DAYS: Final = 7
"""Days in the window mean of the durability rule (docs/design.md "Clinical core contract")."""
MIN_DAYS_IN_WINDOW: Final = 4
"""A window mean is defined when at least this many of its days have an entry (same rule)."""
RELAPSE_RUN_DAYS: Final = 3
"""Consecutive days above the relapse level that make a relapse (same rule)."""

FOLLOWUP_DAYS: Final = 7
"""The follow-up pain of a series is the mean daily NRS over the 7 days after its last given
session, defined when at least ``FOLLOWUP_MIN_DAYS`` of them have an entry: the durability rule's
window, applied to the week after the series (docs/design.md "Clinical core contract";
docs/clinical-policy.md "Outcomes [6.1]")."""
FOLLOWUP_MIN_DAYS: Final = MIN_DAYS_IN_WINDOW

PGIC_AFTER_DAYS: Final = FOLLOWUP_DAYS
"""The PGIC is asked once per series, at the end of the follow-up week the response class is
judged on (docs/clinical-sources.md §6.3: the PGIC is collected at the endpoint)."""

SERIES_GAP_DAYS: Final = 14
"""Given sessions no further apart than this form one series when they were not booked as one.
ketaclinic's own rule: published series run daily or a few times a week over at most about two
weeks, and no published booster interval is shorter (docs/clinical-sources.md §2.1)."""

BOOSTER_DURATION_MIN: Final = 40
"""A booster is one session; without a clinic infusion type to copy, it lasts 40 minutes
(0.5 mg/kg over 40 min, Tankha 2025; docs/clinical-sources.md §2.1)."""
BOOSTER_BUFFER_MIN: Final = 30
"""...followed by at least 30 minutes of observation (docs/clinical-sources.md §2.5)."""


def _baseline(value: object, field: str = "baseline") -> Fraction:
    # A baseline of 0 leaves nothing to reduce (and r would divide by zero), so it is refused.
    number = require_number(value, field, minimum=_PAIN_MIN, maximum=_PAIN_MAX, min_exclusive=True)
    return exact(number)


def classify_response(baseline: float, followup: float) -> ResponseClass:
    """The IMMPACT class of the change from ``baseline`` to ``followup`` (0-10 NRS).

    With r = (baseline - followup) / baseline: r >= 0.5 "substantial", 0.3 <= r < 0.5 "moderate",
    0.1 <= r < 0.3 "minimal", 0 <= r < 0.1 "none", r < 0 "worse". ``baseline`` must be in (0, 10]
    and ``followup`` in [0, 10]; booleans, NaN and infinities are refused with a ``ValueError``
    naming the field. Computed exactly (see the module docstring), so a 30% reduction such as
    6 -> 4.2 is "moderate".
    """
    base = _baseline(baseline)
    follow = exact(require_number(followup, "followup", minimum=_PAIN_MIN, maximum=_PAIN_MAX))
    r = (base - follow) / base
    if r >= _SUBSTANTIAL:
        return "substantial"
    if r >= _MODERATE:
        return "moderate"
    if r >= _MINIMAL:
        return "minimal"
    if r >= 0:
        return "none"
    return "worse"


@dataclass(frozen=True)
class Durability:
    """How long the relief of a series lasted.

    ``responded``: some window mean on or after the end of the series reached the response level.
    ``response_date``/``relapse_date``: the first such day, and the first day of the relapse run.
    ``days_of_relief``: days from the end of the series to the relapse, or to the last diary entry
    when there was no relapse (then ``censored`` is True: the relief outlasted the data). Without
    a response both are None/False: there is no relief to time, and such a series belongs with
    the non-responders, not with the censored observations of a survival curve.
    """

    responded: bool
    response_date: dt.date | None
    relapse_date: dt.date | None
    days_of_relief: int | None
    censored: bool


_NO_RESPONSE: Final = Durability(
    responded=False, response_date=None, relapse_date=None, days_of_relief=None, censored=False
)


def _window_mean(
    daily: dict[dt.date, Fraction], day: dt.date, window_days: int, min_days: int
) -> Fraction | None:
    """Mean of the daily values from ``day - (window_days - 1)`` to ``day``, or None when fewer
    than ``min_days`` of those days have a value."""
    values = [
        daily[d] for offset in range(window_days) if (d := day - dt.timedelta(days=offset)) in daily
    ]
    if len(values) < min_days:
        return None
    return sum(values, Fraction(0)) / len(values)


def durability(
    *,
    baseline: float,
    entries: Sequence[tuple[dt.date, float]],
    series_end: dt.date,
    relapse_fraction: float = DEFAULT_RELAPSE_FRACTION,
    window_days: int = WINDOW_DAYS,
    min_days_in_window: int = MIN_DAYS_IN_WINDOW,
    relapse_run_days: int = RELAPSE_RUN_DAYS,
) -> Durability:
    """Response and relapse after an infusion series, from diary entries (date, 0-10 NRS).

    The rule (docs/design.md "Clinical core contract", with the defaults shown):

    - only entries dated on or after ``series_end`` count; several entries on one day count as
      their mean;
    - the window mean on day d is the mean of the daily values from d-6 to d
      (``window_days`` = 7), defined only when at least 4 of those days have a value
      (``min_days_in_window`` = 4);
    - days run from ``series_end`` to the last entry's date; ``response_date`` is the first day
      whose window mean is at most 0.7 x baseline (``relapse_fraction`` = 0.7);
    - ``relapse_date`` is the first day of the first run, after the response, of 3 consecutive
      days (``relapse_run_days`` = 3) whose window means are all defined and above 0.7 x baseline;
    - ``days_of_relief`` is (relapse_date - series_end) in days, or (last entry - series_end) with
      ``censored`` True when there is no relapse; None (and ``censored`` False) without a response.

    No entries on or after ``series_end`` means no response. ``baseline`` must be in (0, 10];
    entries must be ``(datetime.date, number in [0, 10])`` pairs (a ``datetime`` or a ``bool`` is
    refused); invalid input raises ``ValueError`` naming the field.
    """
    base = _baseline(baseline)
    end = require_date(series_end, "series_end")
    fraction = exact(
        require_number(
            relapse_fraction, "relapse_fraction", minimum=0, maximum=1, min_exclusive=True
        )
    )
    window, min_days = _check_window(window_days, min_days_in_window, "min_days_in_window")
    run_days = require_int(relapse_run_days, "relapse_run_days", minimum=1, maximum=366)

    daily = {day: value for day, value in _daily_means(entries).items() if day >= end}
    if not daily:
        return _NO_RESPONSE
    last = max(daily)
    threshold = fraction * base
    days = [end + dt.timedelta(days=n) for n in range((last - end).days + 1)]
    means = [_window_mean(daily, day, window, min_days) for day in days]

    response_index = next(
        (i for i, mean in enumerate(means) if mean is not None and mean <= threshold), None
    )
    if response_index is None:
        return _NO_RESPONSE

    relapse_date = None
    run_length = 0
    for i in range(response_index + 1, len(days)):
        mean = means[i]
        # An undefined window breaks a run just as a window at or below the threshold does.
        run_length = run_length + 1 if mean is not None and mean > threshold else 0
        if run_length == run_days:
            relapse_date = days[i - run_days + 1]
            break

    # Without a relapse the relief outlasted the diary: it is timed to the last entry, censored.
    relief_end = last if relapse_date is None else relapse_date
    return Durability(
        responded=True,
        response_date=days[response_index],
        relapse_date=relapse_date,
        days_of_relief=(relief_end - end).days,
        censored=relapse_date is None,
    )


@dataclass(frozen=True)
class SeriesJudgement:
    """What the chart says of one finished series: the follow-up mean (None without enough
    diary days), its IMMPACT class, and the durability of its relief (None without a usable
    baseline)."""

    followup: float | None
    response: ResponseClass | None
    durability: Durability | None


_UNJUDGED: Final = SeriesJudgement(followup=None, response=None, durability=None)


def judge_series(
    *,
    baseline: float | None,
    entries: Sequence[tuple[dt.date, float]],
    series_end: dt.date,
    next_start: dt.date | None,
) -> SeriesJudgement:
    """Judge one finished series (its last given session on ``series_end``) on the diary
    ``entries`` before the next series starts (``next_start``; None for the latest series), so a
    later series' relief is never credited to an earlier one (docs/clinical-policy.md
    "Outcomes [6.1]"; the rule in docs/design.md "Clinical core contract").

    The follow-up is the mean of days ``series_end + 1`` .. ``series_end + FOLLOWUP_DAYS``, with
    at least ``FOLLOWUP_MIN_DAYS`` of them; its class is ``classify_response``; the durability
    is ``durability`` on the same entries, censored at the last one. Without a baseline, or with
    a baseline of 0 (nothing to reduce), nothing is judged.
    """
    end = require_date(series_end, "series_end")
    if next_start is not None:
        require_date(next_start, "next_start")
    if baseline is None or require_number(baseline, "baseline", minimum=_PAIN_MIN) <= 0:
        return _UNJUDGED
    window = [
        (d, v) for d, v in _daily_pairs(entries, "entries") if next_start is None or d < next_start
    ]
    # baseline_from_entries averages the days before a given day: asked for the day after the
    # follow-up week, it gives the mean of days end+1 .. end+FOLLOWUP_DAYS.
    followup = baseline_from_entries(
        window,
        end + dt.timedelta(days=FOLLOWUP_DAYS + 1),
        window_days=FOLLOWUP_DAYS,
        min_days=FOLLOWUP_MIN_DAYS,
    )
    response = classify_response(baseline, followup) if followup is not None else None
    lasting = durability(baseline=baseline, entries=window, series_end=end)
    return SeriesJudgement(followup=followup, response=response, durability=lasting)


def gap_groups(days: Sequence[dt.date], *, gap_days: int = SERIES_GAP_DAYS) -> list[range]:
    """Split ``days`` (in ascending order) into runs whose consecutive days are at most
    ``gap_days`` apart: the series of sessions not booked as one (``SERIES_GAP_DAYS``). Returns
    the index ranges of each run, in order; no days, no runs."""
    gap = require_int(gap_days, "gap_days", minimum=0, maximum=366)
    if not isinstance(days, Sequence) or isinstance(days, str | bytes):
        raise ValueError(f"days must be a sequence of dates, not {type_name(days)}")
    checked = [require_date(day, f"days[{index}]") for index, day in enumerate(days)]
    groups: list[range] = []
    begin = 0
    for index in range(1, len(checked)):
        if checked[index] < checked[index - 1]:
            raise ValueError(f"days[{index}] comes before days[{index - 1}]: sort the days first")
        if (checked[index] - checked[index - 1]).days > gap:
            groups.append(range(begin, index))
            begin = index
    if checked:
        groups.append(range(begin, len(checked)))
    return groups


def relapse_window_means(
    *, entries: Sequence[tuple[dt.date, float]], series_end: dt.date, relapse_date: dt.date
) -> dict[dt.date, float]:
    """The window means (``WINDOW_DAYS`` days, at least ``MIN_DAYS_IN_WINDOW`` of them) on the
    ``RELAPSE_RUN_DAYS`` days of the relapse run that ``durability`` reported, over the entries
    on or after ``series_end``: the figures shown with a relapse flag. Days whose window is
    undefined are left out."""
    end = require_date(series_end, "series_end")
    relapse = require_date(relapse_date, "relapse_date")
    after = [(d, v) for d, v in _daily_pairs(entries, "entries") if d >= end]
    means: dict[dt.date, float] = {}
    for offset in range(RELAPSE_RUN_DAYS):
        day = relapse + dt.timedelta(days=offset)
        # The window mean on day d is the mean of d-6 .. d: "the 7 days before d + 1".
        mean = baseline_from_entries(
            after,
            day + dt.timedelta(days=1),
            window_days=WINDOW_DAYS,
            min_days=MIN_DAYS_IN_WINDOW,
        )
        if mean is not None:
            means[day] = mean
    return means
