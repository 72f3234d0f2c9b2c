"""Recording diary entries: scores from the instrument registry, one entry per day, refusals that
name the field and change nothing, and an audit event for every read and write."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.outcomes.diary import services
from ketaclinic.outcomes.models import DiaryEntry
from tests.clock import today
from tests.conftest import World
from tests.outcomes.helpers import snapshot


def _record(world: World, **kwargs: Any) -> DiaryEntry:
    values: dict[str, Any] = {
        "actor": Actor(user=world.alice),
        "patient": world.alice_patient,
        "instrument": "nrs",
        "entry_date": today(),
        "answers": {"pain": 6},
    }
    values.update(kwargs)
    return services.diary_entry_record(**values)


def test_a_daily_score_is_stored_with_its_loinc_code_and_audited(diary_world: World) -> None:
    entry = _record(diary_world, note="Bad night")
    assert (entry.instrument, entry.score, entry.loinc, entry.note, entry.version) == (
        "nrs",
        6.0,
        "72514-3",
        "Bad night",
        1,
    )
    event = AuditEvent.objects.get(object_type="diary_entry")
    assert (event.action, event.patient_id, event.actor_id) == (
        "create",
        diary_world.alice_patient.pk,
        diary_world.alice.pk,
    )
    # The audit names the fields, never the pain score or the note.
    assert event.detail == {
        "instrument": "nrs",
        "date": today().isoformat(),
        "fields": ["answers", "note", "score"],
        "via_link": False,
    }


def test_the_peg_total_is_the_mean_computed_by_the_instrument_registry(
    diary_world: World,
) -> None:
    entry = _record(
        diary_world, instrument="peg", answers={"pain": 5, "enjoyment": 4, "general_activity": 4}
    )
    assert entry.score == pytest.approx(13 / 3)
    assert entry.loinc == ""


def test_a_pgic_answer_is_one_to_seven(diary_world: World) -> None:
    assert _record(diary_world, instrument="pgic", answers={"change": 2}).score == 2.0
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _record(
            diary_world,
            instrument="pgic",
            answers={"change": 0},
            entry_date=today() - dt.timedelta(days=1),
        )
    assert refused.value.message_dict == {"change": ["must be at least 1 and at most 7, not 0"]}
    assert snapshot() == before


def test_a_second_entry_the_same_day_replaces_the_first(diary_world: World) -> None:
    first = _record(diary_world, answers={"pain": 7}, note="Morning")
    second = _record(diary_world, answers={"pain": 4}, expected_version=1)
    assert DiaryEntry.objects.count() == 1
    assert second.pk == first.pk
    assert (second.score, second.note, second.version) == (4.0, "", 2)
    update = AuditEvent.objects.filter(object_type="diary_entry").first()
    assert update is not None
    assert (update.action, update.detail["fields"]) == ("update", ["answers", "note", "score"])


def test_a_correction_from_a_stale_page_is_refused(diary_world: World) -> None:
    _record(diary_world, answers={"pain": 7})
    _record(diary_world, answers={"pain": 5}, expected_version=1)
    before = snapshot()
    with pytest.raises(StaleObjectError):
        _record(diary_world, answers={"pain": 2}, expected_version=1)
    # A page that showed no entry (version 0) while one exists is stale too.
    with pytest.raises(StaleObjectError):
        _record(diary_world, answers={"pain": 2}, expected_version=0)
    assert snapshot() == before


def test_an_nrs_of_eleven_is_refused_naming_the_item(diary_world: World) -> None:
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _record(diary_world, answers={"pain": 11})
    assert refused.value.message_dict == {"pain": ["must be at least 0 and at most 10, not 11"]}
    assert snapshot() == before


@pytest.mark.parametrize(
    "answers",
    [{}, {"pain": True}, {"pain": "6"}, {"pain": 6, "mood": 3}, {"pain": -1}],
    ids=["missing", "bool", "text", "extra-item", "negative"],
)
def test_malformed_answers_are_refused(diary_world: World, answers: dict[str, object]) -> None:
    before = snapshot()
    with pytest.raises(ValidationError):
        _record(diary_world, answers=answers)
    assert snapshot() == before


def test_a_day_in_the_future_is_refused(diary_world: World) -> None:
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _record(diary_world, entry_date=today() + dt.timedelta(days=1))
    assert list(refused.value.message_dict) == ["entry_date"]
    assert "in the future" in refused.value.message_dict["entry_date"][0]
    assert snapshot() == before


def test_a_day_before_registration_is_refused(diary_world: World) -> None:
    registered = diary_world.alice_patient.created_at.astimezone(dt.UTC).date()
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _record(diary_world, entry_date=registered - dt.timedelta(days=2))
    assert list(refused.value.message_dict) == ["entry_date"]
    assert "before you joined" in refused.value.message_dict["entry_date"][0]
    assert snapshot() == before


def test_a_note_over_500_characters_is_refused(diary_world: World) -> None:
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _record(diary_world, note="x" * 501)
    assert list(refused.value.message_dict) == ["note"]
    assert snapshot() == before


# --- the portal pages -------------------------------------------------------------------------


def test_a_patient_records_todays_pain_from_the_portal(diary_world: World, client_for: Any) -> None:
    alice = client_for("alice")
    response = alice.post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {"pain": "3", "entry_date": today().isoformat(), "note": "Walked", "version": "0"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("outcomes:my_diary")
    entry = DiaryEntry.objects.get()
    assert (entry.patient, entry.score, entry.note, entry.source, entry.recorded_by) == (
        diary_world.alice_patient,
        3.0,
        "Walked",
        "portal",
        diary_world.alice,
    )


def test_the_portal_names_the_field_when_the_pain_is_eleven(
    diary_world: World, client_for: Any
) -> None:
    before = snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {"pain": "11", "entry_date": today().isoformat(), "version": "0"},
    )
    assert response.status_code == 422
    assert "Pain: must be at least 0 and at most 10, not 11" in response.content.decode()
    assert snapshot() == before


def test_the_portal_names_the_field_when_the_day_is_in_the_future(
    diary_world: World, client_for: Any
) -> None:
    before = snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {"pain": "4", "entry_date": (today() + dt.timedelta(days=3)).isoformat(), "version": "0"},
    )
    assert response.status_code == 422
    assert "Day: " in response.content.decode()
    assert "is in the future" in response.content.decode()
    assert snapshot() == before


def test_the_portal_refuses_a_day_before_registration(diary_world: World, client_for: Any) -> None:
    before = snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {"pain": "4", "entry_date": "2001-01-01", "version": "0"},
    )
    assert response.status_code == 422
    assert "before you joined the clinic" in response.content.decode()
    assert snapshot() == before


def test_the_portal_refuses_a_stale_correction(diary_world: World, client_for: Any) -> None:
    _record(diary_world, answers={"pain": 7})
    _record(diary_world, answers={"pain": 6}, expected_version=1)
    before = snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {"pain": "2", "entry_date": today().isoformat(), "version": "1"},
    )
    assert response.status_code == 422
    assert "changed by someone else" in response.content.decode()
    assert snapshot() == before


def test_an_unknown_instrument_is_not_found(diary_world: World, client_for: Any) -> None:
    response = client_for("alice").get(reverse("outcomes:my_diary_record", args=["dn4"]))
    assert response.status_code == 404


def test_opening_a_day_to_correct_it_prefills_and_audits_the_read(
    diary_world: World, client_for: Any
) -> None:
    day = today() - dt.timedelta(days=2)
    _record(diary_world, entry_date=day, answers={"pain": 8}, note="Flare")
    response = client_for("alice").get(
        reverse("outcomes:my_diary_record", args=["nrs"]) + f"?date={day.isoformat()}"
    )
    html = response.content.decode()
    assert response.status_code == 200
    checked = re.findall(r"<input[^>]*\bchecked\b[^>]*>", html)
    assert len(checked) == 1, checked
    assert 'value="8"' in checked[0]
    assert "Flare" in html
    event = AuditEvent.objects.filter(object_type="diary_entry", action="read").get()
    assert event.detail == {"instrument": "nrs", "date": day.isoformat(), "found": True}


def test_a_patient_writes_only_into_their_own_diary(diary_world: World, client_for: Any) -> None:
    # The form has no patient field; Bob posting Alice's public id changes nothing of hers.
    client_for("bob").post(
        reverse("outcomes:my_diary_record", args=["nrs"]),
        {
            "pain": "5",
            "entry_date": today().isoformat(),
            "version": "0",
            "patient": str(diary_world.alice_patient.public_id),
        },
    )
    assert list(DiaryEntry.objects.values_list("patient_id", flat=True)) == [
        diary_world.bob_patient.pk
    ]
