"""Keyset paging of the audit trail: where a page starts, and a count that stops early.

A page of millions of events cannot be found by OFFSET (the database reads every row it skips),
so the links carry the (time, id) of the last event shown and the next page seeks past it in
the index (``audit/selectors.py``). The numbered lists of other apps page with
``lib/paging.py``, which also draws these links (``Pager``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import QuerySet

Direction = Literal["older", "newer"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Cursor:
    """Where a keyset page starts: rows strictly older (or newer) than (``at``, ``row_id``),
    newest first. ``ordinal`` is the page's number counted from the newest page as the reader
    walked there (shown as "page N"; None when reached from the oldest end)."""

    direction: Direction
    at: dt.datetime
    row_id: int
    ordinal: int | None = None

    def encode(self) -> str:
        """Opaque in the URL (base64 of direction, microseconds since 1970 UTC, id, ordinal):
        no patient data, and nothing a reader is meant to build by hand."""
        micros = (self.at - _EPOCH) // dt.timedelta(microseconds=1)
        ordinal = "" if self.ordinal is None else str(self.ordinal)
        raw = f"{self.direction[0]}.{micros}.{self.row_id}.{ordinal}"
        return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor a link carried, or None for anything malformed (an edited or truncated
        link): the caller shows the newest page rather than fail."""
        if not text or len(text) > 120:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            kind, micros, row_id, ordinal = raw.split(".")
            direction: Direction = {"o": "older", "n": "newer"}[kind]  # type: ignore[assignment]
            at = _EPOCH + dt.timedelta(microseconds=int(micros))
            number = int(ordinal) if ordinal else None
            cursor = cls(direction, at, int(row_id), number)
        except (ValueError, KeyError, OverflowError, binascii.Error, UnicodeDecodeError):
            return None
        if cursor.row_id < 1 or cursor.row_id >= 2**63 or (number is not None and number < 1):
            return None
        return cursor


def capped_count(qs: QuerySet[Any], cap: int) -> tuple[int, bool]:
    """How many rows ``qs`` has, counting no further than ``cap``: (count, exact). One query
    that reads at most ``cap + 1`` index entries, so a month of five million events costs as
    little as a quiet day."""
    counted = qs.order_by().values("pk")[: cap + 1].count()
    return (cap, False) if counted > cap else (counted, True)


def pages_for(count: int, per_page: int) -> int:
    """How many pages ``count`` rows fill (at least one, the empty page)."""
    return max(1, -(-count // per_page))
