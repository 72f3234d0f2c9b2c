"""The pump's setting for a computed rate: mL/h rounded down to the pump's step.

One rounding rule for the plan and the infusion chart (``pump_rate``), kept apart from the dose
arithmetic of ``clinical.dosing`` because it answers a different question: not "how much may be
given" but "what can this pump be set to". Callers import it from ``clinical.dosing``, whose
public names these are. Numbers are compared exactly on their entered decimals (``_exact``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ketaclinic.clinical._exact import entered_decimal, exact, shortest
from ketaclinic.clinical._validate import positive_float

__all__ = ["PUMP_ROUNDING_SOURCE", "PumpRate", "pump_rate"]

# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (item 8 of the issue: one
# rounding rule for mL/h and mg/h; the resolution is the clinic setting pump_resolution_ml_h).
PUMP_ROUNDING_SOURCE: Final = (
    "ketaclinic clinic policy: the pump rate is the computed mL/h rounded down to the pump's "
    "step, so the pump never runs faster than the prescribed rate; the mg/h shown beside it is "
    "what that setting really delivers."
)


@dataclass(frozen=True)
class PumpRate:
    """What to set the pump to, and what that setting really delivers.

    ``rate_ml_per_h`` is a whole number of pump steps, exactly (a ``Decimal``, as a pump shows
    it); ``rate_mg_per_h`` is ``rate_ml_per_h x concentration``, exactly. Both are at most the
    computed rate and within one step of it.
    """

    rate_ml_per_h: Decimal
    rate_mg_per_h: Decimal


def pump_rate(
    *, rate_mg_per_h: float, concentration_mg_per_ml: float, resolution_ml_h: float
) -> PumpRate:
    """The pump setting for ``rate_mg_per_h``: mL/h rounded DOWN to a multiple of the step.

    One rounding rule for the plan and the infusion chart. Down, not half-even: a pump set a
    step above the computed rate would give more than the dose that was checked against the
    clinic's limits (52.5 mg/h at 10 mg/mL is 5.25 mL/h; half-even gives 5.2, but 5.35 mL/h
    would round to 5.4, past the rate), whereas rounding down gives at most one step less,
    which the returned ``rate_mg_per_h`` shows. Exact arithmetic on the entered decimals: no
    binary rounding error moves a rate across a step.

    A rate below one step cannot be set (the pump would run at 0): ``ValueError`` naming
    ``rate_mg_per_h``. Source: ``PUMP_ROUNDING_SOURCE``.
    """
    rate = positive_float("rate_mg_per_h", rate_mg_per_h)
    concentration = positive_float("concentration_mg_per_ml", concentration_mg_per_ml)
    resolution = positive_float("resolution_ml_h", resolution_ml_h)
    step = entered_decimal(resolution)
    exact_ml = exact(rate) / exact(concentration)
    steps = math.floor(exact_ml / exact(resolution))
    if steps < 1:
        raise ValueError(
            f"rate_mg_per_h {shortest(rate)} mg/h is {shortest(exact_ml)} mL/h at "
            f"{shortest(concentration)} mg/mL, below one pump step of {step} mL/h; choose a "
            "weaker concentration"
        )
    setting = step * steps
    return PumpRate(rate_ml_per_h=setting, rate_mg_per_h=setting * entered_decimal(concentration))
