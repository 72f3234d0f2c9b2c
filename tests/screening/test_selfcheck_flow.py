"""The public self-check through its pages: steps, going back, bad input, the result."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.screening import questions as q
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import SESSION_ANSWERS, SESSION_RESULT
from ketaclinic.screening.views import BOOKING_START_PATH
from tests.screening.helpers import positive_data, post_data, step_url, walk

pytestmark = pytest.mark.django_db

BOOK_LINK = f'href="{BOOKING_START_PATH}"'


def checked(html: str, name: str, value: str) -> bool:
    return re.search(rf'name="{name}" value="{value}"[^>]*\bchecked\b', html) is not None


def test_the_start_page_is_public_and_says_it_is_a_screening(client: Client) -> None:
    response = client.get("/self-check/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "a screening, not a diagnosis" in html
    assert 'href="/self-check/feel/"' in html
    assert 'href="/learn/"' in html
    assert "call 911" in html


def test_each_step_shows_its_progress(client: Client) -> None:
    data = post_data()
    for number, slug in enumerate(q.STEP_SLUGS, start=1):
        response = client.get(step_url(slug))
        assert response.status_code == 200
        assert f"Step {number} of 8" in response.content.decode()
        assert client.post(step_url(slug), data[slug]).status_code == 302


def test_going_back_keeps_every_answer(client: Client) -> None:
    data = post_data(yes=("burning", "numbness"), duration="3_to_6", regions=("hands", "feet"))
    walk(client, data, until="triggers")
    # Back from step 4 with its answers filled in: they are kept as well.
    response = client.post(step_url("triggers"), {**data["triggers"], "nav": "back"})
    assert response.status_code == 302
    assert response["Location"] == step_url("where")

    where = client.get(step_url("where")).content.decode()
    assert checked(where, "regions", "hands")
    assert checked(where, "regions", "feet")
    assert not checked(where, "regions", "neck")
    duration = client.get(step_url("duration")).content.decode()
    assert checked(duration, "duration", "3_to_6")
    feel = client.get(step_url("feel")).content.decode()
    assert checked(feel, "burning", "yes")
    assert checked(feel, "numbness", "yes")
    assert checked(feel, "itching", "no")
    # ... and forward again: the triggers answered before going back are still there.
    triggers = client.get(step_url("triggers")).content.decode()
    assert checked(triggers, "triggers", "touch")
    assert checked(triggers, "triggers", "cold")
    assert set(client.session[SESSION_ANSWERS]) == {"feel", "duration", "where", "triggers"}


def test_back_from_an_unfinished_screen_goes_back_without_storing_it(client: Client) -> None:
    walk(client, post_data(), until="where")
    response = client.post(step_url("where"), {"nav": "back"})
    assert response.status_code == 302
    assert response["Location"] == step_url("duration")
    assert "where" not in client.session[SESSION_ANSWERS]


def test_back_from_the_first_step_returns_to_the_start_page(client: Client) -> None:
    response = client.post(step_url("feel"), {"nav": "back"})
    assert response["Location"] == "/self-check/"


def test_a_later_step_cannot_be_opened_before_the_earlier_ones(client: Client) -> None:
    response = client.get(step_url("treatments"))
    assert response.status_code == 302
    assert response["Location"] == step_url("feel")
    walk(client, post_data(), until="where")
    assert client.get(step_url("treatments"))["Location"] == step_url("where")


def test_an_unknown_step_is_not_found(client: Client) -> None:
    assert client.get(step_url("no-such-step")).status_code == 404


BAD_INPUT = [
    ("feel", {"burning": None}, "Burning: choose yes or no."),
    ("feel", {"pins_and_needles": "maybe"}, "Pins and needles: choose yes or no."),
    ("duration", {"duration": None}, "Pain duration: choose how long you have had the pain."),
    ("duration", {"duration": "forever"}, "Pain duration: choose one of the listed lengths"),
    ("where", {"regions": None}, "Where it hurts: choose at least one area of the body."),
    ("where", {"regions": ["elbow"]}, "Where it hurts: elbow is not one of the choices."),
    ("triggers", {"triggers": None}, "What sets it off: choose at least one"),
    (
        "triggers",
        {"triggers": ["none", "touch"]},
        "What sets it off: “None of these: it comes on by itself” cannot be combined",
    ),
    ("conditions", {"conditions": None}, "Known conditions: choose at least one"),
    (
        "conditions",
        {"conditions": ["unknown", "diabetes"]},
        "Known conditions: “None that I know of, or I am not sure” cannot be combined",
    ),
    ("treatments", {"treatments": ["none", "gabapentin"]}, "Treatments tried: “None of these”"),
    ("treatments", {"treatments": ["aspirin"]}, "Treatments tried: aspirin is not one of"),
    ("self-tests", {"press_self_test": None}, "Pressing test: choose yes or no."),
    ("self-tests", {"rub_self_test": "1"}, "Rubbing test: choose yes or no."),
    ("warning-signs", {"chest_pain": None}, "Chest pain: choose yes or no."),
    (
        "warning-signs",
        {"bladder_bowel": "perhaps"},
        "Loss of bladder or bowel control: choose yes or no.",
    ),
]


@pytest.mark.parametrize(("slug", "change", "message"), BAD_INPUT)
def test_bad_input_names_the_field_and_stores_nothing(
    client: Client, slug: str, change: dict[str, Any], message: str
) -> None:
    data = post_data()
    walk(client, data, until=slug)
    before = dict(client.session.get(SESSION_ANSWERS, {}))
    form = {k: v for k, v in {**data[slug], **change}.items() if v is not None}

    response = client.post(step_url(slug), form)

    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert 'class="error-summary"' in html
    assert dict(client.session.get(SESSION_ANSWERS, {})) == before
    assert slug not in before
    assert SelfCheck.objects.count() == 0


def test_bad_input_on_a_step_answered_before_keeps_the_earlier_answer(client: Client) -> None:
    data = post_data(duration="over_12")
    walk(client, data, until="where")
    response = client.post(step_url("duration"), {"duration": "forever"})
    assert response.status_code == 422
    assert client.session[SESSION_ANSWERS]["duration"] == {"duration": "over_12"}


def test_a_symptom_shared_by_instruments_is_asked_once(client: Client) -> None:
    html = client.get(step_url("feel")).content.decode()
    # One pair of radio buttons for pins and needles, none per instrument item.
    assert html.count('name="pins_and_needles"') == 2
    assert html.count('name="burning"') == 2
    for key in ("hot_burning", "numb", "electrical_shocks", "worse_with_touch", "touch_sensitive"):
        assert f'name="{key}"' not in html
    assert "This one answer counts for DN4, ID Pain, S-LANSS." in html
    # Each instrument's own wording is shown for the questions that are its own.
    assert REGISTRY["id-pain"].item("limited_to_joints").wording in html
    assert REGISTRY["s-lanss"].item("sudden_bursts").wording.replace('"', "&quot;") in html


def test_one_pins_and_needles_answer_feeds_all_three_instruments(client: Client) -> None:
    walk(client, post_data(yes=("pins_and_needles",)))
    scores = SelfCheck.objects.get().scores
    assert scores["dn4-interview"]["total"] == 1.0
    assert scores["id-pain"]["total"] == 1.0
    assert scores["s-lanss"]["total"] == 5.0


def test_the_last_step_stores_the_result_and_keeps_its_id_out_of_the_url(client: Client) -> None:
    response = walk(client, positive_data())
    selfcheck = SelfCheck.objects.get()
    assert response["Location"] == "/self-check/result/"
    assert client.session[SESSION_RESULT] == str(selfcheck.public_id)
    assert selfcheck.patient is None
    # Anonymous: nobody's record was read or changed, so there is nothing to audit yet.
    assert AuditEvent.objects.count() == 0


def test_the_result_shows_each_score_against_its_cutoff_with_its_source(client: Client) -> None:
    walk(client, positive_data())
    response = client.get("/self-check/result/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "This is a screening, not a diagnosis." in html
    expected = {"dn4-interview": (4, 7, 3), "id-pain": (4, 5, 2), "s-lanss": (11, 24, 12)}
    for code, (total, maximum, cutoff) in expected.items():
        instrument = REGISTRY[code]
        assert instrument.name in html
        assert f"{total} out of {maximum}" in html
        assert f"Cut-off: {cutoff} or more, which means {instrument.positive_meaning}." in html
        assert instrument.source in html
    assert "reached the cut-off on 2 of the 3 questionnaires" in html
    assert "2025 Cochrane review found no clear benefit over placebo" in html
    assert "moderate evidence of benefit lasting up to about 12 weeks" in html
    assert BOOK_LINK in html
    assert "Book a consultation" in html


def test_a_negative_screen_still_offers_booking(client: Client) -> None:
    walk(client, post_data())
    html = client.get("/self-check/result/").content.decode()
    assert not any(s["positive"] for s in SelfCheck.objects.get().scores.values())
    assert "did not reach the cut-off on any" in html
    assert "A negative screen does not stop you booking" in html
    assert BOOK_LINK in html


@pytest.mark.parametrize("flag", [flag.key for flag in q.RED_FLAGS])
def test_a_red_flag_shows_urgent_care_advice_and_no_booking(client: Client, flag: str) -> None:
    walk(client, post_data(yes=("burning", "pins_and_needles"), flags=(flag,)))
    html = client.get("/self-check/result/").content.decode()
    assert SelfCheck.objects.get().red_flags == [flag]
    assert "Get urgent care now" in html
    assert "Call 911 now, or go to the nearest emergency department." in html
    assert q.RED_FLAG_NAMES[flag] in html
    assert BOOKING_START_PATH not in html
    assert "Book a consultation" not in html
    assert "This is a screening, not a diagnosis." in html


@pytest.mark.parametrize(
    ("duration", "chronic", "text"),
    [
        ("under_1", False, "your pain does not count as chronic yet"),
        ("1_to_3", False, "your pain does not count as chronic yet"),
        ("3_to_6", True, "your pain counts as chronic"),
        ("over_12", True, "your pain counts as chronic"),
    ],
)
def test_pain_counts_as_chronic_only_past_three_months(
    client: Client, duration: str, chronic: bool, text: str
) -> None:
    walk(client, post_data(duration=duration))
    assert SelfCheck.objects.get().chronic is chronic
    assert text in client.get("/self-check/result/").content.decode()


def test_changing_an_answer_after_the_result_makes_the_old_result_go_away(client: Client) -> None:
    data = post_data()
    walk(client, data)
    client.post(step_url("duration"), {"duration": "under_1"})
    response = client.get("/self-check/result/")
    assert response.status_code == 302
    assert response["Location"] == step_url("warning-signs")
    client.post(step_url("warning-signs"), data["warning-signs"])
    assert SelfCheck.objects.count() == 2
    assert "does not count as chronic yet" in client.get("/self-check/result/").content.decode()


def test_the_result_page_without_a_self_check_goes_to_the_start(client: Client) -> None:
    response = client.get("/self-check/result/")
    assert response.status_code == 302
    assert response["Location"] == "/self-check/"


def test_start_again_forgets_the_answers_and_the_result(client: Client) -> None:
    walk(client, post_data())
    response = client.post("/self-check/")
    assert response["Location"] == step_url("feel")
    assert SESSION_ANSWERS not in client.session
    assert SESSION_RESULT not in client.session


def test_the_result_page_runs_a_fixed_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    walk(client, positive_data())
    # The first page rendered reads the site clinic's brand once; later pages take it from the
    # cache (clinics/brand.py).
    client.get("/self-check/result/")
    # One for the session, one for the self-check.
    with django_assert_num_queries(2):
        assert client.get("/self-check/result/").status_code == 200


def test_a_signed_in_user_can_take_the_self_check_too(client_for: Any) -> None:
    client = client_for("physician")
    walk(client, positive_data())
    assert client.get("/self-check/result/").status_code == 200


def test_the_booking_button_points_at_the_booking_page() -> None:
    from django.urls import reverse

    assert reverse("scheduling:book") == BOOKING_START_PATH
