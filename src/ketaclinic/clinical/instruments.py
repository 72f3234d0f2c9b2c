"""Validated questionnaires and bedside scales, and how each is scored.

``score(code, answers)`` scores one completed instrument; ``REGISTRY`` describes every instrument of
the clinical contract (items with their wording, allowed answers and points, range, cut-off,
bands, source and licence note), so forms, the REST API and FHIR export all read one definition.

Scoring rules, cut-offs and evidence come from docs/clinical-sources.md §3 (each instrument's
section is in a comment beside its ``source``, which cites the publication itself) and
docs/clinical-policy.md "Screening instruments [3]". The self-check uses the DN4
interview items, ID Pain and S-LANSS; the clinician uses the full DN4; NRS, PEG and PGIC are the
diary and outcome scales; RASS, MOAA/S and the modified Aldrete score are charted during and after
an infusion. ``CHARTING_SCALES`` adds CADSS-6 for dissociation: it is scored by the same function
but kept out of ``REGISTRY`` because it is not part of the contract's instrument list.

Not built in (see ``NOT_BUILT_IN``): the Brief Pain Inventory, painDETECT and PROMIS measures need
a licence or written permission before a platform may embed them
(docs/clinical-sources.md §3.4, §6.2, §6.4). A screening result is never a diagnosis, and
screening tools miss 10-20% of neuropathic pain (NeuPSIG 2016; docs/clinical-sources.md §3.6), so a
negative screen must never block a booking.

Shared symptom concepts: the screening items carry a ``concept`` so a self-check can ask a shared
symptom once and reuse the answer for each instrument that asks it. Two items share a concept only
when a "yes" to one is a "yes" to the other as worded; ``CONCEPTS`` records each judgement.

Where the definitions live: ``instrument_model`` holds the shapes (``Item``, ``Band``,
``Instrument``, ``Score`` ...), ``screening_instruments`` the DN4, ID Pain and S-LANSS wording,
``rating_scales`` the NRS, PEG, PGIC, RASS, MOAA/S, Aldrete and CADSS-6 wording. This module
registers them and scores answers; every name of the contract is imported from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import cast

from ketaclinic.clinical._validate import bool_problem, int_problem, type_name
from ketaclinic.clinical.instrument_model import Band, Choice, Instrument, Item, Score
from ketaclinic.clinical.rating_scales import CHARTING_ONLY, RATING_SCALES
from ketaclinic.clinical.screening_instruments import CONCEPTS, SCREENING_INSTRUMENTS

__all__ = [
    "CHARTING_SCALES",
    "CONCEPTS",
    "NOT_BUILT_IN",
    "REGISTRY",
    "Band",
    "Choice",
    "Instrument",
    "InvalidAnswers",
    "Item",
    "Score",
    "UnknownInstrument",
    "get_instrument",
    "score",
]


class UnknownInstrument(ValueError):  # noqa: N818  (name fixed by the clinical contract)
    """The instrument code is not one this module scores."""

    def __init__(self, code: object) -> None:
        self.code = code
        known = ", ".join(sorted(_ALL))
        super().__init__(f"code: unknown instrument {code!r}; known instruments: {known}")


class InvalidAnswers(ValueError):  # noqa: N818  (name fixed by the clinical contract)
    """Some answers are missing, unknown, of the wrong type or out of range.

    ``errors`` maps each bad item key to what is wrong with it (every bad item, not just the
    first), so the REST API can return them as 422 details and a form can mark each field.
    """

    def __init__(self, code: str, errors: Mapping[str, str]) -> None:
        self.code = code
        self.errors: dict[str, str] = dict(errors)
        detail = "; ".join(f"{key}: {message}" for key, message in self.errors.items())
        super().__init__(f"invalid answers for {code}: {detail}")


REGISTRY: Mapping[str, Instrument] = MappingProxyType(
    {instrument.code: instrument for instrument in (*SCREENING_INSTRUMENTS, *RATING_SCALES)}
)
"""The contract's instruments, by code."""

CHARTING_SCALES: Mapping[str, Instrument] = MappingProxyType(
    {instrument.code: instrument for instrument in CHARTING_ONLY}
)
"""Scales the infusion chart needs beyond the contract list; ``score`` accepts them too."""

_ALL: Mapping[str, Instrument] = MappingProxyType({**REGISTRY, **CHARTING_SCALES})

# docs/clinical-sources.md §6.2, §3.4, §6.4 (BPI, painDETECT, PROMIS)
NOT_BUILT_IN: Mapping[str, str] = MappingProxyType(
    {
        "bpi": (
            "Brief Pain Inventory: copyright Charles S. Cleeland, licensed by MD Anderson; fees "
            "may apply and a licence is needed before embedding (MD Anderson BPI user guide)."
        ),
        "paindetect": (
            "painDETECT (Freynhagen R et al. Curr Med Res Opin 2006): copyrighted (originally "
            "Pfizer Pharma GmbH); not free for commercial use, treat as licensed (licence terms "
            "not confirmed in a primary source)."
        ),
        "promis": (
            "PROMIS Pain Interference and Intensity: copyright HealthMeasures; integration into "
            "software needs written permission (HEAP) (HealthMeasures terms of use)."
        ),
    }
)
"""Instruments deliberately not built in, with the reason."""


def get_instrument(code: str) -> Instrument:
    """The instrument for ``code`` (contract list or charting scale), or ``UnknownInstrument``."""
    if isinstance(code, str) and code in _ALL:
        return _ALL[code]
    raise UnknownInstrument(code)


def _key_text(key: object) -> str:
    return key if isinstance(key, str) else repr(key)


def _validated(instrument: Instrument, answers: object) -> dict[str, bool | int]:
    """Check every answer and return them by key, or raise ``InvalidAnswers`` listing all errors."""
    if not isinstance(answers, Mapping):
        raise InvalidAnswers(
            instrument.code,
            {"answers": f"must be a mapping of item key to answer, not {type_name(answers)}"},
        )
    errors: dict[str, str] = {}
    values: dict[str, bool | int] = {}
    for item in instrument.items:
        if item.key not in answers:
            errors[item.key] = "missing answer"
            continue
        value = answers[item.key]
        if item.answer_type == "bool":
            problem = bool_problem(value)
        else:
            lowest, highest = min(item.allowed), max(item.allowed)
            problem = int_problem(value, minimum=int(lowest), maximum=int(highest))
        if problem is None:
            values[item.key] = cast(bool | int, value)  # its type was checked just above
        else:
            errors[item.key] = problem
    for key in answers:
        if key not in instrument.item_keys:
            errors[_key_text(key)] = f"unknown item; {instrument.code} has no item {key!r}"
    if errors:
        raise InvalidAnswers(instrument.code, errors)
    return values


def score(code: str, answers: Mapping[str, object]) -> Score:
    """Score one completed instrument.

    Raises ``UnknownInstrument`` for an unknown code and ``InvalidAnswers`` (with ``errors`` for
    every bad item) for a missing item, an unknown extra item, or an answer of the wrong type or
    out of range. Booleans answer yes/no items only; integers answer numeric items only.
    """
    instrument = get_instrument(code)
    values = _validated(instrument, answers)
    points = [item.points_for(values[item.key]) for item in instrument.items]
    # PEG is the mean of its items; every other instrument is the sum of its points.
    total = sum(points) / len(points) if instrument.aggregation == "mean" else float(sum(points))
    cutoff = instrument.cutoff
    return Score(
        code=instrument.code,
        total=total,
        maximum=float(instrument.maximum),
        cutoff=None if cutoff is None else float(cutoff),
        positive=None if cutoff is None else total >= cutoff,
        band=instrument.band_for(total),
        source=instrument.source,
    )
