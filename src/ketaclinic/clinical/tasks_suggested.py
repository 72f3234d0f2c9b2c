"""Suggested tasks on a plan: tests a physician may order before the ketamine series.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 11; evidence in
docs/clinical-sources.md §1.5. These are suggestions, not gates: nothing is refused when a task
is not done. The guideline found no evidence for routine testing in healthy people, so a task is
suggested only for the patients the guideline names:

- a baseline ECG with cardiovascular risk: a cardiovascular condition recorded in the history
  (``clinical.eligibility.CONDITIONS``) or a blood-pressure reason on the eligibility decision;
- baseline liver tests, including alkaline phosphatase and GGT, with liver disease, alcohol or
  substance misuse recorded, or before a second series within 12 months (recurrent dosing).

Pure functions over plain data: no Django, no clock (``today`` is an argument).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ketaclinic.clinical.eligibility import CONDITIONS
from ketaclinic.clinical.gates import months_after

__all__ = [
    "ECG_CONDITIONS",
    "ECG_REASONS",
    "LIVER_CONDITIONS",
    "REPEAT_SERIES_MONTHS",
    "SuggestedTask",
    "suggested_tasks",
]

#: History conditions that mean cardiovascular risk (codes of ``clinical.eligibility.CONDITIONS``).
ECG_CONDITIONS: Final = frozenset(
    {"uncontrolled_hypertension", "uncontrolled_cardiovascular_disease"}
)
#: Eligibility reasons about blood pressure (``clinical.eligibility.RULES`` codes), in words.
ECG_REASONS: Final = {
    "blood_pressure_crisis": "blood pressure at the exam at or above the crisis threshold",
    "blood_pressure_elevated": "raised blood pressure at the exam",
}
#: History conditions that mean liver disease or alcohol or substance misuse (the condition list
#: has no separate alcohol code: alcohol misuse is recorded as a substance use disorder).
LIVER_CONDITIONS: Final = frozenset(
    {
        "severe_hepatic_disease",
        "moderate_hepatic_disease",
        "active_substance_use_disorder",
        "substance_use_history",
    }
)
#: A series that ended this many months before today or later makes the next one recurrent.
REPEAT_SERIES_MONTHS: Final = 12

# docs/clinical-sources.md §1.5
_ECG_SOURCE: Final = (
    "Cohen SP et al. Consensus guidelines on IV ketamine for chronic pain (ASRA, AAPM, ASA). "
    "Reg Anesth Pain Med 2018;43(5):521-546: a baseline ECG in those with cardiovascular risk "
    "(as quoted in secondary summaries; wording not verified)."
)
# docs/clinical-sources.md §1.5
_LIVER_SOURCE: Final = (
    "Cohen SP et al. Reg Anesth Pain Med 2018;43(5):521-546: baseline liver tests with liver "
    "disease or alcohol misuse, or with frequent or high-dose infusions; ketamine labelling "
    "(FDA): hepatobiliary dysfunction with recurrent use, baseline liver tests including "
    "alkaline phosphatase and GGT, then periodic monitoring."
)


@dataclass(frozen=True)
class SuggestedTask:
    """One task: a stable code, what to do, why (naming what triggered it) and the source."""

    code: str
    label: str
    why: str
    source: str


def _codes(field: str, values: Iterable[str]) -> list[str]:
    codes = list(values)
    for value in codes:
        if not isinstance(value, str):
            raise ValueError(f"{field} must hold codes (strings), got {value!r}")
    return codes


def suggested_tasks(
    *,
    conditions: Iterable[str],
    reason_codes: Iterable[str],
    previous_series_ends: Iterable[dt.date],
    today: dt.date,
) -> tuple[SuggestedTask, ...]:
    """The tasks to suggest, ECG first, each saying what triggered it.

    ``conditions``: the exam's history condition codes; ``reason_codes``: the eligibility
    decision's reason codes; ``previous_series_ends``: the last session day of each earlier
    series. Unknown codes trigger nothing (they are the eligibility module's to check).
    """
    condition_codes = _codes("conditions", conditions)
    reasons = _codes("reason_codes", reason_codes)
    ends = list(previous_series_ends)
    for end in ends:
        if not isinstance(end, dt.date):
            raise ValueError(f"previous_series_ends must hold dates, got {end!r}")
    tasks = []
    ecg = [_word(c) for c in condition_codes if c in ECG_CONDITIONS] + [
        ECG_REASONS[r] for r in reasons if r in ECG_REASONS
    ]
    if ecg:
        tasks.append(
            SuggestedTask(
                code="baseline_ecg",
                label="Baseline ECG",
                why="Cardiovascular risk recorded: " + "; ".join(dict.fromkeys(ecg)) + ".",
                source=_ECG_SOURCE,
            )
        )
    liver = [_word(c) for c in condition_codes if c in LIVER_CONDITIONS]
    since = months_after(today, -REPEAT_SERIES_MONTHS)
    recent = [end for end in ends if since <= end <= today]
    if recent:
        liver.append(
            f"a series ended on {max(recent).isoformat()}, within {REPEAT_SERIES_MONTHS} months"
        )
    if liver:
        tasks.append(
            SuggestedTask(
                code="baseline_liver_tests",
                label="Baseline liver tests, including alkaline phosphatase and GGT",
                why="Recorded: " + "; ".join(dict.fromkeys(liver)) + ".",
                source=_LIVER_SOURCE,
            )
        )
    return tuple(tasks)


def _word(code: str) -> str:
    # Only codes found in CONDITIONS reach here (the trigger sets are subsets of it).
    return CONDITIONS[code].label.lower()
