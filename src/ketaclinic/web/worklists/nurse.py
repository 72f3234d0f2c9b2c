"""The nurse's day: the chair boards read once, their overdue vitals and open alerts."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.infusions.api import (
    BoardItem,
    boards_today,
)
from ketaclinic.lib.when import local_text
from ketaclinic.web.worklists.common import (
    Line,
    Section,
    listed_section,
)

# --- nurse -----------------------------------------------------------------------------------


def nurse_sections(user: User, now: dt.datetime) -> list[Section]:
    """The chair boards of the nurse's locations, read once: who is in which chair and in what
    state, whose vitals are overdue and which alerts are open (the board's own findings)."""
    sections: list[Section] = []
    overdue: list[Line] = []
    alerts: list[Line] = []
    boards = boards_today(user=user, now=now)
    for board in boards:
        board_url = reverse("infusions:board", kwargs={"location_id": board.location.pk})
        chairs: list[Line] = []
        for row in board.rows:
            items = [i for i in row.items if i.is_active] or [i for i in row.items if i.to_check_in]
            if not items:
                chairs.append(Line(row.chair.name, board_url, "", "Free"))
                continue
            item = items[0]
            when = local_text(item.time, board.location, "g:i A")
            chairs.append(
                Line(
                    row.chair.name,
                    _item_url(item, board_url),
                    f"{item.patient.full_name} · {when}",
                    item.state_label,
                )
            )
        sections.append(
            listed_section(
                f"chairs-{board.location.pk}",
                f"Chairs today · {board.location.name}",
                chairs,
                empty="This location has no chairs in use.",
                more_url=board_url,
                actionable=False,
                limit=CHAIR_LIMIT,
            )
        )
        for row_items in [*(r.items for r in board.rows), board.unplaced]:
            for item in row_items:
                url = _item_url(item, board_url)
                if item.vitals_overdue:
                    since = (
                        f"last vitals {item.minutes_since_vitals} min ago"
                        if item.minutes_since_vitals is not None
                        else "no vitals yet"
                    )
                    overdue.append(
                        Line(item.patient.full_name, url, f"{_chair_of(item)}{since}", "Overdue")
                    )
                for alert in item.alerts:
                    alerts.append(
                        Line(
                            item.patient.full_name,
                            url,
                            f"{_chair_of(item)}{alert.message}",
                            "Alert",
                        )
                    )
    board_home = reverse("infusions:board_home")
    return [
        listed_section(
            "vitals",
            "Vitals overdue",
            overdue,
            empty="Every infusing patient's vitals are up to date.",
            more_url=board_home,
        ),
        listed_section(
            "alerts", "Open alerts", alerts, empty="No open alert.", more_url=board_home
        ),
        *sections,
    ]


#: Chairs listed per location (a location rarely has more; the board shows them all).
CHAIR_LIMIT = 12


def _item_url(item: BoardItem, board_url: str) -> str:
    if item.session is not None:
        return reverse("infusions:session", kwargs={"public_id": item.session.public_id})
    return board_url


def _chair_of(item: BoardItem) -> str:
    chair = item.session.chair if item.session is not None else None
    return f"{chair.name} · " if chair is not None else ""
