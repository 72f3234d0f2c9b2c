"""The per-address limit on storing anonymous self-checks: polite 429, nothing stored."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from ketaclinic.screening import throttle
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import SESSION_ANSWERS, SESSION_RESULT
from tests.screening.helpers import positive_data, post_data, step_url, walk

pytestmark = pytest.mark.django_db

LAST = "warning-signs"


@pytest.fixture
def mid_window() -> Iterator[None]:
    """The limit counts per fixed window (an hour in these tests): a test running across the top
    of the hour would start counting again halfway and never reach the limit. The clock stands
    still at half past the current hour."""
    half_past = dt.datetime.now(dt.UTC).replace(minute=30, second=0, microsecond=0)
    with time_machine.travel(half_past, tick=False):
        yield


def submit_again(client: Client, data: dict[str, dict[str, Any]]) -> Any:
    """Send the last screen again: each time stores one more result (or is refused)."""
    return client.post(step_url(LAST), data[LAST])


def test_normal_use_is_not_throttled(client: Client) -> None:
    # One visitor takes the self-check, then changes their answers and looks again a few times:
    # well inside the default limit.
    data = positive_data()
    walk(client, data)
    for _ in range(5):
        response = submit_again(client, data)
        assert response.status_code == 302
        assert response["Location"] == "/self-check/result/"
    assert SelfCheck.objects.count() == 6
    assert client.get("/self-check/result/").status_code == 200


@pytest.mark.usefixtures("mid_window")
@override_settings(SELFCHECK_SUBMIT_RATE="3/h")
def test_past_the_limit_a_polite_429_page_and_nothing_stored(client: Client) -> None:
    data = positive_data()
    walk(client, data)
    submit_again(client, data)
    submit_again(client, data)
    assert SelfCheck.objects.count() == 3

    response = submit_again(client, data)

    assert response.status_code == 429
    html = response.content.decode()
    assert "Please try again a little later" in html
    assert "many self-checks have been sent from this internet connection" in html
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "minute" in html
    assert 'data-testid="urgent-care"' not in html
    # Nothing stored: no new row, and the session points at no new result.
    assert SelfCheck.objects.count() == 3
    assert SESSION_RESULT not in client.session
    # The answers are kept for a later try.
    assert client.session[SESSION_ANSWERS][LAST] == {k: v == "yes" for k, v in data[LAST].items()}


@pytest.mark.usefixtures("mid_window")
@override_settings(SELFCHECK_SUBMIT_RATE="1/h")
def test_a_throttled_visitor_with_a_warning_sign_is_still_told_to_get_urgent_care(
    client: Client,
) -> None:
    walk(client, positive_data())
    data = post_data(yes=("burning",), flags=("chest_pain",))
    response = submit_again(client, data)
    assert response.status_code == 429
    html = response.content.decode()
    assert 'data-testid="urgent-care"' in html
    assert "Call 911 now" in html
    assert "Chest pain" in html
    assert SelfCheck.objects.count() == 1


@override_settings(SELFCHECK_SUBMIT_RATE="1/h")
def test_the_limit_is_per_address_and_ends_with_its_window(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [7200.0]  # the start of an hour window
    monkeypatch.setattr(time, "time", lambda: clock[0])  # the clock throttle.py reads
    data = positive_data()
    walk(client, data)
    assert submit_again(client, data).status_code == 429
    # Another address is not affected.
    other = Client(REMOTE_ADDR="192.0.2.9")
    assert walk(other, data)["Location"] == "/self-check/result/"
    assert SelfCheck.objects.count() == 2
    # 40 minutes later the first address still waits, and is told about how long.
    clock[0] += 40 * 60
    response = submit_again(client, data)
    assert (response.status_code, response["Retry-After"]) == (429, str(20 * 60))
    assert "about 20 minutes" in response.content.decode()
    # In the next hour it is accepted again.
    clock[0] += 20 * 60
    assert submit_again(client, data).status_code == 302
    assert SelfCheck.objects.count() == 3


@override_settings(SELFCHECK_SUBMIT_RATE="1/h")
def test_signed_in_users_are_not_throttled(client_for: Any) -> None:
    client = client_for("alice")
    data = positive_data()
    walk(client, data)
    assert submit_again(client, data).status_code == 302
    assert submit_again(client, data).status_code == 302
    assert SelfCheck.objects.count() == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20/h", (20, 3600)), ("5/m", (5, 60)), (" 100/d ", (100, 86400)), ("1/s", (1, 1))],
)
def test_rates_are_read_as_count_per_period(value: str, expected: tuple[int, int]) -> None:
    rate = throttle.parse_rate(value)
    assert (rate.count, rate.seconds) == expected


@pytest.mark.parametrize("value", ["", "20", "20/week", "x/h", "0/h", "-1/m"])
def test_a_bad_rate_setting_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^SELFCHECK_SUBMIT_RATE: "):
        throttle.parse_rate(value)
