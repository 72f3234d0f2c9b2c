"""Attempts to break the gates of docs/clinical-policy.md "Gates along the journey (added
2026-12-03)" through the pages, as an attacker or a hurried clinician would.

Each attempt the product refuses keeps a test that the refusal names the gate and that nothing
changed (rows and the non-read audit events compared before and after). Each attempt that gets
through is written as it should behave and marked ``xfail(strict=True, reason="HOLE: ...")``: the
suite stays green and the hole stays documented until it is fixed (then the xfail must go).

The clock is fixed at 15:00 in the clinic's zone (and ticks), as in test_infusion_gates, so the
infusion helpers' back-dated times stay within the clinic's day.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import ClinicPolicy, PolicyProposal
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions import services as infusion_services
from ketaclinic.infusions.models import (
    SessionStatus,
)
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, AppointmentType
from ketaclinic.scheduling.slots import Slot, free_slots
from tests import factories
from tests.clock import NEW_YORK, afternoon_clock
from tests.conftest import World
from tests.factories.infusions import ALDRETE_9, GOOD_VITALS, Day, arrive, day_at, witness_proof
from tests.factories.outcomes import infusions, suggestion_for
from tests.factories.scheduling import induction_series, nurse_hours
from tests.safety.helpers import chart_rows

pytestmark = pytest.mark.django_db

ONE_A_DAY = "One ketamine session a day"


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[dt.datetime]:
    yield from afternoon_clock()


# -- what a refusal must leave as it was ---------------------------------------------------------


def booking_rows() -> dict[str, Any]:
    return {
        "appointments": list(
            Appointment.objects.order_by("pk").values_list(
                "pk", "status", "start", "provider_id", "version", "series_id"
            )
        ),
        "suggestions": list(
            BoosterSuggestion.objects.order_by("pk").values_list(
                "pk", "status", "version", "appointment_id"
            )
        ),
        "types": AppointmentType.objects.count(),
        "audit": AuditEvent.objects.exclude(action="read").count(),
    }


def policy_rows() -> dict[str, Any]:
    return {
        "policies": list(ClinicPolicy.objects.order_by("id").values()),
        "proposals": list(PolicyProposal.objects.order_by("id").values()),
        "audit": AuditEvent.objects.exclude(action="read").count(),
    }


def page(response: Any) -> str:
    content: bytes = response.content
    return html.unescape(content.decode())


# -- infusion chart helpers ------------------------------------------------------------------------


def chart_post(client: Client, day: Day, action: str, data: dict[str, Any]) -> Any:
    return client.post(f"/infusions/sessions/{day.session.public_id}/{action}/", data)


def chart_refused(
    client: Client, day: Day, action: str, data: dict[str, Any], gate: str, status: int = 422
) -> str:
    before = chart_rows()
    response = chart_post(client, day, action, data)
    assert response.status_code == status
    text = page(response)
    assert gate in text, [line for line in text.splitlines() if "error" in line.lower()]
    assert chart_rows() == before
    return text


def vitals_form(day: Day, **extra: Any) -> dict[str, Any]:
    return {"version": day.v, **{k: str(v) for k, v in GOOD_VITALS.items()}, **extra}


def precheck_form(day: Day, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        **vitals_form(day),
        "weight_kg": "70",
        "pain_nrs": "6",
        "fasting": "on",
        "escort_arranged": "on",
        "consent_confirmed": "on",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


# -- booking helpers -------------------------------------------------------------------------------


def series_day() -> dt.date:
    return timezone.now().astimezone(NEW_YORK).date() + dt.timedelta(days=3)


def alice_series_session(world: World, day: dt.date) -> Appointment:
    """A booked induction-series session for Alice at 10:00 on ``day`` (Nina nursing)."""
    series = induction_series(world, world.alice_patient)
    (appointment,) = infusions(
        world, world.alice_patient, [day], status=AppointmentStatus.BOOKED, series=series
    )
    return appointment


def offered_booster(world: World) -> BoosterSuggestion:
    """An approved booster for Alice (eligible), with a second nurse free all day at Cleveland."""
    suggestion = suggestion_for(world, approved=True)
    nurse_hours(world.nurse, world.cleveland)
    other = factories.make_user(
        world.clinic, "nurse", name="Nora Second", locations=(world.cleveland,)
    )
    nurse_hours(other, world.cleveland)
    return suggestion


def afternoon_slot(
    world: World, kind: AppointmentType, day: dt.date, ignore: int | None = None
) -> Slot:
    slots = free_slots(
        location=world.cleveland,
        appointment_type=kind,
        day_from=day,
        day_to=day,
        ignore_appointment_id=ignore,
    )
    later = [s for s in slots if s.start.astimezone(NEW_YORK).hour >= 13]
    assert later, "no afternoon slot on the day"
    return later[0]


# == gate 3 at booking: a booster on a day that has a series session ===============================


def test_a_booster_cannot_be_booked_on_a_day_with_a_series_session(
    world: World, client_for: Any
) -> None:
    day = series_day()
    alice_series_session(world, day)
    suggestion = offered_booster(world)
    assert suggestion.appointment_type is not None
    slot = afternoon_slot(world, suggestion.appointment_type, day)
    before = booking_rows()
    url = reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    response = client_for("alice").post(url, {"slot": slot.key})
    assert response.status_code == 422
    assert ONE_A_DAY in page(response)
    assert booking_rows() == before


def test_a_booster_cannot_be_moved_onto_a_day_with_a_series_session(
    world: World, client_for: Any
) -> None:
    day = series_day()
    alice_series_session(world, day)
    suggestion = offered_booster(world)
    kind = suggestion.appointment_type
    assert kind is not None
    booster = boosters.booster_book(
        actor=Actor(user=world.alice),
        suggestion=suggestion,
        location=world.cleveland,
        provider_id=afternoon_slot(world, kind, day + dt.timedelta(days=1)).provider_id,
        start=afternoon_slot(world, kind, day + dt.timedelta(days=1)).start,
    )
    target = afternoon_slot(world, kind, day, ignore=booster.pk)
    before = booking_rows()
    url = reverse("scheduling:my_appointment_reschedule", kwargs={"public_id": booster.public_id})
    response = client_for("alice").post(
        url, {"slot": target.key, "version": booster.version}, follow=True
    )
    assert booking_rows() == before
    assert ONE_A_DAY in page(response)


def test_a_booster_cannot_be_booked_once_a_newer_exam_found_the_patient_ineligible(
    world: World, client_for: Any
) -> None:
    suggestion = offered_booster(world)
    factories.make_decision(world.alice_patient, world.physician, outcome="ineligible")
    assert suggestion.appointment_type is not None
    slot = afternoon_slot(world, suggestion.appointment_type, series_day())
    before = booking_rows()
    url = reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    response = client_for("alice").post(url, {"slot": slot.key})
    assert response.status_code == 422
    assert "Eligibility gate" in page(response)
    assert booking_rows() == before


def test_a_booster_cannot_be_approved_without_an_eligibility_decision_in_force(
    world: World, client_for: Any
) -> None:
    factories.ensure_eligible(world.alice_patient, world.physician)
    suggestion = suggestion_for(world, approved=False)
    factories.make_decision(world.alice_patient, world.physician, outcome="ineligible")
    before = (
        list(BoosterSuggestion.objects.values_list("id", "status", "version")),
        list(AuditEvent.objects.exclude(action="read").values_list("id")),
    )
    url = reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id})
    response = client_for("physician").post(
        url, {"action": "approve", "version": suggestion.version}
    )
    assert response.status_code == 422
    assert "Eligibility gate: cannot offer a booster infusion" in page(response)
    assert before == (
        list(BoosterSuggestion.objects.values_list("id", "status", "version")),
        list(AuditEvent.objects.exclude(action="read").values_list("id")),
    )


def test_a_booster_on_a_free_day_is_booked(world: World, client_for: Any) -> None:
    """The control for the attempts above: the same booking on a day without a session works."""
    day = series_day()
    alice_series_session(world, day)
    suggestion = offered_booster(world)
    assert suggestion.appointment_type is not None
    slot = afternoon_slot(world, suggestion.appointment_type, day + dt.timedelta(days=1))
    url = reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    assert client_for("alice").post(url, {"slot": slot.key}).status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.BOOKED


# == moving a single session of a series ==========================================================


@pytest.mark.parametrize("persona", ["front_desk", "alice"])
def test_a_single_series_session_cannot_be_moved_on_its_own(
    world: World, client_for: Any, persona: str
) -> None:
    day = series_day()
    session = alice_series_session(world, day)
    nurse_hours(world.nurse, world.cleveland)
    target = afternoon_slot(world, session.type, day + dt.timedelta(days=1), ignore=session.pk)
    if persona == "alice":
        url = reverse(
            "scheduling:my_appointment_reschedule", kwargs={"public_id": session.public_id}
        )
    else:
        url = reverse("scheduling:desk_appointment", kwargs={"public_id": session.public_id})
    before = booking_rows()
    response = client_for(persona).post(
        url,
        {"action": "move", "slot": target.key, "version": session.version, "override_cutoff": "on"},
        follow=True,
    )
    assert "part of an induction series, so it cannot be moved on its own" in page(response)
    assert booking_rows() == before


# == gate 1 discovered at the pre-check and at the start ==========================================


def test_a_newer_ineligible_exam_refuses_the_precheck(world: World, client_for: Any) -> None:
    day = arrive(world)
    factories.make_decision(world.alice_patient, world.physician, outcome="ineligible")
    chart_refused(client_for("nurse"), day, "precheck", precheck_form(day), "Eligibility gate")


def test_a_newer_ineligible_exam_between_the_precheck_and_the_start_refuses_the_start(
    world: World, client_for: Any
) -> None:
    day = day_at(world, "precheck")
    day.draw()
    factories.make_decision(world.alice_patient, world.physician, outcome="ineligible")
    chart_refused(
        client_for("nurse"),
        day,
        "start",
        {"version": day.v, "rate_ml_per_h": "5.25"},
        "Eligibility gate: cannot start the infusion",
    )


def test_an_expired_exam_refuses_the_precheck(world: World, client_for: Any) -> None:
    old = timezone.now().astimezone(NEW_YORK).date() - dt.timedelta(days=400)
    factories.make_decision(world.alice_patient, world.physician, exam_date=old)
    day = arrive(world)
    chart_refused(client_for("nurse"), day, "precheck", precheck_form(day), "Eligibility gate")


# == gate 2: the day's weight ==================================================================


@pytest.mark.parametrize("weight", [None, "", "7000", "-70", "abc"])
def test_a_precheck_without_a_plausible_days_weight_is_refused(
    world: World, client_for: Any, weight: str | None
) -> None:
    day = arrive(world)
    chart_refused(
        client_for("nurse"), day, "precheck", precheck_form(day, weight_kg=weight), "weight"
    )


def test_a_physician_cannot_override_a_days_weight_past_the_plans(
    world: World, client_for: Any
) -> None:
    nurse, physician = client_for("nurse"), client_for("physician")
    day = arrive(world)
    assert chart_post(nurse, day, "precheck", precheck_form(day, weight_kg="85")).status_code == 302
    assert day.reload().start_cleared is False
    chart_refused(
        physician,
        day,
        "override",
        {"override-version": day.v, "override-reason": "Scale at the desk reads heavy."},
        "Day's weight",
    )


# == gate 5: the override ceiling, and who may override ==========================================


@pytest.mark.parametrize("persona", ["nurse", "front_desk", "clinic_admin", "other_physician"])
def test_only_a_physician_of_the_clinic_overrides_a_failed_precheck(
    world: World, client_for: Any, persona: str
) -> None:
    day = arrive(world)
    chart_post(client_for("nurse"), day, "precheck", precheck_form(day, systolic_bp="170"))
    before = chart_rows()
    response = chart_post(
        client_for(persona),
        day,
        "override",
        {"override-version": day.v, "override-reason": "Known white-coat rise at home."},
    )
    assert response.status_code in (403, 404)
    assert chart_rows() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("heart_rate", "130"), ("spo2", "90"), ("respiratory_rate", "8"), ("diastolic_bp", "115")],
)
def test_no_override_past_any_in_infusion_alert_limit(
    world: World, client_for: Any, field: str, value: str
) -> None:
    day = arrive(world)
    chart_post(client_for("nurse"), day, "precheck", precheck_form(day, **{field: value}))
    chart_refused(
        client_for("physician"),
        day,
        "override",
        {"override-version": day.v, "override-reason": "Patient anxious, usually lower."},
        "Pre-check override ceiling",
    )


# == two tabs: a stale version ====================================================================


def test_a_second_tab_with_the_old_version_changes_nothing(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    old = vitals_form(day)
    assert chart_post(nurse, day, "vitals", old).status_code == 302
    before = chart_rows()
    response = chart_post(nurse, day, "stop", {"stop-version": old["version"]})
    assert response.status_code == 409
    assert "changed" in page(response).lower()
    assert chart_rows() == before


# == gate 4: the draw =============================================================================


@pytest.mark.parametrize(
    ("drawn", "gate"), [("-5", "drawn"), ("0", "more than 0"), ("53", "Dose deviation")]
)
def test_a_draw_out_of_bounds_is_refused(
    world: World, client_for: Any, drawn: str, gate: str
) -> None:
    day = day_at(world, "precheck")
    expiry = (timezone.now() + dt.timedelta(days=200)).date().isoformat()
    chart_refused(
        client_for("nurse"),
        day,
        "draw",
        {"version": day.v, "lot": "KET-1", "expiry": expiry, "drawn_mg": drawn},
        gate,
    )


def test_signing_after_a_reconciled_given_away_from_the_rates_waits_for_the_review(
    world: World, client_for: Any
) -> None:
    """Discharged first, then reconciled as 45 mg given (the rates give 35) with a reason: the
    deviation it opens must still block the physician's signature."""
    day = day_at(world, "discharged")
    infusion_services.controlled_reconcile(
        actor=day.nurse,
        session_id=day.session.public_id,
        expected_version=day.v,
        given_mg=Decimal("45"),
        wasted_mg=Decimal("5"),
        witness=witness_proof(world.physician, by=world.nurse),
        given_reason="Line flushed with the remaining syringe",
    )
    assert day.reload().open_deviations == 1
    chart_refused(
        client_for("physician"),
        day,
        "sign",
        {"sign-version": day.v},
        "Dose deviation: a physician must review every dose deviation before signing",
    )


# == gate 6: a "set" of vitals before discharge ====================================================


def test_one_spo2_value_after_the_stop_is_not_a_set_of_vitals_for_discharge(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "recovering")
    day.backdate(40)
    assert chart_post(nurse, day, "vitals", {"version": day.v, "spo2": "97"}).status_code == 302
    day.aldrete(ALDRETE_9)
    chart_refused(
        nurse,
        day,
        "discharge",
        {"version": day.v, "escort_name": "Maria Moreno", "escort_confirmed": "on"},
        "Monitoring required",
    )


def test_single_values_while_infusing_do_not_close_a_monitoring_gap(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "infusing")
    day.backdate(20)
    # A glance at the oximeter 20 min in: charted, but not a set of vitals.
    assert chart_post(nurse, day, "vitals", {"version": day.v, "spo2": "97"}).status_code == 302
    day.backdate(20)
    day.stop()
    day.backdate(35)
    day.aldrete(ALDRETE_9)
    day.vitals()
    discharge = {"version": day.v, "escort_name": "Maria Moreno", "escort_confirmed": "on"}
    assert chart_post(nurse, day, "discharge", discharge).status_code == 302
    day.reconcile()
    chart_refused(
        client_for("physician"),
        day,
        "sign",
        {"sign-version": day.v},
        "Monitoring required: vitals were not charted for longer than twice the 15-min interval",
    )


def test_discharge_without_vitals_after_the_stop_is_refused(world: World, client_for: Any) -> None:
    day = day_at(world, "recovering")
    day.backdate(40)
    day.aldrete(ALDRETE_9)
    chart_refused(
        client_for("nurse"),
        day,
        "discharge",
        {"version": day.v, "escort_name": "Maria Moreno", "escort_confirmed": "on"},
        "Monitoring required: no vitals charted since the infusion stopped",
    )
    assert day.reload().status == SessionStatus.RECOVERING


# == gate 9: safety settings without the second physician ========================================


def settings_form(world: World, **changes: object) -> dict[str, object]:
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    data: dict[str, object] = {n: getattr(policy, n) for n in ClinicPolicy.THRESHOLD_FIELDS}
    data.update(based_on_version=policy.version, note="Heavier patients")
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes",
    [
        {"max_session_mg": 250},
        {"max_rate_mg_per_kg_h": 1.5},
        {"discharge_min_observation_min": 45},
        {"vitals_interval_min": 10},
        {"alert_systolic_bp": 200},
    ],
)
def test_a_direct_post_by_the_admin_only_proposes(
    world: World, client_for: Any, changes: dict[str, object]
) -> None:
    version = clinic_policy_current(clinic_id=world.clinic.pk).version
    response = client_for("clinic_admin").post(
        reverse("clinics:policy_edit"), settings_form(world, **changes)
    )
    assert response.status_code == 302
    assert clinic_policy_current(clinic_id=world.clinic.pk).version == version
    assert PolicyProposal.objects.get().values == changes


@pytest.mark.parametrize(
    "changes",
    [
        {"max_session_mg": 301},
        {"discharge_min_aldrete": 8},
        {"vitals_interval_min": 20},
        {"discharge_min_observation_min": 29},
        {"max_session_mg": -1},
        {"max_rate_mg_per_kg_h": "nan"},
    ],
)
def test_a_value_past_its_bound_is_refused_and_proposes_nothing(
    world: World, client_for: Any, changes: dict[str, object]
) -> None:
    before = policy_rows()
    response = client_for("clinic_admin").post(
        reverse("clinics:policy_edit"), settings_form(world, **changes)
    )
    assert response.status_code == 422
    assert policy_rows() == before


@pytest.mark.parametrize("persona", ["physician", "nurse", "front_desk"])
def test_others_cannot_post_the_settings_form(world: World, client_for: Any, persona: str) -> None:
    before = policy_rows()
    response = client_for(persona).post(
        reverse("clinics:policy_edit"), settings_form(world, max_session_mg=150)
    )
    assert response.status_code in (403, 404)
    assert policy_rows() == before


@pytest.mark.parametrize("persona", ["clinic_admin", "nurse", "front_desk", "other_physician"])
def test_only_a_physician_of_the_clinic_approves_a_proposal(
    world: World, client_for: Any, persona: str
) -> None:
    client_for("clinic_admin").post(
        reverse("clinics:policy_edit"), settings_form(world, max_session_mg=250)
    )
    proposal = PolicyProposal.objects.get()
    before = policy_rows()
    response = client_for(persona).post(
        reverse("clinics:policy_proposal_approve", kwargs={"proposal_id": proposal.pk})
    )
    assert response.status_code in (302, 403, 404)
    assert policy_rows() == before
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 200
