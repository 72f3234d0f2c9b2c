"""The infusion chart's times and doses: true times (gate 7), dose deviations and the draw bound
(gate 4), and the day's weight (gate 2).

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)". Pure functions over plain
data: no Django, no clock (``now`` is an argument). Each charting service asks these, so a page,
the API and a job all get the same answer. Invalid input raises ``ValueError`` naming the field.

- ``charted_time``: a blank time is the server's time of saving; an entered time may be up to
  ``backdate_max_min`` minutes back, with a written reason past ``BACKDATE_REASON_AFTER_MIN``;
  never in the future (``CLOCK_TOLERANCE_S`` of clock drift counts as now); never before the
  events it follows. Times are kept to the minute, as a ``datetime-local`` input enters them.
- ``observation_start``: a back-dated stop does not shorten the observation before discharge.
- ``dose_excess``, ``draw_limit_mg``, ``reconciled_mismatch``: the dose given against the plan.
- ``weight_changed``: the day's weight against the plan's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from ketaclinic.clinical._exact import exact
from ketaclinic.clinical._validate import require_int, require_number, type_name
from ketaclinic.clinical.gates import (
    BACKDATE_MAX_MIN,
    BACKDATE_MAX_MIN_RANGE,
    BACKDATE_REASON_AFTER_MIN,
    CLOCK_TOLERANCE_S,
    DOSE_DEVIATION_MIN_MG,
    DOSE_DEVIATION_PERCENT,
    DOSE_DEVIATION_PERCENT_RANGE,
    DRAW_MAX_FACTOR,
    DRAW_MAX_FACTOR_RANGE,
    MIN_REASON_LENGTH,
    WEIGHT_CHANGE_PERCENT,
    WEIGHT_CHANGE_PERCENT_RANGE,
)

__all__ = [
    "DAY_WEIGHT_RANGE_KG",
    "DOSE_GATE",
    "DOSE_SOURCE",
    "TIMES_GATE",
    "WEIGHT_GATE",
    "WEIGHT_SOURCE",
    "ChartedTime",
    "charted_time",
    "dose_excess",
    "draw_limit_mg",
    "observation_start",
    "reconciled_mismatch",
    "weight_changed",
]

#: The names refusals start with, so the page names the gate.
TIMES_GATE: Final = "True times"
DOSE_GATE: Final = "Dose deviation"
WEIGHT_GATE: Final = "Day's weight"
# Shown to clinicians with the findings. docs/clinical-sources.md §1.3 (dose per kg) and
# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (items 2 and 4).
WEIGHT_SOURCE: Final = (
    "The plan's dose is per kg of the measured patient (Cohen SP et al. Reg Anesth Pain Med "
    "2018;43(5):521-546, dose-response); ketaclinic clinic policy: a day's weight more than the "
    "clinic's percentage from the plan's needs a plan revised by a physician before the start."
)
DOSE_SOURCE: Final = (
    "ketaclinic clinic policy (product): the dose given, computed from the charted pump rates, "
    "may pass the plan's total only within the clinic's tolerance; beyond it a physician reviews "
    "the deviation before discharge and signing."
)
#: The day's weight a pre-check accepts, kg: a plausibility bound that catches a typing slip (a
#: missing or extra digit) before the weight gate compares it; not a clinical rule (product).
DAY_WEIGHT_RANGE_KG: Final = (20.0, 350.0)


def _aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{field} must be a datetime, not {type_name(value)}")
    if value.utcoffset() is None:
        raise ValueError(f"{field} must carry a time zone (an aware datetime)")
    return value


def _minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def _clock(value: dt.datetime, tz: dt.tzinfo, today: dt.date) -> str:
    local = value.astimezone(tz)
    return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class ChartedTime:
    """The verdict on one charted time: ``at`` to store (to the minute) when ``allowed``, else
    ``message`` says why not. ``backdated_min`` is how far before the saving minute it lies."""

    allowed: bool
    at: dt.datetime | None
    message: str
    backdated_min: int
    reason_required: bool


def charted_time(
    *,
    entered: dt.datetime | None,
    now: dt.datetime,
    follows: Sequence[tuple[dt.datetime | None, str]] = (),
    reason: str = "",
    backdate_max_min: int = BACKDATE_MAX_MIN,
    tz: dt.tzinfo = dt.UTC,
) -> ChartedTime:
    """The time to chart for an event saved at ``now`` (gate 7).

    ``entered`` is the time typed in, or None for "now". ``follows`` lists the earlier events
    (time, label) this one may not precede; a None time is skipped. ``tz`` only formats the
    clock times in the messages (the location's zone).
    """
    saved = _aware(now, "now")
    low, high = BACKDATE_MAX_MIN_RANGE
    window = require_int(backdate_max_min, "backdate_max_min", minimum=low, maximum=high)
    if not isinstance(reason, str):
        raise ValueError(f"reason must be a string, not {type_name(reason)}")
    if not isinstance(tz, dt.tzinfo):
        raise ValueError(f"tz must be a time zone, not {type_name(tz)}")
    today = saved.astimezone(tz).date()
    current = _minute(saved)
    if entered is None:
        at = current
    else:
        typed = _minute(_aware(entered, "entered"))
        if typed - saved > dt.timedelta(seconds=CLOCK_TOLERANCE_S):
            return ChartedTime(
                False,
                None,
                f"{TIMES_GATE}: {_clock(typed, tz, today)} is in the future (it is now "
                f"{_clock(saved, tz, today)}). Leave the time blank for now.",
                0,
                False,
            )
        # Within the clock tolerance a time "just ahead" is now: clocks drift, events do not.
        at = min(typed, current)
    back = int((current - at).total_seconds() // 60)
    # The order of events first: a time before the event it follows is wrong whatever the reason.
    for bound, label in follows:
        if bound is None:
            continue
        earliest = _minute(_aware(bound, label))
        if at < earliest:
            return ChartedTime(
                False,
                None,
                f"{TIMES_GATE}: {_clock(at, tz, today)} is before {label} at "
                f"{_clock(earliest, tz, today)}.",
                back,
                False,
            )
    if back > window:
        return ChartedTime(
            False,
            None,
            f"{TIMES_GATE}: {_clock(at, tz, today)} is {back} min ago; the clinic allows "
            f"charting at most {window} min back. Record what happened in an addendum or a note.",
            back,
            True,
        )
    needs_reason = back > BACKDATE_REASON_AFTER_MIN
    if needs_reason and len(reason.strip()) < MIN_REASON_LENGTH:
        return ChartedTime(
            False,
            None,
            f"{TIMES_GATE}: {_clock(at, tz, today)} is {back} min ago; write why it is charted "
            f"late (needed when more than {BACKDATE_REASON_AFTER_MIN} min back).",
            back,
            True,
        )
    return ChartedTime(True, at, "", back, needs_reason)


def observation_start(*, ended_at: dt.datetime, saved_at: dt.datetime) -> dt.datetime:
    """Where the observation before discharge counts from: the stop's time, or the minute it was
    saved when later (a back-dated stop must not shorten the observation)."""
    return max(_aware(ended_at, "ended_at"), _minute(_aware(saved_at, "saved_at")))


def _percent(value: float) -> float:
    low, high = DOSE_DEVIATION_PERCENT_RANGE
    return float(require_number(value, "dose_deviation_percent", minimum=low, maximum=high))


def _beyond(difference: Fraction, reference: float, percent: float, min_mg: float) -> bool:
    # Strict on both: more than ``percent`` % of the reference and more than ``min_mg``.
    return difference * 100 > exact(percent) * exact(reference) and difference > exact(min_mg)


def dose_excess(
    *,
    given_mg: float,
    plan_total_mg: float,
    percent: float = DOSE_DEVIATION_PERCENT,
    min_mg: float = DOSE_DEVIATION_MIN_MG,
) -> float | None:
    """The amount given past the plan's total when it is a deviation (more than ``percent`` %
    of the total and more than ``min_mg``), else None."""
    given = float(require_number(given_mg, "given_mg", minimum=0))
    total = float(require_number(plan_total_mg, "plan_total_mg", minimum=0, min_exclusive=True))
    floor = float(require_number(min_mg, "min_mg", minimum=0))
    excess = exact(given) - exact(total)
    if _beyond(excess, total, _percent(percent), floor):
        return float(excess)
    return None


def reconciled_mismatch(
    *,
    entered_mg: float,
    computed_mg: float,
    percent: float = DOSE_DEVIATION_PERCENT,
    min_mg: float = DOSE_DEVIATION_MIN_MG,
) -> float | None:
    """How far the "given" entered at reconciliation lies from the dose the charted rates give,
    when beyond the deviation tolerance (either way), else None."""
    entered = float(require_number(entered_mg, "entered_mg", minimum=0))
    computed = float(require_number(computed_mg, "computed_mg", minimum=0))
    floor = float(require_number(min_mg, "min_mg", minimum=0))
    difference = abs(exact(entered) - exact(computed))
    if _beyond(difference, computed, _percent(percent), floor):
        return float(difference)
    return None


def draw_limit_mg(*, plan_total_mg: float, factor: float = DRAW_MAX_FACTOR) -> float:
    """The most that may be drawn up for a session: ``factor`` x the plan's total."""
    total = float(require_number(plan_total_mg, "plan_total_mg", minimum=0, min_exclusive=True))
    low, high = DRAW_MAX_FACTOR_RANGE
    times = float(require_number(factor, "draw_max_factor", minimum=low, maximum=high))
    return float(exact(total) * exact(times))


def weight_changed(
    *, day_weight_kg: float, plan_weight_kg: float, percent: int = WEIGHT_CHANGE_PERCENT
) -> bool:
    """True when the day's weight lies more than ``percent`` % from the plan's (either way)."""
    day = float(require_number(day_weight_kg, "day_weight_kg", minimum=0, min_exclusive=True))
    plan = float(require_number(plan_weight_kg, "plan_weight_kg", minimum=0, min_exclusive=True))
    low, high = WEIGHT_CHANGE_PERCENT_RANGE
    limit = require_int(percent, "weight_change_percent", minimum=low, maximum=high)
    return abs(exact(day) - exact(plan)) * 100 > limit * exact(plan)
