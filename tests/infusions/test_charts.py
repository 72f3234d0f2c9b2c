"""The predicted curve is drawn from the rates actually charted (``infusions.charts``)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.infusions.charts import given_segments, session_curve
from tests.conftest import World
from tests.factories.infusions import day_at

pytestmark = pytest.mark.django_db


def test_segments_follow_the_rate_events(world: World) -> None:
    day = day_at(world, "infusing")
    day.backdate(30)
    start = day.reload().started_at
    assert start is not None
    day.rate("0", at=start + dt.timedelta(minutes=10))
    day.rate("2.6", at=start + dt.timedelta(minutes=15))
    day.stop(at=start + dt.timedelta(minutes=25))
    session = day.reload()
    segments = given_segments(
        session=session, rate_events=list(session.rate_events.all()), now=start
    )
    assert segments == pytest.approx([(0.0, 10.0, 52.5 / 60), (15.0, 25.0, 26 / 60)])


def test_a_running_pump_is_drawn_on_to_the_planned_end(world: World) -> None:
    day = day_at(world, "infusing")
    session = day.reload()
    assert session.started_at is not None
    now = session.started_at + dt.timedelta(minutes=5)
    curve = session_curve(
        session=session, rate_events=list(session.rate_events.all()), protocol=None, now=now
    )
    assert curve is not None
    assert curve.given_segments == pytest.approx([(0.0, 40.0, 52.5 / 60)])
    assert curve.planned_segments == pytest.approx([(0.0, 40.0, 52.5 / 60)])
    assert curve.svg.startswith("<svg")


def test_before_the_start_the_planned_curve_alone(world: World) -> None:
    day = day_at(world, "precheck")
    session = day.reload()
    plan = session.plan
    assert plan is not None
    curve = session_curve(
        session=session, rate_events=[], protocol=plan.protocol, now=session.arrived_at
    )
    assert curve is not None
    assert curve.given_segments == ()
    assert "planned" in curve.svg
    assert (
        session_curve(session=session, rate_events=[], protocol=None, now=session.arrived_at)
        is None
    )
