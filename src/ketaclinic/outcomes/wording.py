"""What the diary page says to a patient about their response, in plain words.

docs/clinical-policy.md "What patients are told (education pages, in the project's own words)":
results must not promise relief, and every patient-facing result says it is not a diagnosis. The
numbers and classes come from ``clinical.outcomes`` (IMMPACT thresholds); this module only puts
them into sentences. Nothing here suggests a treatment or a booster: that is the clinician's
conversation with the patient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.outcomes.selectors import DiaryView, SeriesOutcome

HONESTY = (
    "These numbers come from what you recorded. They describe how your pain has changed; they "
    "are not a diagnosis, they cannot show whether the infusions caused the change, and they "
    "cannot tell how long any relief will last. Pain goes up and down for many reasons. Talk "
    "with your care team about what this means for your treatment."
)

# IMMPACT classes in words a patient can use (Dworkin 2008; docs/clinical-sources.md §6.1).
CLASS_WORDS = {
    "substantial": "In pain research a drop of half or more is called a substantial change.",
    "moderate": "In pain research a drop of 30% or more is counted as a meaningful change.",
    "minimal": "That is a small change, less than the 30% pain research counts as meaningful.",
    "none": "That is about the same as before.",
    "worse": "Your pain was higher than before.",
}

CLINICIAN_CLASS = {
    "substantial": "Substantial (≥ 50% reduction)",
    "moderate": "Moderate (30-49% reduction)",
    "minimal": "Minimal (10-29% reduction)",
    "none": "No change (< 10% reduction)",
    "worse": "Worse (pain increased)",
}


@dataclass(frozen=True)
class Summary:
    headline: str
    paragraphs: tuple[str, ...]


def _day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _baseline_sentence(view: DiaryView) -> str:
    assert view.baseline is not None
    if view.baseline_source == "diary":
        where = "in the week before your first infusion, from your diary"
    else:
        where = "at your consultation, before your first infusion"
    return f"Your pain was {view.baseline:.1f} out of 10 {where}."


def _series_paragraph(view: DiaryView, outcome: SeriesOutcome) -> list[str]:
    assert view.baseline is not None
    span = outcome.span
    ordinal = "your infusions" if len(view.series) == 1 else f"infusion series {outcome.number}"
    if outcome.followup is None or outcome.response is None:
        return [
            f"{ordinal.capitalize()} ended on {_day(span.end)}. There are not yet enough diary "
            "days in the week after it (4 of 7 are needed) to compare with before."
        ]
    change = (view.baseline - outcome.followup) / view.baseline * 100
    amount = (
        f"lower by about {round(change)}%"
        if change > 0
        else ("the same" if change == 0 else f"higher by about {round(-change)}%")
    )
    parts = [
        f"In the week after {ordinal} ended on {_day(span.end)}, your pain averaged "
        f"{outcome.followup:.1f} out of 10: {amount}. {CLASS_WORDS[outcome.response]}"
    ]
    lasting = outcome.durability
    if lasting is not None and lasting.responded:
        if lasting.relapse_date is not None:
            parts.append(
                f"Since {_day(lasting.relapse_date)} your pain has been back near its earlier "
                "level for several days in a row. Your care team sees the same chart. If your "
                "pain is troubling you, contact the clinic."
            )
        else:
            last = span.end + dt.timedelta(days=lasting.days_of_relief or 0)
            parts.append(
                f"So far your pain has stayed lower than before (your entries up to {_day(last)})."
            )
    return parts


def patient_summary(view: DiaryView) -> Summary:
    if not view.series:
        return Summary(
            headline="Your diary so far",
            paragraphs=(
                "Once your infusions start, this page compares your pain with how it was "
                "before. Recording your pain every day, including the week before the first "
                "infusion, makes that comparison clearer.",
                HONESTY,
            ),
        )
    if view.baseline is None or view.baseline <= 0:
        return Summary(
            headline="Your pain over time",
            paragraphs=(
                "We have no pain score from before your first infusion, so this page cannot "
                "compare before and after. Your care team can still see how your pain has "
                "changed on the chart.",
                HONESTY,
            ),
        )
    judged = [o for o in view.outcomes if not o.span.ongoing]
    paragraphs = [_baseline_sentence(view)]
    if not judged:
        paragraphs.append(
            "Your infusion series is still going on. The comparison appears here in the week "
            "after its last session."
        )
    else:
        paragraphs.extend(_series_paragraph(view, judged[-1]))
    paragraphs.append(HONESTY)
    return Summary(headline="How your pain has changed", paragraphs=tuple(paragraphs))
