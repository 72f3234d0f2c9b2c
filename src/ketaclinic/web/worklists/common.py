"""The worklists' shapes (a line, a section, a worklist) and how a section is read: two
queries whatever its size (its count and its first ``LIMIT`` rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.urls import reverse

from ketaclinic.lib.when import local_text
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment

#: Lines shown per section; the rest are behind the section's "and N more" link.
LIMIT = 5
#: How far back "new online bookings" reaches (the front desk's new-bookings page, too).
NEW_BOOKINGS_DAYS = 7

T = TypeVar("T", bound=Model)


@dataclass(frozen=True)
class Line:
    text: str
    url: str
    detail: str = ""
    state: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: list[Line]
    total: int
    empty: str
    more_url: str = ""
    # Counted in the navigation's number: work waiting for this person. Informational sections
    # (the day's chairs, offers waiting on the patient) are not.
    actionable: bool = True
    # What the navigation counts when it is not every line: arrivals still expected, jobs
    # that failed or are late.
    counted: int | None = None

    @property
    def more(self) -> int:
        return max(self.total - len(self.lines), 0)

    @property
    def badge(self) -> int:
        """The number beside the title: what is to do where that is not every line."""
        return self.total if self.counted is None else self.counted

    @property
    def to_do(self) -> int:
        if not self.actionable:
            return 0
        return self.total if self.counted is None else self.counted


@dataclass
class Worklist:
    role: str
    sections: list[Section] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(s.to_do for s in self.sections)

    @property
    def shown(self) -> int:
        return sum(len(s.lines) for s in self.sections)


def read_section(
    key: str,
    title: str,
    rows: QuerySet[T],
    line: Callable[[T], Line],
    *,
    empty: str,
    more_url: str = "",
    counts_only: bool,
    actionable: bool = True,
) -> Section:
    """Two queries: the total and the first ``LIMIT`` rows (one, the total, for the count)."""
    total = rows.count()
    lines = [line(row) for row in rows[:LIMIT]] if total and not counts_only else []
    return Section(key, title, lines, total, empty, more_url, actionable)


def listed_section(
    key: str,
    title: str,
    lines: Sequence[Line],
    *,
    empty: str,
    more_url: str = "",
    limit: int = LIMIT,
    actionable: bool = True,
) -> Section:
    """A section built from rows already in memory (the chair boards, the jobs)."""
    return Section(key, title, list(lines[:limit]), len(lines), empty, more_url, actionable)


def patient_url(patient: Patient) -> str:
    return reverse("patients:detail", kwargs={"public_id": patient.public_id})


def time_at(appointment: Appointment) -> str:
    return local_text(appointment.start, appointment.location, "g:i A")


def day_at(moment: dt.datetime, where: Any) -> str:
    return local_text(moment, where, "D j M, g:i A")
