"""From a protocol's inputs to its dose, through ``ketaclinic.clinical.dosing`` only.

No dose arithmetic lives here: this module picks which ``clinical.dosing`` function fits the
prescription (a dose per kg, a fixed dose, a template's rate cap) and turns that module's
errors into field-named form errors. A dose past the clinic's limits is refused with the limit
named; nothing here can widen a limit or skip the check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from django.core.exceptions import ValidationError

from ketaclinic.clinical import ceilings, dosing, pk

__all__ = [
    "ComputedProtocol",
    "DoseRefusedError",
    "ProtocolInputs",
    "protocol_compute",
]

_MINUTES_PER_HOUR: Final = 60


# Where each ``clinical.dosing`` field's error belongs on the protocol form.
_FIELD_OF: Final = {
    "weight_kg": "weight_kg",
    "height_cm": "height_cm",
    "sex": "sex",
    "basis": "dosing_basis",
    "dose_mg_per_kg": "dose_mg_per_kg",
    "rate_mg_per_kg_h": "dose_mg_per_kg",
    "duration_min": "duration_min",
    "dosing_weight_kg": "weight_kg",
    "concentration_mg_per_ml": "concentration_mg_per_ml",
    "rate_cap_mg_per_h": "rate_cap_mg_per_h",
    # pump_rate: a rate below one pump step is fixed by a weaker concentration.
    "rate_mg_per_h": "concentration_mg_per_ml",
}


@dataclass(frozen=True)
class ProtocolInputs:
    """What a protocol is computed from: the template's prescription and the patient's body."""

    dosing_basis: str
    dose_mg_per_kg: float | None
    fixed_dose_mg: float | None
    duration_min: int
    rate_cap_mg_per_h: float | None
    concentration_mg_per_ml: float
    weight_kg: float
    height_cm: float
    sex: str
    pk_model: str = pk.DEFAULT_MODEL


@dataclass(frozen=True)
class ComputedProtocol:
    dosing_weight_kg: float
    plan: dosing.InfusionPlan
    # What mg/kg x weight (or the fixed dose) would have been without the template's rate cap.
    uncapped_total_mg: float
    # The pump setting for the plan's rate, rounded down to the clinic's pump step.
    pump: dosing.PumpRate


class DoseRefusedError(ValidationError):
    """The dose is past one or more of the clinic's hard limits; ``limits`` names them."""

    def __init__(self, exc: dosing.DoseLimitExceeded, *, policy_version: int) -> None:
        self.limits = tuple(name for name, _, _ in exc.exceeded)
        self.policy_version = policy_version
        parts = []
        for name, value, maximum in exc.exceeded:
            label, unit = dosing.LIMIT_LABELS[name]
            parts.append(
                f"the {label} ({name}) is {_figure(maximum, maximum)} {unit} and this protocol "
                f"gives {_figure(value, maximum)} {unit}"
            )
        super().__init__(
            f"Dose refused: {'; '.join(parts)} (clinic policy version {policy_version}). "
            "There is no override beyond the clinic's limits: choose a lower dose or a longer "
            "infusion.",
            code="dose_limit",
        )


def _figure(value: float, limit: float) -> str:
    """A number short enough to read, but never so rounded that it seems equal to the limit."""
    short = f"{round(value, 3):g}"
    if value != limit and float(short) == limit:
        return repr(value)
    return short


def _positive(field: str, value: float | int | None) -> float:
    if value is None or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValidationError({field: f"Enter a number greater than 0 (got {value!r})."})
    return float(value)


def _exact(value: float) -> Fraction:
    # The decimal the number was entered as (as clinical.dosing compares them).
    return Fraction(repr(float(value)))


def _field_error(exc: ValueError) -> ValidationError:
    message = str(exc)
    name = message.split(" ", 1)[0]
    return ValidationError({_FIELD_OF.get(name, "__all__"): message})


def protocol_compute(
    inputs: ProtocolInputs,
    *,
    limits: dosing.DoseLimits,
    policy_version: int,
    pump_resolution_ml_h: float,
) -> ComputedProtocol:
    """The dosing weight and infusion plan for ``inputs``, checked against ``limits``.

    - a dose per kg without a rate cap: ``dosing.infusion_plan``;
    - a fixed dose: the same, at fixed dose / dosing weight (the per-kg limits still apply);
    - with a rate cap (Schwartzman 2009: 0.35 mg/kg/h, not over 25 mg/h):
      ``dosing.infusion_plan_for_rate`` at dose / hours, so a heavy patient's rate is held at
      the cap and the session dose falls with it.

    The pump setting is ``dosing.pump_rate`` at the clinic's ``pump_resolution_ml_h``.

    Raises ``ValidationError`` naming the field for bad input, and ``DoseRefusedError`` naming
    every limit exceeded.
    """
    if (inputs.dose_mg_per_kg is None) == (inputs.fixed_dose_mg is None):
        raise ValidationError(
            {"dose_mg_per_kg": "Give either a dose per kg or a fixed dose, not both or neither."}
        )
    if inputs.concentration_mg_per_ml not in dosing.CONCENTRATIONS_MG_PER_ML:
        raise ValidationError(
            {
                "concentration_mg_per_ml": (
                    "Choose a concentration on hand: "
                    + ", ".join(f"{c:g}" for c in dosing.CONCENTRATIONS_MG_PER_ML)
                    + " mg/mL."
                )
            }
        )
    if inputs.pk_model not in pk.MODELS:
        raise ValidationError({"pk_model": f"Choose one of {', '.join(pk.MODELS)}."})
    duration = _positive("duration_min", inputs.duration_min)
    try:
        # Gate 9: 10-480 min, the product's bounds for one infusion (clinical.ceilings).
        ceilings.infusion_duration_check(inputs.duration_min)
    except ValueError as exc:
        raise ValidationError(
            {"duration_min": "Duration (min): " + str(exc).split(": ", 1)[1] + "."}
        ) from None
    try:
        weight = dosing.dosing_weight(
            weight_kg=inputs.weight_kg,
            height_cm=inputs.height_cm,
            sex=inputs.sex,  # type: ignore[arg-type]  # checked by dosing_weight
            basis=inputs.dosing_basis,  # type: ignore[arg-type]  # checked by dosing_weight
        )
        if inputs.dose_mg_per_kg is not None:
            per_kg = _exact(_positive("dose_mg_per_kg", inputs.dose_mg_per_kg))
        else:
            per_kg = _exact(_positive("fixed_dose_mg", inputs.fixed_dose_mg)) / _exact(weight)
        uncapped_total = float(per_kg * _exact(weight))
        if inputs.rate_cap_mg_per_h is None:
            plan = dosing.infusion_plan(
                dose_mg_per_kg=float(per_kg),
                duration_min=duration,
                dosing_weight_kg=weight,
                concentration_mg_per_ml=inputs.concentration_mg_per_ml,
                limits=limits,
            )
        else:
            rate_per_kg_h = per_kg * _MINUTES_PER_HOUR / _exact(duration)
            plan = dosing.infusion_plan_for_rate(
                rate_mg_per_kg_h=float(rate_per_kg_h),
                duration_min=duration,
                dosing_weight_kg=weight,
                concentration_mg_per_ml=inputs.concentration_mg_per_ml,
                rate_cap_mg_per_h=inputs.rate_cap_mg_per_h,
                limits=limits,
            )
        pump = dosing.pump_rate(
            rate_mg_per_h=plan.rate_mg_per_h,
            concentration_mg_per_ml=inputs.concentration_mg_per_ml,
            resolution_ml_h=pump_resolution_ml_h,
        )
    except dosing.DoseLimitExceeded as exc:
        raise DoseRefusedError(exc, policy_version=policy_version) from exc
    except ValueError as exc:
        raise _field_error(exc) from exc
    return ComputedProtocol(
        dosing_weight_kg=weight, plan=plan, uncapped_total_mg=uncapped_total, pump=pump
    )
