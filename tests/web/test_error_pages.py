"""Error pages wear the clinic's brand, say what to do next and show nothing of the request."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import loader
from django.test import Client

from tests.conftest import World

ERROR_URLS = "tests.web.error_urls"


@pytest.fixture
def errors(settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = ERROR_URLS


def _client() -> Client:
    return Client(raise_request_exception=False)


def test_a_missing_page_is_branded_and_never_repeats_its_path(world: World, errors: None) -> None:
    response = _client().get("/a-page-that-is-not/tok3n-s3cret/")
    page = response.content.decode()
    assert response.status_code == 404
    assert f"<title>Page not found · {world.clinic.name}</title>" in page
    assert "We could not find that page" in page
    assert '<a class="button" href="/">Go to the home page</a>' in page
    assert "tok3n-s3cret" not in page
    assert "Powered by ketaclinic" in page


def test_a_refused_page_is_branded_and_says_who_to_ask(world: World, errors: None) -> None:
    response = _client().get("/test-forbidden/")
    page = response.content.decode()
    assert response.status_code == 403
    assert f"<title>Not allowed · {world.clinic.name}</title>" in page
    assert "ask your clinic's administrator" in page
    assert "Alice" not in page


def test_a_server_error_shows_the_neutral_brand_and_nothing_of_the_error(
    world: World, errors: None
) -> None:
    response = _client().get("/test-fails/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "<title>Something went wrong · Pain clinic</title>" in page
    assert "Something went wrong on our side" in page
    assert "Alice" not in page
    assert '<a class="button" href="/">Go to the home page</a>' in page


def test_the_server_error_page_renders_without_a_database_or_request() -> None:
    # No database fixture: any query would raise here.
    page = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in page


def test_an_expired_form_is_explained_on_a_branded_page(world: World, errors: None) -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    before = client.session.session_key
    response = client.post("/accounts/login/", {"login": "alice@example.test", "password": "x"})
    page = response.content.decode()
    assert response.status_code == 403
    assert f"<title>Form expired · {world.clinic.name}</title>" in page
    assert "Nothing was saved" in page
    assert client.session.session_key == before  # not signed in
