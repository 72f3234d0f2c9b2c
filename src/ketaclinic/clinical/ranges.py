"""Plausible ranges of every measurement a person types: one table for the exam and the chart.

They are plausibility bounds, not physiology: wide enough for every real patient (a sedated
patient's respiratory rate of 4, a systolic of 40 in a faint), narrow enough to catch a typing
slip or a unit slip (a missing digit, SpO2 over 100%, a height in metres, a temperature in
Fahrenheit) before a value reaches a rule. Chosen for this project; no guideline sets them
(``RANGES_SOURCE``). Pure data: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["RANGES_SOURCE", "RECORDED_RANGES", "VITAL_SIGNS"]

RANGES_SOURCE: Final = (
    "Plausibility bounds, not physiology: they catch typing slips (a missing digit, SpO2 over "
    "100%, a diastolic above the systolic) before a value reaches an alert rule. Chosen for this "
    "project; no guideline sets them."
)

#: Field -> (lowest, highest) accepted value, inclusive. The exam's database constraints and the
#: chart's form fields both read this table.
RECORDED_RANGES: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "systolic_bp": (40, 300),
        "diastolic_bp": (20, 200),
        "heart_rate": (20, 250),
        "respiratory_rate": (2, 80),
        "spo2": (50, 100),
        "temperature_c": (30.0, 43.0),
        "weight_kg": (2.0, 400.0),
        "height_cm": (50.0, 272.0),
        "pain_duration_months": (0.0, 1200.0),
        "pain_nrs": (0, 10),
    }
)

#: The vital signs among them: whole numbers, charted at the bedside as well as at the exam.
VITAL_SIGNS: Final = ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate")
