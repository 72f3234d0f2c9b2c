"""Reads for the chair board and the session chart: a fixed number of queries, every read of
patient data audited. One module a page, callers import from here (``selectors.session_chart``):

- ``session``: what the services share with the pages (the plan a session runs on, the dose given
  so far, why a pump must stop, what discharge waits for, the location's day);
- ``board``: the chair board;
- ``chart``: the session chart and a patient's list of sessions.
"""

from ketaclinic.infusions.selectors.board import (
    STATE_LABELS,
    Board,
    BoardItem,
    ChairRow,
    board_for_location,
    boards_today,
    default_location_id,
    deviations_to_review,
    sessions_to_sign,
)
from ketaclinic.infusions.selectors.chart import (
    SessionChart,
    VitalsRow,
    patient_sessions,
    session_chart,
)
from ketaclinic.infusions.selectors.session import (
    current_plan,
    day_bounds,
    discharge_missing,
    given_mg_at,
    pump_stop_reason,
)

__all__ = [
    "STATE_LABELS",
    "Board",
    "BoardItem",
    "ChairRow",
    "SessionChart",
    "VitalsRow",
    "board_for_location",
    "boards_today",
    "current_plan",
    "day_bounds",
    "default_location_id",
    "deviations_to_review",
    "discharge_missing",
    "given_mg_at",
    "patient_sessions",
    "pump_stop_reason",
    "session_chart",
    "sessions_to_sign",
]
