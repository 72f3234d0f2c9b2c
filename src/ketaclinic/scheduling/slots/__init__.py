"""The slot engine: free slots = weekly hours + extra hours - time off - busy time - lead time.

``hours`` holds what both finders share (open time in each location's zone, busy blocks, the
waitlist holds), ``free`` the single-appointment finder, ``series`` the induction-series finder
(chairs and nurses over the whole span of a series). Callers import from here.
"""

from ketaclinic.scheduling.slots.free import (
    Slot,
    free_slots,
    nearest_slots,
    parse_slot_key,
    slots_by_day,
)
from ketaclinic.scheduling.slots.hours import Interval, local_day_bounds, policy_for
from ketaclinic.scheduling.slots.series import (
    PATTERN_WEEKDAYS,
    SERIES_STEP_MIN,
    SeriesBoard,
    SeriesProposal,
    SeriesSession,
    parse_session_key,
    series_dates,
    series_find,
    series_span_days,
)

__all__ = [
    "PATTERN_WEEKDAYS",
    "SERIES_STEP_MIN",
    "Interval",
    "SeriesBoard",
    "SeriesProposal",
    "SeriesSession",
    "Slot",
    "free_slots",
    "local_day_bounds",
    "nearest_slots",
    "parse_session_key",
    "parse_slot_key",
    "policy_for",
    "series_dates",
    "series_find",
    "series_span_days",
    "slots_by_day",
]
