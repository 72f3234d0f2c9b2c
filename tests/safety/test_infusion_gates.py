"""The infusion day's gates walked through the chart as the nurse and the physician would.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)": item 7 (true times), 5 (the
pre-check override ceiling), 6 (monitoring required), 4 (dose deviations and the draw bound), 2
(the day's weight) and 3 (one session per patient per day). Each refusal names the gate on the
page and changes nothing (rows and the audit trail compared before and after); each allowed path
leaves its audit events. The clock is fixed at 15:00 in the clinic's zone (and ticks), so the
back-dated times of the helpers stay within the clinic's day.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import (
    ChartEntry,
    ControlledSubstanceRecord,
    DoseDeviation,
    InfusionSession,
    PreInfusionCheck,
    SessionStatus,
)
from tests.clock import NEW_YORK, afternoon_clock
from tests.conftest import World
from tests.factories.infusions import GOOD_VITALS, Day, arrive, day_at
from tests.factories.scheduling import infusion_appointment
from tests.safety.helpers import chart_rows

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[dt.datetime]:
    yield from afternoon_clock()


rows = chart_rows


def page(response: Any) -> str:
    content: bytes = response.content  # the test client's responses are typed Any here
    return html.unescape(content.decode())


def post(client: Client, day: Day, action: str, data: dict[str, Any]) -> Any:
    url = f"/infusions/sessions/{day.session.public_id}/{action}/"
    return client.post(url, data)


def refused(client: Client, day: Day, action: str, data: dict[str, Any], gate: str) -> str:
    """Post, expect the chart back with the gate named, and nothing changed."""
    before = rows()
    response = post(client, day, action, data)
    assert response.status_code == 422
    text = page(response)
    assert gate in text, [line for line in text.splitlines() if "error" in line]
    assert rows() == before
    return text


def local(moment: dt.datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime(LOCAL)


def events(day: Day) -> list[str]:
    return [
        str(e.detail["event"])
        for e in AuditEvent.objects.filter(object_id=str(day.session.public_id))
        .exclude(action="read")
        .order_by("id")
    ]


def vitals_form(day: Day, **extra: Any) -> dict[str, Any]:
    return {"version": day.v, **{k: str(v) for k, v in GOOD_VITALS.items()}, **extra}


def precheck_form(day: Day, **extra: Any) -> dict[str, Any]:
    return {
        **vitals_form(day),
        "weight_kg": "70",
        "pain_nrs": "6",
        "fasting": "on",
        "escort_arranged": "on",
        "consent_confirmed": "on",
        **extra,
    }


# -- gate 7: true times ----------------------------------------------------------------------------


def test_a_blank_time_is_the_time_of_saving_not_of_the_page(
    world: World, client_for: Any, afternoon: dt.datetime
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    chart = page(nurse.get(f"/infusions/sessions/{day.session.public_id}/"))
    # The time inputs start blank, with the hint; none carries the page's time.
    assert (
        '<input type="datetime-local" name="taken_at" class="when" '
        'aria-describedby="id_vitals_taken_at_helptext" id="id_vitals_taken_at">'
    ) in chart
    assert '<p class="hint" id="id_vitals_taken_at_helptext">blank = now</p>' in chart
    assert 'name="taken_at" value=' not in chart
    assert "blank = now" in chart
    with time_machine.travel(afternoon + dt.timedelta(minutes=3, seconds=10), tick=False):
        response = post(nurse, day, "vitals", vitals_form(day, taken_at=""))
        saved = timezone.now().replace(second=0, microsecond=0)
    assert response.status_code == 302
    entry = ChartEntry.objects.filter(session=day.session, kind="vitals").get()
    assert entry.taken_at == saved
    assert entry.time_reason == ""
    assert "vitals" in events(day)


def test_times_in_the_future_too_far_back_or_before_the_start_are_refused(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    day.backdate(90)
    now = timezone.now()
    refused(
        nurse,
        day,
        "vitals",
        vitals_form(day, taken_at=local(now + dt.timedelta(minutes=5))),
        "True times",
    )
    text = refused(
        nurse,
        day,
        "vitals",
        vitals_form(day, taken_at=local(now - dt.timedelta(minutes=20))),
        "True times",
    )
    assert "write why it is charted late" in text
    text = refused(
        nurse,
        day,
        "vitals",
        vitals_form(
            day, taken_at=local(now - dt.timedelta(minutes=70)), time_reason="Monitor was offline"
        ),
        "True times",
    )
    assert "the clinic allows charting at most 60 min back" in text
    started = day.reload().started_at
    assert started is not None
    text = refused(
        nurse,
        day,
        "vitals",
        vitals_form(
            day, taken_at=local(started - dt.timedelta(minutes=2)), time_reason="Monitor offline"
        ),
        "True times",
    )
    assert "before the start" in text


def test_a_time_twenty_minutes_back_is_kept_with_its_reason_and_audited(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    day.backdate(30)
    at = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=20)
    response = post(
        nurse, day, "vitals", vitals_form(day, taken_at=local(at), time_reason="Monitor offline")
    )
    assert response.status_code == 302
    entry = ChartEntry.objects.filter(session=day.session, kind="vitals").get()
    assert (entry.taken_at, entry.time_reason) == (at, "Monitor offline")
    audit = AuditEvent.objects.filter(detail__event="vitals").get()
    assert audit.detail["backdated_min"] == 20
    assert audit.detail["time_reason"] is True


def test_a_back_dated_stop_does_not_shorten_the_observation(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    day.backdate(40)
    stopped = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=31)
    response = post(
        nurse,
        day,
        "stop",
        {"stop-version": day.v, "stop-at": local(stopped), "stop-time_reason": "Busy with bay 2"},
    )
    assert response.status_code == 302
    session = day.reload()
    assert session.ended_at == stopped
    assert session.observed_from == timezone.now().replace(second=0, microsecond=0)
    day.vitals()
    day.aldrete()
    text = refused(
        nurse,
        day,
        "discharge",
        {"version": day.v, "escort_name": "Maria Moreno", "escort_confirmed": "on"},
        "Only 0 min since the infusion ended; at least 30 min of observation are needed",
    )
    assert "Monitoring required" not in text


def test_an_arrival_charted_late_needs_a_reason_and_keeps_it(world: World, client_for: Any) -> None:
    desk = client_for("front_desk")
    appointment = infusion_appointment(world, world.alice_patient)
    url = reverse("infusions:arrive", kwargs={"public_id": appointment.public_id})
    at = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=20)
    before = (rows(), list(AuditEvent.objects.exclude(action="read").values_list("id")))
    response = desk.post(url, {"arrived_at": local(at)}, follow=True)
    assert "True times: " in page(response)
    assert "write why it is charted late" in page(response)
    assert (rows(), list(AuditEvent.objects.exclude(action="read").values_list("id"))) == before
    assert not InfusionSession.objects.filter(appointment=appointment).exists()
    response = desk.post(url, {"arrived_at": local(at), "time_reason": "Checked in at the door"})
    assert response.status_code == 302
    session = InfusionSession.objects.get(appointment=appointment)
    assert (session.arrived_at, session.arrived_time_reason) == (at, "Checked in at the door")
    audit = AuditEvent.objects.filter(detail__event="arrive").get()
    assert (audit.detail["backdated_min"], audit.detail["time_reason"]) == (20, True)


def test_a_blank_arrival_is_the_moment_of_saving(world: World, client_for: Any) -> None:
    appointment = infusion_appointment(world, world.alice_patient)
    url = reverse("infusions:arrive", kwargs={"public_id": appointment.public_id})
    assert client_for("front_desk").post(url, {"arrived_at": ""}).status_code == 302
    session = InfusionSession.objects.get(appointment=appointment)
    assert session.arrived_at == timezone.now().replace(second=0, microsecond=0)
    assert session.arrived_time_reason == ""


def test_the_draw_carries_its_true_time(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "precheck")
    day.backdate(30)
    expiry = (timezone.localdate() + dt.timedelta(days=200)).isoformat()
    at = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=15)
    draw = {"version": day.v, "lot": "KET-1", "expiry": expiry, "drawn_mg": "50"}
    refused(nurse, day, "draw", {**draw, "drawn_at": local(at)}, "write why it is charted late")
    refused(
        nurse,
        day,
        "draw",
        {**draw, "drawn_at": local(at - dt.timedelta(minutes=50)), "time_reason": "Busy bay 2"},
        "the clinic allows charting at most 60 min back",
    )
    response = post(
        nurse, day, "draw", {**draw, "drawn_at": local(at), "time_reason": "Busy bay 2"}
    )
    assert response.status_code == 302
    record = ControlledSubstanceRecord.objects.get(session=day.session)
    assert (record.drawn_at, record.time_reason) == (at, "Busy bay 2")


# -- gate 5: the pre-check override ceiling --------------------------------------------------------


def test_a_reading_past_an_alert_limit_cannot_be_overridden_and_blocks_the_day(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = arrive(world)
    response = post(
        nurse, day, "precheck", precheck_form(day, systolic_bp="220", diastolic_bp="130")
    )
    assert response.status_code == 302
    check = PreInfusionCheck.objects.get()
    assert "no_start_today_systolic_bp_high" in {f["code"] for f in check.findings}
    refused(
        physician,
        day,
        "override",
        {"override-version": day.v, "override-reason": "Patient anxious, BP usually lower."},
        "Pre-check override ceiling: Systolic BP 220 mmHg is above 180",
    )
    # A calmer reading later passes the checklist, but the start stays blocked today.
    assert post(nurse, day, "precheck", precheck_form(day)).status_code == 302
    assert day.reload().start_cleared is False
    day.draw()
    refused(
        nurse,
        day,
        "start",
        {"version": day.v, "rate_ml_per_h": "5.25"},
        "The pre-infusion check did not pass",
    )


def test_a_failed_precheck_below_the_alert_limits_may_be_overridden(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = arrive(world)
    post(nurse, day, "precheck", precheck_form(day, systolic_bp="170", diastolic_bp="100"))
    response = post(
        physician,
        day,
        "override",
        {"override-version": day.v, "override-reason": "Known white-coat rise, 150/90 at home."},
    )
    assert response.status_code == 302
    assert day.reload().start_cleared is True
    assert events(day)[-1] == "precheck_override"


# -- gate 6: monitoring required -------------------------------------------------------------------


def test_the_start_needs_baseline_vitals_in_the_last_fifteen_minutes(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "precheck")
    day.draw()
    day.backdate(16)
    refused(
        nurse,
        day,
        "start",
        {"version": day.v, "rate_ml_per_h": "5.25"},
        "Monitoring required: no baseline vitals in the 15 min before the start",
    )
    day.precheck()
    response = post(nurse, day, "start", {"version": day.v, "rate_ml_per_h": "5.25"})
    assert response.status_code == 302
    assert events(day)[-1] == "start"


def test_discharge_waits_for_vitals_after_the_stop_and_signing_for_a_gap_reason(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = day_at(world, "infusing")
    day.backdate(40)  # 40 min infusing without vitals: a gap past twice the 15-min interval
    day.stop()
    day.backdate(35)
    day.aldrete()
    discharge = {"escort_name": "Maria Moreno", "escort_confirmed": "on"}
    text = refused(
        nurse,
        day,
        "discharge",
        {"version": day.v, **discharge},
        "Monitoring required: no vitals charted since the infusion stopped.",
    )
    assert "Monitoring required: no vitals in the last 15 min" in text
    day.vitals()
    assert post(nurse, day, "discharge", {"version": day.v, **discharge}).status_code == 302
    day.reconcile()
    text = refused(
        physician,
        day,
        "sign",
        {"sign-version": day.v},
        "Monitoring required: vitals were not charted for longer than twice the 15-min interval",
    )
    response = post(
        physician,
        day,
        "sign",
        {"sign-version": day.v, "sign-gap_reason": "Patient asleep, monitor alarms silent."},
    )
    assert response.status_code == 302
    session = day.reload()
    assert session.is_signed
    assert session.monitoring_gap_reason == "Patient asleep, monitor alarms silent."
    signed = AuditEvent.objects.filter(detail__event="sign").get()
    assert signed.detail["vitals_gaps"] == 1
    assert signed.detail["fields"] == ["monitoring_gap_reason"]


# -- gate 4: dose deviations and the draw ----------------------------------------------------------


def test_a_pump_left_running_past_the_plan_opens_a_deviation_that_blocks_until_reviewed(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = day_at(world, "infusing")
    day.vitals()
    day.backdate(30)
    day.vitals()
    day.backdate(30)  # 60 min at 52.5 mg/h: 52.5 mg on a 35 mg plan
    assert post(nurse, day, "stop", {"stop-version": day.v}).status_code == 302
    deviation = DoseDeviation.objects.get()
    assert deviation.trigger == "stop"
    assert deviation.given_mg == pytest.approx(52.5, abs=1)
    assert day.reload().open_deviations == 1
    board = page(nurse.get(f"/infusions/board/{world.cleveland.pk}/"))
    assert 'data-testid="board-deviation"' in board
    day.backdate(35)
    day.vitals()
    day.aldrete()
    discharge = {"version": day.v, "escort_name": "Maria Moreno", "escort_confirmed": "on"}
    text = refused(nurse, day, "discharge", discharge, "Dose deviation: 1 dose deviation(s)")
    assert 'data-testid="open-deviation"' in text
    refused(
        physician,
        day,
        "review",
        {"review-version": day.v, "review-deviation": str(deviation.public_id), "review-note": ""},
        "This field is required.",
    )
    response = post(
        physician,
        day,
        "review",
        {
            "review-version": day.v,
            "review-deviation": str(deviation.public_id),
            "review-note": "Pump not stopped at 40 min; patient well, incident report filed.",
        },
    )
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.reviewed_by == world.physician
    assert day.reload().open_deviations == 0
    discharge["version"] = day.v
    assert post(nurse, day, "discharge", discharge).status_code == 302
    assert "dose_deviation_open" in events(day)
    assert "dose_deviation_review" in events(day)


def test_a_draw_past_one_and_a_half_times_the_plan_is_refused(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "precheck")
    expiry = (timezone.localdate() + dt.timedelta(days=200)).isoformat()
    draw = {"version": day.v, "lot": "KET-1", "expiry": expiry}
    refused(
        nurse,
        day,
        "draw",
        {**draw, "drawn_mg": "52.6"},
        "Dose deviation: 52.6 mg is more than 1.5 x the plan's total of 35 mg",
    )
    assert post(nurse, day, "draw", {**draw, "drawn_mg": "52.5"}).status_code == 302
    assert events(day)[-1] == "controlled_draw"


def test_a_reconciled_given_away_from_the_rates_needs_a_reason_and_opens_a_deviation(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    reconcile = {
        "version": day.v,
        "given_mg": "50",
        "wasted_mg": "0",
        "witness": "",
    }
    refused(
        nurse,
        day,
        "reconcile",
        reconcile,
        "Dose deviation: given 50 mg differs from the 35.00 mg the charted rates give",
    )
    response = post(nurse, day, "reconcile", {**reconcile, "given_reason": "The line was flushed."})
    assert response.status_code == 302
    deviation = DoseDeviation.objects.get()
    assert (deviation.trigger, deviation.entered_mg, deviation.reason) == (
        "reconcile",
        50.0,
        "The line was flushed.",
    )
    assert day.reload().open_deviations == 1


# -- gate 2: the day's weight ----------------------------------------------------------------------


def test_a_days_weight_too_far_from_the_plans_blocks_the_start_without_override(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = arrive(world)
    refused(nurse, day, "precheck", precheck_form(day, weight_kg=""), "This field is required.")
    assert post(nurse, day, "precheck", precheck_form(day, weight_kg="78")).status_code == 302
    check = PreInfusionCheck.objects.get()
    assert (check.passed, check.weight_kg) == (False, 78.0)
    chart = page(nurse.get(f"/infusions/sessions/{day.session.public_id}/"))
    assert "Day's weight: 78 kg is more than 10% from the plan's 70 kg" in chart
    refused(
        physician,
        day,
        "override",
        {"override-version": day.v, "override-reason": "Weighed with winter boots on."},
        "Day's weight: the day's weight is too far from the plan's",
    )


# -- gate 3: one session per patient per day -------------------------------------------------------


def test_a_second_start_the_same_day_is_refused(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    first = day_at(world, "discharged")
    assert first.reload().status == SessionStatus.DISCHARGED
    second = arrive(world, chair_name="Chair 2")
    second.precheck()
    second.draw()
    text = refused(
        nurse,
        second,
        "start",
        {"version": second.v, "rate_ml_per_h": "5.25"},
        "One session per day: Alice Moreno already had a ketamine infusion on",
    )
    assert "at most 1 per day" in text


# -- gate 8: one alert per reading ----------------------------------------------------------------


def test_one_alert_per_reading_lists_every_limit_and_one_acknowledgement_closes_it(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    reading = vitals_form(day, systolic_bp="186", diastolic_bp="112", heart_rate="125")
    response = nurse.post(
        f"/infusions/sessions/{day.session.public_id}/vitals/", reading, follow=True
    )
    text = page(response)
    assert text.count('data-testid="open-alert"') == 1
    for limit in (
        "Systolic BP 186 mmHg is above 180",
        "Diastolic BP 112 mmHg is above 110",
        "Heart rate 125/min is above 120",
    ):
        assert limit in text
    alert = day.reload().alerts.get()
    assert len(alert.findings) == 5  # the two BP limits, the two rises over 128/78, the HR
    refused(
        nurse,
        day,
        "acknowledge",
        {"version": day.v, "alert": str(alert.public_id), "action": ""},
        "This field is required.",
    )
    response = post(
        nurse,
        day,
        "acknowledge",
        {"version": day.v, "alert": str(alert.public_id), "action": "paused"},
    )
    assert response.status_code == 302
    assert day.reload().open_alerts == 0
    assert events(day)[-2:] == ["vitals", "alert_acknowledge"]
