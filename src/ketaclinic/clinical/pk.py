"""Predicted ketamine plasma concentration from linear compartment models.

Decision support only, never automatic dosing (docs/clinical-policy.md "Pharmacokinetics [7]";
constants and ranges: docs/clinical-sources.md §7.1, §7.2): every curve is
an estimate. Pure and deterministic: no Django, no I/O.

The model
---------
Amounts (mg) in a central compartment 1 and peripheral compartments 2 (and 3) obey

    dx1/dt = -(k10 + k12 + k13) x1 + k21 x2 + k31 x3 + u(t)
    dx2/dt = k12 x1 - k21 x2
    dx3/dt = k13 x1 - k31 x3

with rate constants per minute and u(t) the infusion rate (mg/min) into the central
compartment. Plasma concentration is x1 / V1 with V1 = (L/kg) x weight: mg/L = ug/mL, reported
in ng/mL (x 1000).

How it is solved (exactly, no time stepping)
--------------------------------------------
The system is linear with constant coefficients, so x1 is the convolution of u with the
central unit-impulse response h(t) = [exp(A t)]_11 = sum_i w_i exp(-a_i t). A mammillary model
is similar to a symmetric matrix: with V_i = V1 k1i / ki1 (mass balance of the inter-compartment
clearances), D = diag(sqrt(V_i / V1)) gives S = D^-1 A D symmetric, with S_11 = A_11,
S_ii = -ki1 and S_1i = S_i1 = sqrt(k1i ki1). ``numpy.linalg.eigh`` then yields real decay
rates a_i = -eigenvalues and orthonormal eigenvectors Q, and h's weights are w_i = Q_1i^2
(non-negative, summing to 1, since exp(A t)_11 = exp(S t)_11).

For a constant rate R from s to e, the contribution at time t is exactly

    R * sum_i (w_i / a_i) * exp(-a_i * after) * (1 - exp(-a_i * infused))

where infused = clip(t, s, e) - s is how much of the segment has run by t and
after = max(t - e, 0) is how long ago it ended; ``expm1`` keeps (1 - exp(-x)) accurate for
short pieces. Every term is non-negative, so no prediction is ever negative. Segments are
summed (superposition), so overlapping segments add their rates, as two pumps on one line
would. All segments and all requested times are one vectorised numpy expression (cut into
blocks of thousands of times only for very large requests, to bound memory).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from ketaclinic.clinical._validate import finite_float, is_real

if TYPE_CHECKING:
    # numpy is imported by the functions that compute (``simulate`` and its helpers), not here:
    # forms and plan pages read ``MODELS`` and ``REFERENCE_BANDS`` and never solve anything, so
    # a web worker that serves them does not load numpy (docs/benchmarks.md "Web worker memory").
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "PK_SOURCE",
    "REFERENCE_BANDS",
    "PKModel",
    "ReferenceBand",
    "SegmentsLike",
    "TimesLike",
    "UnknownModel",
    "infusion_segment",
    "simulate",
]

# docs/clinical-sources.md §7.1
PK_SOURCE: Final = (
    "Constants as coded in opentiva/opentiva, opentiva/ketamine.py (MIT licence; V in L, rate "
    "constants per min). The effect-site ke0 "
    "values there are derived by opentiva, not published, and are not used: this module "
    "predicts plasma concentration only."
)

# mg/L (= ug/mL) to ng/mL.
_NG_PER_ML_PER_MG_PER_L: Final = 1000.0
_MINUTES_PER_HOUR: Final = 60.0
# Largest (modes x segments x times) work array, in elements of 8 bytes (2 MiB): requests past
# it are computed in blocks of times, so memory stays bounded.
_MAX_WORK_ELEMENTS: Final = 2**18
# The same plausibility ceiling as dosing: it catches grams typed as kilograms.
MAX_WEIGHT_KG: Final = 500.0
# About 19 years. Ketamine is gone within days, so a later time is a slip (a timestamp, say),
# and refusing it also keeps every exponent far from floating-point overflow.
MAX_MINUTES: Final = 1e7


#: What ``simulate`` takes as times: the contract's sequence of floats, or a 1-D numpy array.
TimesLike: TypeAlias = "Sequence[float] | NDArray[np.floating[Any]] | NDArray[np.integer[Any]]"
#: Segments as the contract's sequence of (start_min, end_min, rate_mg_per_min), or an (n, 3) array.
SegmentsLike: TypeAlias = "Sequence[tuple[float, float, float]] | NDArray[np.floating[Any]]"


class UnknownModel(ValueError):  # noqa: N818 - named like instruments.UnknownInstrument
    """``model`` is not a key of ``MODELS``."""


@dataclass(frozen=True)
class PKModel:
    """A mammillary compartment model with V1 per kg and first-order rate constants per min.

    ``k13`` and ``k31`` are None for a 2-compartment model.
    """

    name: str
    label: str
    v1_l_per_kg: float
    k10: float
    k12: float
    k21: float
    k13: float | None
    k31: float | None
    source: str
    caveat: str

    def __post_init__(self) -> None:
        # Registry entries are literals, but a clinic may add a model: refuse one that would
        # give nonsense (a negative or zero constant, half a third compartment).
        if (self.k13 is None) != (self.k31 is None):
            raise ValueError("k13 and k31 must both be given (3 compartments) or both be None")
        for field, value in self.constants.items():
            if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{field} must be a finite number greater than 0, got {value!r}")

    @property
    def compartments(self) -> int:
        return 2 if self.k13 is None else 3

    @property
    def constants(self) -> dict[str, float]:
        """The model's constants by name, without the unused ones of a 2-compartment model."""
        named = {
            "v1_l_per_kg": self.v1_l_per_kg,
            "k10": self.k10,
            "k12": self.k12,
            "k21": self.k21,
            "k13": self.k13,
            "k31": self.k31,
        }
        return {key: value for key, value in named.items() if value is not None}


_DOMINO: Final = PKModel(
    name="domino",
    label="Domino (3-compartment)",
    v1_l_per_kg=0.063,
    k10=0.4381,
    k12=0.5921,
    k21=0.2470,
    k13=0.5900,
    k31=0.0146,
    # docs/clinical-sources.md §7.1
    source=(
        "Domino model as coded by opentiva (reference PMID 7198883); usually attributed to "
        "Domino EF et al. Ketamine kinetics in unmedicated and diazepam-premedicated subjects. "
        "Clin Pharmacol Ther 1984;36:645-653 (attribution not confirmed in a primary source; low "
        "confidence). The same constants appear in bensondaled/fus_anes tci/ketamine.py."
    ),
    caveat=(
        "Default model. Overpredicts modestly: about 240 ng/mL at the end of 0.5 mg/kg over "
        "40 min, where about 185 ng/mL was measured (Zarate 2006, in Zanos P et al. Pharmacol "
        "Rev 2018). The original citation is ambiguous; verify."
    ),
)

_CLEMENTS: Final = PKModel(
    name="clements",
    label="Clements 250 (2-compartment)",
    v1_l_per_kg=1.7522,
    k10=0.0109,
    k12=0.0186,
    k21=0.0137,
    k13=None,
    k31=None,
    # docs/clinical-sources.md §7.1
    source=(
        "Clements250 model as coded by opentiva, from Clements JA, Nimmo WS. Br J Anaesth "
        "1981;53(1):27 (PMID 7459184; 250 ug/kg bolus data)."
    ),
    caveat=(
        "Parameters not verified against the paper; a V1 of 1.75 L/kg is unusually large for "
        "a central compartment (low confidence)."
    ),
)

_HIJAZI: Final = PKModel(
    name="hijazi",
    label="Hijazi (2-compartment)",
    v1_l_per_kg=1.08,
    k10=0.0333,
    k12=0.0088,
    k21=0.0030,
    k13=None,
    k31=None,
    # docs/clinical-sources.md §7.1
    source=(
        "Hijazi model as coded by opentiva, from Hijazi Y et al. Br J Anaesth 2003;90:155 "
        "(PMID 12538370; doi 10.1093/bja/aeg028)."
    ),
    caveat=(
        "Fitted in 12 ICU patients with brain or spinal cord injury, who differ from clinic "
        "outpatients: a poor default. Clearance k10 x V1 = "
        "0.036 L/kg/min agrees with the published 36 mL/min/kg."
    ),
)

#: Every model ``simulate`` accepts, by name (read-only).
MODELS: Final[Mapping[str, PKModel]] = MappingProxyType(
    {model.name: model for model in (_DOMINO, _CLEMENTS, _HIJAZI)}
)
#: The model the UI shows unless a clinician picks another
#: (docs/clinical-policy.md "Pharmacokinetics [7]").
DEFAULT_MODEL: Final = "domino"


@dataclass(frozen=True)
class ReferenceBand:
    """A plasma range to draw behind a predicted curve. ``low == high`` marks a single level."""

    code: str
    label: str
    low_ng_per_ml: float
    high_ng_per_ml: float
    source: str


#: Reference ranges for the chart, lowest first (docs/clinical-policy.md "Pharmacokinetics [7]";
#: docs/clinical-sources.md §7.2). Racemic ketamine; context for an estimate, not targets.
REFERENCE_BANDS: Final[tuple[ReferenceBand, ...]] = (
    ReferenceBand(
        code="analgesia",
        label="Analgesia",
        low_ng_per_ml=70.0,
        high_ng_per_ml=160.0,
        source=(
            "Zanos P et al. Pharmacol Rev 2018;70:621, table 1: 0.15 mg/kg IV gives 70-160 ng/mL."
        ),
    ),
    ReferenceBand(
        code="dissociation",
        label="Dissociation",
        low_ng_per_ml=100.0,
        high_ng_per_ml=250.0,
        source=(
            "Zanos P et al. Pharmacol Rev 2018;70:621, table 1: 100-250 ng/mL after "
            "0.5 mg/kg over 40 min."
        ),
    ),
    ReferenceBand(
        code="emergence",
        label="Emergence from anaesthesia",
        low_ng_per_ml=640.0,
        high_ng_per_ml=640.0,
        source=(
            "Idvall J et al. Br J Anaesth 1979;51:1167: patients recovered at 2.7 umol/L, "
            "about 0.64 ug/mL."
        ),
    ),
    ReferenceBand(
        code="anaesthesia",
        label="General anaesthesia",
        low_ng_per_ml=1200.0,
        high_ng_per_ml=2400.0,
        source=("Zanos P et al. Pharmacol Rev 2018;70:621, table 1: Cmax after 1-2 mg/kg IV."),
    ),
)


# -- validation --------------------------------------------------------------------------------


def _minutes(field: str, value: object) -> float:
    minutes = finite_float(field, value)
    if not 0 <= minutes <= MAX_MINUTES:
        raise ValueError(f"{field} must be between 0 and {MAX_MINUTES:g} minutes, got {value!r}")
    return minutes


def _model(model: object) -> PKModel:
    if not isinstance(model, str) or model not in MODELS:
        raise UnknownModel(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    return MODELS[model]


def _weight(weight_kg: object) -> float:
    weight = finite_float("weight_kg", weight_kg)
    if not 0 < weight <= MAX_WEIGHT_KG:
        raise ValueError(
            f"weight_kg must be greater than 0 and at most {MAX_WEIGHT_KG:g}, got {weight_kg!r}"
        )
    return weight


def _items(field: str, values: object) -> list[object]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{field} must be a sequence, got {values!r}")
    return list(values)


def _segments(segments: object) -> NDArray[np.float64]:
    """The segments as an (m, 3) array of start_min, end_min, rate_mg_per_min."""
    import numpy as np

    checked = []
    for index, segment in enumerate(_items("segments", segments)):
        field = f"segments[{index}]"
        parts = _items(field, segment)
        if len(parts) != 3:
            raise ValueError(f"{field} must be (start_min, end_min, rate_mg_per_min)")
        start = _minutes(f"{field} start_min", parts[0])
        end = _minutes(f"{field} end_min", parts[1])
        rate = finite_float(f"{field} rate_mg_per_min", parts[2])
        if end < start:
            raise ValueError(f"{field} end_min {end!r} is before start_min {start!r}")
        if rate < 0:
            raise ValueError(f"{field} rate_mg_per_min must not be negative, got {rate!r}")
        checked.append((start, end, rate))
    return np.array(checked, dtype=np.float64).reshape(-1, 3)


def _times(times_min: object) -> NDArray[np.float64]:
    import numpy as np

    if isinstance(times_min, np.ndarray):
        # Fast path for arrays: check the dtype once instead of every element.
        if times_min.ndim != 1 or times_min.dtype.kind not in "iuf":
            raise ValueError(
                f"times_min must be a 1-D array of numbers, got {times_min.ndim}-D "
                f"{times_min.dtype}"
            )
        times = times_min.astype(np.float64)
    else:
        items = _items("times_min", times_min)
        for index, value in enumerate(items):
            if not is_real(value):
                raise ValueError(f"times_min[{index}] must be a number, got {value!r}")
        times = np.array(items, dtype=np.float64)
    # Written so that NaN fails too: every comparison with NaN is false.
    bad = np.flatnonzero(~((times >= 0) & (times <= MAX_MINUTES)))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"times_min[{index}] must be between 0 and {MAX_MINUTES:g} minutes, "
            f"got {float(times[index])!r}"
        )
    return times


# -- solution ----------------------------------------------------------------------------------


@functools.cache
def _disposition(model: PKModel) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The central response h(t) = sum_i w_i exp(-a_i t), in the form ``simulate`` uses.

    Returns -a_i and -w_i / a_i as (k, 1, 1) columns, to broadcast over (segments, times).
    Computed once per model (see the module docstring for the symmetric form).
    """
    import numpy as np

    peripheral = [(model.k12, model.k21)]
    if model.k13 is not None and model.k31 is not None:
        peripheral.append((model.k13, model.k31))
    size = len(peripheral) + 1
    symmetric = np.zeros((size, size))
    symmetric[0, 0] = -(model.k10 + sum(out for out, _ in peripheral))
    for index, (out, back) in enumerate(peripheral, start=1):
        symmetric[0, index] = symmetric[index, 0] = math.sqrt(out * back)
        symmetric[index, index] = -back
    eigenvalues, vectors = np.linalg.eigh(symmetric)
    weights = vectors[0, :] ** 2
    rates_column = eigenvalues.reshape(-1, 1, 1)
    coefficients_column = (weights / eigenvalues).reshape(-1, 1, 1)
    # Cached and shared: make accidental writes fail loudly.
    rates_column.flags.writeable = False
    coefficients_column.flags.writeable = False
    return rates_column, coefficients_column


def simulate(
    *,
    model: str,
    weight_kg: float,
    segments: SegmentsLike,
    times_min: TimesLike,
) -> NDArray[np.float64]:
    """Predicted plasma concentration (ng/mL) at each of ``times_min``, in the given order.

    ``segments`` are constant-rate infusions ``(start_min, end_min, rate_mg_per_min)`` into
    the central compartment from time 0; overlapping segments add up. ``weight_kg`` is the
    patient's actual weight (the models' volumes are per kg of body weight), not the dosing
    weight. Times may be unsorted or repeated. Nothing was in the body before time 0.

    Raises ``UnknownModel`` (a ValueError) for a model not in ``MODELS``, and ValueError naming
    the field for a weight that is not positive (or over ``MAX_WEIGHT_KG``), a segment that ends
    before it starts or has a negative or non-finite value, or a time that is negative,
    non-finite or past ``MAX_MINUTES``; booleans are not numbers.
    """
    import numpy as np

    pk_model = _model(model)
    weight = _weight(weight_kg)
    checked_segments = _segments(segments)
    times = _times(times_min)

    rates_column, coefficients_column = _disposition(pk_model)
    amount_mg = np.zeros_like(times)
    if not checked_segments.size:
        return amount_mg
    start, end, rate = checked_segments[:, 0:1], checked_segments[:, 1:2], checked_segments[:, 2]
    # (k, m, 1): each mode's coefficient times each segment's rate.
    scale = coefficients_column * rate[:, None]
    # All segments and times in one numpy pass, modes first so numpy's inner loops run along
    # the long times axis. Only a request past _MAX_WORK_ELEMENTS is cut, into blocks of times:
    # each time's value never depends on which other times were asked for.
    block = max(1, _MAX_WORK_ELEMENTS // scale.size)
    for first in range(0, times.size, block):
        some = times[first : first + block]
        # (m, b): minutes of each segment run by each time, and minutes since it ended.
        infused = np.minimum(np.maximum(some, start), end) - start
        after = np.maximum(some - end, 0.0)
        # (k, m, b): exp(-a after) * (exp(-a infused) - 1); expm1 keeps short pieces exact and
        # the coefficients carry the minus sign.
        terms = np.exp(rates_column * after) * np.expm1(rates_column * infused) * scale
        # Sum over modes and segments in one fixed order (accumulate is sequential; a plain
        # sum may pair terms differently by shape), so equal times give equal values.
        amount_mg[first : first + block] = np.add.accumulate(terms.reshape(scale.size, -1), axis=0)[
            -1
        ]
    v1_l = pk_model.v1_l_per_kg * weight
    concentration: NDArray[np.float64] = amount_mg / v1_l * _NG_PER_ML_PER_MG_PER_L
    return concentration


def infusion_segment(
    *, start_min: float, duration_min: float, rate_mg_per_h: float
) -> tuple[float, float, float]:
    """One ``simulate`` segment from a pump setting in mg/h (e.g. an InfusionPlan's rate).

    ``simulate`` takes mg/min; doing the conversion here keeps a factor of 60 out of callers.
    """
    start = _minutes("start_min", start_min)
    duration = _minutes("duration_min", duration_min)
    rate = finite_float("rate_mg_per_h", rate_mg_per_h)
    if start + duration > MAX_MINUTES:
        raise ValueError(f"duration_min must end by {MAX_MINUTES:g} minutes, got {duration_min!r}")
    if rate < 0:
        raise ValueError(f"rate_mg_per_h must not be negative, got {rate_mg_per_h!r}")
    return (start, start + duration, rate / _MINUTES_PER_HOUR)
