from __future__ import annotations

from decimal import Decimal

from django import template

from ketaclinic.plans.models import KetamineProtocol
from ketaclinic.plans.wording import figure, protocol_words

register = template.Library()


@register.filter
def minutes(value: int | float | None) -> str:
    """40 -> "40 minutes", 240 -> "4 hours", 150 -> "2 hours 30 minutes"."""
    if value is None:
        return ""
    total = round(float(value))
    hours, rest = divmod(total, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


@register.filter
def policy_value(values: dict[str, object] | None, name: str) -> object:
    """One value of a stored policy snapshot (templates cannot index a dict by a variable)."""
    return (values or {}).get(name, "")


@register.filter
def num(value: object, places: int = 2) -> str:
    """A dose figure without trailing zeros: 52.5 -> "52.5", 35.0 -> "35", 4.26820 -> "4.27".

    (Django's floatformat:"-2" prints 52.5 as "52.50".)
    """
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        # Missing (None, or "" from policy_value): show nothing rather than guess.
        return ""
    return figure(float(value), int(places))


_PATTERN_WORDS = {
    "weekdays": "on consecutive weekdays",
    "daily": "one a day",
    "three_per_week": "three a week, on Monday, Wednesday and Friday",
}


@register.filter
def pattern_words(pattern: str) -> str:
    """How a series falls on the calendar, in a patient's words."""
    return _PATTERN_WORDS.get(pattern, "")


@register.filter(name="protocol_words")
def protocol_words_filter(protocol: KetamineProtocol | None) -> str:
    """The saved protocol in one line (``plans.wording.protocol_words``)."""
    return "" if protocol is None else protocol_words(protocol)
