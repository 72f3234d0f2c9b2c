"""The infusion day's gates before going home: monitoring required (gate 6) and discharge.

Gate 6 asks for a baseline set of vitals just before the start, no long stretch without vitals
while infusing, and a set after the stop and shortly before discharge; ``discharge_check`` names
every condition still missing before the patient may go home (source ``DISCHARGE_SOURCE``).
Kept apart from the alert rules of ``clinical.monitoring``, which re-exports every name here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ketaclinic.clinical._validate import require_bool, require_int, require_number
from ketaclinic.clinical.gates import VITALS_BEFORE_DISCHARGE_MIN, VITALS_BEFORE_START_MIN
from ketaclinic.clinical.instruments import Score, score
from ketaclinic.clinical.vitals import (
    DEFAULT_MONITORING,
    DISCHARGE_SOURCE,
    VITALS_INTERVAL_SOURCE,
    Finding,
    MonitoringPolicy,
    _aware,
    _policy,
)

__all__ = [
    "MONITORING_GATE",
    "DischargeCheck",
    "VitalsGap",
    "baseline_vitals_missing",
    "discharge_check",
    "discharge_vitals_missing",
    "vitals_gaps",
]

# -- discharge ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DischargeCheck:
    """The discharge gate: ``ready`` only when nothing is ``missing``."""

    ready: bool
    missing: tuple[Finding, ...]
    aldrete: Score | None
    observed_min: float | None


def discharge_check(
    *,
    aldrete_answers: Mapping[str, object] | None,
    escort_confirmed: bool,
    infusion_ended_at: dt.datetime | None,
    now: dt.datetime,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> DischargeCheck:
    """May the patient go home? Every missing condition is named (source ``DISCHARGE_SOURCE``):

    - ``infusion_not_ended``: the infusion has not been stopped;
    - ``observation_short``: fewer than ``discharge_min_observation_min`` minutes since it ended;
    - ``aldrete_missing`` / ``aldrete_low``: no modified Aldrete score yet, or below the minimum
      (scored by ``clinical.instruments``, which refuses incomplete answers);
    - ``no_escort``: the responsible adult escort has not been confirmed.
    """
    rules = _policy(policy)
    current = _aware(now, "now")
    confirmed = require_bool(escort_confirmed, "escort_confirmed")
    missing: list[Finding] = []
    observed: float | None = None
    if infusion_ended_at is None:
        missing.append(
            Finding(
                "infusion_not_ended",
                "ended_at",
                "The infusion has not ended: stop it before discharge.",
                DISCHARGE_SOURCE,
            )
        )
    else:
        ended = _aware(infusion_ended_at, "infusion_ended_at")
        if ended > current:
            raise ValueError("infusion_ended_at must not be after now")
        observed = (current - ended).total_seconds() / 60
        if observed < rules.discharge_min_observation_min:
            left = rules.discharge_min_observation_min - observed
            missing.append(
                Finding(
                    "observation_short",
                    "ended_at",
                    f"Only {int(observed)} min since the infusion ended; at least "
                    f"{rules.discharge_min_observation_min} min of observation are needed "
                    f"({math.ceil(left)} min to go).",
                    DISCHARGE_SOURCE,
                    observed,
                    rules.discharge_min_observation_min,
                )
            )
    aldrete: Score | None = None
    if aldrete_answers is None:
        missing.append(
            Finding(
                "aldrete_missing",
                "aldrete",
                "No modified Aldrete score has been recorded since the infusion.",
                DISCHARGE_SOURCE,
                None,
                rules.discharge_min_aldrete,
            )
        )
    else:
        aldrete = score("aldrete", aldrete_answers)
        if aldrete.total < rules.discharge_min_aldrete:
            missing.append(
                Finding(
                    "aldrete_low",
                    "aldrete",
                    f"Modified Aldrete score {aldrete.total:g} is below "
                    f"{rules.discharge_min_aldrete}.",
                    DISCHARGE_SOURCE,
                    aldrete.total,
                    rules.discharge_min_aldrete,
                )
            )
    if not confirmed:
        missing.append(
            Finding(
                "no_escort",
                "escort_confirmed",
                "The responsible adult escort has not been confirmed.",
                DISCHARGE_SOURCE,
            )
        )
    return DischargeCheck(
        ready=not missing, missing=tuple(missing), aldrete=aldrete, observed_min=observed
    )


# -- gate 6: monitoring required ----------------------------------------------------------------
# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (item 6); the limit is the
# clinic's vitals interval (docs/clinical-sources.md §2.2).

#: The name the refusals start with, so each page names the gate that refused.
MONITORING_GATE: Final = "Monitoring required"


def baseline_vitals_missing(
    *,
    last_vitals_at: dt.datetime | None,
    start_at: dt.datetime,
    within_min: int = VITALS_BEFORE_START_MIN,
) -> Finding | None:
    """A baseline set of vitals must lie within ``within_min`` minutes before the start (gate 6);
    the finding when it does not, else None. Source: ``VITALS_INTERVAL_SOURCE``."""
    start = _aware(start_at, "start_at")
    window = require_int(within_min, "within_min", minimum=1)
    if last_vitals_at is not None:
        last = _aware(last_vitals_at, "last_vitals_at")
        if start - dt.timedelta(minutes=window) <= last <= start:
            return None
    return Finding(
        "baseline_vitals_missing",
        "vitals",
        f"{MONITORING_GATE}: no baseline vitals in the {window} min before the start; record a "
        "new pre-infusion check first.",
        VITALS_INTERVAL_SOURCE,
        None,
        window,
    )


def discharge_vitals_missing(
    *,
    last_vitals_at: dt.datetime | None,
    ended_at: dt.datetime,
    now: dt.datetime,
    within_min: int = VITALS_BEFORE_DISCHARGE_MIN,
) -> tuple[Finding, ...]:
    """Before discharge (gate 6): a set of vitals after the stop, and one within ``within_min``
    minutes before now. The findings that are missing (none: the gate holds)."""
    ended = _aware(ended_at, "ended_at")
    current = _aware(now, "now")
    window = require_int(within_min, "within_min", minimum=1)
    last = None if last_vitals_at is None else _aware(last_vitals_at, "last_vitals_at")
    missing: list[Finding] = []
    if last is None or last <= ended:
        missing.append(
            Finding(
                "vitals_after_stop_missing",
                "vitals",
                f"{MONITORING_GATE}: no vitals charted since the infusion stopped.",
                VITALS_INTERVAL_SOURCE,
            )
        )
    if last is None or last < current - dt.timedelta(minutes=window):
        missing.append(
            Finding(
                "vitals_before_discharge_missing",
                "vitals",
                f"{MONITORING_GATE}: no vitals in the last {window} min; take a set before "
                "discharge.",
                VITALS_INTERVAL_SOURCE,
                None,
                window,
            )
        )
    return tuple(missing)


@dataclass(frozen=True)
class VitalsGap:
    """A stretch of the infusion without vitals: from ``since`` to ``until``, ``minutes`` long."""

    since: dt.datetime
    until: dt.datetime
    minutes: float


def vitals_gaps(
    *,
    taken: Sequence[dt.datetime],
    started_at: dt.datetime,
    ended_at: dt.datetime,
    longer_than_min: float,
) -> tuple[VitalsGap, ...]:
    """The stretches between the start, each set of vitals charted while infusing, and the stop
    that last longer than ``longer_than_min`` minutes (gate 6: twice the interval needs a
    written reason at signing). Sets outside the infusion are ignored."""
    start = _aware(started_at, "started_at")
    end = _aware(ended_at, "ended_at")
    if end < start:
        raise ValueError("ended_at must not be before started_at")
    limit = float(require_number(longer_than_min, "longer_than_min", minimum=0))
    inside = sorted(t for t in (_aware(t, "taken") for t in taken) if start < t < end)
    marks = [start, *inside, end]
    gaps = []
    for since, until in itertools.pairwise(marks):
        minutes = (until - since).total_seconds() / 60
        if minutes > limit:
            gaps.append(VitalsGap(since, until, minutes))
    return tuple(gaps)
