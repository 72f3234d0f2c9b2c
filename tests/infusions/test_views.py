"""The chair board and the chart over HTTP: what each role sees, refusals (422) and stale saves
(409) that change nothing, the audit of every read, and the board's fixed query count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.monitoring import ALERT_SOURCE
from ketaclinic.infusions import services
from ketaclinic.infusions.models import Alert, InfusionSession, Observation, SessionStatus
from tests import factories
from tests.conftest import World
from tests.factories.infusions import LATE, arrive, bare_session, day_at, new_patient
from tests.factories.plans import make_plan as signed_plan
from tests.factories.scheduling import chair, infusion_appointment

pytestmark = pytest.mark.django_db


def chart_url(session: InfusionSession) -> str:
    return f"/infusions/sessions/{session.public_id}/"


def action_url(session: InfusionSession, action: str) -> str:
    return f"/infusions/sessions/{session.public_id}/{action}/"


def board_url(world: World) -> str:
    return f"/infusions/board/{world.cleveland.pk}/"


def text(response: Any) -> str:
    content: bytes = response.content  # the test client's responses are typed Any here
    return content.decode()


# -- the board ---------------------------------------------------------------------------------


def test_the_board_shows_each_chair_with_its_sessions_and_states(
    world: World, client_for: Any
) -> None:
    infusing = day_at(world, "infusing")
    infusing.vitals(systolic_bp=185, diastolic_bp=90)
    signed_plan(world, world.bob_patient)
    infusion_appointment(world, world.bob_patient, chair=chair(world, "Chair 2"))
    response = client_for("nurse").get(board_url(world))
    assert response.status_code == 200
    page = text(response)
    assert 'data-chair="Chair 1"' in page
    assert 'data-state="infusing"' in page
    assert 'data-state="expected"' in page
    assert "Systolic BP 185 mmHg is above 180" in page
    assert "Open chart" in page
    assert "Arrived<span" in page
    assert AuditEvent.objects.filter(object_type="chair_board", action="read").count() == 1


def test_the_front_desk_sees_the_board_without_clinical_detail(
    world: World, client_for: Any
) -> None:
    day = day_at(world, "infusing")
    day.vitals(systolic_bp=185, diastolic_bp=90)
    page = text(client_for("front_desk").get(board_url(world)))
    assert "Alice Moreno" in page
    assert 'data-state="infusing"' in page
    # The reading itself, not the digits: a UUID or CSRF token on the page may hold "185".
    assert "185 mmHg" not in page
    assert "Systolic BP" not in page
    assert "Last vitals" not in page
    assert "Open chart" not in page
    assert chart_url(day.session) not in page


def test_the_board_updates_itself_by_polling_a_partial(world: World, client_for: Any) -> None:
    page = text(client_for("nurse").get(board_url(world)))
    assert f'hx-get="/infusions/board/{world.cleveland.pk}/live/"' in page
    assert 'hx-trigger="every 15s' in page
    partial = client_for("nurse").get(f"/infusions/board/{world.cleveland.pk}/live/")
    assert partial.status_code == 200
    assert "<html" not in text(partial)
    assert 'id="board"' in text(partial)


@pytest.fixture
def frozen_afternoon() -> Iterator[None]:
    """A stopped clock at 15:00:10 in New York today: recorded times are whole minutes, so a
    running clock could turn "20 min ago" into 21 between recording and reading the board."""
    zone = ZoneInfo("America/New_York")
    today = timezone.now().astimezone(zone).date()
    with time_machine.travel(
        dt.datetime.combine(today, dt.time(15, 0, 10), tzinfo=zone), tick=False
    ):
        yield


@pytest.mark.usefixtures("frozen_afternoon")
def test_overdue_vitals_and_readiness_are_flagged(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    day.backdate(20)
    page = text(client_for("nurse").get(board_url(world)))
    assert 'data-testid="overdue"' in page
    assert "Last vitals 20 min ago" in page
    ready = day_at(world, "recovering", world.bob_patient, chair_name="Chair 2")
    ready.backdate(31)
    ready.vitals()
    ready.aldrete()
    page = text(client_for("nurse").get(board_url(world)))
    assert 'data-state="ready"' in page


def test_the_board_home_opens_the_users_location(world: World, client_for: Any) -> None:
    response = client_for("nurse").get("/infusions/board/")
    assert response.status_code == 200
    assert "Chair board: Cleveland" in text(response)


def test_another_clinics_location_is_not_found(world: World, client_for: Any) -> None:
    assert client_for("other_physician").get(board_url(world)).status_code == 404


def _busy_location(world: World, active: int) -> int:
    location = factories.make_location(world.clinic, f"Big {active}", chairs=40)
    chairs = list(location.chairs.order_by("pk"))
    now = timezone.now()
    for index in range(active):
        patient = new_patient(world)
        session = bare_session(
            world,
            patient,
            chairs[index],
            location=location,
            status=SessionStatus.INFUSING,
            started_at=now - dt.timedelta(minutes=20),
            current_rate_ml_per_h=5,
            current_rate_mg_per_h=50.0,
            rate_since=now - dt.timedelta(minutes=20),
            last_vitals_at=now - dt.timedelta(minutes=16),
            open_alerts=1,
        )
        Alert.objects.create(
            session=session,
            code="systolic_bp_high",
            message="Systolic BP 185 mmHg is above 180.",
            source=ALERT_SOURCE,
            raised_at=now,
            policy_version=1,
        )
    return location.pk


@pytest.mark.parametrize("active", [1, 40])
def test_the_board_query_count_does_not_grow_with_sessions(
    world: World, client_for: Any, django_assert_num_queries: Any, active: int
) -> None:
    location_id = _busy_location(world, active)
    client: Client = client_for("nurse")
    client.get(f"/infusions/board/{location_id}/")  # warm the session and user caches
    # session, user, location, locations, chairs, sessions, open alerts, appointments, policy,
    # the eligibility in force (policy and decisions), audit insert (with its savepoint pair and
    # its chain head's lock and move): the same for 1 or 40 active sessions.
    with django_assert_num_queries(16):
        response = client.get(f"/infusions/board/{location_id}/")
    assert response.status_code == 200
    assert text(response).count('data-testid="board-alert"') == active
    assert text(response).count('data-testid="board-eligibility"') == active


# -- arrival -----------------------------------------------------------------------------------


def test_the_front_desk_checks_in_from_the_board(world: World, client_for: Any) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    response = client_for("front_desk").post(
        f"/infusions/appointments/{appointment.public_id}/arrive/",
        {"chair": chair(world, "Chair 2").pk},
    )
    assert response.status_code == 302
    assert response["Location"] == board_url(world)
    session = InfusionSession.objects.get()
    assert session.chair == chair(world, "Chair 2")


def test_a_nurse_checking_in_lands_on_the_chart(world: World, client_for: Any) -> None:
    appointment = infusion_appointment(world, world.alice_patient)
    response = client_for("nurse").post(
        f"/infusions/appointments/{appointment.public_id}/arrive/", {}
    )
    session = InfusionSession.objects.get()
    assert response["Location"] == chart_url(session)
    again = client_for("nurse").post(
        f"/infusions/appointments/{appointment.public_id}/arrive/", {}, follow=True
    )
    assert "already arrived" in text(again)
    assert InfusionSession.objects.count() == 1


# -- the chart ---------------------------------------------------------------------------------


def test_the_chart_is_audited_and_shows_the_predicted_curve(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    response = client_for("physician").get(chart_url(day.session))
    page = text(response)
    assert response.status_code == 200
    assert 'data-testid="pk-chart"' in page
    assert "<svg" in page
    assert "From the rates given" in page
    assert "Planned" in page
    assert AuditEvent.objects.filter(
        object_type="infusion_session", action="read", object_id=str(day.session.public_id)
    ).exists()


def test_the_clinic_admin_reads_the_chart_but_cannot_chart(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    page = text(client_for("clinic_admin").get(chart_url(day.session)))
    assert "Alice Moreno" in page
    assert 'data-testid="vitals-form"' not in page
    response = client_for("clinic_admin").post(
        action_url(day.session, "vitals"), {"version": day.v, "heart_rate": 80}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["front_desk", "alice", "other_physician"])
def test_who_may_not_chart_gets_a_404(world: World, client_for: Any, persona: str) -> None:
    day = day_at(world, "infusing")
    before = Observation.objects.count()
    response = client_for(persona).post(
        action_url(day.session, "vitals"), {"version": day.v, "heart_rate": 80}
    )
    assert response.status_code == 404
    assert Observation.objects.count() == before


def test_only_a_physician_signs(world: World, client_for: Any) -> None:
    day = day_at(world, "discharged")
    day.reconcile()
    response = client_for("nurse").post(action_url(day.session, "sign"), {"sign-version": day.v})
    assert response.status_code == 404
    response = client_for("physician").post(
        action_url(day.session, "sign"), {"sign-version": day.v}
    )
    assert response.status_code == 302
    assert day.reload().is_signed
    page = text(client_for("nurse").get(chart_url(day.session)))
    assert "Signed and locked" in page
    assert 'action="' + action_url(day.session, "vitals") not in page
    assert "Add the addendum" in page


def test_an_unknown_action_is_not_found(world: World, client_for: Any) -> None:
    day = arrive(world)
    assert client_for("nurse").post(action_url(day.session, "teleport"), {}).status_code == 404


def test_bad_input_is_refused_with_the_field_named_and_nothing_changed(
    world: World, client_for: Any
) -> None:
    day = day_at(world, "infusing")
    before = (Observation.objects.count(), day.v)
    response = client_for("nurse").post(
        action_url(day.session, "vitals"),
        {"version": day.v, "systolic_bp": "120", "diastolic_bp": "80", "spo2": "130"},
    )
    assert response.status_code == 422
    assert "Ensure this value is less than or equal to 100." in text(response)
    response = client_for("nurse").post(
        action_url(day.session, "vitals"),
        {"version": day.v, "systolic_bp": "120", "diastolic_bp": "125"},
    )
    assert response.status_code == 422
    assert "Diastolic BP 125 must be lower than Systolic BP 120" in text(response)
    assert (Observation.objects.count(), day.v) == before


def test_a_rate_past_the_plan_is_refused_over_http(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    version = day.v
    for rate, message in [
        ("6", "above the plan&#x27;s rate of 5.25 mL/h"),
        ("9", "the rate is 1.29 mg/kg/h, over the clinic&#x27;s limit of 1 mg/kg/h"),
        ("-2", "The rate cannot be negative."),
        ("123456789", "Enter a rate of at most 99999.99 mL/h."),
    ]:
        response = client_for("nurse").post(
            action_url(day.session, "rate"), {"version": version, "rate_ml_per_h": rate}
        )
        assert response.status_code == 422, rate
        assert message in text(response), rate
    assert day.v == version
    assert day.reload().current_rate_ml_per_h == 5.25


def test_a_future_time_is_refused_over_http(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    future = (timezone.now() + dt.timedelta(hours=2)).astimezone(ZoneInfo("America/New_York"))
    response = client_for("nurse").post(
        action_url(day.session, "stop"),
        {"stop-version": day.v, "stop-at": future.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 422
    assert "is in the future" in text(response)
    assert day.reload().status == SessionStatus.INFUSING


def test_two_nurses_saving_the_second_is_told_to_reload(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    loaded = day.v
    first = client_for("nurse").post(
        action_url(day.session, "vitals"), {"version": loaded, "heart_rate": "80"}
    )
    assert first.status_code == 302
    count = Observation.objects.count()
    second = client_for("physician").post(
        action_url(day.session, "vitals"), {"version": loaded, "heart_rate": "95"}
    )
    assert second.status_code == 409
    assert "changed by someone else" in text(second)
    assert Observation.objects.count() == count
    assert day.v == loaded + 1


def test_a_vitals_save_with_an_alert_warns_and_is_audited(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    response = client_for("nurse").post(
        action_url(day.session, "vitals"),
        {"version": day.v, "systolic_bp": "186", "diastolic_bp": "92", "heart_rate": "88"},
        follow=True,
    )
    page = text(response)
    assert "ALERT: Systolic BP 186 mmHg is above 180" in page
    assert page.count('data-testid="open-alert"') == 1
    event = AuditEvent.objects.filter(detail__event="vitals").get()
    assert event.actor == world.nurse
    assert event.detail["alerts"] == ["systolic_bp_high", "systolic_bp_rise"]


def test_the_patients_session_list(world: World, client_for: Any) -> None:
    day = day_at(world, "discharged")
    response = client_for("physician").get(
        f"/infusions/patients/{world.alice_patient.public_id}/sessions/"
    )
    assert response.status_code == 200
    assert chart_url(day.session) in text(response)
    assert AuditEvent.objects.filter(object_type="infusion_session_list").count() == 1


# -- review additions --------------------------------------------------------------------------


def _busy_chart(world: World, sets: int) -> InfusionSession:
    """A recovering session with ``sets`` vitals sets (each raising an alert), CADSS and
    adverse events: every list the chart shows holds ``sets`` rows."""
    day = day_at(world, "infusing")
    # Within the hour a time may be charted back (gate 7), with the helpers' reason.
    day.backdate(5 * sets + 5)
    start = day.reload().started_at
    assert start is not None
    for n in range(sets):
        at = start + dt.timedelta(minutes=5 * n + 1)
        day.vitals(taken_at=at, systolic_bp=185, diastolic_bp=90, rass=0, pain_nrs=3)
        services.cadss_record(
            actor=day.nurse,
            session_id=day.session.public_id,
            expected_version=day.v,
            taken_at=at,
            answers=dict.fromkeys(
                ("item_1", "item_2", "item_6", "item_7", "item_15", "item_22"), 0
            ),
            time_reason=LATE,
        )
        services.adverse_event_record(
            actor=day.nurse,
            session_id=day.session.public_id,
            expected_version=day.v,
            kind="nausea_vomiting",
            severity="mild",
            onset_at=at,
            interventions=["ondansetron"],
            outcome="resolved",
            time_reason=LATE,
        )
        day.rate("0" if n % 2 == 0 else "2", at=at)
    day.stop()
    return day.reload()


# session, user, savepoint, the session row, prechecks, entries, observations, rate events,
# alerts, dose deviations, adverse events, controlled record, addenda, chairs, witnesses,
# policy, protocol, audit chain head lock, audit insert, chain head move, release: the same
# however long the session's history.
CHART_QUERIES = 21


@pytest.mark.parametrize("sets", [1, 8])
def test_the_chart_query_count_does_not_grow_with_the_history(
    world: World, client_for: Any, django_assert_num_queries: Any, sets: int
) -> None:
    session = _busy_chart(world, sets)
    client: Client = client_for("nurse")
    client.get(chart_url(session))  # warm the session and user caches
    with django_assert_num_queries(CHART_QUERIES):
        response = client.get(chart_url(session))
    assert response.status_code == 200
    page = text(response)
    assert page.count('data-testid="open-alert"') == sets
    assert page.count('data-testid="adverse-event"') == sets
    assert page.count('data-testid="scale-row"') == sets


def test_the_chart_flags_overdue_vitals(world: World, client_for: Any) -> None:
    day = day_at(world, "infusing")
    page = text(client_for("nurse").get(chart_url(day.session)))
    assert 'data-testid="overdue"' not in page
    day.backdate(16)
    page = text(client_for("nurse").get(chart_url(day.session)))
    assert 'data-testid="overdue"' in page
    assert "Vitals are overdue" in page


def test_a_nurse_cannot_override_a_failed_check_over_http(world: World, client_for: Any) -> None:
    day = arrive(world)
    day.precheck(fasting=False)
    version = day.v
    form = {"override-version": version, "override-reason": "Patient insists, ate at 6 am."}
    assert client_for("nurse").post(action_url(day.session, "override"), form).status_code == 404
    s = day.reload()
    assert (s.version, s.start_cleared) == (version, False)
    page = text(client_for("nurse").get(chart_url(day.session)))
    assert "Physician override" not in page
    assert (
        client_for("physician").post(action_url(day.session, "override"), form).status_code == 302
    )
    assert day.reload().start_cleared is True


def test_the_board_and_chart_tell_the_nurse_to_stop_a_pump_past_the_plan(
    world: World, client_for: Any
) -> None:
    day = day_at(world, "infusing")
    day.backdate(45)
    stop = "The plan&#x27;s total of 35 mg has been given: stop the infusion."
    assert stop in text(client_for("nurse").get(board_url(world)))
    assert stop in text(client_for("nurse").get(chart_url(day.session)))
    assert 'data-testid="pump-stop"' not in text(client_for("front_desk").get(board_url(world)))


def test_a_baseline_cadss_can_be_charted_before_the_start(world: World, client_for: Any) -> None:
    day = day_at(world, "precheck")
    response = client_for("nurse").post(
        action_url(day.session, "cadss"),
        {
            "cadss-version": day.v,
            **{
                f"cadss-{key}": "1"
                for key in ("item_1", "item_2", "item_6", "item_7", "item_15", "item_22")
            },
        },
        follow=True,
    )
    assert response.status_code == 200
    page = text(response)
    assert "CADSS-6 saved." in page
    assert page.count('data-testid="scale-row"') == 1
    assert '<span class="hint">before</span></td><td>Dissociation (CADSS-6)' in page
