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

The tables (conditions, therapies, rules and their sources) live in ``eligibility_tables``; this
module validates the facts, applies the tables under the clinic's policy and versions them. Every
name of the contract is imported from here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Final

from ketaclinic.clinical._validate import require_int, require_number, type_name
from ketaclinic.clinical.eligibility_tables import (
    CONDITIONS,
    COUNTED_THERAPY_OUTCOMES,
    FIRST_LINE_CLASSES,
    RULES,
    THERAPIES,
    THERAPY_OUTCOMES,
    Condition,
    Outcome,
    ReasonOutcome,
    Rule,
    Therapy,
)

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

# Severity order used to pick the decision's outcome: the worst reason wins.
_SEVERITY: Final[Mapping[Outcome, int]] = MappingProxyType(
    {"eligible": 0, "review": 1, "ineligible": 2}
)


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
