"""The infusion session as a state machine: one table of the actions on a session, the statuses
each is allowed from, what every other status answers, and the status it leads to.

Each service asks ``require(session, action)`` once it holds the locked session and before it
reads the request, so a refusal names the reason in the nurse's words ("The infusion has not
started.") and nothing is written. A status with no words of its own in a rule answers that the
session is closed (discharged at ..., or deferred). Two checks stay in their services because
they read the session's records, not its status: the start refuses a session with a start time,
and the reconciliation a draw that is missing or already reconciled, before they ask the table.

Signing is not a status: a signed session keeps its last status (discharged or deferred) and
``services._common._locked`` refuses every write to it but an addendum.

    arrived -precheck-> precheck -start-> infusing -stop-> recovering -discharge-> discharged
    arrived or precheck -defer-> deferred
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaclinic.infusions.models import ACTIVE_STATUSES, InfusionSession, SessionStatus

SessionAction = Literal[
    "chair",
    "precheck",
    "override",
    "defer",
    "draw",
    "start",
    "rate",
    "stop",
    "vitals",
    "cadss",
    "aldrete",
    "alert",
    "adverse_event",
    "reconcile",
    "deviation_review",
    "discharge",
    "sign",
]

# What a refused status answers: a fixed sentence, or one worded from the session (its times).
Refusal = str | Callable[[InfusionSession, zoneinfo.ZoneInfo], ValidationError]

# Checked in: the session starts here (``services.arrival.session_arrive``).
INITIAL = SessionStatus.ARRIVED


def local_clock(value: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """A time as the clinic reads it: the hour today, with the date on any other day."""
    local = value.astimezone(tz)
    today = timezone.now().astimezone(tz).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def closed_error(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> ValidationError:
    """The refusal of a session that is over: discharged (at what time), or deferred."""
    if session.status == SessionStatus.DISCHARGED and session.discharged_at is not None:
        return ValidationError(
            f"The patient was discharged at {local_clock(session.discharged_at, tz)}."
        )
    return ValidationError("The infusion was deferred; this session is closed.")


def _stopped(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> ValidationError:
    if session.ended_at is None:
        return closed_error(session, tz)
    return ValidationError(f"The infusion was stopped at {local_clock(session.ended_at, tz)}.")


@dataclass(frozen=True)
class Rule:
    """Where an action may be taken from; what each other status answers (``otherwise`` for a
    status without its own words, and if that is blank, that the session is closed); and the
    status the action leads to, if it moves the session on."""

    allowed: frozenset[SessionStatus]
    refusals: Mapping[SessionStatus, Refusal] = field(default_factory=dict)
    otherwise: str = ""
    to: SessionStatus | None = None


ARRIVED, PRECHECK = SessionStatus.ARRIVED, SessionStatus.PRECHECK
INFUSING, RECOVERING = SessionStatus.INFUSING, SessionStatus.RECOVERING
DISCHARGED, DEFERRED = SessionStatus.DISCHARGED, SessionStatus.DEFERRED

ANY = frozenset(SessionStatus)
ACTIVE = frozenset(ACTIVE_STATUSES)
BEFORE_START = frozenset({ARRIVED, PRECHECK})
STARTED = frozenset({INFUSING, RECOVERING})


def _each(statuses: frozenset[SessionStatus], refusal: Refusal) -> dict[SessionStatus, Refusal]:
    return dict.fromkeys(statuses, refusal)


_NOT_STARTED = "The infusion has not started."
_PUMP_REFUSALS = {RECOVERING: _stopped, **_each(BEFORE_START, _NOT_STARTED)}

TRANSITIONS: Mapping[SessionAction, Rule] = {
    "chair": Rule(ACTIVE),
    "precheck": Rule(
        BEFORE_START, _each(STARTED, "The infusion has already started."), to=PRECHECK
    ),
    "override": Rule(
        frozenset({PRECHECK}), otherwise="There is no pre-infusion check waiting for a decision."
    ),
    "defer": Rule(
        BEFORE_START,
        _each(STARTED, "The infusion has started: stop it and discharge instead."),
        to=DEFERRED,
    ),
    "draw": Rule(
        BEFORE_START, _each(STARTED, "The infusion has started: the draw is recorded before it.")
    ),
    # A started session (infusing and after) is refused by its start time before this rule.
    "start": Rule(
        frozenset({PRECHECK}),
        {ARRIVED: "Record the pre-infusion check before starting."},
        to=INFUSING,
    ),
    "rate": Rule(frozenset({INFUSING}), _PUMP_REFUSALS),
    "stop": Rule(frozenset({INFUSING}), _PUMP_REFUSALS, to=RECOVERING),
    "vitals": Rule(
        STARTED,
        _each(
            BEFORE_START,
            "The infusion has not started: record vitals with the pre-infusion check.",
        ),
    ),
    # The baseline CADSS-6 is charted before the start; the others during and after.
    "cadss": Rule(ACTIVE),
    "aldrete": Rule(
        frozenset({RECOVERING}),
        {
            INFUSING: "The infusion is still running: stop it before the Aldrete.",
            **_each(BEFORE_START, _NOT_STARTED),
        },
    ),
    "alert": Rule(ANY),
    "adverse_event": Rule(ACTIVE),
    "reconcile": Rule(
        frozenset({RECOVERING, DISCHARGED, DEFERRED}),
        otherwise="Reconcile after the infusion has ended.",
    ),
    "deviation_review": Rule(ANY),
    "discharge": Rule(
        frozenset({RECOVERING}),
        {
            INFUSING: "The infusion has not ended: stop it before discharge.",
            **_each(BEFORE_START, "The infusion has not started: defer the session instead."),
        },
        to=DISCHARGED,
    ),
    "sign": Rule(
        frozenset({DISCHARGED, DEFERRED}),
        otherwise="Sign the session after the patient is discharged (or deferred).",
    ),
}
assert set(TRANSITIONS) == set(get_args(SessionAction)), "every action needs a rule"


def allowed(status: str, action: SessionAction) -> bool:
    """May ``action`` be taken on a session in ``status``?"""
    return status in TRANSITIONS[action].allowed


def require(session: InfusionSession, action: SessionAction) -> None:
    """Refuse ``action`` (ValidationError, nothing written) unless the session's status allows
    it, in the words the table gives for the status it is in."""
    if allowed(session.status, action):
        return
    rule = TRANSITIONS[action]
    tz = zoneinfo.ZoneInfo(session.location.time_zone)
    refusal = rule.refusals.get(SessionStatus(session.status), rule.otherwise)
    if callable(refusal):
        raise refusal(session, tz)
    if refusal:
        raise ValidationError(refusal)
    raise closed_error(session, tz)


def advance(session: InfusionSession, action: SessionAction) -> None:
    """Move the session to the status ``action`` leads to (the caller saves it)."""
    target = TRANSITIONS[action].to
    if target is None:
        raise ValueError(f"{action} does not change the session's status")
    session.status = target
