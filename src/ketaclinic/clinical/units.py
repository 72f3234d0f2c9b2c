"""Units in words: how a UCUM unit code reads on a page, a chart or a letter.

Observations keep their UCUM codes (``codes.Code.unit``, the rows' ``unit``): FHIR and every
export need them. People read ``unit_label``: "mm[Hg]" is "mmHg", "Cel" is "°C", the
dimensionless "1" and the annotation "{score}" read as nothing (a pain score of 7 is "7", not
"7 1"), and a rate per minute says what is counted where the code says it (heart rate in
beats/min, respiratory rate in breaths/min).

Source: The Unified Code for Units of Measure (UCUM), Regenstrief Institute, version 2.2
(https://ucum.org/ucum): "mm[Hg]" millimetre of mercury, "Cel" degree Celsius, "/min" per minute,
"1" the unity, curly braces an annotation with no unit of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# UCUM code -> words; a code not listed here is shown as it is (kg, cm, mL/h, mg are words).
UNIT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "mm[Hg]": "mmHg",
        "Cel": "°C",
        "[degF]": "°F",
        "/min": "/min",
        "%": "%",
        "kg": "kg",
        "cm": "cm",
        "kg/m2": "kg/m²",
        "mL/h": "mL/h",
        "mg": "mg",
        "mg/kg": "mg/kg",
        "mg/kg/h": "mg/kg/h",
        "1": "",
        "{score}": "",
    }
)

# LOINC code -> the unit in words where the code says what is counted.
COUNTED: Mapping[str, str] = MappingProxyType(
    {
        "8867-4": "beats/min",  # heart rate
        "9279-1": "breaths/min",  # respiratory rate
    }
)


def unit_label(code: str | None, *, loinc: str | None = None) -> str:
    """The unit in words ("" for none): ``unit_label("mm[Hg]") == "mmHg"``; with the LOINC code
    of the observation, a per-minute rate says what it counts."""
    if loinc is not None and loinc in COUNTED and code == "/min":
        return COUNTED[loinc]
    if not code:
        return ""
    if code.startswith("{") and code.endswith("}"):
        return ""  # a UCUM annotation alone has no unit
    return UNIT_LABELS.get(code, code)


def with_unit(value: str, code: str | None, *, loinc: str | None = None) -> str:
    """A shown value and its unit: "132 mmHg", "36.7 °C", "97%", "7" (a score)."""
    label = unit_label(code, loinc=loinc)
    if not label:
        return value
    if label == "%":
        return f"{value}%"
    return f"{value} {label}"
