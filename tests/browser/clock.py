"""A fixed afternoon for browser tests whose times must stay within the clinic's day."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pytest
import time_machine
from django.utils import timezone

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def afternoon_in_new_york() -> Iterator[dt.date]:
    """Today at 15:00 in the demo clinic's time zone, for the test and its live server alike
    (time-machine patches the clock process-wide); the clock keeps ticking from there, so
    backdated times and "today" never cross midnight whatever the hour the suite runs at."""
    today = timezone.now().astimezone(NEW_YORK).date()
    afternoon = dt.datetime.combine(today, dt.time(15, 0), tzinfo=NEW_YORK)
    with time_machine.travel(afternoon, tick=True):
        yield today
