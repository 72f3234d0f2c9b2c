"""The clinic's clock for tests: New York's date, and an afternoon there for tests whose times
must stay within one clinic day (the browser fixture ``afternoon_in_new_york`` and the safety
walks both stand on it)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import time_machine
from django.utils import timezone

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def today() -> dt.date:
    """Today in New York, the demo clinic's time zone."""
    return timezone.now().astimezone(NEW_YORK).date()


def afternoon_clock() -> Iterator[dt.datetime]:
    """Today at 15:00 in New York, for the test and its live server alike (time-machine patches
    the clock process-wide); the clock keeps ticking from there, so backdated times and "today"
    never cross midnight whatever the hour the suite runs at. A generator for a fixture to
    ``yield from``."""
    at = dt.datetime.combine(today(), dt.time(15, 0), tzinfo=NEW_YORK)
    with time_machine.travel(at, tick=True):
        yield at
