"""What the infusion day's checks share: the clinic's thresholds, the sources, a finding, vitals.

``MonitoringPolicy`` holds the clinic's monitoring thresholds (defaults from
docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]"; evidence docs/clinical-sources.md
§2.2, §2.3, §2.5), ``Finding`` is what every check returns when a rule fires, and ``Vitals`` is one
validated set of vital signs. The ``*_SOURCE`` texts are shown to clinicians. Kept apart from
the checks (``clinical.monitoring``, ``administration``, ``monitoring_gates``) so each of them
reads this vocabulary from one place; callers import every name from ``clinical.monitoring``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ketaclinic.clinical._validate import require_bool, require_int, type_name
from ketaclinic.clinical.ranges import RANGES_SOURCE, RECORDED_RANGES, VITAL_SIGNS

__all__ = [
    "ALERT_SOURCE",
    "CONTROLLED_SUBSTANCE_SOURCE",
    "DEFAULT_MONITORING",
    "DISCHARGE_SOURCE",
    "MONITORING_SOURCE",
    "PLAN_RATE_SOURCE",
    "PRECHECK_SOURCE",
    "VITALS_INTERVAL_SOURCE",
    "VITALS_SET",
    "VITAL_LIMITS",
    "VITAL_LIMITS_SOURCE",
    "Finding",
    "MonitoringPolicy",
    "Vitals",
]

# The sources below are shown to clinicians: they cite publications, never a file. Where each
# comes from: docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]" (the defaults) and
# docs/clinical-sources.md §2.2, §2.3, §2.5 (the evidence); the plan rate and controlled-substance
# records follow docs/clinical-policy.md "Protocol templates [2.1, 1.3]" and
# docs/design.md "The journey (the spine of the product)" (steps 4 and 6).
_NO_GUIDELINE_LIMITS: Final = (
    "no guideline sets numeric vital-sign limits for ketamine infusions in chronic pain: these are "
    "values common in institutional protocols (not confirmed in a primary source; low confidence)"
)
_VITALS_EVIDENCE: Final = (
    "In 2342 infusions BP peaked at 40 min, by +16/+11 mmHg on average (Yale cohort, Gen Hosp "
    "Psychiatry 2024); BP measured every 10 min during infusion in 684 infusions (Dunlop, Emory "
    "cohort, J Affect Disord)"
)
_SCALES: Final = (
    "RASS: Sessler CN et al. Am J Respir Crit Care Med 2002; MOAA/S: Chernik DA et al. "
    "J Clin Psychopharmacol 1990"
)
_ALDRETE: Final = (
    "modified Aldrete score: Aldrete JA, Kroulik D. Anesth Analg 1970; Aldrete JA. J Clin Anesth "
    "1995"
)
MONITORING_SOURCE: Final = (
    "ketaclinic clinic policy defaults: defer if BP >= 160/100, HR > 110 or SpO2 < 94% before "
    "starting; vitals at least every 15 min; alert on SBP > 180 or DBP > 110 or a rise > 30% over "
    "baseline, HR > 120, SpO2 < 92%, RR < 10/min, RASS <= -3 or MOAA/S <= 2; discharge at modified "
    f"Aldrete >= 9 after at least 30 min of observation. The numbers: {_NO_GUIDELINE_LIMITS}. "
    f"{_VITALS_EVIDENCE}. {_SCALES}; {_ALDRETE}."
)
PRECHECK_SOURCE: Final = (
    "ketaclinic clinic policy defaults, before starting: defer if BP >= 160/100, resting HR > 110 "
    f"or SpO2 < 94% on room air; {_NO_GUIDELINE_LIMITS}. They rest on Cohen SP et al. 2018 "
    "(ASRA/AAPM/ASA consensus guidelines on IV ketamine for chronic pain, Reg Anesth Pain Med "
    "2018;43(5):521-546): do not use in poorly controlled cardiovascular disease. Fasting, escort, "
    "consent and the plan's dose: ketaclinic's pre-infusion checklist."
)
ALERT_SOURCE: Final = (
    "ketaclinic clinic policy defaults: alert and pause or slow on SBP > 180 or DBP > 110, or a "
    "rise > 30% over the patient's baseline; HR > 120 or a new arrhythmia; SpO2 < 92% sustained; "
    f"RR < 10/min; RASS <= -3 or MOAA/S <= 2; {_NO_GUIDELINE_LIMITS}. {_VITALS_EVIDENCE}. "
    f"{_SCALES}."
)
VITALS_INTERVAL_SOURCE: Final = (
    "ketaclinic clinic policy default: vitals (BP, HR, SpO2, RR) at least every 15 min. "
    f"{_VITALS_EVIDENCE}; UK hospital nursing guideline (RCHT v6.0, 2022): observations every "
    "15 min in the first hour."
)
# A "set" of vitals (gate 6: the cadence while infusing, after the stop, before discharge): the
# four signs the policy lists, charted together; one value alone (a pulse oximeter glance) is not
# a set. Source: ``VITALS_INTERVAL_SOURCE``. Blood pressure is named by its systolic half, which
# ``Vitals`` never takes without the diastolic.
VITALS_SET: Final = ("systolic_bp", "heart_rate", "spo2", "respiratory_rate")
DISCHARGE_SOURCE: Final = (
    f"Discharge: {_ALDRETE}: 9 or more allows discharge. ketaclinic clinic policy adds a "
    "responsible adult escort, no driving until the next day, and at least 30 min observation "
    "after the infusion ends (common practice norms, not confirmed in a primary source; medium "
    "confidence)."
)
PLAN_RATE_SOURCE: Final = (
    "The signed plan's ketamine protocol: the rate it computed is the most the pump may run at, "
    "within the clinic's hard dose limits (ketaclinic clinic policy)."
)
CONTROLLED_SUBSTANCE_SOURCE: Final = (
    "Ketamine is DEA Schedule III (openFDA NDC records); each session records lot, amount drawn, "
    "given and wasted, with a witness for waste (21 CFR 1304.22(c) records of dispensing; waste "
    "witnessed by a second licensed person is common practice)."
)
VITAL_LIMITS_SOURCE: Final = RANGES_SOURCE

#: Field -> (lowest, highest) accepted value, inclusive (``VITAL_LIMITS_SOURCE``): the vital
#: signs' rows of ``clinical.ranges.RECORDED_RANGES``, the one table the exam also reads.
VITAL_LIMITS: Final[Mapping[str, tuple[int, int]]] = {
    name: (int(RECORDED_RANGES[name][0]), int(RECORDED_RANGES[name][1])) for name in VITAL_SIGNS
}


@dataclass(frozen=True)
class MonitoringPolicy:
    precheck_max_systolic_bp: int = 160
    precheck_max_diastolic_bp: int = 100
    precheck_max_heart_rate: int = 110
    precheck_min_spo2: int = 94
    alert_systolic_bp: int = 180
    alert_diastolic_bp: int = 110
    alert_bp_rise_percent: int = 30
    alert_heart_rate: int = 120
    alert_spo2: int = 92
    alert_respiratory_rate: int = 10
    alert_rass: int = -3
    alert_moaas: int = 2
    vitals_interval_min: int = 15
    discharge_min_aldrete: int = 9
    discharge_min_observation_min: int = 30


DEFAULT_MONITORING: Final = MonitoringPolicy()


@dataclass(frozen=True)
class Finding:
    """One rule that fired: what, on which field, why (message and source), and the figures."""

    code: str
    field: str
    message: str
    source: str
    value: float | None = None
    threshold: float | None = None


# -- validation --------------------------------------------------------------------------------


def _policy(value: object) -> MonitoringPolicy:
    if not isinstance(value, MonitoringPolicy):
        raise ValueError(f"policy must be a MonitoringPolicy, not {type_name(value)}")
    return value


def _aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{field} must be a datetime, not {type_name(value)} {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"{field} must carry a time zone (an aware datetime)")
    return value


# -- vital signs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vitals:
    """One set of vital signs; any may be absent except that blood pressure comes in pairs.

    Values outside ``VITAL_LIMITS`` and a diastolic at or above the systolic are refused with a
    ``ValueError`` naming the field: they are typing slips, and an alert rule must never see them.
    """

    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    new_arrhythmia: bool = False

    def __post_init__(self) -> None:
        for field, (lowest, highest) in VITAL_LIMITS.items():
            value = getattr(self, field)
            if value is not None:
                require_int(value, field, minimum=lowest, maximum=highest)
        require_bool(self.new_arrhythmia, "new_arrhythmia")
        if (self.systolic_bp is None) != (self.diastolic_bp is None):
            missing = "diastolic_bp" if self.diastolic_bp is None else "systolic_bp"
            raise ValueError(f"{missing} is required with the other blood-pressure value")
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            raise ValueError(
                f"diastolic_bp {self.diastolic_bp} must be lower than systolic_bp "
                f"{self.systolic_bp}"
            )

    @property
    def is_empty(self) -> bool:
        return (
            self.systolic_bp is None
            and self.heart_rate is None
            and self.spo2 is None
            and self.respiratory_rate is None
            and not self.new_arrhythmia
        )

    @property
    def is_set(self) -> bool:
        """All the signs of ``VITALS_SET`` are here: the reading counts for gate 6."""
        return all(getattr(self, name) is not None for name in VITALS_SET)


def _vitals(value: object, field: str) -> Vitals:
    if not isinstance(value, Vitals):
        raise ValueError(f"{field} must be Vitals, not {type_name(value)}")
    return value
