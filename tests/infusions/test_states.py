"""The infusion session's one transition table (``infusions.states``), walked for every action
and every status: allowed where the table says, refused elsewhere with words, never silently."""

from __future__ import annotations

from typing import get_args

import pytest
from django.core.exceptions import ValidationError

from ketaclinic.infusions import states
from ketaclinic.infusions.models import SessionStatus
from tests.conftest import World
from tests.factories.infusions import day_at

pytestmark = pytest.mark.django_db

ACTIONS = get_args(states.SessionAction)


@pytest.mark.parametrize("status", list(SessionStatus))
def test_every_action_is_allowed_or_refused_in_words_from_every_status(
    world: World, status: SessionStatus
) -> None:
    session = day_at(world, "arrived").reload()
    session.status = status  # in memory only: the table reads the status it is given
    for action in ACTIONS:
        if states.allowed(status, action):
            states.require(session, action)
        else:
            with pytest.raises(ValidationError) as refused:
                states.require(session, action)
            assert refused.value.messages[0].strip(), (action, status)


def test_the_path_through_a_day_follows_the_table() -> None:
    path: list[tuple[states.SessionAction, SessionStatus]] = [
        ("precheck", SessionStatus.PRECHECK),
        ("start", SessionStatus.INFUSING),
        ("stop", SessionStatus.RECOVERING),
        ("discharge", SessionStatus.DISCHARGED),
    ]
    status = states.INITIAL
    for action, then in path:
        assert states.allowed(status, action), (action, status)
        assert states.TRANSITIONS[action].to == then
        status = then
    assert states.allowed(status, "sign")
    assert not states.allowed(status, "start")


def test_an_action_that_moves_nothing_cannot_advance() -> None:
    with pytest.raises(ValueError, match="vitals does not change the session's status"):
        states.advance(None, "vitals")  # type: ignore[arg-type]
