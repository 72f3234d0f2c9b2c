"""Moments in a location's zone, the zone named (``lib/when.py``).

``{% load when %}``, then ``{{ appointment.start|at_location:appointment.location }}`` for
"Wed 2 Dec 2026, 3:50 PM EST", or ``{% local_time a.start a.location "g:i A" %}`` for another
format (``zone=False`` leaves the zone out where a page shows one zone and says it once).
Without a location (a patient with no usual location) the site's zone is used, and named.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone

from ketaclinic.lib.when import DEFAULT_FORMAT, local_text, zone_abbreviation, zone_of

register = template.Library()


def _where(where: Any) -> Any:
    return where or settings.TIME_ZONE


@register.filter
def at_location(value: dt.datetime | None, where: Any) -> str:
    if value is None:
        return ""
    return local_text(value, _where(where))


@register.simple_tag
def local_time(
    value: dt.datetime | None, where: Any, fmt: str = DEFAULT_FORMAT, zone: bool = True
) -> str:
    if value is None:
        return ""
    return local_text(value, _where(where), fmt, zone=zone)


@register.simple_tag
def zone_now(where: Any) -> str:
    """The zone's abbreviation at this moment ("EST"), for a page that names its zone once."""
    return zone_abbreviation(timezone.now().astimezone(zone_of(where))) if where else ""
