"""The infusion day through its services: the flow, the safety rules, refusals that change
nothing, optimistic locking and the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.monitoring import PRECHECK_SOURCE
from ketaclinic.infusions import services
from ketaclinic.infusions.models import (
    AdverseEvent,
    Alert,
    ChartEntry,
    ControlledSubstanceRecord,
    InfusionSession,
    Observation,
    PreInfusionCheck,
    RateEvent,
    SessionStatus,
)
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.scheduling.models import AppointmentStatus
from tests import factories
from tests.conftest import World
from tests.factories import actor
from tests.factories.infusions import ALDRETE_8, Day, arrive, day_at
from tests.factories.plans import make_plan as signed_plan
from tests.factories.scheduling import chair, infusion_appointment

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, Any]:
    """Every row the infusion services write, to assert that a refusal changed nothing."""
    return {
        "sessions": list(
            InfusionSession.objects.order_by("pk").values_list(
                "pk",
                "status",
                "version",
                "started_at",
                "ended_at",
                "current_rate_ml_per_h",
                "open_alerts",
                "signed_at",
                "discharged_at",
                "chair_id",
            )
        ),
        "entries": ChartEntry.objects.count(),
        "observations": Observation.objects.count(),
        "rates": RateEvent.objects.count(),
        "alerts": list(Alert.objects.values_list("pk", "acknowledged_at")),
        "checks": list(PreInfusionCheck.objects.values_list("pk", "override_by_id")),
        "cs": list(ControlledSubstanceRecord.objects.values_list("pk", "reconciled_at")),
        "aes": AdverseEvent.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def events(day: Day) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type="infusion_session", object_id=str(day.session.public_id)
        )
        .order_by("id")
        .values_list("detail__event", flat=True)
    )


def refused(call: Any, *args: Any, match: str = "", **kwargs: Any) -> ValidationError:
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        call(*args, **kwargs)
    assert snapshot() == before, "a refused request must change nothing"
    if match:
        assert match in " ".join(exc.value.messages), exc.value.messages
    return exc.value


# -- the whole day -----------------------------------------------------------------------------


def test_a_full_day_from_arrival_to_signature_is_audited_step_by_step(world: World) -> None:
    day = arrive(world)
    s = day.reload()
    assert s.status == SessionStatus.ARRIVED
    assert s.chair == chair(world)
    assert s.appointment is not None
    assert s.appointment.status == AppointmentStatus.ARRIVED
    day.backdate(120)
    check = day.precheck()
    assert check.passed is True
    assert day.reload().status == SessionStatus.PRECHECK
    day.draw()
    day.start()
    assert day.reload().status == SessionStatus.INFUSING
    day.vitals()
    day.backdate(20)
    day.vitals()
    day.backdate(20)
    started = day.reload().started_at
    assert started is not None
    # The stop at exactly 40 min: a blank time could fall in the next minute on a slow run.
    day.stop(at=started + dt.timedelta(minutes=40))
    s = day.reload()
    assert s.status == SessionStatus.RECOVERING
    assert s.given_before_mg == pytest.approx(35.0)
    day.backdate(31)
    day.vitals()
    day.aldrete()
    day.discharge()
    s = day.reload()
    assert s.status == SessionStatus.DISCHARGED
    assert s.discharge_values["aldrete"] == 9
    assert s.appointment is not None
    assert s.appointment.status == AppointmentStatus.COMPLETED
    day.reconcile(given="35", wasted="15")
    day.sign()
    s = day.reload()
    assert s.signed_by == world.physician
    assert events(day) == [
        "arrive",
        "precheck",
        "controlled_draw",
        "start",
        "vitals",
        "vitals",
        "stop",
        "vitals",
        "aldrete",
        "discharge",
        "controlled_reconcile",
        "sign",
    ]
    signed = AuditEvent.objects.get(detail__event="sign")
    assert signed.action == "sign"
    assert signed.actor == world.physician
    assert signed.patient_id == world.alice_patient.pk
    assert AuditEvent.objects.filter(
        object_type="appointment", detail__to=AppointmentStatus.COMPLETED
    ).exists()


# -- arrival -----------------------------------------------------------------------------------


def test_the_front_desk_checks_a_patient_in(world: World) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    session = services.session_arrive(
        actor=actor(world.front_desk),
        appointment_id=appointment.public_id,
        chair_id=chair(world).pk,
    )
    assert session.arrived_by == world.front_desk
    assert session.plan is not None


def test_arrival_is_refused_twice_and_on_another_day(world: World) -> None:
    day = arrive(world)
    assert day.session.appointment is not None
    refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=day.session.appointment.public_id,
        match="already arrived",
    )
    tomorrow = infusion_appointment(
        world,
        world.bob_patient,
        start=timezone.now() + dt.timedelta(days=2),
    )
    refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=tomorrow.public_id,
        match="not today",
    )


def test_the_nurses_check_in_moves_the_appointment_through_the_schedules_one_write(
    world: World,
) -> None:
    appointment = infusion_appointment(world, world.alice_patient)
    version = appointment.version
    services.session_arrive(actor=actor(world.nurse), appointment_id=appointment.public_id)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.version) == (AppointmentStatus.ARRIVED, version + 1)
    event = AuditEvent.objects.get(object_type="appointment", object_id=appointment.public_id)
    assert event.actor == world.nurse
    assert event.detail == {"change": "status", "from": "booked", "to": "arrived"}


def test_a_taken_chair_is_refused_at_arrival(world: World) -> None:
    arrive(world)
    signed_plan(world, world.bob_patient)
    other = infusion_appointment(world, world.bob_patient, provider=world.physician)
    error = refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=other.public_id,
        chair_id=chair(world).pk,
        match="Chair 1 is taken",
    )
    assert "chair" in error.error_dict


def test_arrival_in_the_future_is_refused(world: World) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    error = refused(
        services.session_arrive,
        actor=actor(world.nurse),
        appointment_id=appointment.public_id,
        arrived_at=timezone.now() + dt.timedelta(minutes=5),
        match="is in the future",
    )
    assert "arrived_at" in error.error_dict


@pytest.mark.parametrize("persona", ["alice", "other_physician", "clinic_admin"])
def test_only_the_clinics_desk_nurses_and_physicians_check_in(world: World, persona: str) -> None:
    appointment = infusion_appointment(world, world.alice_patient)
    with pytest.raises(Http404):
        services.session_arrive(
            actor=actor(getattr(world, persona)), appointment_id=appointment.public_id
        )
    assert InfusionSession.objects.count() == 0


# -- pre-infusion check ------------------------------------------------------------------------


def test_a_failed_precheck_blocks_the_start_until_a_physician_overrides(world: World) -> None:
    day = arrive(world)
    check = day.precheck(
        vitals={"systolic_bp": 165, "diastolic_bp": 95, "heart_rate": 80, "spo2": 97}
    )
    assert check.passed is False
    assert [f["code"] for f in check.findings] == ["systolic_bp_high"]
    assert check.findings[0]["source"] == PRECHECK_SOURCE
    assert "Cohen SP et al. 2018" in check.findings[0]["source"]
    assert check.policy_values["precheck_max_systolic_bp"] == 160
    day.draw()
    refused(day.start, match="did not pass")
    with pytest.raises(Http404):
        services.precheck_override(
            actor=day.nurse,
            session_id=day.session.public_id,
            expected_version=day.v,
            reason="Anxious on arrival; repeat BP lower.",
        )
    refused(
        services.precheck_override,
        actor=day.doctor,
        session_id=day.session.public_id,
        expected_version=day.v,
        reason="ok",
        match="at least 10 characters",
    )
    services.precheck_override(
        actor=day.doctor,
        session_id=day.session.public_id,
        expected_version=day.v,
        reason="White-coat effect; home readings 130/80.",
    )
    day.start()
    assert day.reload().status == SessionStatus.INFUSING
    override = AuditEvent.objects.get(detail__event="precheck_override")
    assert override.action == "override"
    assert override.detail["overridden"] == ["systolic_bp_high"]


def test_a_recheck_that_passes_clears_the_start(world: World) -> None:
    day = arrive(world)
    day.precheck(fasting=False, escort_arranged=False)
    assert day.reload().start_cleared is False
    day.precheck()
    s = day.reload()
    assert s.start_cleared is True
    assert s.baseline_systolic_bp == 128


def test_the_plan_dose_cannot_be_overridden(world: World) -> None:
    factories.ensure_eligible(world.bob_patient, world.physician)  # eligible, but no plan
    appointment = infusion_appointment(world, world.bob_patient)
    session = services.session_arrive(
        actor=actor(world.nurse), appointment_id=appointment.public_id
    )
    day = Day(world=world, session=session)
    check = day.precheck()
    assert [f["code"] for f in check.findings] == ["no_plan_dose"]
    refused(
        services.precheck_override,
        actor=day.doctor,
        session_id=session.public_id,
        expected_version=day.v,
        reason="The physician says go ahead anyway.",
        match="cannot be overridden",
    )


@pytest.mark.parametrize(
    ("vitals", "field", "text"),
    [
        (
            {"systolic_bp": 400, "diastolic_bp": 80},
            "systolic_bp",
            "Systolic BP must be at least 40 and at most 300",
        ),
        ({"systolic_bp": 120, "diastolic_bp": 130}, "diastolic_bp", "must be lower than"),
        ({"spo2": 101}, "spo2", "SpO2 must be at least 50 and at most 100"),
        ({"heart_rate": 0}, "heart_rate", "Heart rate must be at least 20"),
        ({"heart_rate": None}, "heart_rate", "Heart rate is required before starting"),
    ],
)
def test_impossible_vitals_are_refused_naming_the_field(
    world: World, vitals: dict[str, Any], field: str, text: str
) -> None:
    day = arrive(world)
    values = {"systolic_bp": 120, "diastolic_bp": 80, "heart_rate": 70, "spo2": 98, **vitals}
    error = refused(day.precheck, vitals=values, match=text)
    assert field in error.error_dict


# -- administration ----------------------------------------------------------------------------


def test_the_start_needs_the_draw_and_a_second_start_is_refused(world: World) -> None:
    day = arrive(world)
    day.precheck()
    refused(day.start, match="Record the ketamine drawn")
    day.draw()
    day.start()
    refused(day.start, match="already started")


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        ("5.26", "above the plan's rate of 5.25 mL/h"),
        ("99999.99", "over the clinic's limit of 1 mg/kg/h"),
        ("0", "Enter a rate above 0"),
    ],
)
def test_a_start_rate_past_the_plan_or_the_limits_is_refused(
    world: World, rate: str, text: str
) -> None:
    day = arrive(world)
    day.precheck()
    day.draw()
    error = refused(day.start, rate, match=text)
    assert "rate_ml_per_h" in error.error_dict


def test_a_negative_rate_is_refused(world: World) -> None:
    day = day_at(world, "infusing")
    error = refused(day.rate, "-1", match="cannot be negative")
    assert "rate_ml_per_h" in error.error_dict


def test_times_in_the_future_or_before_the_start_are_refused(world: World) -> None:
    day = day_at(world, "infusing")
    s = day.reload()
    assert s.started_at is not None
    refused(day.rate, "3", at=timezone.now() + dt.timedelta(minutes=3), match="in the future")
    refused(day.rate, "3", at=s.started_at - dt.timedelta(minutes=5), match="before the start")
    refused(day.vitals, taken_at=s.started_at - dt.timedelta(minutes=5), match="before the start")
    refused(day.stop, at=s.started_at - dt.timedelta(minutes=1), match="before the start")


def test_rate_changes_pause_resume_and_the_running_total(world: World) -> None:
    day = day_at(world, "infusing")
    start = day.reload().started_at
    assert start is not None
    day.backdate(30)
    start = day.reload().started_at
    assert start is not None
    # 10 min at 52.5 mg/h, pause 5 min, 10 min at 26 mg/h, then stop.
    day.rate("0", at=start + dt.timedelta(minutes=10), reason="BP up")
    refused(day.rate, "5", at=start + dt.timedelta(minutes=8), match="before the last rate change")
    event = day.rate("2.6", at=start + dt.timedelta(minutes=15))
    assert event.kind == "resume"
    assert event.given_mg == pytest.approx(52.5 / 6)
    refused(day.rate, "2.6", match="already runs at 2.6")
    day.stop(at=start + dt.timedelta(minutes=25))
    s = day.reload()
    assert s.given_before_mg == pytest.approx(52.5 / 6 + 26 / 6)
    assert [e.kind for e in s.rate_events.all()] == ["start", "pause", "resume", "stop"]
    refused(day.stop, match="already stopped" if False else "stopped at")


def test_running_past_the_planned_total_is_refused(world: World) -> None:
    day = day_at(world, "infusing")
    day.backdate(45)
    # 45 min at 52.5 mg/h is past the 35 mg of the plan: only stopping (or pausing) is allowed.
    error = refused(day.rate, "2", match="has been given")
    assert "rate_ml_per_h" in error.error_dict
    day.rate("0")
    day.stop()
    assert day.reload().status == SessionStatus.RECOVERING


# -- monitoring and alerts ---------------------------------------------------------------------


def test_vitals_are_stored_as_coded_observations(world: World) -> None:
    day = day_at(world, "infusing")
    entry, alerts = day.vitals(rass=0, pain_nrs=4)
    assert alerts == []
    rows = {o.code: (o.system, o.unit, o.value) for o in entry.observations.all()}
    assert rows == {
        "8480-6": ("loinc", "mm[Hg]", Decimal("128.00")),
        "8462-4": ("loinc", "mm[Hg]", Decimal("78.00")),
        "8867-4": ("loinc", "/min", Decimal("72.00")),
        "59408-5": ("loinc", "%", Decimal("98.00")),
        "9279-1": ("loinc", "/min", Decimal("14.00")),
        "72514-3": ("loinc", "1", Decimal("4.00")),
        "rass": ("ketaclinic", "{score}", Decimal("0.00")),
    }
    assert entry.phase == "during"


def test_a_blood_pressure_alert_stays_open_until_acknowledged_with_the_action(world: World) -> None:
    day = day_at(world, "infusing")
    _entry, alerts = day.vitals(systolic_bp=185, diastolic_bp=95)
    # 185 is above 180, and more than 30% over the baseline of 128; 95 is +22% only. One alert
    # for the reading lists both limits (gate 8), and one acknowledgement closes it.
    assert [a.code for a in alerts] == ["systolic_bp_high"]
    assert [f["code"] for f in alerts[0].findings] == ["systolic_bp_high", "systolic_bp_rise"]
    assert alerts[0].message == (
        "Systolic BP 185 mmHg is above 180: pause or slow the infusion and recheck. Systolic BP "
        "185 mmHg is more than 30% above the patient's baseline of 128: pause or slow the "
        "infusion and recheck."
    )
    assert day.reload().open_alerts == 1
    first = alerts[0]
    refused(
        services.alert_acknowledge,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        alert_id=first.public_id,
        action="",
        match="Choose the action taken",
    )
    refused(
        services.alert_acknowledge,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        alert_id=first.public_id,
        action="medication",
        match="Name the medication",
    )
    services.alert_acknowledge(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        alert_id=first.public_id,
        action="rate_reduced",
        note="Halved the rate.",
    )
    first.refresh_from_db()
    assert first.acknowledged_by == world.nurse
    assert first.action == "rate_reduced"
    assert day.reload().open_alerts == 0
    refused(
        services.alert_acknowledge,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        alert_id=first.public_id,
        action="paused",
        match="already acknowledged",
    )
    ack = AuditEvent.objects.get(detail__event="alert_acknowledge")
    assert ack.detail == {
        "event": "alert_acknowledge",
        "alert": "systolic_bp_high",
        "taken": "rate_reduced",
    }


def test_sedation_alerts_fire_on_rass_and_moaas(world: World) -> None:
    day = day_at(world, "infusing")
    _entry, alerts = day.vitals(rass=-3, moaas=2)
    assert [[f["code"] for f in a.findings] for a in alerts] == [["rass_low", "moaas_low"]]
    error = refused(day.vitals, rass=-6, match="RASS level is out of range")
    assert "rass" in error.error_dict


def test_vitals_need_at_least_one_value_and_an_infusion(world: World) -> None:
    day = arrive(world)
    refused(day.vitals, match="record vitals with the pre-infusion check")
    day = day_at(world, "infusing", world.bob_patient, chair_name="Chair 2")
    refused(
        services.vitals_record,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=None,
        vitals={},
        match="at least one value",
    )


def test_cadss_and_adverse_events(world: World) -> None:
    day = day_at(world, "infusing")
    answers = dict.fromkeys(("item_1", "item_2", "item_6", "item_7", "item_15", "item_22"), 1)
    entry = services.cadss_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=None,
        answers=answers,
    )
    obs = entry.observations.get()
    assert (obs.system, obs.code, obs.value, obs.unit) == (
        "ketaclinic",
        "cadss6",
        Decimal("6.00"),
        "{score}",
    )
    assert obs.components == answers
    refused(
        services.cadss_record,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        taken_at=None,
        answers={**answers, "item_22": 5},
        match="at most 4, not 5",
    )
    event = services.adverse_event_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=None,
        interventions=["ondansetron", "rate_reduced"],
        outcome="resolved",
    )
    assert event.intervention_labels() == ["Ondansetron", "Rate reduced"]
    refused(
        services.adverse_event_record,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        kind="anxiety",
        severity="mild",
        onset_at=None,
        interventions=["none", "midazolam"],
        outcome="resolved",
        match="'None needed' cannot go with",
    )


# -- discharge ---------------------------------------------------------------------------------


def test_discharge_before_the_end_is_refused(world: World) -> None:
    day = day_at(world, "infusing")
    refused(day.discharge, match="has not ended")


def test_discharge_is_refused_until_aldrete_reaches_nine(world: World) -> None:
    day = day_at(world, "recovering")
    day.backdate(35)
    day.vitals()
    error = refused(day.discharge, match="No modified Aldrete score")
    assert set(error.error_dict) == {"aldrete"}
    day.aldrete(ALDRETE_8)
    error = refused(day.discharge, match="Modified Aldrete score 8 is below 9")
    day.aldrete()
    error = refused(day.discharge, confirmed=False, name="", match="escort has not been confirmed")
    assert "escort_confirmed" in error.error_dict
    refused(day.discharge, name="", confirmed=True, match="Enter the escort's name")
    day.discharge()
    assert day.reload().status == SessionStatus.DISCHARGED


def test_discharge_waits_for_the_observation_time_and_open_alerts(world: World) -> None:
    day = day_at(world, "recovering")
    day.aldrete()
    refused(day.discharge, match="min of observation are needed")
    day.backdate(31)
    day.vitals(spo2=90)
    error = refused(day.discharge, match="not yet acknowledged")
    assert set(error.error_dict) == {"alerts"}


# -- controlled substance ----------------------------------------------------------------------


def test_an_expired_lot_is_refused(world: World) -> None:
    day = arrive(world)
    error = refused(day.draw, expiry=timezone.localdate() - dt.timedelta(days=40), match="expired")
    assert "expiry" in error.error_dict


def test_reconciliation_needs_the_sum_and_a_real_second_witness(world: World) -> None:
    day = day_at(world, "discharged")
    refused(day.reconcile, given="35", wasted="10", match="they must add up")
    refused(day.reconcile, given="35", wasted="15", witness=world.nurse, match="second person")
    # The password itself is checked by the page, through the sign-in path
    # (tests/infusions/test_witness.py); the service takes only that check's proof.
    refused(
        services.controlled_reconcile,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        given_mg=Decimal("35"),
        wasted_mg=Decimal("15"),
        witness=None,
        match="must witness the waste",
    )
    desk = refused(day.reconcile, given="35", wasted="15", witness=world.front_desk)
    assert "witness" in desk.error_dict
    day.reconcile(given="35", wasted="15")
    record = ControlledSubstanceRecord.objects.get()
    assert record.waste_witness == world.physician
    assert record.reconciled_by == world.nurse


def test_no_waste_needs_no_witness(world: World) -> None:
    day = day_at(world, "discharged")
    services.controlled_reconcile(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        given_mg=Decimal("50"),
        wasted_mg=Decimal("0"),
        witness=None,
        # 50 mg given where the rates give 35 mg: a reason, and a dose deviation (gate 4).
        given_reason="The whole syringe went into the line.",
    )
    assert ControlledSubstanceRecord.objects.get().waste_witness is None


# -- sign and lock -----------------------------------------------------------------------------


def test_signing_needs_discharge_reconciliation_and_a_physician(world: World) -> None:
    day = day_at(world, "recovering")
    refused(day.sign, match="after the patient is discharged")
    day.backdate(35)
    day.vitals()
    day.aldrete()
    day.discharge()
    refused(day.sign, match="Reconcile the controlled-substance record")
    day.reconcile()
    with pytest.raises(Http404):
        services.session_sign(
            actor=day.nurse, session_id=day.session.public_id, expected_version=day.v
        )
    day.sign()
    assert day.reload().is_signed


def test_a_signed_session_is_read_only_and_corrections_are_addenda(world: World) -> None:
    day = day_at(world, "signed")
    refused(day.vitals, match="signed and read-only")
    refused(day.aldrete, match="signed and read-only")
    services.addendum_add(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        text="Pain score after was 2, not 3 (patient clarified).",
    )
    assert day.reload().addenda.get().author == world.nurse
    assert "addendum" in events(day)


def test_addenda_wait_for_the_signature(world: World) -> None:
    day = day_at(world, "infusing")
    refused(
        services.addendum_add,
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        text="Late entry.",
        match="Addenda are for signed sessions",
    )


# -- concurrency and scope ---------------------------------------------------------------------


def test_the_second_of_two_nurses_saving_is_told_to_reload(world: World) -> None:
    day = day_at(world, "infusing")
    loaded = day.v
    second_nurse = factories.make_user(world.clinic, "nurse", locations=(world.cleveland,))
    services.vitals_record(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=loaded,
        taken_at=None,
        vitals={"heart_rate": 80},
    )
    before = snapshot()
    with pytest.raises(StaleObjectError, match="Reload the page"):
        services.vitals_record(
            actor=actor(second_nurse),
            session_id=day.session.public_id,
            expected_version=loaded,
            taken_at=None,
            vitals={"heart_rate": 90},
        )
    assert snapshot() == before
    assert day.reload().version == loaded + 1


def test_another_clinic_cannot_touch_a_session(world: World) -> None:
    day = day_at(world, "infusing")
    with pytest.raises(Http404):
        services.vitals_record(
            actor=actor(world.other_physician),
            session_id=day.session.public_id,
            expected_version=day.v,
            taken_at=None,
            vitals={"heart_rate": 80},
        )
    with pytest.raises(Http404):
        services.vitals_record(
            actor=actor(world.front_desk),
            session_id=day.session.public_id,
            expected_version=day.v,
            taken_at=None,
            vitals={"heart_rate": 80},
        )


def test_deferral_closes_the_session(world: World) -> None:
    day = arrive(world)
    day.precheck(vitals={"systolic_bp": 170, "diastolic_bp": 104, "heart_rate": 80, "spo2": 97})
    services.session_defer(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        reason="BP still 168/102 after 20 minutes rest.",
    )
    s = day.reload()
    assert s.status == SessionStatus.DEFERRED
    refused(day.start, match="deferred")
    day.sign()
    assert day.reload().is_signed
