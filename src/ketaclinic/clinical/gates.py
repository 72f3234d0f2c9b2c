"""Gates along the journey: the rules every entry point asks again, not only where they are made.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)". An eligibility decision is
made at the consultation, but a plan may be signed, a series booked and an infusion started weeks
later, from other pages and by other roles; each of those asks the functions here, so the rule is
written once. Pure functions over plain data: no Django, no clock (``today`` is an argument).

- ``eligibility_in_force``: gate 1. The newest signed decision, from an exam at most
  ``valid_months`` old, allows planning, booking and infusing when it is "eligible", or "review"
  overridden by a physician with a written reason; "ineligible" is final until a new exam.
- ``day_cap_conflicts``: gate 3. At most one ketamine session per patient per calendar day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "BACKDATE_MAX_MIN",
    "BACKDATE_MAX_MIN_RANGE",
    "BACKDATE_REASON_AFTER_MIN",
    "CLOCK_TOLERANCE_S",
    "DOSE_DEVIATION_MIN_MG",
    "DOSE_DEVIATION_PERCENT",
    "DOSE_DEVIATION_PERCENT_RANGE",
    "DRAW_MAX_FACTOR",
    "DRAW_MAX_FACTOR_RANGE",
    "ELIGIBILITY_GATE_SOURCE",
    "ELIGIBILITY_VALID_MONTHS",
    "ELIGIBILITY_VALID_MONTHS_RANGE",
    "EXAM_WEIGHT_MAX_AGE_DAYS",
    "EXAM_WEIGHT_MAX_AGE_DAYS_RANGE",
    "MIN_REASON_LENGTH",
    "PUMP_RESOLUTION_ML_H",
    "PUMP_RESOLUTION_ML_H_RANGE",
    "SESSIONS_PER_DAY",
    "VITALS_BEFORE_DISCHARGE_MIN",
    "VITALS_BEFORE_START_MIN",
    "WEIGHT_CHANGE_PERCENT",
    "WEIGHT_CHANGE_PERCENT_RANGE",
    "DecisionOnRecord",
    "InForce",
    "can_override",
    "day_cap_conflicts",
    "eligibility_in_force",
    "months_after",
]

#: An eligibility decision stays in force for this many months after its exam (clinic setting).
ELIGIBILITY_VALID_MONTHS: Final = 12
#: The setting's bounds: a clinic may shorten the validity, never lengthen it past a year.
ELIGIBILITY_VALID_MONTHS_RANGE: Final = (1, 12)
#: Ketamine sessions per patient per calendar day of the location (a product ceiling).
SESSIONS_PER_DAY: Final = 1

# -- the other gates' clinic settings: default and the (floor, ceiling) a clinic cannot pass ----
# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)"; "product" values are
# ketaclinic's own choice to catch typing errors and outliers, not a guideline's.

#: Gate 2: the exam's measured weight and height may be this many days old when a plan is signed.
EXAM_WEIGHT_MAX_AGE_DAYS: Final = 90
EXAM_WEIGHT_MAX_AGE_DAYS_RANGE: Final = (30, 180)
#: Gate 2: the day's weight more than this percent from the plan's blocks the start.
WEIGHT_CHANGE_PERCENT: Final = 10
WEIGHT_CHANGE_PERCENT_RANGE: Final = (5, 20)
#: Gate 4: a dose given past the plan's total by more than this percent (and more than
#: ``DOSE_DEVIATION_MIN_MG``) opens a dose-deviation record (product).
DOSE_DEVIATION_PERCENT: Final = 2
DOSE_DEVIATION_PERCENT_RANGE: Final = (0, 5)
DOSE_DEVIATION_MIN_MG: Final = 1.0
#: Gate 4: the amount drawn may not pass this multiple of the plan's total (product).
DRAW_MAX_FACTOR: Final = 1.5
DRAW_MAX_FACTOR_RANGE: Final = (1.0, 2.0)
#: Gate 7: how far back a charted time may be set, in minutes (product).
BACKDATE_MAX_MIN: Final = 60
BACKDATE_MAX_MIN_RANGE: Final = (0, 120)
#: Gate 7: back-dating further than this needs a written reason.
BACKDATE_REASON_AFTER_MIN: Final = 10
#: Gate 7: a time up to this far ahead of the server's clock counts as now (clock drift).
CLOCK_TOLERANCE_S: Final = 60
#: Gate 6: vitals within this many minutes before the start, and before discharge.
VITALS_BEFORE_START_MIN: Final = 15
VITALS_BEFORE_DISCHARGE_MIN: Final = 15
#: Every written reason a gate asks for (an override, a deferral, a back-dated time, a monitoring
#: gap, a dose review): enough characters for a colleague to read later, not a single word
#: (product).
MIN_REASON_LENGTH: Final = 10
#: Item 8: the infusion pump's rate resolution, mL/h (clinic setting).
PUMP_RESOLUTION_ML_H: Final = 0.1
PUMP_RESOLUTION_ML_H_RANGE: Final = (0.01, 1.0)

# docs/clinical-sources.md §1.2 (contraindications and precautions).
ELIGIBILITY_GATE_SOURCE: Final = (
    "Cohen SP et al. Consensus guidelines on the use of intravenous ketamine infusions for "
    "chronic pain (ASRA, AAPM, ASA). Reg Anesth Pain Med 2018;43(5):521-546: contraindications "
    "and precautions. ketaclinic policy: the newest signed decision, from an exam at most 12 "
    "months old, is the one in force; 'review' needs a physician's override with a reason; "
    "'ineligible' cannot be overridden."
)

Outcome = Literal["eligible", "review", "ineligible"]
_OUTCOMES: Final = ("eligible", "review", "ineligible")

State = Literal[
    "eligible", "review_overridden", "review", "ineligible", "expired", "unsigned", "none"
]


@dataclass(frozen=True)
class DecisionOnRecord:
    """One eligibility decision as the record holds it.

    ``engine_outcome`` is what ``clinical.eligibility.evaluate`` returned; ``final_outcome`` is
    what the physician signed ("" while unsigned); ``overridden`` is true when the physician
    signed another outcome than the engine's, with ``override_reason``.
    """

    decision_id: str
    exam_date: dt.date
    engine_outcome: Outcome
    final_outcome: Outcome | Literal[""]
    overridden: bool = False
    override_reason: str = ""
    signed_at: dt.datetime | None = None
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.engine_outcome not in _OUTCOMES:
            raise ValueError(f"engine_outcome: unknown outcome {self.engine_outcome!r}")
        if self.final_outcome not in (*_OUTCOMES, ""):
            raise ValueError(f"final_outcome: unknown outcome {self.final_outcome!r}")
        if self.final_outcome and self.signed_at is None:
            raise ValueError("signed_at: a signed decision needs the time it was signed")
        if self.overridden and not self.final_outcome:
            raise ValueError("overridden: an unsigned decision cannot be overridden")
        if self.overridden and not self.override_reason.strip():
            raise ValueError("override_reason: an override needs a written reason")

    @property
    def signed(self) -> bool:
        return bool(self.final_outcome)


@dataclass(frozen=True)
class InForce:
    """Whether the patient may be planned, booked and infused today, and why (not)."""

    allowed: bool
    state: State
    decision: DecisionOnRecord | None
    valid_until: dt.date | None
    message: str
    source: str = ELIGIBILITY_GATE_SOURCE

    @property
    def verdict(self) -> str:
        """The message without the clinical reasons, for staff who book but do not treat."""
        return _VERDICTS[self.state]


_VERDICTS: Final[dict[str, str]] = {
    "eligible": "Eligible for ketamine.",
    "review_overridden": "Eligible for ketamine after a physician's review.",
    "review": "A physician must review the eligibility decision before any ketamine.",
    "ineligible": "Not eligible for ketamine: a new consultation and exam re-evaluate it.",
    "expired": "The eligibility exam is too old: a new consultation and exam are needed.",
    "unsigned": "The eligibility decision is not signed yet.",
    "none": "No eligibility decision yet: a physician must examine the patient first.",
}


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def can_override(engine_outcome: str) -> bool:
    """A physician may override "eligible" or "review" with a reason; never "ineligible"."""
    if engine_outcome not in _OUTCOMES:
        raise ValueError(f"engine_outcome: unknown outcome {engine_outcome!r}")
    return engine_outcome != "ineligible"


def _newest(decisions: Iterable[DecisionOnRecord]) -> DecisionOnRecord | None:
    # A newer signed exam replaces every older decision; on one exam day the later signature wins.
    return max(
        decisions,
        key=lambda d: (d.exam_date, d.signed_at or dt.datetime.min.replace(tzinfo=dt.UTC)),
        default=None,
    )


def eligibility_in_force(
    decisions: Sequence[DecisionOnRecord],
    *,
    today: dt.date,
    valid_months: int = ELIGIBILITY_VALID_MONTHS,
) -> InForce:
    """The decision in force today and whether it allows ketamine (gate 1)."""
    low, high = ELIGIBILITY_VALID_MONTHS_RANGE
    if isinstance(valid_months, bool) or not isinstance(valid_months, int):
        raise ValueError(f"valid_months: expected an integer, got {valid_months!r}")
    if not low <= valid_months <= high:
        raise ValueError(f"valid_months: must be between {low} and {high}, got {valid_months}")
    future = [d.exam_date for d in decisions if d.exam_date > today]
    if future:
        raise ValueError(f"exam_date: {future[0].isoformat()} is after today ({today.isoformat()})")

    newest = _newest(d for d in decisions if d.signed)
    if newest is None:
        draft = _newest(decisions)
        if draft is None:
            return InForce(
                False,
                "none",
                None,
                None,
                "No eligibility decision: a physician must examine "
                "the patient and sign a decision first.",
            )
        return InForce(
            False,
            "unsigned",
            draft,
            None,
            f"The eligibility decision of the exam on {draft.exam_date.isoformat()} is not "
            "signed yet: a physician must sign it first.",
        )

    valid_until = months_after(newest.exam_date, valid_months)
    exam = newest.exam_date.isoformat()
    if today > valid_until:
        return InForce(
            False,
            "expired",
            newest,
            valid_until,
            f"The eligibility exam of {exam} is more than {valid_months} months old (it was "
            f"valid until {valid_until.isoformat()}): a new consultation and exam are needed.",
        )
    if newest.engine_outcome == "ineligible" or newest.final_outcome == "ineligible":
        because = "; ".join(newest.reasons)
        return InForce(
            False,
            "ineligible",
            newest,
            valid_until,
            f"Ineligible for ketamine (exam of {exam})"
            + (f": {because}" if because else "")
            + ". This cannot be overridden: a new consultation and exam re-evaluate it.",
        )
    if newest.final_outcome == "review":
        because = "; ".join(newest.reasons)
        return InForce(
            False,
            "review",
            newest,
            valid_until,
            f"The eligibility decision of {exam} needs review"
            + (f" ({because})" if because else "")
            + ": ketamine is allowed only after a physician overrides it with a written reason.",
        )
    if newest.engine_outcome == "review":
        return InForce(
            True,
            "review_overridden",
            newest,
            valid_until,
            f"Review overridden by a physician (exam of {exam}): {newest.override_reason.strip()}",
        )
    return InForce(True, "eligible", newest, valid_until, f"Eligible (exam of {exam}).")


def day_cap_conflicts(
    booked: Iterable[dt.date],
    proposed: Iterable[dt.date],
    *,
    per_day: int = SESSIONS_PER_DAY,
) -> tuple[dt.date, ...]:
    """The days on which ``proposed`` sessions would pass ``per_day`` with those ``booked``.

    Both are calendar days in the location's time zone; the result is sorted and each day is
    listed once. Proposed days that repeat among themselves count too.
    """
    if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day < 1:
        raise ValueError(f"per_day: expected a positive integer, got {per_day!r}")
    counts = Counter(booked)
    proposed_days = list(proposed)
    counts.update(proposed_days)
    return tuple(sorted({day for day in proposed_days if counts[day] > per_day}))
