"""What each safety setting means: its group, label, unit and help text.

One table drives the settings page, the edit form and the service's checks, so a label or unit
is written once. Numbers are not repeated here: each setting's floor, ceiling and whether a
change waits for a second physician come from ``clinical.ceilings.SETTINGS``
(docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 9), and defaults are
the model fields', which come from the clinical dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from django.db import models

from ketaclinic.clinical import dosing, gates
from ketaclinic.clinical.ceilings import SETTINGS, SettingBounds
from ketaclinic.clinics.models import ClinicPolicy


@dataclass(frozen=True)
class PolicyField:
    name: str
    label: str
    unit: str
    help: str = ""

    @property
    def bounds(self) -> SettingBounds:
        return SETTINGS[self.name]

    @property
    def minimum(self) -> int | float:
        return self.bounds.floor

    @property
    def maximum(self) -> int | float:
        return self.bounds.ceiling

    @property
    def integer(self) -> bool:
        return self.bounds.integer

    @property
    def needs_approval(self) -> str:
        """What a change waits for, in words ("" when it takes effect at once)."""
        if self.bounds.approval == "raise":
            return "Raising it above the default takes effect when a second physician approves."
        if self.bounds.approval == "change":
            return "A change takes effect when a second physician approves it."
        return ""

    @property
    def default(self) -> int | float:
        field = ClinicPolicy._meta.get_field(self.name)
        assert isinstance(field, models.Field)
        value = field.get_default()
        assert isinstance(value, int | float)
        return value


@dataclass(frozen=True)
class PolicyGroup:
    key: str
    title: str
    intro: str
    fields: tuple[PolicyField, ...]


MMHG = "mmHg"
PER_MIN = "beats/min"

POLICY_GROUPS: Final[tuple[PolicyGroup, ...]] = (
    PolicyGroup(
        key="eligibility",
        title="Eligibility",
        intro=(
            "Thresholds the eligibility decision applies at the consultation. A crisis reading "
            "makes the patient ineligible; an elevated one asks for review."
        ),
        fields=(
            PolicyField(
                "min_age_years",
                "Minimum age",
                "years",
                help="Policy floor: an adult service; age under 18 is a hard stop.",
            ),
            PolicyField("crisis_systolic_bp", "Crisis systolic blood pressure", MMHG),
            PolicyField("crisis_diastolic_bp", "Crisis diastolic blood pressure", MMHG),
            PolicyField(
                "elevated_systolic_bp",
                "Elevated systolic blood pressure (review)",
                MMHG,
                help="Not above the crisis systolic pressure.",
            ),
            PolicyField(
                "elevated_diastolic_bp",
                "Elevated diastolic blood pressure (review)",
                MMHG,
                help="Not above the crisis diastolic pressure.",
            ),
            PolicyField("max_heart_rate", "Heart rate above which to review", PER_MIN),
            PolicyField("min_spo2", "SpO2 below which to review", "%"),
            PolicyField(
                "chronic_pain_months",
                "Pain counts as chronic after",
                "months",
                help="Chronic means longer than this (IASP / ICD-11: 3 months).",
            ),
            PolicyField(
                "first_line_classes_required",
                "First-line drug classes tried before ketamine",
                "classes (of 3)",
                help="Gabapentinoid, SNRI, TCA: failed or not tolerated.",
            ),
            PolicyField(
                "eligibility_valid_months",
                "A signed decision stays in force for",
                "months after its exam",
                help="Then a new consultation and exam are needed before more ketamine "
                "(at most 12 months).",
            ),
        ),
    ),
    PolicyGroup(
        key="dose",
        title="Dose limits",
        intro=(
            "Hard limits for one infusion session. No plan, template or rate change may go past "
            "them, and there is no override. Each has a ceiling no clinic can pass, which "
            "catches typing errors and outliers."
        ),
        fields=(
            *(
                PolicyField(name, label.capitalize(), unit)
                for name, (label, unit) in dosing.LIMIT_LABELS.items()
            ),
        ),
    ),
    PolicyGroup(
        key="precheck",
        title="Before the infusion",
        intro="The infusion is deferred when a reading before the start reaches these values.",
        fields=(
            PolicyField(
                "precheck_max_systolic_bp",
                "Defer at systolic blood pressure of",
                MMHG,
                help="Not above the alert systolic pressure.",
            ),
            PolicyField(
                "precheck_max_diastolic_bp",
                "Defer at diastolic blood pressure of",
                MMHG,
                help="Not above the alert diastolic pressure.",
            ),
            PolicyField(
                "precheck_max_heart_rate",
                "Defer at a resting heart rate above",
                PER_MIN,
                help="Not above the alert heart rate.",
            ),
            PolicyField(
                "precheck_min_spo2",
                "Defer at SpO2 on room air below",
                "%",
                help="Not below the alert SpO2.",
            ),
        ),
    ),
    PolicyGroup(
        key="alerts",
        title="Alerts during the infusion",
        intro="The nurse is alerted to pause or slow the infusion at these readings.",
        fields=(
            PolicyField("alert_systolic_bp", "Systolic blood pressure above", MMHG),
            PolicyField("alert_diastolic_bp", "Diastolic blood pressure above", MMHG),
            PolicyField("alert_bp_rise_percent", "Blood pressure rise over baseline above", "%"),
            PolicyField("alert_heart_rate", "Heart rate above", PER_MIN),
            PolicyField("alert_spo2", "SpO2 below (sustained)", "%"),
            PolicyField("alert_respiratory_rate", "Respiratory rate below", "breaths/min"),
            PolicyField("alert_rass", "Sedation at RASS of or below", "RASS level (-5 to +4)"),
            PolicyField("alert_moaas", "Sedation at MOAA/S of or below", "MOAA/S level (0 to 5)"),
            PolicyField(
                "vitals_interval_min",
                "Vitals at least every",
                "min",
                help="BP every 10 minutes in the Yale and Emory cohorts; every 15 minutes in "
                "the first hour in a UK nursing guideline.",
            ),
        ),
    ),
    PolicyGroup(
        key="discharge",
        title="Discharge and chair time",
        intro="When a patient may leave, and how long the chair stays booked after an infusion.",
        fields=(
            PolicyField(
                "discharge_min_aldrete",
                "Modified Aldrete score of at least",
                "points (of 10)",
                help="A score of 9 or more allows discharge (Aldrete 1970, modified 1995).",
            ),
            PolicyField(
                "discharge_min_observation_min",
                "Observation after the infusion ends, at least",
                "min",
                help="Common practice: 30 to 60 minutes after the infusion ends.",
            ),
            PolicyField(
                "recovery_min",
                "Chair time kept after each infusion",
                "min",
                help="Used when booking a series; not less than the observation time.",
            ),
        ),
    ),
    PolicyGroup(
        key="gates",
        title="Measured patient, dose given and charted times",
        intro=(
            "Checks asked again along the journey: the plan's weight from the exam, the day's "
            "weight before each infusion, the dose actually given against the plan, and how far "
            "back a nurse may date what she charts."
        ),
        fields=(
            PolicyField(
                "exam_weight_max_age_days",
                "Exam weight and height usable for a plan for",
                "days",
                help="Older than this, a new exam measures the patient before a plan is signed.",
            ),
            PolicyField(
                "weight_change_percent",
                "Day's weight differing from the plan's by more than",
                "%",
                help="Blocks the start until a physician revises the plan.",
            ),
            PolicyField(
                "pump_resolution_ml_h",
                "Infusion pump rate resolution",
                "mL/h",
                help="Rates are rounded to this step on the plan and accepted at it on the chart.",
            ),
            PolicyField(
                "dose_deviation_percent",
                "Dose given past the plan's total by more than",
                "%",
                help=f"And more than {gates.DOSE_DEVIATION_MIN_MG:g} mg: opens a dose deviation "
                "that a physician must review before discharge.",
            ),
            PolicyField("draw_max_factor", "Amount drawn at most", "x the plan's total"),
            PolicyField(
                "backdate_max_min",
                "Charted times may be set back at most",
                "min",
                help=f"With a reason when more than {gates.BACKDATE_REASON_AFTER_MIN} minutes "
                "back; never in the future.",
            ),
        ),
    ),
)

POLICY_FIELDS: Final[Mapping[str, PolicyField]] = MappingProxyType(
    {f.name: f for group in POLICY_GROUPS for f in group.fields}
)

# (lower, upper, field blamed): lower <= upper must hold. The error goes on the field a person is
# most likely to have mistyped: the one whose help text states the rule.
ORDERED_PAIRS: Final[tuple[tuple[str, str, str], ...]] = (
    ("elevated_systolic_bp", "crisis_systolic_bp", "elevated_systolic_bp"),
    ("elevated_diastolic_bp", "crisis_diastolic_bp", "elevated_diastolic_bp"),
    ("precheck_max_systolic_bp", "alert_systolic_bp", "precheck_max_systolic_bp"),
    ("precheck_max_diastolic_bp", "alert_diastolic_bp", "precheck_max_diastolic_bp"),
    ("precheck_max_heart_rate", "alert_heart_rate", "precheck_max_heart_rate"),
    ("alert_spo2", "precheck_min_spo2", "precheck_min_spo2"),
    ("discharge_min_observation_min", "recovery_min", "recovery_min"),
)


def show(value: object) -> str:
    """A threshold for display: 3.0 months reads as 3, 0.5 mg/kg stays 0.5."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
