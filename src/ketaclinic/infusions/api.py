"""The infusions app's public face: what other apps read of the sessions given.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.infusions.selectors import (
    Board,
    BoardItem,
    boards_today,
    deviations_to_review,
    sessions_to_sign,
)
from ketaclinic.infusions.services import given_mg_at

__all__ = [
    "Board",
    "BoardItem",
    "boards_today",
    "deviations_to_review",
    "given_mg_at",
    "sessions_to_sign",
]
