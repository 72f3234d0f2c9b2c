"""Thresholds for the infusion day: pre-infusion check, alerts, discharge.

Defaults are CLINICAL.md "During the infusion" (clinical-sources.md 2.2, 2.3, 2.5); a clinic
edits its own copy (``clinics.ClinicPolicy``) and each check stores the values it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_MONITORING", "MONITORING_SOURCE", "MonitoringPolicy"]

MONITORING_SOURCE: Final = (
    "CLINICAL.md 'During the infusion': defer if BP >= 160/100, HR > 110 or SpO2 < 94% before "
    "starting; vitals at least every 15 min; alert on SBP > 180 or DBP > 110 or a rise > 30% over "
    "baseline, HR > 120, SpO2 < 92%, RR < 10/min, RASS <= -3 or MOAA/S <= 2; discharge at modified "
    "Aldrete >= 9 after at least 30 min of observation (clinical-sources.md 2.2, 2.3, 2.5)."
)


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
