"""Ketamine dose arithmetic: dosing weight, infusion plans and hard dose limits.

Pure functions over plain numbers: no Django, no I/O, deterministic. Invalid input raises
``ValueError`` naming the offending field; a dose past a clinic limit raises
``DoseLimitExceeded`` naming the limit. Nothing is guessed or silently clamped.

How limits are compared
-----------------------
A limit is *exceeded* when the value is strictly greater than the limit; exactly at the limit is
allowed. Binary floating point cannot tell "exactly at" from "one rounding error past" (0.35 mg/kg
over 21 min is 1.0000000000000002 mg/kg/h in floats), so every limit comparison is made exactly,
in rational arithmetic, on the decimal value each number was entered as (the shortest decimal
that round-trips the float, i.e. its ``repr``). There is no tolerance: 1.0 mg/kg/h passes a
1.0 limit and 1.0000000001 does not. The plan's outputs are the exact results rounded once to
the nearest float, so a reported quantity never exceeds a limit it was checked against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Final, Literal

from ketaclinic.clinical._exact import exact, shortest
from ketaclinic.clinical._validate import finite_float, positive_float
from ketaclinic.clinical.pump import PUMP_ROUNDING_SOURCE, PumpRate, pump_rate

__all__ = [
    "CONCENTRATIONS_MG_PER_ML",
    "CONCENTRATIONS_SOURCE",
    "DEFAULT_LIMITS",
    "DEVINE_SOURCE",
    "DOSE_LIMITS_SOURCE",
    "LIMIT_LABELS",
    "PUMP_ROUNDING_SOURCE",
    "REFERENCE_ADULT_WEIGHT_KG",
    "DoseLimitExceeded",
    "DoseLimits",
    "InfusionPlan",
    "PumpRate",
    "dosing_weight",
    "infusion_plan",
    "infusion_plan_for_rate",
    "max_dose_mg_per_kg",
    "pump_rate",
    "rate_limit_check",
    "session_dose_check",
]

Sex = Literal["female", "male"]
Basis = Literal["actual", "ideal", "adjusted"]

SEXES: Final = ("female", "male")
BASES: Final = ("actual", "ideal", "adjusted")

# Formulas fixed by docs/design.md "Clinical core contract"; neither paper is in
# docs/clinical-sources.md yet (docs/clinical-policy.md "Gates along the journey (added 2026-12-03)"
# names Devine 1974).
DEVINE_SOURCE: Final = (
    "Ideal body weight: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655 "
    "(male 50 kg, female 45.5 kg, + 2.3 kg per inch over 60 in). Adjusted body weight: ideal + "
    "0.4 x (actual - ideal), the aminoglycoside dosing-weight correction factor (Traynor AM, "
    "Nafziger AN, Bertino JS Jr. Antimicrob Agents Chemother 1995;39:545-548)."
)

# docs/clinical-policy.md "Protocol templates [2.1, 1.3]"; evidence docs/clinical-sources.md §1.3
DOSE_LIMITS_SOURCE: Final = (
    "ketaclinic clinic policy defaults: 1.0 mg/kg/h, 2.0 mg/kg and 200 mg per session. No "
    "guideline sets a hard maximum: none was found in the ASRA/AAPM/ASA consensus guidelines on "
    "IV ketamine for chronic pain (Cohen SP et al. Reg Anesth Pain Med 2018;43(5):521-546). The "
    "acute-pain companion guideline (Schwenk ES et al. Reg Anesth Pain Med 2018;43(5):456-466) "
    "suggests infusions of at most 1 mg/kg/h outside monitored settings (not confirmed in a "
    "primary source; low confidence)."
)

# docs/clinical-sources.md §7.2, §8.5
CONCENTRATIONS_SOURCE: Final = (
    "Labelled strengths 10, 50 and 100 mg/mL (openFDA NDC directory); US labels state strength "
    "as ketamine base, 'ketamine HCl equivalent to X mg ketamine' (not yet confirmed on the "
    "structured product label; medium confidence)."
)

#: Vial strengths on hand, mg of ketamine base per mL (see ``CONCENTRATIONS_SOURCE``). A clinic
#: may dilute into a bag, so ``infusion_plan`` accepts any positive concentration.
CONCENTRATIONS_MG_PER_ML: Final[tuple[float, ...]] = (10.0, 50.0, 100.0)

# Plausibility bounds. They catch unit slips (grams for kilograms, inches for centimetres)
# rather than encode physiology: 272 cm is the tallest recorded adult; 500 kg is past any
# weight a clinic chair could take; 50 cm is a newborn.
#: The adult a protocol template is checked against when a clinic saves it: the limits bind per
#: patient at plan time; here they catch a template no ordinary adult could be given (product;
#: 70 kg is the reference adult of pharmacology texts).
REFERENCE_ADULT_WEIGHT_KG: Final = 70.0
MIN_HEIGHT_CM: Final = 50.0
MAX_HEIGHT_CM: Final = 272.0
MAX_WEIGHT_KG: Final = 500.0

CM_PER_INCH: Final = 2.54
# Devine 1974 constants (DEVINE_SOURCE).
_DEVINE_BASE_KG: Final = {"male": 50.0, "female": 45.5}
_DEVINE_KG_PER_INCH: Final = 2.3
_DEVINE_BASE_INCHES: Final = 60.0
# Adjusted-weight correction factor (DEVINE_SOURCE, Traynor 1995).
ADJUSTED_WEIGHT_FACTOR: Final = 0.4

_MINUTES_PER_HOUR: Final = 60


# -- validation --------------------------------------------------------------------------------
# Numbers are read by ``_validate.finite_float`` and ``positive_float``, and compared exactly on
# their entered decimals by ``_exact.exact`` (see the module docstring).


def _weight(field: str, value: object) -> float:
    result = positive_float(field, value)
    if result > MAX_WEIGHT_KG:
        raise ValueError(f"{field} must be at most {MAX_WEIGHT_KG:g} kg, got {value!r}")
    return result


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
    return value


# -- dosing weight -----------------------------------------------------------------------------


def dosing_weight(*, weight_kg: float, height_cm: float, sex: Sex, basis: Basis) -> float:
    """The weight a mg/kg dose is multiplied by, in kg.

    - ``"actual"``: the measured weight.
    - ``"ideal"``: Devine ideal body weight, male 50 + 2.3 x (inches - 60), female
      45.5 + 2.3 x (inches - 60), inches = cm / 2.54; never more than the actual weight.
    - ``"adjusted"``: ideal + 0.4 x (actual - ideal) when actual > ideal, else actual.

    Below 60 in (152.4 cm) the Devine line is extrapolated, as is usual practice; where the
    extrapolation reaches zero (about 1 m tall) the formula means nothing, so ``"ideal"`` and
    ``"adjusted"`` are refused there (naming ``height_cm``) rather than guessed.

    Source: ``DEVINE_SOURCE``.
    """
    actual = _weight("weight_kg", weight_kg)
    height = finite_float("height_cm", height_cm)
    if not MIN_HEIGHT_CM <= height <= MAX_HEIGHT_CM:
        raise ValueError(
            f"height_cm must be between {MIN_HEIGHT_CM:g} and {MAX_HEIGHT_CM:g}, got {height_cm!r}"
        )
    checked_sex = _choice("sex", sex, SEXES)
    checked_basis = _choice("basis", basis, BASES)
    if checked_basis == "actual":
        return actual

    inches = height / CM_PER_INCH
    devine = _DEVINE_BASE_KG[checked_sex] + _DEVINE_KG_PER_INCH * (inches - _DEVINE_BASE_INCHES)
    if devine <= 0:
        raise ValueError(
            f"height_cm {height_cm!r} is too short for the Devine ideal-weight formula "
            f"({devine:.1f} kg); use basis 'actual'"
        )
    ideal = min(devine, actual)
    if checked_basis == "ideal":
        return ideal
    # adjusted: the capped ideal equals actual when actual <= Devine, which gives "else actual".
    return ideal + ADJUSTED_WEIGHT_FACTOR * (actual - ideal)


# -- limits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseLimits:
    """A clinic's hard limits for one infusion session (defaults: ``DOSE_LIMITS_SOURCE``)."""

    max_rate_mg_per_kg_h: float = 1.0
    max_session_mg_per_kg: float = 2.0
    max_session_mg: float = 200.0

    def __post_init__(self) -> None:
        # A limit of zero, NaN or infinity would silently disable or break every check.
        for field in ("max_rate_mg_per_kg_h", "max_session_mg_per_kg", "max_session_mg"):
            positive_float(field, getattr(self, field))


#: The defaults, shared: the dataclass is frozen, so one instance serves every call.
DEFAULT_LIMITS: Final = DoseLimits()

#: Each ``DoseLimits`` field as clinicians read it, with its unit: the one table every page,
#: message and setting uses.
LIMIT_LABELS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "max_rate_mg_per_kg_h": ("maximum infusion rate", "mg/kg/h"),
        "max_session_mg_per_kg": ("maximum dose per session", "mg/kg"),
        "max_session_mg": ("maximum total per session", "mg"),
    }
)
_UNITS: Final = {name: unit for name, (_, unit) in LIMIT_LABELS.items()}


class DoseLimitExceeded(ValueError):  # noqa: N818 - the name is fixed by docs/design.md
    """A dose or rate past a clinic limit.

    ``limit`` is the ``DoseLimits`` field name of the (first) limit exceeded, ``value`` and
    ``maximum`` its figures in that field's unit; further limits exceeded by the same request
    follow as ``(limit, value, maximum)`` triples. ``exceeded`` lists them all, in
    ``DoseLimits`` field order, and the message names each of them.
    """

    def __init__(
        self, limit: str, value: float, maximum: float, *more: tuple[str, float, float]
    ) -> None:
        self.limit, self.value, self.maximum = limit, value, maximum
        self.exceeded: tuple[tuple[str, float, float], ...] = ((limit, value, maximum), *more)
        super().__init__(
            "; ".join(
                f"{name} exceeded: {shortest(figure)} {_UNITS[name]} is over the limit of "
                f"{shortest(ceiling)} {_UNITS[name]}"
                for name, figure, ceiling in self.exceeded
            )
        )

    def __reduce__(self) -> tuple[type[DoseLimitExceeded], tuple[object, ...]]:
        # Exceptions pickle as cls(*args) by default, and args here is the message.
        return (type(self), (self.limit, self.value, self.maximum, *self.exceeded[1:]))


def _check(
    limits: DoseLimits,
    *,
    rate_mg_per_kg_h: Fraction | None = None,
    session_mg_per_kg: Fraction | None = None,
    session_mg: Fraction | None = None,
) -> None:
    """Raise DoseLimitExceeded for every given quantity strictly over its limit (exactly)."""
    candidates = (
        ("max_rate_mg_per_kg_h", rate_mg_per_kg_h, limits.max_rate_mg_per_kg_h),
        ("max_session_mg_per_kg", session_mg_per_kg, limits.max_session_mg_per_kg),
        ("max_session_mg", session_mg, limits.max_session_mg),
    )
    exceeded = tuple(
        (name, float(value), float(maximum))
        for name, value, maximum in candidates
        if value is not None and value > exact(maximum)
    )
    if exceeded:
        raise DoseLimitExceeded(*exceeded[0], *exceeded[1:])


def _limits(value: object) -> DoseLimits:
    if not isinstance(value, DoseLimits):
        raise ValueError(f"limits must be a DoseLimits, got {value!r}")
    return value


def rate_limit_check(
    *, rate_mg_per_h: float, dosing_weight_kg: float, limits: DoseLimits = DEFAULT_LIMITS
) -> None:
    """Refuse an infusion rate (e.g. a rate change while charting) past ``max_rate_mg_per_kg_h``.

    A rate of 0 (a paused pump) is allowed; a negative rate is invalid.
    """
    rate = finite_float("rate_mg_per_h", rate_mg_per_h)
    if rate < 0:
        raise ValueError(f"rate_mg_per_h must not be negative, got {rate_mg_per_h!r}")
    weight = _weight("dosing_weight_kg", dosing_weight_kg)
    _check(_limits(limits), rate_mg_per_kg_h=exact(rate) / exact(weight))


def session_dose_check(
    *, total_mg: float, dosing_weight_kg: float, limits: DoseLimits = DEFAULT_LIMITS
) -> None:
    """Refuse a session total (e.g. given so far plus still to give) past either session limit."""
    total = finite_float("total_mg", total_mg)
    if total < 0:
        raise ValueError(f"total_mg must not be negative, got {total_mg!r}")
    weight = _weight("dosing_weight_kg", dosing_weight_kg)
    exact_total = exact(total)
    _check(
        _limits(limits),
        session_mg_per_kg=exact_total / exact(weight),
        session_mg=exact_total,
    )


def _largest_accepted(bound: Fraction) -> float:
    """The largest float whose entered decimal is at most ``bound`` (so a form may offer it)."""
    candidate = float(bound)
    while exact(candidate) > bound:
        candidate = math.nextafter(candidate, -math.inf)
    return candidate


def max_dose_mg_per_kg(
    *, dosing_weight_kg: float, duration_min: float, limits: DoseLimits = DEFAULT_LIMITS
) -> float:
    """The largest mg/kg dose ``infusion_plan`` accepts for this weight, duration and limits.

    The least of ``max_session_mg_per_kg``, ``max_session_mg / weight`` and
    ``max_rate_mg_per_kg_h x duration in hours``, rounded down to a float that passes, so a
    form can offer it as the field's maximum.
    """
    weight = _weight("dosing_weight_kg", dosing_weight_kg)
    duration = positive_float("duration_min", duration_min)
    checked = _limits(limits)
    bound = min(
        exact(checked.max_session_mg_per_kg),
        exact(checked.max_session_mg) / exact(weight),
        exact(checked.max_rate_mg_per_kg_h) * exact(duration) / _MINUTES_PER_HOUR,
    )
    return _largest_accepted(bound)


# -- infusion plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InfusionPlan:
    """One session's infusion: what to draw up and what to set the pump to.

    The first four fields are the contract; the rest record the inputs and limits the plan was
    computed and checked with (None only on a plan built by hand).
    """

    total_mg: float
    rate_mg_per_h: float
    rate_ml_per_h: float
    volume_ml: float
    dose_mg_per_kg: float | None = None
    rate_mg_per_kg_h: float | None = None
    duration_min: float | None = None
    dosing_weight_kg: float | None = None
    concentration_mg_per_ml: float | None = None
    limits: DoseLimits | None = None
    rate_capped: bool = False


def _plan(
    *,
    total: Fraction,
    duration: float,
    weight: float,
    concentration: float,
    limits: DoseLimits,
    rate_capped: bool,
) -> InfusionPlan:
    exact_weight = exact(weight)
    hours = exact(duration) / _MINUTES_PER_HOUR
    rate = total / hours
    _check(
        limits,
        rate_mg_per_kg_h=rate / exact_weight,
        session_mg_per_kg=total / exact_weight,
        session_mg=total,
    )
    exact_concentration = exact(concentration)
    return InfusionPlan(
        total_mg=float(total),
        rate_mg_per_h=float(rate),
        rate_ml_per_h=float(rate / exact_concentration),
        volume_ml=float(total / exact_concentration),
        dose_mg_per_kg=float(total / exact_weight),
        rate_mg_per_kg_h=float(rate / exact_weight),
        duration_min=duration,
        dosing_weight_kg=weight,
        concentration_mg_per_ml=concentration,
        limits=limits,
        rate_capped=rate_capped,
    )


def infusion_plan(
    *,
    dose_mg_per_kg: float,
    duration_min: float,
    dosing_weight_kg: float,
    concentration_mg_per_ml: float,
    limits: DoseLimits = DEFAULT_LIMITS,
) -> InfusionPlan:
    """A constant-rate infusion of ``dose_mg_per_kg`` over ``duration_min``.

    total_mg = dose x weight; rate_mg_per_h = total / (duration / 60);
    rate_ml_per_h = rate / concentration; volume_ml = total / concentration.
    Raises DoseLimitExceeded when the rate, the mg/kg or the mg total exceeds ``limits``.
    """
    dose = positive_float("dose_mg_per_kg", dose_mg_per_kg)
    duration = positive_float("duration_min", duration_min)
    weight = _weight("dosing_weight_kg", dosing_weight_kg)
    concentration = positive_float("concentration_mg_per_ml", concentration_mg_per_ml)
    return _plan(
        total=exact(dose) * exact(weight),
        duration=duration,
        weight=weight,
        concentration=concentration,
        limits=_limits(limits),
        rate_capped=False,
    )


def infusion_plan_for_rate(
    *,
    rate_mg_per_kg_h: float,
    duration_min: float,
    dosing_weight_kg: float,
    concentration_mg_per_ml: float,
    rate_cap_mg_per_h: float | None = None,
    limits: DoseLimits = DEFAULT_LIMITS,
) -> InfusionPlan:
    """A constant-rate infusion prescribed as a rate, optionally with a protocol's rate cap.

    For templates written as mg/kg/h, e.g. Schwartzman 2009: 0.35 mg/kg/h for 4 h, not
    exceeding 25 mg/h (docs/clinical-sources.md §2.1). The cap is part of the prescription, not a
    clinic limit: when rate x weight is over it the plan runs at the cap, says so in
    ``rate_capped``, and the total follows from the capped rate. Clinic limits still raise.
    """
    rate_per_kg = positive_float("rate_mg_per_kg_h", rate_mg_per_kg_h)
    duration = positive_float("duration_min", duration_min)
    weight = _weight("dosing_weight_kg", dosing_weight_kg)
    concentration = positive_float("concentration_mg_per_ml", concentration_mg_per_ml)
    rate = exact(rate_per_kg) * exact(weight)
    capped = False
    if rate_cap_mg_per_h is not None:
        cap = exact(positive_float("rate_cap_mg_per_h", rate_cap_mg_per_h))
        if rate > cap:
            rate, capped = cap, True
    return _plan(
        total=rate * exact(duration) / _MINUTES_PER_HOUR,
        duration=duration,
        weight=weight,
        concentration=concentration,
        limits=_limits(limits),
        rate_capped=capped,
    )
