"""True times, dose deviations, the draw bound and the day's weight (clinical.charting)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.charting import (
    DOSE_SOURCE,
    TIMES_GATE,
    WEIGHT_SOURCE,
    ChartedTime,
    charted_time,
    dose_excess,
    draw_limit_mg,
    observation_start,
    reconciled_mismatch,
    weight_changed,
)
from ketaclinic.clinical.gates import BACKDATE_REASON_AFTER_MIN, CLOCK_TOLERANCE_S

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# 15:00:40 in New York: 40 seconds into the minute, so "now" to the minute is 15:00.
NOW = dt.datetime(2026, 12, 3, 15, 0, 40, tzinfo=NEW_YORK)
MINUTE = NOW.replace(second=0)


def ago(minutes: int) -> dt.datetime:
    return MINUTE - dt.timedelta(minutes=minutes)


def verdict(entered: dt.datetime | None, **kwargs: Any) -> ChartedTime:
    return charted_time(entered=entered, now=NOW, tz=NEW_YORK, **kwargs)


# -- true times ----------------------------------------------------------------------------------


def test_a_blank_time_is_the_minute_of_saving() -> None:
    assert verdict(None) == ChartedTime(True, MINUTE, "", 0, False)


def test_a_time_within_the_clock_tolerance_counts_as_now() -> None:
    # 15:01 is 20 s ahead of 15:00:40: clock drift, charted as 15:00.
    assert verdict(MINUTE + dt.timedelta(minutes=1)) == ChartedTime(True, MINUTE, "", 0, False)
    assert CLOCK_TOLERANCE_S == 60


def test_a_time_past_the_tolerance_is_refused_as_the_future() -> None:
    result = verdict(MINUTE + dt.timedelta(minutes=2))
    assert result == ChartedTime(
        False,
        None,
        "True times: 15:02 is in the future (it is now 15:00). Leave the time blank for now.",
        0,
        False,
    )


def test_back_dating_up_to_ten_minutes_needs_no_reason() -> None:
    assert verdict(ago(BACKDATE_REASON_AFTER_MIN)) == ChartedTime(True, ago(10), "", 10, False)


def test_back_dating_past_ten_minutes_needs_a_written_reason() -> None:
    refused = verdict(ago(11), reason="  ok ")
    assert refused == ChartedTime(
        False,
        None,
        "True times: 14:49 is 11 min ago; write why it is charted late (needed when more than "
        "10 min back).",
        11,
        True,
    )
    assert verdict(ago(11), reason="BP cuff swapped") == ChartedTime(True, ago(11), "", 11, True)


def test_back_dating_past_the_clinic_window_is_refused_whatever_the_reason() -> None:
    assert verdict(ago(60), reason="Charted after the event").allowed
    refused = verdict(ago(61), reason="Charted after the event")
    assert refused.message == (
        "True times: 13:59 is 61 min ago; the clinic allows charting at most 60 min back. "
        "Record what happened in an addendum or a note."
    )
    assert (refused.allowed, refused.at, refused.backdated_min) == (False, None, 61)
    assert not verdict(ago(31), reason="late", backdate_max_min=30).allowed
    assert not verdict(ago(1), backdate_max_min=0).allowed


def test_a_time_before_the_event_it_follows_is_refused_first() -> None:
    follows = [(None, "a missing event"), (ago(5), "the start")]
    result = verdict(ago(90), follows=follows)
    assert result == ChartedTime(
        False, None, "True times: 13:30 is before the start at 14:55.", 90, False
    )
    assert verdict(ago(5), follows=follows).allowed
    # The bound is compared to the minute: an event at 14:55:30 allows 14:55.
    assert verdict(ago(5), follows=[(ago(5) + dt.timedelta(seconds=30), "the draw")]).allowed


def test_another_day_is_shown_with_its_date() -> None:
    result = charted_time(
        entered=None,
        now=NOW,
        follows=[(NOW + dt.timedelta(days=1), "the arrival")],
        tz=NEW_YORK,
    )
    assert result.message == "True times: 15:00 is before the arrival at 2026-12-04 15:00."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": dt.datetime(2026, 12, 3, 15, 0)}, "now must carry a time zone"),
        ({"now": "15:00"}, "now must be a datetime, not str"),
        ({"entered": dt.datetime(2026, 12, 3, 15, 0)}, "entered must carry a time zone"),
        ({"follows": [(dt.datetime(2026, 12, 3), "the start")]}, "the start must carry"),
        ({"backdate_max_min": 121}, "backdate_max_min must be at least 0 and at most 120, not 121"),
        ({"backdate_max_min": True}, "backdate_max_min must be a whole number, not bool True"),
        ({"reason": None}, "reason must be a string, not NoneType"),
        ({"tz": "America/New_York"}, "tz must be a time zone, not str"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"entered": None, "now": NOW, "tz": NEW_YORK, **kwargs}
    with pytest.raises(ValueError, match=message):
        charted_time(**args)


@given(back=st.integers(min_value=0, max_value=200), window=st.integers(0, 120))
def test_an_allowed_time_is_never_ahead_nor_past_the_window(back: int, window: int) -> None:
    result = verdict(ago(back), reason="Charted after the event", backdate_max_min=window)
    assert result.allowed == (back <= window)
    if result.allowed:
        assert result.at == ago(back)
        assert result.at is not None
        assert result.at <= NOW
    assert result.message.startswith(TIMES_GATE) != result.allowed


def test_the_observation_counts_from_the_saving_of_a_back_dated_stop() -> None:
    assert observation_start(ended_at=ago(31), saved_at=NOW) == MINUTE
    # Not back-dated: the stop's own minute.
    assert observation_start(ended_at=MINUTE, saved_at=NOW) == MINUTE
    with pytest.raises(ValueError, match="ended_at must carry a time zone"):
        observation_start(ended_at=dt.datetime(2026, 12, 3), saved_at=NOW)


# -- doses ---------------------------------------------------------------------------------------


def test_a_dose_past_the_plan_by_more_than_the_tolerance_is_a_deviation() -> None:
    # 200 mg plan, 2% = 4 mg: 258 mg is 58 mg over.
    assert dose_excess(given_mg=258, plan_total_mg=200) == 58.0
    assert dose_excess(given_mg=204, plan_total_mg=200) is None  # exactly 2%: not more
    assert dose_excess(given_mg=204.01, plan_total_mg=200) == pytest.approx(4.01)
    # 35 mg plan: 2% is 0.7 mg, but the excess must also pass 1 mg.
    assert dose_excess(given_mg=35.9, plan_total_mg=35) is None
    assert dose_excess(given_mg=36.01, plan_total_mg=35) == pytest.approx(1.01)
    assert dose_excess(given_mg=30, plan_total_mg=35) is None
    # A clinic at 0%: any excess past 1 mg.
    assert dose_excess(given_mg=201.5, plan_total_mg=200, percent=0) == 1.5


def test_the_reconciled_given_must_match_the_rates_either_way() -> None:
    assert reconciled_mismatch(entered_mg=35, computed_mg=35) is None
    assert reconciled_mismatch(entered_mg=50, computed_mg=35) == 15.0
    assert reconciled_mismatch(entered_mg=20, computed_mg=35) == 15.0
    assert reconciled_mismatch(entered_mg=35.5, computed_mg=35) is None


def test_the_draw_is_bounded_by_the_plans_total() -> None:
    assert draw_limit_mg(plan_total_mg=200) == 300.0
    assert draw_limit_mg(plan_total_mg=35, factor=1.0) == 35.0
    with pytest.raises(ValueError, match="draw_max_factor must be at least 1 and at most 2"):
        draw_limit_mg(plan_total_mg=35, factor=2.5)
    with pytest.raises(ValueError, match="plan_total_mg must be greater than 0"):
        draw_limit_mg(plan_total_mg=0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dose_excess(given_mg=-1, plan_total_mg=35), "given_mg"),
        (lambda: dose_excess(given_mg=1, plan_total_mg=0), "plan_total_mg"),
        (lambda: dose_excess(given_mg=1, plan_total_mg=35, percent=6), "dose_deviation_percent"),
        (lambda: dose_excess(given_mg=1, plan_total_mg=35, min_mg=-1), "min_mg"),
        (lambda: reconciled_mismatch(entered_mg=True, computed_mg=35), "entered_mg"),
        (lambda: reconciled_mismatch(entered_mg=1, computed_mg=-2), "computed_mg"),
        (lambda: reconciled_mismatch(entered_mg=1, computed_mg=2, min_mg=-1), "min_mg"),
    ],
)
def test_bad_doses_are_refused_naming_the_field(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# -- the day's weight ----------------------------------------------------------------------------


def test_the_days_weight_more_than_the_percentage_from_the_plans() -> None:
    assert weight_changed(day_weight_kg=77, plan_weight_kg=70) is False  # exactly 10%
    assert weight_changed(day_weight_kg=77.1, plan_weight_kg=70) is True
    assert weight_changed(day_weight_kg=62.9, plan_weight_kg=70) is True
    assert weight_changed(day_weight_kg=74, plan_weight_kg=70, percent=5) is True
    with pytest.raises(
        ValueError, match="weight_change_percent must be at least 5 and at most 20, not 4"
    ):
        weight_changed(day_weight_kg=70, plan_weight_kg=70, percent=4)
    with pytest.raises(ValueError, match="day_weight_kg must be greater than 0"):
        weight_changed(day_weight_kg=0, plan_weight_kg=70)


def test_sources_cite_publications_and_policy_never_files() -> None:
    assert "Cohen SP et al. Reg Anesth Pain Med 2018" in WEIGHT_SOURCE
    assert "ketaclinic clinic policy (product)" in DOSE_SOURCE
    assert ".md" not in WEIGHT_SOURCE + DOSE_SOURCE
