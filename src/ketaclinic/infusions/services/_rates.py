"""The pump rate as entered and as checked: refused before any arithmetic when it is not a
setting the pump and the chart can hold, then turned into mg/h and held to the plan's rate, the
clinic's current hard limits and session limits, and the plan's total not yet given
(``clinical.monitoring.infusion_rate_check``, ``clinical.dosing.session_dose_check``).

Apart from ``pump`` because the start and every rate change ask the same questions, and the
wording of each refusal names the limit that was crossed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError

from ketaclinic.clinical import dosing, monitoring
from ketaclinic.clinical.dosing import DoseLimitExceeded
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.services._common import _clinical_error


def _rate_mg_per_h(rate_ml_per_h: Decimal, concentration: float) -> float:
    # Decimal arithmetic on the values as entered: 5.25 mL/h x 10 mg/mL is exactly 52.5 mg/h.
    return float(Decimal(rate_ml_per_h) * Decimal(repr(concentration)))


# What a rate change is compared on, per dose limit (the units are ``dosing.LIMIT_LABELS``').
_LIMIT_WHAT: Mapping[str, str] = {
    "max_rate_mg_per_kg_h": "the rate",
    "max_session_mg_per_kg": "the amount given so far",
    "max_session_mg": "the amount given so far",
}
# The largest pump setting a rate field (and RateEvent.rate_ml_per_h) holds: 7 digits, 2 after
# the point. Checked before any arithmetic so an absurd figure gets a message, not an overflow.
MAX_RATE_ML_PER_H = Decimal("99999.99")
RATE_STEP = Decimal("0.01")


def _limit_message(rate_ml_per_h: Decimal, rate: float, exc: DoseLimitExceeded) -> str:
    parts = []
    for limit, value, maximum in exc.exceeded:
        what, unit = _LIMIT_WHAT[limit], dosing.LIMIT_LABELS[limit][1]
        parts.append(f"{what} is {value:.3g} {unit}, over the clinic's limit of {maximum:g} {unit}")
    return f"{rate_ml_per_h} mL/h is {rate:g} mg/h: " + "; ".join(parts) + "."


def _rate_entered(rate_ml_per_h: object, *, start: bool = False) -> Decimal:
    """The pump rate as entered, refused (naming the field) before anything compares it."""
    if not isinstance(rate_ml_per_h, Decimal) or not rate_ml_per_h.is_finite():
        raise ValidationError({"rate_ml_per_h": "Enter the pump rate in mL/h."})
    if rate_ml_per_h < 0:
        raise ValidationError({"rate_ml_per_h": "The rate cannot be negative."})
    if start and rate_ml_per_h == 0:
        raise ValidationError({"rate_ml_per_h": "Enter a rate above 0 mL/h to start."})
    if rate_ml_per_h > MAX_RATE_ML_PER_H:
        raise ValidationError(
            {"rate_ml_per_h": f"Enter a rate of at most {MAX_RATE_ML_PER_H} mL/h."}
        )
    if rate_ml_per_h != rate_ml_per_h.quantize(RATE_STEP):
        raise ValidationError(
            {"rate_ml_per_h": "Enter the rate to at most 2 decimal places (0.01 mL/h)."}
        )
    return rate_ml_per_h


def _check_rate(
    session: InfusionSession,
    rate_ml_per_h: Decimal,
    given_mg: float,
    policy: ClinicPolicy,
) -> float:
    """The rate in mg/h, if the pump may run at it now: within the plan's rate, the clinic's
    current hard limits (``clinical.monitoring.infusion_rate_check``), with the plan's total
    still within the clinic's session limits (``clinical.dosing.session_dose_check``: the
    limits may have been tightened since the plan was signed) and not yet given."""
    _rate_entered(rate_ml_per_h)
    assert session.concentration_mg_per_ml is not None
    assert session.plan_rate_mg_per_h is not None
    assert session.plan_total_mg is not None
    assert session.dosing_weight_kg is not None
    rate = _rate_mg_per_h(rate_ml_per_h, session.concentration_mg_per_ml)
    limits = policy.dose_limits()
    try:
        monitoring.infusion_rate_check(
            rate_mg_per_h=rate,
            plan_rate_mg_per_h=session.plan_rate_mg_per_h,
            given_mg=given_mg,
            plan_total_mg=session.plan_total_mg,
            dosing_weight_kg=session.dosing_weight_kg,
            limits=limits,
        )
    except DoseLimitExceeded as exc:
        raise ValidationError({"rate_ml_per_h": _limit_message(rate_ml_per_h, rate, exc)}) from None
    except monitoring.PlanRateExceeded:
        raise ValidationError(
            {
                "rate_ml_per_h": f"{rate_ml_per_h} mL/h is {rate:g} mg/h, above the plan's rate "
                f"of {session.plan_rate_ml_per_h:g} mL/h ({session.plan_rate_mg_per_h:g} mg/h). "
                "A faster rate needs a new plan signed by a physician."
            }
        ) from None
    except monitoring.PlannedDoseReached:
        raise ValidationError(
            {
                "rate_ml_per_h": f"The plan's total of {session.plan_total_mg:g} mg has been "
                f"given ({given_mg:.1f} mg): stop the infusion."
            }
        ) from None
    except ValueError as exc:
        raise _clinical_error(exc, "rate_ml_per_h") from None
    if rate > 0:
        try:
            dosing.session_dose_check(
                total_mg=session.plan_total_mg,
                dosing_weight_kg=session.dosing_weight_kg,
                limits=limits,
            )
        except DoseLimitExceeded as exc:
            per_kg = session.plan_total_mg / session.dosing_weight_kg
            limits_text = " and ".join(
                f"{maximum:g} {dosing.LIMIT_LABELS[limit][1]}"
                for limit, _value, maximum in exc.exceeded
            )
            raise ValidationError(
                {
                    "rate_ml_per_h": f"The plan's total of {session.plan_total_mg:g} mg "
                    f"({per_kg:.3g} mg/kg) is over the clinic's session limit of {limits_text}. "
                    "The infusion may not run: a physician must sign a plan within the "
                    "clinic's current limits."
                }
            ) from None
    return rate
