"""Giving the drug: the amount infused, whether a pump rate may run, the Schedule III record.

``infusion_rate_check`` refuses a rate past the clinic's hard limits (``clinical.dosing``) or the
signed plan's rate, or once the plan's total has been given; ``controlled_substance_check``
reconciles a Schedule III record. Dose and rate limits are compared exactly on the decimal each
number was entered as, the same way as ``clinical.dosing``. Kept apart from the vital-sign
checks of ``clinical.monitoring``, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from ketaclinic.clinical._exact import exact
from ketaclinic.clinical._validate import require_bool, require_number, type_name
from ketaclinic.clinical.dosing import DoseLimits, rate_limit_check, session_dose_check

__all__ = [
    "DOSE_REACHED_TOLERANCE_MG",
    "PlanRateExceeded",
    "PlannedDoseReached",
    "controlled_substance_check",
    "infused_mg",
    "infusion_rate_check",
    "planned_dose_given",
]

#: How much below the planned total still counts as "the planned dose has been given": the
#: running total is a sum of rate x time in floating point, so an exact comparison could leave a
#: hundredth of a milligram "still to give" forever. 0.01 mg is far below any pump's resolution.
#: Public so that a query can draw the same line (the FHIR API's MedicationAdministration status).
DOSE_REACHED_TOLERANCE_MG: Final = Fraction(1, 100)
_MINUTES_PER_HOUR: Final = 60


class PlanRateExceeded(ValueError):  # noqa: N818 - named like dosing.DoseLimitExceeded
    """A pump rate above the rate the signed plan computed."""


class PlannedDoseReached(ValueError):  # noqa: N818 - named like dosing.DoseLimitExceeded
    """A running infusion asked for after the plan's total dose has already been given."""


def _show(value: float) -> str:
    return f"{value:g}"


def infused_mg(segments: Sequence[tuple[float, float, float]]) -> float:
    """The amount given by constant-rate segments ``(start_min, end_min, rate_mg_per_h)``.

    Each segment gives rate x (end - start) / 60 mg. A segment that ends before it starts, a
    negative time or a negative rate raises ``ValueError`` naming the segment.
    """
    if isinstance(segments, str | bytes) or not isinstance(segments, Sequence):
        raise ValueError(f"segments must be a sequence, not {type_name(segments)}")
    total = 0.0
    for index, segment in enumerate(segments):
        field = f"segments[{index}]"
        if not isinstance(segment, tuple | list) or len(segment) != 3:
            raise ValueError(f"{field} must be (start_min, end_min, rate_mg_per_h)")
        start = require_number(segment[0], f"{field} start_min", minimum=0)
        end = require_number(segment[1], f"{field} end_min", minimum=start)
        rate = require_number(segment[2], f"{field} rate_mg_per_h", minimum=0)
        total += rate * (end - start) / _MINUTES_PER_HOUR
    return total


def planned_dose_given(*, given_mg: float, plan_total_mg: float) -> bool:
    """Whether the plan's total dose has been given: the amount given is at most
    ``DOSE_REACHED_TOLERANCE_MG`` short of it. A negative or non-finite amount: ``ValueError``
    naming it."""
    given = float(require_number(given_mg, "given_mg", minimum=0))
    plan_total = float(require_number(plan_total_mg, "plan_total_mg", minimum=0))
    return exact(given) >= exact(plan_total) - DOSE_REACHED_TOLERANCE_MG


def infusion_rate_check(
    *,
    rate_mg_per_h: float,
    plan_rate_mg_per_h: float,
    given_mg: float,
    plan_total_mg: float,
    dosing_weight_kg: float,
    limits: DoseLimits,
) -> None:
    """Refuse a pump rate the session may not run at; return None when it may.

    - a negative or non-finite rate: ``ValueError`` naming ``rate_mg_per_h``;
    - past the clinic's hard limits (rate per kg, or a session total already past them):
      ``dosing.DoseLimitExceeded`` naming the limit (``clinical.dosing``);
    - above the signed plan's rate: ``PlanRateExceeded`` (``PLAN_RATE_SOURCE``);
    - a running rate (above 0) once the plan's total has been given: ``PlannedDoseReached``.

    A rate of 0 (paused) is always allowed so a pump can be stopped whatever happened before.
    """
    rate = float(require_number(rate_mg_per_h, "rate_mg_per_h", minimum=0))
    plan_rate = float(require_number(plan_rate_mg_per_h, "plan_rate_mg_per_h", minimum=0))
    given = float(require_number(given_mg, "given_mg", minimum=0))
    plan_total = float(require_number(plan_total_mg, "plan_total_mg", minimum=0))
    if rate == 0:
        return
    rate_limit_check(rate_mg_per_h=rate, dosing_weight_kg=dosing_weight_kg, limits=limits)
    session_dose_check(total_mg=given, dosing_weight_kg=dosing_weight_kg, limits=limits)
    if exact(rate) > exact(plan_rate):
        raise PlanRateExceeded(
            f"rate_mg_per_h {_show(rate)} mg/h is above the plan's rate of {_show(plan_rate)} "
            "mg/h; a faster rate needs a new plan signed by a physician"
        )
    if planned_dose_given(given_mg=given, plan_total_mg=plan_total):
        raise PlannedDoseReached(
            f"rate_mg_per_h: the plan's total of {_show(plan_total)} mg has been given "
            f"({given:.1f} mg); stop the infusion"
        )


def controlled_substance_check(
    *, drawn_mg: float, given_mg: float, wasted_mg: float, witnessed: bool
) -> None:
    """Reconcile a Schedule III record: drawn = given + wasted, exactly, and any waste witnessed.

    Raises ``ValueError`` naming the field. Source: ``CONTROLLED_SUBSTANCE_SOURCE``.
    """
    drawn = require_number(drawn_mg, "drawn_mg", minimum=0, min_exclusive=True)
    given = require_number(given_mg, "given_mg", minimum=0)
    wasted = require_number(wasted_mg, "wasted_mg", minimum=0)
    has_witness = require_bool(witnessed, "witness")
    if exact(given) + exact(wasted) != exact(drawn):
        raise ValueError(
            f"wasted_mg: given {_show(given)} mg + wasted {_show(wasted)} mg = "
            f"{_show(float(exact(given) + exact(wasted)))} mg, but {_show(drawn)} mg was drawn; "
            "they must add up"
        )
    if wasted > 0 and not has_witness:
        raise ValueError("witness: a second nurse or physician must witness the waste")
