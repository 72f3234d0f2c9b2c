"""The consultation's history starts from the patient's self-check (issue 16 item 5).

The mapping table (``assessments/intake.py``) against every option of the self-check; the history
form prefilled and marked for a patient who did the self-check, empty for one who did not;
saving confirms and records where each value came from; a later change drops the source."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.assessments import intake
from ketaclinic.assessments.models import Consultation, HistoryPrefill
from ketaclinic.assessments.vocab import BODY_REGIONS, PAIN_DESCRIPTORS
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.eligibility import THERAPIES
from ketaclinic.patients.models import Patient
from ketaclinic.screening import questions as q
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import selfcheck_answers_for_intake
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests import factories
from tests.conftest import World
from tests.factories.assessments import start
from tests.factories.scheduling import setup_schedule
from tests.scheduling.helpers import some_slots
from tests.screening.helpers import FEEL, answers, positive_data, walk

pytestmark = pytest.mark.django_db


# --- the mapping table -------------------------------------------------------------------------


def test_every_self_check_region_is_in_the_table_mapped_to_a_history_region_or_none() -> None:
    assert set(intake.REGIONS) == {option.value for option in q.REGIONS}
    assert {v for v in intake.REGIONS.values() if v is not None} <= set(BODY_REGIONS)


def test_every_self_check_symptom_is_in_the_table_mapped_to_a_descriptor_or_none() -> None:
    assert set(intake.DESCRIPTORS) == set(FEEL)
    assert {v for v in intake.DESCRIPTORS.values() if v is not None} <= set(PAIN_DESCRIPTORS)


def test_only_answers_of_the_same_meaning_are_mapped() -> None:
    # A side of the body the self-check never asked for is not guessed.
    assert intake.REGIONS["legs"] is None
    assert intake.REGIONS["feet"] is None
    assert intake.REGIONS["lower_back"] == "lower_back"
    assert intake.DESCRIPTORS["electric_shocks"] == "electric"
    assert intake.DESCRIPTORS["pins_and_needles"] is None
    assert intake.DESCRIPTORS["touch_evoked_pain"] is None


def test_the_self_checks_treatments_are_the_historys_therapies() -> None:
    assert {o.value for o in q.TREATMENTS} - {q.NONE} == set(THERAPIES)


def _view(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "duration_label": "6 to 12 months",
        "duration_months": 9.0,
        "regions": ("lower_back", "feet", "neck"),
        "feel_yes": ("burning", "electric_shocks", "pins_and_needles"),
        "treatments": ("gabapentin", "physical_therapy"),
    }
    values.update(overrides)
    return type("View", (), values)()


def test_the_offer_maps_duration_regions_descriptors_and_lists_the_treatments_tried() -> None:
    offer = intake.offer_from(_view(), {})
    assert offer.values == {
        "pain_duration_months": 9.0,
        "pain_regions": ["lower_back", "neck"],
        "pain_descriptors": ["burning", "electric"],
    }
    assert offer.treatments_tried == ("gabapentin", "physical_therapy")
    assert offer.as_record()["prior_treatments"] == ["gabapentin", "physical_therapy"]


def test_the_offer_never_overwrites_a_recorded_value() -> None:
    offer = intake.offer_from(
        _view(),
        {"pain_duration_months": 30.0, "pain_regions": [], "prior_treatments": ["gabapentin"]},
    )
    assert "pain_duration_months" not in offer.values
    assert offer.values["pain_regions"] == ["lower_back", "neck"]
    assert offer.treatments_tried == ("physical_therapy",)


def test_an_answer_with_nothing_mapped_offers_no_value_for_its_field() -> None:
    offer = intake.offer_from(_view(regions=("legs",), feel_yes=(), treatments=()), {})
    assert offer.values == {"pain_duration_months": 9.0}


def test_a_value_is_kept_while_every_offered_code_is_still_chosen() -> None:
    assert intake.kept(["neck"], ["neck", "chest"])
    assert not intake.kept(["neck", "chest"], ["neck"])
    assert intake.kept(9.0, 9.0)
    assert not intake.kept(9.0, 12.0)


# --- the history form --------------------------------------------------------------------------


def _did_the_self_check(patient: Patient, **overrides: Any) -> SelfCheck:
    given: dict[str, Any] = {
        "feel": {**dict.fromkeys(FEEL, False), "burning": True, "electric_shocks": True},
        "duration": {"duration": "6_to_12"},
        "where": {"regions": ["lower_back", "feet"]},
        "treatments": {"treatments": ["gabapentin"]},
    }
    selfcheck = selfcheck_submit(answers=answers(**{**given, **overrides}))
    return selfcheck_attach(actor=Actor(user=None), selfcheck=selfcheck, patient=patient)


def history_url(c: Consultation) -> str:
    return reverse("assessments:consultation_history", kwargs={"public_id": c.public_id})


def _post(c: Consultation, response: Any, **overrides: Any) -> dict[str, Any]:
    """The form as the browser would send it back: every initial value, then ``overrides``."""
    form = response.context["form"]
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        data[name] = value
    data["version"] = c.version
    data.update(overrides)
    return data


def test_the_physicians_new_history_form_starts_from_the_self_check_marked(
    world: World, client_for: Any
) -> None:
    selfcheck = _did_the_self_check(world.alice_patient)
    c = start(world)
    response = client_for("physician").get(history_url(c))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["pain_duration_months"] == 9.0
    assert form.initial["pain_regions"] == ["lower_back"]
    assert form.initial["pain_descriptors"] == ["burning", "electric"]
    assert form.initial["selfcheck"] == selfcheck.public_id
    # Treatments: tried, but how it went is the physician's question; no outcome is chosen.
    assert "therapy_gabapentin" not in form.initial
    html = response.content.decode()
    # The day where she is seen (her home location's zone), which is not UTC's day in the
    # hours after midnight UTC.
    home = world.alice_patient.home_location
    zone = (
        zoneinfo.ZoneInfo(home.time_zone) if home is not None else timezone.get_default_timezone()
    )
    taken = selfcheck.created_at.astimezone(zone).date()
    assert f"Started from the patient's self-check on {taken:%b} {taken.day}, {taken.year}" in html
    for name in ("pain_duration_months", "pain_regions", "pain_descriptors", "therapy_gabapentin"):
        assert f'data-testid="prefilled-{name}"' in html
    assert 'data-testid="prefilled-pain_nrs"' not in html
    assert "\u201c6 to 12 months\u201d" in html
    # Nothing is recorded until the physician saves.
    c.refresh_from_db()
    assert c.pain_duration_months is None
    assert not HistoryPrefill.objects.exists()


def test_a_visitor_who_did_the_self_check_and_booked_starts_her_history_from_it(
    world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The whole way, as a browser would: the self-check, a time, signing in, confirming.
    visitor = Client()
    walk(visitor, positive_data())
    slot = some_slots(setup_schedule(world))[1]
    visitor.post(reverse("scheduling:book_slots", args=[world.cleveland.pk]), {"slot": slot.key})
    visitor.post(
        reverse("account_login"), {"login": world.alice.email, "password": factories.PASSWORD}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert visitor.post(reverse("scheduling:book_confirm")).status_code == 302

    c = start(world)
    form = client_for("physician").get(history_url(c)).context["form"]
    # positive_data: 6 to 12 months; burning, electric shocks, pins and needles, numbness; feet
    # and legs (no side: not offered); gabapentin and physical therapy tried.
    assert form.initial["pain_duration_months"] == 9
    assert form.initial["pain_descriptors"] == ["burning", "electric", "numbness"]
    assert form.initial["pain_regions"] == []
    assert form.offer.offer.treatments_tried == ("gabapentin", "physical_therapy")


def test_a_patient_without_a_self_check_gets_an_empty_form(world: World, client_for: Any) -> None:
    # Bob's self-check is his: it offers nothing to Alice's history.
    _did_the_self_check(world.bob_patient)
    c = start(world)
    response = client_for("physician").get(history_url(c))
    form = response.context["form"]
    assert form.initial["pain_duration_months"] is None
    assert form.initial["pain_regions"] == []
    assert form.offer is None
    assert "prefilled-" not in response.content.decode()
    assert "From the self-check" not in response.content.decode()


def test_saving_the_form_confirms_the_self_check_values_and_records_their_source(
    world: World, client_for: Any
) -> None:
    selfcheck = _did_the_self_check(world.alice_patient)
    c = start(world)
    client = client_for("physician")
    shown = client.get(history_url(c))
    response = client.post(history_url(c), _post(c, shown, therapy_gabapentin="failed"))
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.pain_duration_months == 9.0
    assert c.pain_regions == ["lower_back"]
    assert c.pain_descriptors == ["burning", "electric"]
    prefill = HistoryPrefill.objects.get(consultation=c)
    assert prefill.selfcheck == selfcheck
    assert prefill.confirmed_by == world.physician
    assert prefill.fields == [
        "pain_duration_months",
        "pain_regions",
        "pain_descriptors",
        "prior_treatments",
    ]
    event = AuditEvent.objects.filter(object_type="consultation").order_by("-id").first()
    assert event is not None
    assert event.detail["from_selfcheck"] == prefill.fields
    # Confirmed: the form no longer marks anything, and the page says where the values came from.
    again = client.get(history_url(c)).content.decode()
    assert "prefilled-" not in again
    detail = client.get(
        reverse("assessments:consultation_detail", kwargs={"public_id": c.public_id})
    ).content.decode()
    assert "From the patient's self-check on" in detail
    assert "pain duration, where the pain is, how it feels, treatments tried" in detail


def test_a_value_the_physician_changes_is_not_recorded_as_the_self_checks(
    world: World, client_for: Any
) -> None:
    _did_the_self_check(world.alice_patient)
    c = start(world)
    client = client_for("physician")
    shown = client.get(history_url(c))
    client.post(history_url(c), _post(c, shown, pain_duration_months="30"))
    prefill = HistoryPrefill.objects.get(consultation=c)
    assert prefill.fields == ["pain_regions", "pain_descriptors"]
    # A later save that drops a self-check region drops its source too.
    c.refresh_from_db()
    shown = client.get(history_url(c))
    client.post(history_url(c), _post(c, shown, pain_regions=["neck"]))
    prefill.refresh_from_db()
    assert prefill.fields == ["pain_descriptors"]


def test_a_self_check_starts_one_history_and_is_not_offered_again_later(
    world: World, client_for: Any
) -> None:
    _did_the_self_check(world.alice_patient)
    first = start(world)
    client = client_for("physician")
    shown = client.get(history_url(first))
    client.post(history_url(first), _post(first, shown))
    assert HistoryPrefill.objects.filter(consultation=first).exists()
    # A follow-up consultation later: the same self-check is not offered again.
    later = start(world)
    response = client.get(history_url(later))
    form = response.context["form"]
    assert form.offer is None
    assert form.initial["pain_duration_months"] is None
    assert "prefilled-" not in response.content.decode()
    # The first consultation still says where its values came from.
    assert HistoryPrefill.objects.count() == 1


def test_a_self_check_id_of_another_patient_records_nothing(world: World, client_for: Any) -> None:
    others = _did_the_self_check(world.bob_patient)
    c = start(world)
    client = client_for("physician")
    shown = client.get(history_url(c))
    response = client.post(
        history_url(c), _post(c, shown, selfcheck=str(others.public_id), pain_regions=["neck"])
    )
    assert response.status_code == 302
    assert not HistoryPrefill.objects.exists()


def test_the_intake_read_finds_the_newest_attached_self_check(world: World) -> None:
    _did_the_self_check(world.alice_patient)
    newer = _did_the_self_check(world.alice_patient, duration={"duration": "over_12"})
    found = selfcheck_answers_for_intake(patient=world.alice_patient)
    assert found is not None
    assert found.public_id == newer.public_id
    assert found.duration_months == 18.0
    assert found.feel_yes == ("burning", "electric_shocks")
    assert selfcheck_answers_for_intake(patient=world.bob_patient) is None


def test_the_history_form_with_a_self_check_has_a_fixed_number_of_queries(
    world: World, client_for: Any, django_assert_num_queries: Any
) -> None:
    _did_the_self_check(world.alice_patient)
    c = start(world)
    client = client_for("physician")
    client.get(history_url(c))  # warm the session
    # session + user, access (with page joins), 4 prefetches, policy, audit (+savepoints),
    # the self-check and whether another history already started from it.
    with django_assert_num_queries(15):
        assert client.get(history_url(c)).status_code == 200


def test_the_result_page_says_what_happens_to_the_answers_and_promises_no_relief() -> None:
    visitor = Client()
    walk(visitor, positive_data())
    page = " ".join(visitor.get("/self-check/result/").content.decode().split())
    assert "This is a screening, not a diagnosis." in page
    assert "your self-check answers are added to your record" in page
    assert "The clinician starts your history from them and goes through them with you" in page
    assert "We cannot promise that any treatment will relieve your pain" in page
