"""The tables eligibility is decided on: conditions, therapies and rules, each with its source.

Data: every condition a history records with the outcome it triggers (``CONDITIONS``), every prior
therapy with its NeuPSIG first-line class (``THERAPIES``), and the non-condition rules with when
they fire (``RULES``); the sources are docs/clinical-sources.md §1.2, §1.5, §2.2, §4.2, §5.1, §5.2,
§7.1, §7.2 and docs/clinical-policy.md "Eligibility for ketamine infusion [1.2, 1.5, 2.2]", cited
beside each table. Kept apart from ``clinical.eligibility``, which applies them and versions them
(``RULESET_VERSION``); callers import every name from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "CONDITIONS",
    "COUNTED_THERAPY_OUTCOMES",
    "FIRST_LINE_CLASSES",
    "RULES",
    "THERAPIES",
    "THERAPY_OUTCOMES",
    "Condition",
    "Outcome",
    "ReasonOutcome",
    "Rule",
    "Therapy",
]

Outcome = Literal["eligible", "review", "ineligible"]
ReasonOutcome = Literal["review", "ineligible"]


# --- sources ---------------------------------------------------------------------------------

_COHEN_2018 = (
    "Cohen SP et al. Consensus Guidelines on the Use of Intravenous Ketamine Infusions for "
    "Chronic Pain (ASRA/AAPM/ASA). Reg Anesth Pain Med 2018;43(5):521-546"
)
_LABEL = "ketamine labelling (pharmamedix monograph; Miller's Anesthesia, 6th ed.)"
# docs/clinical-policy.md "Eligibility for ketamine infusion [1.2, 1.5, 2.2]";
# docs/clinical-sources.md §2.2: no guideline-level numeric thresholds exist.
_VITALS_POLICY = (
    "ketaclinic clinic policy default: values common in institutional infusion protocols, not "
    "guideline evidence; no guideline sets numeric vital-sign limits for ketamine infusions in "
    "chronic pain (not confirmed in a primary source; low confidence)"
)


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A condition the history records, and the outcome it triggers when present."""

    code: str
    label: str
    outcome: ReasonOutcome
    source: str


def _condition(code: str, label: str, outcome: ReasonOutcome, source: str) -> Condition:
    return Condition(code=code, label=label, outcome=outcome, source=source)


# Sources: docs/clinical-sources.md §1.2, §1.5 (contraindications and precautions, with the
# suggested rule mapping; baseline liver tests). Hard stops and review conditions:
# docs/clinical-policy.md "Eligibility for ketamine infusion [1.2, 1.5, 2.2]".
CONDITIONS: Mapping[str, Condition] = MappingProxyType(
    {
        c.code: c
        for c in (
            _condition(
                "pregnancy",
                "Pregnancy",
                "ineligible",
                "Schwenk ES et al. Reg Anesth Pain Med 2018;43(5):456-466 (relative "
                f"contraindication, acute-pain companion guideline); {_LABEL}. Not confirmed in "
                "the chronic-pain guideline (medium confidence); a hard stop in ketaclinic's "
                "clinic policy.",
            ),
            _condition(
                "uncontrolled_hypertension",
                "Uncontrolled hypertension",
                "ineligible",
                f"{_COHEN_2018}: do not use in poorly controlled cardiovascular disease; {_LABEL}.",
            ),
            _condition(
                "uncontrolled_cardiovascular_disease",
                "Uncontrolled cardiovascular disease",
                "ineligible",
                f"{_COHEN_2018}: do not use in poorly controlled cardiovascular disease.",
            ),
            _condition(
                "active_psychosis",
                "Active psychosis",
                "ineligible",
                f"{_COHEN_2018}: avoid in poorly controlled psychosis.",
            ),
            _condition(
                "severe_hepatic_disease",
                "Severe hepatic disease",
                "ineligible",
                f"{_COHEN_2018}: avoid in severe hepatic impairment.",
            ),
            _condition(
                "raised_intracranial_pressure",
                "Raised intracranial pressure",
                "ineligible",
                f"{_COHEN_2018}: Grade C evidence against use with elevated intracranial pressure.",
            ),
            _condition(
                "raised_intraocular_pressure",
                "Raised intraocular pressure",
                "ineligible",
                f"{_COHEN_2018}: Grade C evidence against use with elevated intraocular pressure.",
            ),
            _condition(
                "active_substance_use_disorder",
                "Active substance use disorder",
                "ineligible",
                f"{_COHEN_2018}: serial infusions should not be undertaken with an active "
                "substance-abuse problem.",
            ),
            _condition(
                "ketamine_hypersensitivity",
                "Known hypersensitivity to ketamine",
                "ineligible",
                f"{_LABEL}: hypersensitivity is a contraindication.",
            ),
            _condition(
                "psychosis_history",
                "History of psychosis",
                "review",
                f"{_COHEN_2018}: avoid in poorly controlled psychosis; ketaclinic's clinic "
                "policy treats a history of psychosis as a relative contraindication.",
            ),
            _condition(
                "moderate_hepatic_disease",
                "Moderate hepatic disease",
                "review",
                f"{_COHEN_2018}: may be given judiciously with monitoring in moderate hepatic "
                "disease; baseline liver tests suggested.",
            ),
            _condition(
                "substance_use_history",
                "History of substance use disorder",
                "review",
                f"{_COHEN_2018}: universal precautions to monitor for abuse.",
            ),
        )
    }
)
"""Condition code -> label, the outcome it triggers, and its source."""


# --- therapies -------------------------------------------------------------------------------

FIRST_LINE_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        "gabapentinoid": "gabapentinoid",
        "snri": "SNRI",
        "tca": "TCA",
    }
)
"""NeuPSIG first-line drug classes (code -> display name)."""

THERAPY_OUTCOMES: Final[tuple[str, ...]] = ("failed", "intolerant", "partial", "helped")
"""How a prior therapy went, as the history records it."""

COUNTED_THERAPY_OUTCOMES: Final[frozenset[str]] = frozenset({"failed", "intolerant"})
"""Outcomes that count a first-line class as tried without success."""


@dataclass(frozen=True)
class Therapy:
    """A treatment a history may record; ``first_line_class`` is None unless NeuPSIG first line."""

    code: str
    label: str
    first_line_class: str | None
    kind: Literal["medication", "non-drug"]


def _drug(code: str, label: str, first_line_class: str | None = None) -> Therapy:
    return Therapy(code=code, label=label, first_line_class=first_line_class, kind="medication")


def _non_drug(code: str, label: str) -> Therapy:
    return Therapy(code=code, label=label, first_line_class=None, kind="non-drug")


THERAPIES: Mapping[str, Therapy] = MappingProxyType(
    {
        t.code: t
        for t in (
            _drug("gabapentin", "Gabapentin", "gabapentinoid"),
            _drug("pregabalin", "Pregabalin", "gabapentinoid"),
            _drug("duloxetine", "Duloxetine", "snri"),
            _drug("venlafaxine", "Venlafaxine", "snri"),
            _drug("amitriptyline", "Amitriptyline", "tca"),
            _drug("nortriptyline", "Nortriptyline", "tca"),
            _drug("otc_analgesics", "Over-the-counter analgesics (paracetamol, NSAIDs)"),
            _drug("tramadol", "Tramadol"),
            _drug("opioids", "Strong opioids"),
            _drug("lidocaine_patch", "Lidocaine 5% plaster"),
            _drug("capsaicin_patch", "Capsaicin 8% patch"),
            _drug("botulinum_toxin", "Botulinum toxin A"),
            # First choice in trigeminal neuralgia (docs/clinical-sources.md §5.1), but not one of
            # the three NeuPSIG first-line classes the rule counts.
            _drug("carbamazepine", "Carbamazepine"),
            _drug("oxcarbazepine", "Oxcarbazepine"),
            _non_drug("physical_therapy", "Physical therapy"),
            _non_drug("massage", "Massage"),
            _non_drug("acupuncture", "Acupuncture"),
            _non_drug("cbt", "Cognitive behavioural therapy"),
            _non_drug("mindfulness", "Mindfulness"),
            _non_drug("exercise", "Exercise"),
            _non_drug("tens", "Transcutaneous electrical nerve stimulation (TENS)"),
        )
    }
)
"""Therapy code -> label, first-line class (or None) and kind."""


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A non-condition rule: its code, outcome, when it fires (policy field names) and source."""

    code: str
    outcome: ReasonOutcome
    fires_when: str
    source: str


# Sources, docs/clinical-sources.md §7.1, §2.2, §1.2, §7.2, §4.2, §5.1, §5.2, §1 in rule order:
# minor (paediatric models, 7.1); vital-sign rules (2.2, 1.2, 7.2); not_chronic (4.2);
# first_line_not_exhausted (5.1, 5.2, and the ASA 2023 statement in 1).
RULES: Mapping[str, Rule] = MappingProxyType(
    {
        r.code: r
        for r in (
            Rule(
                "minor",
                "ineligible",
                "age_years < min_age_years",
                "ketaclinic clinic policy: an adult service; paediatric ketamine "
                "pharmacokinetics differ (Herd DW et al. Paediatr Anaesth 2007; Hornik CP et al. "
                "J Clin Pharmacol 2018).",
            ),
            Rule(
                "blood_pressure_crisis",
                "ineligible",
                "systolic_bp >= crisis_systolic_bp or diastolic_bp >= crisis_diastolic_bp",
                f"{_VITALS_POLICY}; {_COHEN_2018}: do not use in poorly controlled cardiovascular "
                "disease.",
            ),
            Rule(
                "blood_pressure_elevated",
                "review",
                "not blood_pressure_crisis and (systolic_bp >= elevated_systolic_bp or "
                "diastolic_bp >= elevated_diastolic_bp)",
                f"{_VITALS_POLICY}; pre-infusion deferral at 160/100 is common protocol practice. "
                "Ketamine may raise blood pressure by 20-25% (ketamine labelling, pharmamedix "
                "monograph); mean peak rise +16/+11 mmHg at 40 min in 2342 infusions (Yale "
                "cohort, Gen Hosp Psychiatry 2024).",
            ),
            Rule(
                "tachycardia",
                "review",
                "heart_rate > max_heart_rate",
                f"{_VITALS_POLICY}. Ketamine raises heart rate (up to 43.5% in Langsjo JW et al. "
                "Anesthesiology 2005;103:258).",
            ),
            Rule(
                "low_oxygen_saturation",
                "review",
                "spo2 < min_spo2",
                f"{_VITALS_POLICY}. Rapid IV ketamine may cause respiratory depression or apnoea "
                "(ketamine product labelling).",
            ),
            Rule(
                "not_chronic",
                "review",
                "pain_duration_months <= chronic_pain_months",
                "Chronic pain persists or recurs for longer than 3 months (IASP; Treede RD et al. "
                "Pain 2019; ICD-11 MG30).",
            ),
            Rule(
                "first_line_not_exhausted",
                "review",
                "count of FIRST_LINE_CLASSES with a therapy whose outcome is in "
                "COUNTED_THERAPY_OUTCOMES < first_line_classes_required",
                "Finnerup NB et al. Lancet Neurol 2015;14(2):162-173 and Soliman N et al. Lancet "
                "Neurol 2025;24(5):413-428 (NeuPSIG first line: gabapentinoids, SNRIs, TCAs); ASA "
                "Statement on Ketamine for Chronic Pain 2023 (after more conservative options "
                "fail).",
            ),
        )
    }
)
"""The non-condition rules by code, in the order their reasons are listed."""
