"""The booster loop: relapse -> suggestion in the physician's queue -> approve (offer, booking)
or decline (reason). Every step audited; refusals change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.protocols import BOOSTER_SOURCE
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.boosters.tasks import booster_suggestions_refresh_all
from ketaclinic.outcomes.diary import services
from ketaclinic.outcomes.durability.services import series_results_mark
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion, ResultsMark, SeriesResult
from ketaclinic.scheduling.models import AppointmentKind, AppointmentType
from ketaclinic.scheduling.slots import free_slots
from tests import factories
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries, relapse_history
from tests.factories.patients import registered_since
from tests.factories.scheduling import infusion_type, nurse_hours
from tests.outcomes.helpers import booster_snapshot


def _flag(world: World) -> BoosterSuggestion:
    """Alice's relapse after her series, flagged; her last exam found her eligible, as a booster
    approval requires (gate 1: tests/safety/test_breaking_attempts.py walks the refusal)."""
    factories.ensure_eligible(world.alice_patient, world.physician)
    relapse_history(world, world.alice_patient)
    assert boosters.booster_suggestions_refresh(clinic=world.clinic) == 1
    return BoosterSuggestion.objects.get()


def _approve(world: World, suggestion: BoosterSuggestion) -> BoosterSuggestion:
    return boosters.booster_suggestion_approve(
        actor=Actor(user=world.physician), suggestion=suggestion
    )


# --- detection --------------------------------------------------------------------------------


def test_a_relapse_after_the_latest_series_becomes_one_suggestion(diary_world: World) -> None:
    relapse = relapse_history(diary_world, diary_world.alice_patient)
    created = boosters.booster_suggestions_refresh(clinic=diary_world.clinic)
    suggestion = BoosterSuggestion.objects.get()
    assert created == 1
    assert suggestion.relapse_date == relapse
    assert suggestion.baseline == 8.0
    assert suggestion.series_end == today() - dt.timedelta(days=59)
    # Window means of the 3-day relapse run: 44/7, 50/7 and 56/7.
    assert list(suggestion.window_means.values()) == [6.29, 7.14, 8.0]
    assert suggestion.source == BOOSTER_SOURCE
    assert suggestion.status == BoosterStatus.OPEN
    assert AuditEvent.objects.filter(
        object_type="booster_suggestion", action="create", patient=diary_world.alice_patient
    ).exists()


def test_the_refresh_is_idempotent(diary_world: World) -> None:
    _flag(diary_world)
    assert boosters.booster_suggestions_refresh(clinic=diary_world.clinic) == 0
    assert BoosterSuggestion.objects.count() == 1


def test_the_database_allows_one_suggestion_per_patient_and_relapse(diary_world: World) -> None:
    first = _flag(diary_world)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoosterSuggestion.objects.create(
            clinic=diary_world.clinic,
            patient=first.patient,
            series_end=first.series_end,
            relapse_date=first.relapse_date,
            baseline=8,
            source="x",
        )


def test_no_relapse_no_suggestion(diary_world: World) -> None:
    t = today()
    day = dt.timedelta(days=1)
    infusions(diary_world, diary_world.alice_patient, [t - 40 * day + n * day for n in range(5)])
    values = {t - n * day: 8 for n in range(41, 48)}
    values.update({t - n * day: 2 for n in range(1, 36)})
    nrs_entries(diary_world.alice_patient, values)
    assert boosters.booster_suggestions_refresh(clinic=diary_world.clinic) == 0
    assert not BoosterSuggestion.objects.exists()


def test_another_clinics_refresh_does_not_flag_our_patients(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    assert boosters.booster_suggestions_refresh(clinic=diary_world.other_clinic) == 0
    assert not BoosterSuggestion.objects.exists()


def test_recording_todays_score_marks_the_patient_for_the_next_refresh(
    diary_world: World,
) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    # Nothing marked yet (the history was written straight to the tables): nothing to do.
    assert boosters.outcomes_refresh_changed(clinic=diary_world.clinic).patients == 0
    services.diary_entry_record(
        actor=Actor(user=diary_world.alice),
        patient=diary_world.alice_patient,
        instrument="nrs",
        entry_date=today(),
        answers={"pain": 8},
        expected_version=0,
    )
    # The save judged nothing itself: it marked Alice, in its own transaction.
    assert not BoosterSuggestion.objects.exists()
    assert ResultsMark.objects.get(patient=diary_world.alice_patient).dirty is not None
    counted = boosters.outcomes_refresh_changed(clinic=diary_world.clinic)
    assert (counted.patients, counted.created) == (1, 1)
    assert BoosterSuggestion.objects.filter(patient=diary_world.alice_patient).count() == 1
    assert ResultsMark.objects.get(patient=diary_world.alice_patient).dirty is None


def test_the_periodic_task_refreshes_every_clinic(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    # As the writes of that history would have (the factory writes the tables directly).
    series_results_mark(patients=[(diary_world.alice_patient.pk, diary_world.clinic.pk)])
    result = booster_suggestions_refresh_all.call()
    assert result.startswith("created 1, stored ")
    assert BoosterSuggestion.objects.count() == 1
    # The same run stores the series results the analytics read, with the relapse in them.
    stored = SeriesResult.objects.get(patient=diary_world.alice_patient)
    assert stored.relapse_date == BoosterSuggestion.objects.get().relapse_date


# --- the queue --------------------------------------------------------------------------------


def test_the_queue_lists_open_suggestions_with_the_numbers(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _flag(diary_world)
    response = client_for("physician").get(reverse("outcomes:staff_boosters"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Alice Moreno" in body
    assert f"{suggestion.relapse_date:%-d %b %Y}" in body
    assert "6.3, 7.1, 8.0" in body
    # The level the pain rose above, to the hundredth (70% of the recorded baseline).
    assert f"relapse level {0.7 * suggestion.baseline:.2f}" in body
    assert AuditEvent.objects.filter(object_type="booster_queue", action="read").exists()


def test_another_clinics_physician_sees_an_empty_queue(diary_world: World, client_for: Any) -> None:
    _flag(diary_world)
    response = client_for("other_physician").get(reverse("outcomes:staff_boosters"))
    assert 'data-testid="booster-empty"' in response.content.decode()
    assert "Alice" not in response.content.decode()


def _many(world: World, n: int) -> None:
    for i in range(n):
        patient = factories.make_patient(
            world.clinic, given=f"P{i}", family="Queue", location=world.cleveland
        )
        registered_since(patient, 120)
        # One nurse gives them all: a different time each, so the sessions do not overlap.
        minutes = 72 * i
        relapse_history(world, patient, at=dt.time(minutes // 60, minutes % 60))
    boosters.booster_suggestions_refresh(clinic=world.clinic)


@pytest.mark.parametrize("n", [1, 20])
def test_the_queue_costs_the_same_queries_for_1_or_20(
    diary_world: World, client_for: Any, django_assert_num_queries: Any, n: int
) -> None:
    _many(diary_world, n)
    assert BoosterSuggestion.objects.count() == n
    client = client_for("physician")
    client.get(reverse("outcomes:staff_boosters"))  # warm the session
    with django_assert_num_queries(QUEUE_QUERIES):
        response = client.get(reverse("outcomes:staff_boosters"))
    assert response.content.decode().count('data-testid="booster-row"') == n


# (the count of the open suggestions, the rows, and the audit chain head's lock and move around
# the audited read's insert)
QUEUE_QUERIES = 10


# --- decisions --------------------------------------------------------------------------------


def test_approval_creates_the_booster_type_emails_and_offers_in_the_portal(
    diary_world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    suggestion = _flag(diary_world)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("physician").post(
            reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
            {"action": "approve", "appointment_type": "", "version": suggestion.version},
        )
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.APPROVED
    assert suggestion.decided_by == diary_world.physician
    booster_type = AppointmentType.objects.get(name=boosters.BOOSTER_TYPE_NAME)
    assert booster_type.kind == AppointmentKind.INFUSION
    assert not booster_type.bookable_online
    assert suggestion.appointment_type == booster_type
    event = AuditEvent.objects.get(object_type="booster_suggestion", action="sign")
    assert event.detail["decision"] == "approved"
    assert event.actor == diary_world.physician
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [diary_world.alice_patient.email]
    assert str(suggestion.public_id) in mail.outbox[0].body
    portal = client_for("alice").get(reverse("outcomes:my_diary")).content.decode()
    assert 'data-testid="booster-offer"' in portal


def test_the_physician_may_pick_an_existing_infusion_type(diary_world: World) -> None:
    suggestion = _flag(diary_world)
    kind = infusion_type(diary_world.clinic, buffer_min=30)
    types = AppointmentType.objects.count()
    approved = boosters.booster_suggestion_approve(
        actor=Actor(user=diary_world.physician), suggestion=suggestion, appointment_type=kind
    )
    assert approved.appointment_type == kind
    assert AppointmentType.objects.count() == types


def test_decline_records_the_reason(diary_world: World, client_for: Any) -> None:
    suggestion = _flag(diary_world)
    response = client_for("physician").post(
        reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
        {"action": "decline", "reason": "Patient prefers to wait", "version": suggestion.version},
    )
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.DECLINED
    assert suggestion.decline_reason == "Patient prefers to wait"
    event = AuditEvent.objects.get(object_type="booster_suggestion", action="sign")
    assert event.detail["reason"] == "Patient prefers to wait"
    assert not mail.outbox


def test_a_decline_without_a_reason_is_refused_and_nothing_changes(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _flag(diary_world)
    before = booster_snapshot()
    response = client_for("physician").post(
        reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
        {"action": "decline", "reason": "   ", "version": suggestion.version},
    )
    assert response.status_code == 422
    assert "Give the reason for declining" in response.content.decode()
    assert booster_snapshot() == before


def test_a_stale_decision_is_refused_and_nothing_changes(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _flag(diary_world)
    before = booster_snapshot()
    response = client_for("physician").post(
        reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
        {"action": "approve", "version": suggestion.version + 5},
    )
    assert response.status_code == 422
    # One sentence naming what changed (it was once two sentences run into each other).
    assert "This booster suggestion was changed by someone else" in response.content.decode()
    assert booster_snapshot() == before


def test_a_foreign_appointment_type_is_refused_and_nothing_changes(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _flag(diary_world)
    foreign = AppointmentType.objects.create(
        clinic=diary_world.other_clinic,
        kind=AppointmentKind.INFUSION,
        name="Their infusion",
        duration_min=40,
    )
    before = booster_snapshot()
    response = client_for("physician").post(
        reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
        {"action": "approve", "appointment_type": foreign.pk, "version": suggestion.version},
    )
    assert response.status_code == 422
    assert "Choose one of the infusion types listed" in response.content.decode()
    assert booster_snapshot() == before


def test_a_decided_suggestion_cannot_be_decided_again(diary_world: World) -> None:
    suggestion = _approve(diary_world, _flag(diary_world))
    before = booster_snapshot()
    with pytest.raises(Exception, match="already approved"):
        boosters.booster_suggestion_decline(
            actor=Actor(user=diary_world.physician), suggestion=suggestion, reason="changed mind"
        )
    assert booster_snapshot() == before


@pytest.mark.parametrize("persona", ["nurse", "clinic_admin", "other_physician"])
def test_only_a_physician_of_the_clinic_decides(diary_world: World, persona: str) -> None:
    suggestion = _flag(diary_world)
    before = booster_snapshot()
    with pytest.raises(PermissionError):
        boosters.booster_suggestion_approve(
            actor=Actor(user=diary_world.persona(persona)), suggestion=suggestion
        )
    assert booster_snapshot() == before


@pytest.mark.parametrize("persona", ["nurse", "front_desk", "other_physician", "alice"])
def test_others_posting_a_decision_get_404_and_nothing_changes(
    diary_world: World, client_for: Any, persona: str
) -> None:
    suggestion = _flag(diary_world)
    before = booster_snapshot()
    response = client_for(persona).post(
        reverse("outcomes:staff_booster", kwargs={"public_id": suggestion.public_id}),
        {"action": "approve", "version": suggestion.version},
    )
    assert response.status_code == 404
    assert booster_snapshot() == before


# --- booking ----------------------------------------------------------------------------------


def _offer(world: World) -> BoosterSuggestion:
    """An approved booster for Alice, with the nurse's hours to book it in."""
    suggestion = _approve(world, _flag(world))
    nurse_hours(world.nurse, world.cleveland)
    return suggestion


def test_the_patient_books_an_offered_booster(diary_world: World, client_for: Any) -> None:
    suggestion = _offer(diary_world)
    client = client_for("alice")
    url = reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="slot"' in page.content.decode()
    assert suggestion.appointment_type is not None
    slot = free_slots(
        location=diary_world.cleveland,
        appointment_type=suggestion.appointment_type,
        day_from=today() + dt.timedelta(days=2),
        day_to=today() + dt.timedelta(days=4),
    )[0]
    response = client.post(url, {"slot": slot.key})
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.BOOKED
    appointment = suggestion.appointment
    assert appointment is not None
    assert appointment.patient == diary_world.alice_patient
    assert appointment.start == slot.start
    assert appointment.type == suggestion.appointment_type
    assert AuditEvent.objects.filter(
        object_type="booster_suggestion", action="update", actor=diary_world.alice
    ).exists()
    assert AuditEvent.objects.filter(object_type="appointment", action="create").exists()
    done = client.get(url).content.decode()
    assert 'data-testid="booster-booked"' in done


def test_a_malformed_slot_is_refused_and_nothing_changes(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _offer(diary_world)
    before = booster_snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id}),
        {"slot": "not-a-slot"},
    )
    assert response.status_code == 422
    assert "Choose one of the free times" in response.content.decode()
    assert booster_snapshot() == before


def test_a_slot_outside_the_hours_is_refused_and_nothing_changes(
    diary_world: World, client_for: Any
) -> None:
    suggestion = _offer(diary_world)
    before = booster_snapshot()
    late = dt.datetime.combine(today() + dt.timedelta(days=3), dt.time(3, 0), tzinfo=dt.UTC)
    response = client_for("alice").post(
        reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id}),
        {"slot": f"{diary_world.nurse.pk}.{int(late.timestamp())}"},
    )
    assert response.status_code == 422
    assert booster_snapshot() == before


def test_an_open_or_declined_suggestion_is_not_offered(diary_world: World, client_for: Any) -> None:
    suggestion = _flag(diary_world)
    url = reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    assert client_for("alice").get(url).status_code == 404
    boosters.booster_suggestion_decline(
        actor=Actor(user=diary_world.physician), suggestion=suggestion, reason="Not now"
    )
    assert client_for("alice").get(url).status_code == 404


def test_another_patient_cannot_book_alices_booster(diary_world: World, client_for: Any) -> None:
    suggestion = _offer(diary_world)
    before = booster_snapshot()
    response = client_for("bob").post(
        reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id}),
        {"slot": "1.1"},
    )
    assert response.status_code == 404
    assert booster_snapshot() == before
