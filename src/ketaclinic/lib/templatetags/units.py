"""Units in words on pages (``clinical/units.py``): ``{% load units %}``, then
``{{ observation.unit|unit_label }}`` for the unit alone, ``{{ observation|measurement }}`` for
"132 mmHg" from any row with ``value``, ``unit`` and a LOINC code (``loinc`` or ``code``), or
``{{ "8867-4"|loinc_unit }}`` for the unit a LOINC code is recorded in ("beats/min")."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.defaultfilters import floatformat

from ketaclinic.clinical import codes, units

register = template.Library()


@register.filter
def unit_label(code: str | None) -> str:
    return units.unit_label(code)


@register.filter
def loinc_unit(loinc: str) -> str:
    try:
        code = codes.lookup("loinc", loinc)
    except codes.UnknownCodeError:
        return ""
    return units.unit_label(code.unit, loinc=loinc)


@register.filter
def measurement(row: Any) -> str:
    loinc = getattr(row, "loinc", None) or getattr(row, "code", None)
    value = floatformat(row.value, "-1")
    return units.with_unit(str(value), row.unit, loinc=loinc)
