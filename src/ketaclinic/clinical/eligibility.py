"""Eligibility for ketamine infusion: eligible, review or ineligible, with every reason.

``evaluate(facts, policy)`` applies the rules of the clinical contract
(docs/design.md "Clinical core contract") with the clinic's thresholds (``EligibilityPolicy``,
defaults from docs/clinical-policy.md "Eligibility for ketamine infusion [1.2, 1.5, 2.2]").
The result lists every rule that fired, each with a plain message naming the threshold used and its
source, and the ``ruleset_version`` the decision was made under. This is decision support: a
physician signs the decision or overrides it with a written reason.

Evidence (docs/clinical-sources.md §1.2, §1.5, §2.2, §4.2, §5.1): contraindications follow the
ASRA/AAPM/ASA consensus guideline (Cohen 2018); the blood-pressure, heart-rate and SpO2 numbers are
institutional protocol values stored as clinic-editable data, not guideline evidence; chronic pain
means longer than 3 months (IASP/ICD-11); first-line drug classes follow NeuPSIG (Finnerup 2015,
Soliman 2025), and ASA 2023 places ketamine after more conservative options have failed.

``RULESET_VERSION`` (also ``ruleset_version``) is a readable prefix plus a hash of
``ruleset_description()``: every condition with the outcome it triggers, every therapy with its
first-line class, the counted therapy outcomes, each rule's firing condition, the default policy and
the plausibility limits. Changing any of those changes the version, so stored decisions cannot
silently claim a ruleset they were not made under. Labels, messages and citations are left out:
rewording them does not change a decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from ketaclinic.clinical._validate import require_int, require_number, type_name

__all__ = [
    "CONDITIONS",
    "COUNTED_THERAPY_OUTCOMES",
    "DEFAULT_POLICY",
    "FIRST_LINE_CLASSES",
    "PLAUSIBLE_RANGES",
    "RULES",
    "RULESET_VERSION",
    "THERAPIES",
    "THERAPY_OUTCOMES",
    "Condition",
    "Decision",
    "EligibilityPolicy",
    "PatientFacts",
    "Reason",
    "Rule",
    "Therapy",
    "evaluate",
    "ruleset_description",
    "ruleset_version",
]

Outcome = Literal["eligible", "review", "ineligible"]
ReasonOutcome = Literal["review", "ineligible"]

# Severity order used to pick the decision's outcome: the worst reason wins.
_SEVERITY: Final[Mapping[Outcome, int]] = MappingProxyType(
    {"eligible": 0, "review": 1, "ineligible": 2}
)


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


# --- plausibility ----------------------------------------------------------------------------

PLAUSIBLE_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "age_years": (0, 130),
        "pain_duration_months": (0, 1560),
        "systolic_bp": (40, 300),
        "diastolic_bp": (20, 200),
        "heart_rate": (20, 300),
        "spo2": (50, 100),
        "weight_kg": (0, 700),
    }
)
"""Inclusive limits outside which a recorded value is refused as an entry error.

Deliberately loose: they catch impossible values (SpO2 over 100%, a negative age, a weight of 0)
and gross unit slips, and sit far from every threshold a rule uses, so no real measurement that a
rule should judge is refused. Weight must also be above 0. Systolic below diastolic is not refused:
the rules stay correct on either number, and the exam form is the place to question it.
"""


# --- policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityPolicy:
    """The clinic's thresholds; defaults from docs/clinical-policy.md (see the module docstring)."""

    min_age_years: int = 18
    crisis_systolic_bp: int = 180
    crisis_diastolic_bp: int = 110
    elevated_systolic_bp: int = 160
    elevated_diastolic_bp: int = 100
    max_heart_rate: int = 110
    min_spo2: int = 94
    chronic_pain_months: float = 3.0
    first_line_classes_required: int = 2

    def __post_init__(self) -> None:
        lo, hi = PLAUSIBLE_RANGES["age_years"]
        require_int(self.min_age_years, "min_age_years", minimum=int(lo), maximum=int(hi))
        for name, limits in (
            ("crisis_systolic_bp", "systolic_bp"),
            ("elevated_systolic_bp", "systolic_bp"),
            ("crisis_diastolic_bp", "diastolic_bp"),
            ("elevated_diastolic_bp", "diastolic_bp"),
            ("max_heart_rate", "heart_rate"),
            ("min_spo2", "spo2"),
        ):
            lo, hi = PLAUSIBLE_RANGES[limits]
            require_int(getattr(self, name), name, minimum=int(lo), maximum=int(hi))
        lo, hi = PLAUSIBLE_RANGES["pain_duration_months"]
        require_number(self.chronic_pain_months, "chronic_pain_months", minimum=lo, maximum=hi)
        require_int(
            self.first_line_classes_required,
            "first_line_classes_required",
            minimum=0,
            maximum=len(FIRST_LINE_CLASSES),
        )
        # An elevated threshold above the crisis one would make "review" unreachable for that
        # number while looking configured; refuse it rather than guess which one was meant.
        if self.elevated_systolic_bp > self.crisis_systolic_bp:
            raise ValueError(
                f"elevated_systolic_bp ({self.elevated_systolic_bp}) must not exceed "
                f"crisis_systolic_bp ({self.crisis_systolic_bp})"
            )
        if self.elevated_diastolic_bp > self.crisis_diastolic_bp:
            raise ValueError(
                f"elevated_diastolic_bp ({self.elevated_diastolic_bp}) must not exceed "
                f"crisis_diastolic_bp ({self.crisis_diastolic_bp})"
            )

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


DEFAULT_POLICY: Final = EligibilityPolicy()


# --- facts -----------------------------------------------------------------------------------


def _check_conditions(value: object) -> frozenset[str]:
    # A plain str is iterable too; refusing it stops "pregnancy" becoming nine unknown letters.
    if isinstance(value, str | bytes) or not isinstance(value, frozenset | set | list | tuple):
        raise ValueError(
            f"conditions must be a set of condition codes, not {type_name(value)} {value!r}"
        )
    for code in value:
        if not isinstance(code, str) or code not in CONDITIONS:
            raise ValueError(
                f"conditions: unknown condition code {code!r}; known codes: {', '.join(CONDITIONS)}"
            )
    return frozenset(value)


def _check_therapies(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(
            "prior_therapies must be a mapping of therapy code to outcome, "
            f"not {type_name(value)} {value!r}"
        )
    for code, outcome in value.items():
        if not isinstance(code, str) or code not in THERAPIES:
            raise ValueError(
                f"prior_therapies: unknown therapy code {code!r}; known codes: "
                f"{', '.join(THERAPIES)}"
            )
        if not isinstance(outcome, str) or outcome not in THERAPY_OUTCOMES:
            raise ValueError(
                f"prior_therapies[{code!r}]: unknown outcome {outcome!r}; expected one of "
                f"{', '.join(THERAPY_OUTCOMES)}"
            )
    # Copied into a read-only view so the frozen facts cannot change after validation.
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class PatientFacts:
    """What the exam and history record, validated on construction.

    Integers are required where the contract says ``int`` (a ``bool`` or a ``float`` is refused),
    numbers must be finite and within ``PLAUSIBLE_RANGES``, conditions must be ``CONDITIONS`` codes
    and prior therapies ``THERAPIES`` codes mapped to one of ``THERAPY_OUTCOMES``; anything else is
    a ``ValueError`` naming the field. ``conditions`` may be given as any set, list or tuple and is
    stored as a ``frozenset``; ``prior_therapies`` is stored as a read-only copy.
    """

    age_years: int
    pain_duration_months: float
    systolic_bp: int
    diastolic_bp: int
    heart_rate: int
    spo2: int
    weight_kg: float
    conditions: frozenset[str] = frozenset()
    prior_therapies: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("age_years", "systolic_bp", "diastolic_bp", "heart_rate", "spo2"):
            lo, hi = PLAUSIBLE_RANGES[name]
            require_int(getattr(self, name), name, minimum=int(lo), maximum=int(hi))
        lo, hi = PLAUSIBLE_RANGES["pain_duration_months"]
        require_number(self.pain_duration_months, "pain_duration_months", minimum=lo, maximum=hi)
        lo, hi = PLAUSIBLE_RANGES["weight_kg"]
        require_number(self.weight_kg, "weight_kg", minimum=lo, maximum=hi, min_exclusive=True)
        # Normalised copies are written with object.__setattr__, the documented way to set a
        # field of a frozen dataclass during initialisation.
        object.__setattr__(self, "conditions", _check_conditions(self.conditions))
        object.__setattr__(self, "prior_therapies", _check_therapies(self.prior_therapies))


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


def ruleset_description() -> dict[str, object]:
    """A canonical, JSON-serialisable description of everything that decides an outcome."""
    return {
        "conditions": {code: c.outcome for code, c in sorted(CONDITIONS.items())},
        "therapies": {code: t.first_line_class for code, t in sorted(THERAPIES.items())},
        "first_line_classes": sorted(FIRST_LINE_CLASSES),
        "therapy_outcomes": list(THERAPY_OUTCOMES),
        "counted_therapy_outcomes": sorted(COUNTED_THERAPY_OUTCOMES),
        "rules": {code: [r.outcome, r.fires_when] for code, r in RULES.items()},
        "outcome_order": ["eligible", "review", "ineligible"],
        "default_policy": DEFAULT_POLICY.as_dict(),
        "plausible_ranges": {name: list(limits) for name, limits in PLAUSIBLE_RANGES.items()},
    }


def _version_of(description: Mapping[str, object]) -> str:
    canonical = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return "eligibility-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


RULESET_VERSION: Final[str] = _version_of(ruleset_description())
"""Version of the rules and defaults above; stored with every decision."""

ruleset_version: Final[str] = RULESET_VERSION
"""Lower-case alias of ``RULESET_VERSION``."""


# --- decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One rule that fired: its code, the outcome it triggers, a message and the source."""

    code: str
    outcome: ReasonOutcome
    message: str
    source: str


@dataclass(frozen=True)
class Decision:
    """The outcome (the worst reason; eligible with none), every reason, and what produced it.

    ``policy`` records the threshold values used (a plain dict, ready for a JSON column), so a
    decision made under a clinic's own thresholds can be read back without the clinic's settings
    of that day.
    """

    outcome: Outcome
    reasons: tuple[Reason, ...]
    ruleset_version: str
    policy: dict[str, int | float] = field(default_factory=dict)


def _num(value: float) -> str:
    """A number as a clinician reads it: 3.0 -> "3", 3.01 -> "3.01", with no digits lost.

    (``:g`` would round 3.0000001 to "3" and print a duration that looks equal to the threshold.)
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _reason(code: str, message: str) -> Reason:
    rule = RULES[code]
    return Reason(code=code, outcome=rule.outcome, message=message, source=rule.source)


def _condition_reasons(facts: PatientFacts) -> list[Reason]:
    reasons = []
    # CONDITIONS order, not set order, so the same facts always list reasons the same way.
    for code, condition in CONDITIONS.items():
        if code in facts.conditions:
            consequence = (
                "ketamine infusion is contraindicated"
                if condition.outcome == "ineligible"
                else "a physician must review before ketamine infusion"
            )
            reasons.append(
                Reason(
                    code=code,
                    outcome=condition.outcome,
                    message=f"{condition.label} is recorded; {consequence}.",
                    source=condition.source,
                )
            )
    return reasons


def _blood_pressure_reasons(facts: PatientFacts, policy: EligibilityPolicy) -> list[Reason]:
    def over(kind: str, value: int, threshold: int, level: str) -> str | None:
        if value >= threshold:
            return f"{kind} {value} mmHg is at or above the {level} threshold of {threshold} mmHg"
        return None

    for level, code, systolic_limit, diastolic_limit in (
        ("crisis", "blood_pressure_crisis", policy.crisis_systolic_bp, policy.crisis_diastolic_bp),
        (
            "elevated",
            "blood_pressure_elevated",
            policy.elevated_systolic_bp,
            policy.elevated_diastolic_bp,
        ),
    ):
        parts = [
            part
            for part in (
                over("systolic", facts.systolic_bp, systolic_limit, level),
                over("diastolic", facts.diastolic_bp, diastolic_limit, level),
            )
            if part is not None
        ]
        if parts:
            # Only the more serious level is reported: an elevated reading that is also a crisis
            # is one finding, and the contract fires "elevated" only when it is not a crisis.
            message = "; ".join(parts)
            return [_reason(code, message[0].upper() + message[1:] + ".")]
    return []


def _first_line_reason(facts: PatientFacts, policy: EligibilityPolicy) -> list[Reason]:
    tried = [
        cls
        for cls in FIRST_LINE_CLASSES
        if any(
            THERAPIES[code].first_line_class == cls and outcome in COUNTED_THERAPY_OUTCOMES
            for code, outcome in facts.prior_therapies.items()
        )
    ]
    if len(tried) >= policy.first_line_classes_required:
        return []
    names = ", ".join(FIRST_LINE_CLASSES[cls] for cls in tried) or "none"
    all_names = ", ".join(FIRST_LINE_CLASSES.values())
    return [
        _reason(
            "first_line_not_exhausted",
            f"{len(tried)} of {len(FIRST_LINE_CLASSES)} first-line drug classes ({all_names}) "
            f"failed or were not tolerated (counted: {names}); at least "
            f"{policy.first_line_classes_required} are required before ketamine.",
        )
    ]


def evaluate(facts: PatientFacts, policy: EligibilityPolicy = DEFAULT_POLICY) -> Decision:
    """Apply every rule to ``facts`` under ``policy`` and return the decision with all reasons.

    Reasons are listed in a fixed order: conditions (in ``CONDITIONS`` order), then ``minor``,
    blood pressure, ``tachycardia``, ``low_oxygen_saturation``, ``not_chronic`` and
    ``first_line_not_exhausted``.
    """
    if not isinstance(facts, PatientFacts):
        raise ValueError(f"facts must be a PatientFacts, not {type_name(facts)}")
    if not isinstance(policy, EligibilityPolicy):
        raise ValueError(f"policy must be an EligibilityPolicy, not {type_name(policy)}")

    reasons = _condition_reasons(facts)
    if facts.age_years < policy.min_age_years:
        reasons.append(
            _reason(
                "minor",
                f"Age {facts.age_years} years is under the minimum age of "
                f"{policy.min_age_years} years.",
            )
        )
    reasons += _blood_pressure_reasons(facts, policy)
    if facts.heart_rate > policy.max_heart_rate:
        reasons.append(
            _reason(
                "tachycardia",
                f"Heart rate {facts.heart_rate}/min is above the maximum of "
                f"{policy.max_heart_rate}/min.",
            )
        )
    if facts.spo2 < policy.min_spo2:
        reasons.append(
            _reason(
                "low_oxygen_saturation",
                f"SpO2 {facts.spo2}% is below the minimum of {policy.min_spo2}%.",
            )
        )
    if facts.pain_duration_months <= policy.chronic_pain_months:
        reasons.append(
            _reason(
                "not_chronic",
                f"Pain duration {_num(facts.pain_duration_months)} months is not longer than "
                f"{_num(policy.chronic_pain_months)} months, so the pain is not yet chronic.",
            )
        )
    reasons += _first_line_reason(facts, policy)

    outcome: Outcome = max(
        (reason.outcome for reason in reasons), key=_SEVERITY.__getitem__, default="eligible"
    )
    return Decision(
        outcome=outcome,
        reasons=tuple(reasons),
        ruleset_version=RULESET_VERSION,
        policy=policy.as_dict(),
    )
