"""What an instrument is made of: items, answer choices, bands, the instrument and its score.

The shapes every questionnaire and scale of ``clinical.instruments`` is written in, kept apart
from the instruments themselves (``screening_instruments``, ``rating_scales``) so the long
tables of wording read as data and the scorer reads as code. Callers import these names from
``clinical.instruments``, whose contract they are (docs/design.md "Clinical core contract").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["Band", "Choice", "Instrument", "Item", "Score"]


@dataclass(frozen=True)
class Choice:
    """One allowed answer to an item, as shown to the person answering, and its points."""

    value: bool | int
    label: str
    points: int


@dataclass(frozen=True)
class Item:
    """One question of an instrument.

    ``stem`` is the shared heading the item sits under in the printed instrument (DN4 asks
    "Does the pain have one or more of the following characteristics?" and then lists "Burning"),
    ``wording`` the item itself. ``answer_type`` says whether the answer is a ``bool`` (yes/no) or
    an ``int``; ``choices`` lists every allowed value with its points. ``concept`` names the symptom
    a self-check may ask once for several instruments (see ``CONCEPTS``); it is None outside the
    neuropathic screening instruments.
    """

    key: str
    wording: str
    answer_type: Literal["bool", "int"]
    choices: tuple[Choice, ...]
    stem: str | None = None
    concept: str | None = None

    @property
    def allowed(self) -> tuple[bool | int, ...]:
        return tuple(choice.value for choice in self.choices)

    @property
    def points(self) -> Mapping[bool | int, int]:
        """Points for each allowed answer, e.g. ``{False: 0, True: 5}`` for an S-LANSS item."""
        return MappingProxyType({choice.value: choice.points for choice in self.choices})

    def points_for(self, value: bool | int) -> int:
        """Points for an allowed answer; ``KeyError`` for anything else (validate first)."""
        for choice in self.choices:
            # `type(...) is` keeps True from matching the choice 1 (True == 1 in Python).
            if type(choice.value) is type(value) and choice.value == value:
                return choice.points
        raise KeyError(f"{self.key}: {value!r} is not an allowed answer")


@dataclass(frozen=True)
class Band:
    """A labelled range of totals: ``lower <= total < upper``, or ``total == upper`` when
    ``includes_upper``.

    Half-open bands let the PEG (a mean of three items, so totals such as 11/3) fall into exactly
    one band without gaps; the top band of each instrument includes its upper bound, and one-value
    bands (a RASS level) are written ``Band(v, v, label, includes_upper=True)``.
    """

    lower: float
    upper: float
    label: str
    includes_upper: bool = False

    def contains(self, total: float) -> bool:
        return self.lower <= total < self.upper or (self.includes_upper and total == self.upper)


@dataclass(frozen=True)
class Instrument:
    """Everything needed to present, validate, score and cite one instrument.

    ``minimum``/``maximum`` are the range of the total; ``cutoff`` is the total at or above which
    the result is positive (``positive_meaning`` says what positive means), or None. ``aggregation``
    is ``"sum"`` for every instrument except the PEG, whose total is the mean of its items.
    """

    code: str
    name: str
    items: tuple[Item, ...]
    minimum: float
    maximum: float
    cutoff: float | None
    bands: tuple[Band, ...]
    source: str
    licence: str
    instructions: str
    administered_by: Literal["patient", "clinician", "patient and clinician"]
    positive_meaning: str | None = None
    aggregation: Literal["sum", "mean"] = "sum"

    @property
    def range(self) -> tuple[float, float]:
        """``(minimum, maximum)`` of the total."""
        return (self.minimum, self.maximum)

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"{self.code} has no item {key!r}")

    def band_for(self, total: float) -> str:
        for band in self.bands:
            if band.contains(total):
                return band.label
        # Only reachable if the registry's bands leave a gap; the tests enumerate every total.
        raise ValueError(f"total: {total!r} falls in no band of {self.code}")


@dataclass(frozen=True)
class Score:
    """The scored result. ``positive`` is ``total >= cutoff``, or None without a cut-off."""

    code: str
    total: float
    maximum: float
    cutoff: float | None
    positive: bool | None
    band: str
    source: str
