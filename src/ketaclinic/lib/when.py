"""A moment as the people at a location read it: in the location's zone, the zone named.

Django's ``date`` filter converts every aware datetime to the project's one zone first
(``TIME_ZONE``), so a clinic in another zone would read the wrong hour; and a visitor reading an
email elsewhere needs the zone said. Every page and email formats a moment at a location through
``local_text`` (templates: the ``at_location`` filter and the ``local_time`` tag of
``lib/templatetags/when.py``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Protocol

from django.utils import dateformat

# "Wed 2 Dec 2026, 3:50 PM EST": the day, the time, the zone.
DEFAULT_FORMAT = "D j M Y, g:i A"


class _HasTimeZone(Protocol):
    @property
    def time_zone(self) -> str: ...


def zone_of(where: _HasTimeZone | str) -> zoneinfo.ZoneInfo:
    """The zone of a location (anything with ``time_zone``) or of a zone name."""
    return zoneinfo.ZoneInfo(where if isinstance(where, str) else where.time_zone)


def zone_abbreviation(moment: dt.datetime) -> str:
    """ "EST", "CEST"; for a zone without letters (tzdata writes "-03"), "UTC-03"."""
    name = moment.tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


def local_text(
    moment: dt.datetime, where: _HasTimeZone | str, fmt: str = DEFAULT_FORMAT, *, zone: bool = True
) -> str:
    """``moment`` (aware) in the zone of ``where``, formatted with Django's date format
    characters, followed by the zone's abbreviation unless ``zone`` is False."""
    local = moment.astimezone(zone_of(where))
    text = dateformat.format(local, fmt)
    return f"{text} {zone_abbreviation(local)}" if zone else text
