"""From the patient's self-check to the consultation's history: the one table of what prefills what.

The self-check (``screening/questions.py``) and the history form (``vocab.py``) were written for
different people, so their answers do not always mean the same. Only an answer whose meaning
matches a history field prefills it; every other answer maps to ``None`` here, with the reason,
so that a new self-check option cannot slip in unmapped (``tests/assessments/test_intake.py``
holds every option of the self-check against these tables).

Prefilled values are an offer: the physician sees them marked "From the self-check on <date>"
and confirms them by saving the history (``consultation_history_save`` records which values
came from the self-check, and when they were confirmed, in a ``HistoryPrefill``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

# Self-check region (screening.questions.REGIONS) -> history region (vocab.BODY_REGIONS).
REGIONS: Mapping[str, str | None] = MappingProxyType(
    {
        "head_face": "head_face",
        "neck": "neck",
        "chest": "chest",
        "abdomen": "abdomen",
        "upper_back": "upper_back",
        "lower_back": "lower_back",
        "widespread": "widespread",
        # The history records arms and legs by side; the self-check does not ask which side.
        "shoulders_arms": None,
        "hands": None,
        "legs": None,
        "feet": None,
        # "Hips or buttocks" is not "Pelvis or groin".
        "hips_buttocks": None,
    }
)

# Self-check symptom concept answered yes (screening.questions.FEEL_QUESTIONS) -> history pain
# descriptor (vocab.PAIN_DESCRIPTORS).
DESCRIPTORS: Mapping[str, str | None] = MappingProxyType(
    {
        "burning": "burning",
        "painful_cold": "painful_cold",
        "electric_shocks": "electric",
        "tingling": "tingling",
        "numbness": "numbness",
        "itching": "itching",
        # DN4 counts "pins and needles" apart from "tingling"; the history has only tingling.
        "pins_and_needles": None,
        # Pain on light touch is allodynia: a sign the exam looks for, not how the pain feels.
        "touch_evoked_pain": None,
        # S-LANSS and ID Pain items with no descriptor of the same meaning in the history.
        "limited_to_joints": None,
        "skin_colour_change": None,
        "sudden_bursts": None,
    }
)

# The self-check's treatments are the history's therapy codes (both clinical.eligibility
# THERAPIES), but it asks only whether each was tried, not how it went: a tried therapy is
# marked on its select, and the physician chooses the outcome. Nothing is prefilled there.
TREATMENT_FIELD = "prior_treatments"

# Duration: the band the person chose prefills its representative number of months
# (screening.questions.DurationOption.months), shown with the band's own words.
DURATION_FIELD = "pain_duration_months"

# The history fields a self-check may prefill, in the form's order.
PREFILLED_FIELDS: tuple[str, ...] = ("pain_duration_months", "pain_regions", "pain_descriptors")


class SelfCheckLike(Protocol):
    """The self-check answers the mapping reads (``screening.api.SelfCheckAnswers`` has them)."""

    @property
    def duration_label(self) -> str: ...
    @property
    def duration_months(self) -> float: ...
    @property
    def regions(self) -> Sequence[str]: ...
    @property
    def feel_yes(self) -> Sequence[str]: ...
    @property
    def treatments(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Offer:
    """What the self-check offers the history: field -> value, and the therapies tried."""

    values: dict[str, object] = field(default_factory=dict)
    treatments_tried: tuple[str, ...] = ()
    duration_label: str = ""

    def __bool__(self) -> bool:
        return bool(self.values or self.treatments_tried)

    def as_record(self) -> dict[str, object]:
        """Everything offered, field -> value, as ``HistoryPrefill.offered`` keeps it."""
        if not self.treatments_tried:
            return dict(self.values)
        return {**self.values, TREATMENT_FIELD: list(self.treatments_tried)}


def _mapped(codes: Sequence[str], table: Mapping[str, str | None]) -> list[str]:
    found: list[str] = []
    for code in codes:
        target = table.get(code)
        if target is not None and target not in found:
            found.append(target)
    return found


def offer_from(answers: SelfCheckLike, recorded: Mapping[str, object]) -> Offer:
    """The history values the answers prefill, given what the history already ``recorded``
    (field -> value, ``prior_treatments`` -> the therapy codes with an outcome). A value already
    recorded is never overwritten, and a field with nothing mapped is left out."""
    months = answers.duration_months
    # 18, not 18.0, in the form: a whole number of months reads as one.
    values: dict[str, object] = {DURATION_FIELD: int(months) if months.is_integer() else months}
    regions = _mapped(answers.regions, REGIONS)
    if regions:
        values["pain_regions"] = regions
    descriptors = _mapped(answers.feel_yes, DESCRIPTORS)
    if descriptors:
        values["pain_descriptors"] = descriptors
    done = recorded.get(TREATMENT_FIELD) or ()
    assert isinstance(done, list | tuple | set)
    return Offer(
        values={name: v for name, v in values.items() if recorded.get(name) in (None, [])},
        treatments_tried=tuple(t for t in answers.treatments if t not in done),
        duration_label=answers.duration_label,
    )


def kept(offered: object, saved: object) -> bool:
    """Whether a saved value keeps what the self-check offered: the same number, or every
    offered code still chosen (the physician may add to a list without losing its source)."""
    if isinstance(offered, list):
        return isinstance(saved, list | tuple | set) and set(offered) <= set(saved)
    return offered == saved
