"""Review of issue 6's safety rules through the services: every timed action refuses a time in
the future or before its start; no rate runs past the plan or the clinic's current limits (also
after a pause, and when the limits are tightened after the plan was signed); the scales before
and after; and audit events that name fields, never clinical values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions import services
from ketaclinic.infusions.models import (
    ChartEntry,
    ControlledSubstanceRecord,
    InfusionSession,
    RateEvent,
    SessionStatus,
)
from ketaclinic.infusions.selectors import board_for_location, session_chart
from ketaclinic.plans.models import Plan
from tests.conftest import World
from tests.factories import actor
from tests.factories.infusions import ALDRETE_9, Day, arrive, day_at
from tests.factories.plans import make_plan as signed_plan
from tests.factories.plans import set_limits
from tests.factories.scheduling import infusion_appointment
from tests.infusions.test_services import refused

pytestmark = pytest.mark.django_db

CADSS_ONES = dict.fromkeys(("item_1", "item_2", "item_6", "item_7", "item_15", "item_22"), 1)


def set_policy(world: World, **values: float) -> None:
    """The clinic admin saves the next policy version with these values (and a second physician
    approves it when the change needs one, gate 9)."""
    set_limits(world, **values)


def later(minutes: int = 5) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


# -- times: every timed action -----------------------------------------------------------------


def _cadss(day: Day, at: dt.datetime) -> Any:
    return services.cadss_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=at,
        answers=CADSS_ONES,
    )


def _aldrete(day: Day, at: dt.datetime) -> Any:
    return services.recovery_assess(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=at,
        aldrete=ALDRETE_9,
    )


def _adverse(day: Day, at: dt.datetime) -> Any:
    return services.adverse_event_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        kind="dizziness",
        severity="mild",
        onset_at=at,
        interventions=["reassurance"],
        outcome="resolved",
    )


def _started(day: Day) -> dt.datetime:
    at = day.reload().started_at
    assert at is not None
    return at


def _arrived(day: Day) -> dt.datetime:
    return day.reload().arrived_at


def _ended(day: Day) -> dt.datetime:
    at = day.reload().ended_at
    assert at is not None
    return at


def _checked(day: Day) -> dt.datetime:
    check = day.reload().prechecks.order_by("-recorded_at").first()
    assert check is not None
    return check.taken_at


# (state, action, field, the time it may not precede, what the message calls it)
TIMED: list[tuple[str, Callable[[Day, dt.datetime], Any], str, Callable[[Day], dt.datetime], str]]
TIMED = [
    ("arrived", lambda d, at: d.precheck(taken_at=at), "taken_at", _arrived, "the arrival"),
    ("precheck", lambda d, at: d.start(at=at), "at", _checked, "the pre-infusion check"),
    ("infusing", lambda d, at: d.rate("3", at=at), "at", _started, "the start"),
    ("infusing", lambda d, at: d.rate("0", at=at), "at", _started, "the start"),
    ("infusing", lambda d, at: d.stop(at=at), "at", _started, "the start"),
    ("infusing", lambda d, at: d.vitals(taken_at=at), "taken_at", _started, "the start"),
    ("infusing", _cadss, "taken_at", _started, "the start"),
    ("recovering", _aldrete, "taken_at", _ended, "the end of the infusion"),
    ("infusing", _adverse, "onset_at", _arrived, "the arrival"),
]
TIMED_IDS = [
    "precheck",
    "start",
    "rate change",
    "pause",
    "stop",
    "vitals",
    "cadss",
    "aldrete",
    "adverse event",
]


def _ready(world: World, state: str) -> Day:
    day = day_at(world, "precheck" if state == "precheck" else state)
    if state == "precheck":
        day.draw()
    if state == "arrived":
        day.backdate(30)
    return day


@pytest.mark.parametrize(("state", "action", "field", "bound", "label"), TIMED, ids=TIMED_IDS)
def test_every_timed_action_refuses_a_time_in_the_future(
    world: World, state: str, action: Any, field: str, bound: Any, label: str
) -> None:
    day = _ready(world, state)
    error = refused(action, day, later(3), match="is in the future")
    assert field in error.error_dict


@pytest.mark.parametrize(("state", "action", "field", "bound", "label"), TIMED, ids=TIMED_IDS)
def test_every_timed_action_refuses_a_time_before_its_start(
    world: World, state: str, action: Any, field: str, bound: Any, label: str
) -> None:
    day = _ready(world, state)
    error = refused(action, day, bound(day) - dt.timedelta(minutes=2), match=f"before {label}")
    assert field in error.error_dict


def test_an_arrival_past_the_back_dating_window_or_without_a_zone_is_refused(
    world: World,
) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    error = refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=appointment.public_id,
        arrived_at=timezone.now() - dt.timedelta(minutes=61),
        time_reason="Desk forgot to check her in",
        match="the clinic allows charting at most 60 min back",
    )
    assert "arrived_at" in error.error_dict
    error = refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=appointment.public_id,
        arrived_at=dt.datetime(2025, 1, 1, 9, 0),  # a naive time, on purpose
        match="Enter a time with its date",
    )
    assert "arrived_at" in error.error_dict


# -- rates: the plan and the clinic's current limits -------------------------------------------


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Decimal("1E+9"), "Enter a rate of at most 99999.99 mL/h."),
        (Decimal("NaN"), "Enter the pump rate in mL/h."),
        (Decimal("Infinity"), "Enter the pump rate in mL/h."),
        (Decimal("-5.25"), "The rate cannot be negative."),
        (Decimal("5.125"), "at most 2 decimal places"),
    ],
    ids=["enormous", "nan", "infinite", "negative", "too-precise"],
)
def test_absurd_rates_are_refused_at_the_start_and_while_running(
    world: World, rate: Decimal, text: str
) -> None:
    day = day_at(world, "precheck")
    day.draw()
    start = services.infusion_start
    error = refused(
        start,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        at=None,
        rate_ml_per_h=rate,
        match=text,
    )
    assert set(error.error_dict) == {"rate_ml_per_h"}
    day.start()
    error = refused(
        services.infusion_rate_set,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        at=None,
        rate_ml_per_h=rate,
        match=text,
    )
    assert set(error.error_dict) == {"rate_ml_per_h"}


def test_the_clinics_rate_limit_applies_even_within_the_plan(world: World) -> None:
    day = day_at(world, "precheck")
    day.draw()
    # The plan's 52.5 mg/h is 0.75 mg/kg/h for 70 kg: past a limit tightened to 0.5 mg/kg/h.
    set_policy(world, max_rate_mg_per_kg_h=0.5)
    error = refused(day.start, "5.25", match="over the clinic's limit of 0.5 mg/kg/h")
    assert "rate_ml_per_h" in error.error_dict
    day.start("3.5")  # 35 mg/h = 0.5 mg/kg/h exactly: allowed
    s = day.reload()
    assert s.status == SessionStatus.INFUSING
    assert s.policy_values["max_rate_mg_per_kg_h"] == 0.5
    event = RateEvent.objects.get(session=s)
    assert (
        event.policy_version
        == s.policy_version
        == clinic_policy_current(clinic_id=world.clinic.pk).version
    )


@pytest.mark.parametrize(
    ("limits", "text"),
    [
        ({"max_session_mg": 30.0}, "over the clinic's session limit of 30 mg"),
        ({"max_session_mg_per_kg": 0.4}, "over the clinic's session limit of 0.4 mg/kg"),
    ],
)
def test_a_plan_total_past_the_clinics_current_limits_cannot_start(
    world: World, limits: dict[str, float], text: str
) -> None:
    day = day_at(world, "precheck")
    day.draw()
    # The plan (35 mg, 0.5 mg/kg) was signed within the limits; the clinic tightened them since.
    set_policy(world, **limits)
    error = refused(day.start, "2", match=text)
    assert "rate_ml_per_h" in error.error_dict
    assert "The plan's total of 35 mg (0.5 mg/kg)" in error.messages[0]


def test_after_a_pause_a_resume_is_checked_like_any_rate(world: World) -> None:
    day = day_at(world, "infusing")
    day.backdate(10)
    start = day.reload().started_at
    assert start is not None
    pause = day.rate("0", at=start + dt.timedelta(minutes=5), reason="BP up")
    assert pause.kind == "pause"
    assert pause.policy_version is not None
    # Above the plan's rate: refused after the pause as before it.
    error = refused(day.rate, "5.26", match="above the plan's rate")
    assert "rate_ml_per_h" in error.error_dict
    # The clinic lowers its total below the plan's while the pump is paused: no resume at all.
    set_policy(world, max_session_mg=30.0)
    refused(day.rate, "2", match="over the clinic's session limit of 30 mg")
    # A pause and a stop are always allowed.
    day.stop()
    assert day.reload().status == SessionStatus.RECOVERING


def test_a_resume_once_the_plan_total_was_given_is_refused(world: World) -> None:
    day = day_at(world, "infusing")
    day.backdate(41)
    start = day.reload().started_at
    assert start is not None
    # 40 min at 52.5 mg/h = 35 mg, the plan's total: paused there, the pump may not resume.
    day.rate("0", at=start + dt.timedelta(minutes=40))
    error = refused(day.rate, "1", match="The plan's total of 35 mg has been given")
    assert "rate_ml_per_h" in error.error_dict


def test_a_rate_change_mid_infusion_stores_the_policy_it_was_checked_against(
    world: World,
) -> None:
    day = day_at(world, "infusing")
    first = day.reload().policy_version
    set_policy(world, max_rate_mg_per_kg_h=0.9)
    event = day.rate("3")
    assert event.policy_version == clinic_policy_current(clinic_id=world.clinic.pk).version
    assert event.policy_version != first
    assert AuditEvent.objects.get(detail__event="rate_change").detail == {
        "event": "rate_change",
        "fields": ["rate_ml_per_h"],
        "policy_version": event.policy_version,
    }


def test_a_syringe_drawn_for_another_concentration_cannot_start(world: World) -> None:
    day = day_at(world, "precheck")
    day.draw()
    # The plan is replaced after the draw by one at 50 mg/mL: 5x the mg per mL in the syringe.
    Plan.objects.filter(patient=world.alice_patient).update(status="superseded")
    plan = signed_plan(world, world.alice_patient)
    plan.protocol.concentration_mg_per_ml = 50.0
    plan.protocol.save()
    refused(day.start, "1", match="is 10 mg/mL but the signed plan now uses 50 mg/mL")


def test_a_pump_running_past_the_plans_total_is_flagged_on_the_board_and_chart(
    world: World,
) -> None:
    day = day_at(world, "infusing")
    board = board_for_location(actor=day.nurse, location_id=world.cleveland.pk)
    assert [i.stop_reason for r in board.rows for i in r.items] == [""]
    day.backdate(45)  # 45 min at 52.5 mg/h: past the plan's 35 mg
    board = board_for_location(actor=day.nurse, location_id=world.cleveland.pk)
    reasons = [i.stop_reason for r in board.rows for i in r.items if i.session]
    assert reasons == ["The plan's total of 35 mg has been given: stop the infusion."]
    chart = session_chart(actor=day.nurse, public_id=day.session.public_id)
    assert chart.stop_reason == reasons[0]
    desk = board_for_location(actor=actor(world.front_desk), location_id=world.cleveland.pk)
    assert [i.stop_reason for r in desk.rows for i in r.items] == [""]
    day.stop()
    chart = session_chart(actor=day.nurse, public_id=day.session.public_id)
    assert chart.stop_reason == ""


# -- alerts and overdue vitals use the clinic's settings ---------------------------------------


def test_the_pre_infusion_check_uses_the_clinics_thresholds_and_stores_them(
    world: World,
) -> None:
    day = arrive(world)
    high = {"systolic_bp": 165, "diastolic_bp": 95, "heart_rate": 80, "spo2": 97}
    assert day.precheck(vitals=high).passed is False
    set_policy(world, precheck_max_systolic_bp=170)
    check = day.precheck(vitals=high)
    assert check.passed is True
    assert check.policy_values["precheck_max_systolic_bp"] == 170
    assert check.policy_version == clinic_policy_current(clinic_id=world.clinic.pk).version
    assert day.reload().start_cleared is True


def test_a_rise_over_the_patients_baseline_alerts_below_the_absolute_limits(world: World) -> None:
    day = day_at(world, "infusing")  # baseline 128/78 from the pre-infusion check
    _entry, alerts = day.vitals(systolic_bp=170, diastolic_bp=105)
    # 170 and 105 are under 180/110, but more than 30% over 128 (166.4) and 78 (101.4).
    assert [(f["code"], f["value"], f["threshold"]) for a in alerts for f in a.findings] == [
        ("systolic_bp_rise", 170.0, pytest.approx(166.4)),
        ("diastolic_bp_rise", 105.0, pytest.approx(101.4)),
    ]
    assert len(alerts) == 1
    assert {a.policy_version for a in alerts} == {day.reload().policy_version}
    # The clinic allows a 40% rise: the same reading no longer alerts; the alert names the new
    # policy version.
    set_policy(world, alert_bp_rise_percent=40)
    _entry, alerts = day.vitals(systolic_bp=170, diastolic_bp=105)
    assert alerts == []
    _entry, alerts = day.vitals(systolic_bp=180, diastolic_bp=100)
    assert [a.code for a in alerts] == ["systolic_bp_rise"]
    assert alerts[0].policy_version == clinic_policy_current(clinic_id=world.clinic.pk).version


def test_overdue_vitals_follow_the_clinics_interval(world: World) -> None:
    day = day_at(world, "infusing")
    day.backdate(12)

    def overdue() -> list[bool]:
        board = board_for_location(actor=day.nurse, location_id=world.cleveland.pk)
        return [i.vitals_overdue for r in board.rows for i in r.items if i.session]

    assert overdue() == [False]  # 12 min without vitals: within the default 15
    set_policy(world, vitals_interval_min=10)
    assert overdue() == [True]
    day.vitals()
    assert overdue() == [False]


# -- scales before and after -------------------------------------------------------------------


def test_pain_and_cadss_are_charted_before_and_after_the_infusion(world: World) -> None:
    day = arrive(world)
    day.backdate(120)
    baseline = _cadss(day, timezone.now())
    assert baseline.phase == "before"
    day.precheck(pain_nrs=7)
    day.draw()
    day.start()
    day.backdate(45)
    day.stop()
    day.backdate(5)
    after = _cadss(day, timezone.now())
    assert after.phase == "after"
    day.aldrete(pain_nrs=3)
    pain = [
        (entry.kind, entry.phase, obs.system, obs.code, obs.unit, obs.value)
        for entry in ChartEntry.objects.filter(session=day.session).order_by("taken_at", "id")
        for obs in entry.observations.filter(code="72514-3")
    ]
    assert pain == [
        ("precheck", "before", "loinc", "72514-3", "1", Decimal("7.00")),
        ("recovery", "after", "loinc", "72514-3", "1", Decimal("3.00")),
    ]
    cadss = list(
        ChartEntry.objects.filter(session=day.session, kind="cadss")
        .order_by("taken_at", "id")
        .values_list("phase", "observations__code", "observations__value")
    )
    assert cadss == [("before", "cadss6", Decimal("6.00")), ("after", "cadss6", Decimal("6.00"))]


def test_cadss_is_refused_once_the_session_is_closed(world: World) -> None:
    day = day_at(world, "discharged")
    refused(_cadss, day, timezone.now(), match="discharged at")


# -- adverse events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"kind": "alien_abduction"}, "kind", "is not a valid choice"),
        ({"severity": "apocalyptic"}, "severity", "is not a valid choice"),
        ({"outcome": "unknown"}, "outcome", "is not a valid choice"),
        ({"interventions": []}, "interventions", "Choose what was done"),
        ({"interventions": ["leeches"]}, "interventions", "Choose from the list"),
        ({"kind": "other"}, "note", "Describe the event"),
    ],
)
def test_adverse_event_bad_input_names_the_field_and_changes_nothing(
    world: World, changes: dict[str, Any], field: str, text: str
) -> None:
    day = day_at(world, "infusing")
    args: dict[str, Any] = {
        "kind": "nausea_vomiting",
        "severity": "moderate",
        "onset_at": None,
        "interventions": ["ondansetron"],
        "outcome": "resolved",
        **changes,
    }
    error = refused(
        services.adverse_event_record,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        match=text,
        **args,
    )
    assert field in error.error_dict


# -- the audit names fields, not values --------------------------------------------------------


def test_audit_events_of_a_day_name_fields_not_clinical_values(world: World) -> None:
    day = day_at(world, "discharged")
    day.reconcile(given="35", wasted="15")
    details = {
        e.detail["event"]: e.detail
        for e in AuditEvent.objects.filter(
            object_type="infusion_session", object_id=str(day.session.public_id)
        ).exclude(action="read")
    }
    assert details["controlled_draw"] == {
        "event": "controlled_draw",
        "fields": ["lot", "expiry", "drawn_mg"],
    }
    assert details["start"]["fields"] == ["started_at", "rate_ml_per_h"]
    assert details["stop"] == {"event": "stop", "fields": ["ended_at"]}
    assert details["aldrete"] == {"event": "aldrete", "fields": ["aldrete", "pain_nrs"]}
    assert set(details["discharge"]) == {"event", "policy_version"}
    assert details["controlled_reconcile"] == {
        "event": "controlled_reconcile",
        "fields": ["given_mg", "wasted_mg", "waste_witness"],
        "witness": world.physician.pk,
    }
    # Every key of every event is a name, an id or a rule code: no mg figure, rate or score.
    allowed = {
        "event",
        "fields",
        "appointment",
        "chair",
        "passed",
        "failed",
        "policy_version",
        "witness",
        "alerts",
    }
    assert {key for detail in details.values() for key in detail} <= allowed
    assert ControlledSubstanceRecord.objects.get().given_mg == Decimal("35")
    assert InfusionSession.objects.get().discharge_values["aldrete"] == 9


def test_refusals_are_validation_errors_not_crashes(world: World) -> None:
    """A rate of the wrong type reaches the service from code, not a form: still a message."""
    day = day_at(world, "infusing")
    with pytest.raises(ValidationError) as exc:
        services.infusion_rate_set(
            actor=day.nurse,
            session_id=day.session.public_id,
            expected_version=day.v,
            at=None,
            rate_ml_per_h=Decimal("sNaN"),
        )
    assert exc.value.error_dict["rate_ml_per_h"][0].messages == ["Enter the pump rate in mL/h."]
