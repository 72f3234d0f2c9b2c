"""The front desk finds a caller: by name, record number, email, phone in any format or date of
birth, paged with a count, the search text never in a URL (issue 16 item 2)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.models import Patient
from ketaclinic.patients.search import parse_patient_query, phone_digit_forms
from ketaclinic.patients.views import SEARCH_SESSION_KEY
from tests import factories
from tests.conftest import World

LIST = "/staff/patients/"


def search(client: Client, text: str) -> str:
    """Post the search as the form does and follow the redirect back to the list."""
    response = client.post(LIST, {"q": text})
    assert response.status_code == 302
    assert response["Location"] == LIST  # the text is not in the URL
    return client.get(LIST).content.decode()


@pytest.fixture
def carmen(world: World) -> Patient:
    return factories.make_patient(
        world.clinic,
        given="Carmen",
        family="Delgado",
        location=world.cleveland,
        phone="+1 (216) 555-0101",
        date_of_birth=dt.date(1966, 3, 2),
        email="Carmen.Delgado@example.test",
    )


@pytest.mark.parametrize(
    "typed", ["216-555-0101", "(216) 555 0101", "2165550101", "1.216.555.0101"]
)
def test_the_desk_finds_a_caller_by_phone_in_any_format(
    client_for: Any, world: World, carmen: Patient, typed: str
) -> None:
    factories.make_patient(world.clinic, given="Dora", family="Other", phone="216-555-0199")
    page = search(client_for("front_desk"), typed)
    assert "Delgado, Carmen" in page
    assert "Dora" not in page
    assert "1 patient matches" in page


@pytest.mark.parametrize("typed", ["1966-03-02", "03/02/1966", "3/2/1966"])
def test_the_desk_finds_a_caller_by_date_of_birth_iso_or_us(
    client_for: Any, world: World, carmen: Patient, typed: str
) -> None:
    # Born on 2 February 1966: found by neither form of 2 March.
    factories.make_patient(
        world.clinic, given="Feb", family="Second", date_of_birth=dt.date(1966, 2, 3)
    )
    page = search(client_for("front_desk"), typed)
    assert "Delgado, Carmen" in page
    assert "Second, Feb" not in page


def test_phone_and_date_of_birth_together_narrow_to_the_caller(
    client_for: Any, world: World, carmen: Patient
) -> None:
    factories.make_patient(
        world.clinic,
        given="Twin",
        family="Delgado",
        phone="216 555 0101",
        date_of_birth=dt.date(1990, 1, 1),
    )
    client = client_for("front_desk")
    assert "2 patients match" in search(client, "216 555 0101")
    page = search(client, "(216) 555-0101 03/02/1966")
    assert "1 patient matches" in page
    assert "Delgado, Carmen" in page
    assert "Delgado, Twin" not in page


@pytest.mark.parametrize("typed", ["carmen.delgado@EXAMPLE.test", "delg", "Carmen Delgado"])
def test_the_desk_finds_a_caller_by_email_or_name(
    client_for: Any, carmen: Patient, typed: str
) -> None:
    assert "Delgado, Carmen" in search(client_for("front_desk"), typed)


def test_the_desk_finds_a_caller_by_record_number_in_any_case(
    client_for: Any, carmen: Patient
) -> None:
    assert "Delgado, Carmen" in search(client_for("nurse"), carmen.mrn.lower())


def test_a_search_that_matches_nobody_says_so_and_offers_to_register(
    client_for: Any, carmen: Patient
) -> None:
    page = search(client_for("front_desk"), "Zebedee")
    assert "0 patients match" in page
    assert "No patient matches this search" in page
    assert 'href="/staff/patients/new/"' in page
    assert "Delgado" not in page


def test_a_malformed_date_is_refused_naming_the_field_and_the_search_is_unchanged(
    client_for: Any, carmen: Patient
) -> None:
    client = client_for("front_desk")
    search(client, "Delgado")
    events = AuditEvent.objects.count()
    response = client.post(LIST, {"q": "13/45/1966"})
    page = response.content.decode()
    assert response.status_code == 422
    assert "Date of birth: “13/45/1966” is not a date. Type it as YYYY-MM-DD or MM/DD/YYYY." in page
    assert 'aria-invalid="true"' in page
    assert AuditEvent.objects.count() == events  # nothing searched
    assert client.session[SEARCH_SESSION_KEY] == "Delgado"  # the earlier search stands
    assert "1 patient matches" in client.get(LIST).content.decode()


def test_the_hint_names_every_way_to_search_and_the_date_formats(
    client_for: Any, world: World
) -> None:
    page = client_for("front_desk").get(LIST).content.decode()
    assert (
        "Name, record number, email, phone (any format) or date of birth (YYYY-MM-DD or MM/DD/YYYY)"
        in page
    )


def test_the_search_text_stays_out_of_urls_and_the_audit_trail(
    client_for: Any, carmen: Patient
) -> None:
    client = client_for("front_desk")
    page = search(client, "216-555-0101")
    links = " ".join(re.findall(r'(?:href|action)="([^"]*)"', page))
    assert "555-0101" not in links
    assert "2165550101" not in links
    assert "?q=" not in links
    event = AuditEvent.objects.filter(object_type="patient_list").latest("id")
    assert event.detail == {"results": 1, "searched": True, "by": ["phone"], "page": 1}
    assert "0101" not in str(event.detail)
    # A query string from an old bookmark is not a search.
    assert "Zebedee" not in client.get(LIST, {"q": "Zebedee"}).content.decode()


def test_clear_forgets_the_search(client_for: Any, world: World, carmen: Patient) -> None:
    client = client_for("front_desk")
    search(client, "Delgado")
    response = client.post(LIST, {"q": "Delgado", "clear": "1"})
    assert response.status_code == 302
    assert SEARCH_SESSION_KEY not in client.session
    page = client.get(LIST).content.decode()
    assert "Moreno, Alice" in page
    assert "3 patients" in page


def test_the_list_pages_with_a_count_and_a_flat_number_of_queries(
    client_for: Any, world: World, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        factories.make_patient(world.clinic, given=f"Many{i:02d}", family="Smith")
    client = client_for("front_desk")
    search(client, "Smith")
    # session, user, savepoint, count, rows with their location, audit chain head lock, audit
    # insert, chain head move, release; the clinic's brand for the page
    with django_assert_max_num_queries(10) as few:
        first = client.get(LIST).content.decode()
    for i in range(30, 60):
        factories.make_patient(world.clinic, given=f"Many{i:02d}", family="Smith")
    with django_assert_max_num_queries(len(few)):
        second = client.get(LIST, {"page": "2"}).content.decode()
    assert "30 patients match · page 1 of 2" in first
    assert first.count("Smith, Many") == 25
    assert 'href="?page=2"' in first
    assert "60 patients match · page 2 of 3" in second
    assert second.count("Smith, Many") == 25
    # Past the end or not a number: a page that exists, never an error.
    assert "page 3 of 3" in client.get(LIST, {"page": "99"}).content.decode()
    assert "page 1 of 3" in client.get(LIST, {"page": "x"}).content.decode()


def test_the_search_never_finds_another_clinics_patient(client_for: Any, world: World) -> None:
    factories.make_patient(world.other_clinic, given="Oscar", family="Moreno", phone="216-555-0101")
    page = search(client_for("front_desk"), "216-555-0101")
    assert "Oscar" not in page
    assert "0 patients match" in page


def test_a_changed_phone_is_found_by_its_new_number(
    client_for: Any, world: World, carmen: Patient
) -> None:
    client = client_for("physician")
    response = client.post(
        f"/staff/patients/{carmen.public_id}/edit/",
        {
            "given_name": "Carmen",
            "family_name": "Delgado",
            "date_of_birth": "1966-03-02",
            "sex": "female",
            "phone": "440.555.0177",
            "version": carmen.version,
        },
    )
    assert response.status_code == 302
    assert "Delgado, Carmen" in search(client, "(440) 555-0177")
    assert "0 patients match" in search(client, "216-555-0101")


def test_parsing_reads_each_kind_of_word() -> None:
    query = parse_patient_query("Moreno (216) 555-0101 a@b.test 1980-01-31")
    assert query.words == ("Moreno",)
    assert query.phones == ("2165550101", "12165550101")
    assert query.emails == ("a@b.test",)
    assert query.date_of_birth == dt.date(1980, 1, 31)
    # Too few digits for a phone: a word (a record number, part of a name).
    assert parse_patient_query("0101").words == ("0101",)
    assert phone_digit_forms("+44 20 7946 0958") == ("442079460958",)


@pytest.mark.parametrize("typed", ["1980-02-30", "31/12/1980", "12/31/80", "1980-01-01 1981-01-01"])
def test_parsing_refuses_what_is_not_one_date_of_birth(typed: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_patient_query(typed)
    assert info.value.messages[0].startswith("Date of birth: ")
