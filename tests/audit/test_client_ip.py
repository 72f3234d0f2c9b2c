"""The client's address behind reverse proxies (``client_ip``, setting TRUSTED_PROXY_COUNT).

Each proxy appends the address that connected to it to X-Forwarded-For; the N-th entry from the
right is what the outermost of N trusted proxies saw, and anything further left is whatever the
client sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from ketaclinic.audit.api import client_ip
from ketaclinic.audit.models import AuditEvent
from tests.conftest import World

PROXY = "10.0.0.3"


def address(forwarded_for: str | None, *, remote: str = PROXY) -> str | None:
    meta: dict[str, str] = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(RequestFactory().get("/", **meta))  # type: ignore[arg-type]


def test_without_proxies_a_forged_header_is_ignored(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    assert address("198.51.100.7", remote="203.0.113.5") == "203.0.113.5"
    assert address(None, remote="203.0.113.5") == "203.0.113.5"


def test_one_proxy_gives_the_address_it_saw(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert address("203.0.113.5") == "203.0.113.5"


def test_two_proxies_give_the_address_the_outer_one_saw(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 2
    # client -> outer proxy (appends the client) -> inner proxy (appends the outer) -> us
    assert address("203.0.113.5, 10.0.0.2") == "203.0.113.5"


@pytest.mark.parametrize(
    ("proxies", "header"),
    [
        (1, "198.51.100.7, 203.0.113.5"),
        (1, "198.51.100.7,198.51.100.8 , 203.0.113.5"),
        (2, "198.51.100.7, 203.0.113.5, 10.0.0.2"),
    ],
)
def test_a_forged_hop_on_the_left_is_ignored(settings: Any, proxies: int, header: str) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    assert address(header) == "203.0.113.5"


@pytest.mark.parametrize(
    ("proxies", "header"),
    [
        (1, None),  # no header: not behind the proxy after all
        (1, ""),
        (1, "not-an-address"),
        (1, "203.0.113.5:4711"),  # a port is not part of the address
        (1, "203.0.113.5, "),
        (2, "203.0.113.5"),  # shorter than the proxies: the outer proxy did not add its hop
        (2, "999.1.1.1, 10.0.0.2"),
        (3, "<script>, 10.0.0.1, 10.0.0.2"),
    ],
)
def test_a_missing_short_or_malformed_header_falls_back_to_the_proxy(
    settings: Any, proxies: int, header: str | None
) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    assert address(header) == PROXY


def test_addresses_are_normalised(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert address(" 2001:DB8:0:0::1 ") == "2001:db8::1"
    settings.TRUSTED_PROXY_COUNT = 0
    assert address(None, remote="unix-socket") is None


def test_the_audit_trail_records_the_address_the_proxy_saw(
    settings: Any, client_for: Any, world: World
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    response = client_for("front_desk").get(
        f"/staff/patients/{world.alice_patient.public_id}/",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5",
    )
    assert response.status_code == 200
    assert AuditEvent.objects.get(object_type="patient_chart").ip_address == "203.0.113.5"


@pytest.mark.django_db
def test_the_api_throttle_counts_the_address_the_proxy_saw(settings: Any) -> None:
    from ketaclinic.api import api as api_module

    settings.TRUSTED_PROXY_COUNT = 1
    throttle = api_module.score_throttle
    original = throttle.rate
    throttle.rate = "2/m"
    throttle.num_requests, throttle.duration = throttle.parse_rate("2/m")

    def score(forwarded_for: str) -> int:
        return (
            Client()
            .post(
                "/api/v1/instruments/nrs/score",
                {"answers": {"pain": 1}},
                content_type="application/json",
                REMOTE_ADDR=PROXY,
                HTTP_X_FORWARDED_FOR=forwarded_for,
            )
            .status_code
        )

    try:
        assert [score("203.0.113.5") for _ in range(3)] == [200, 200, 429]
        # Everyone arrives from the proxy: another client is not limited by the first ...
        assert score("203.0.113.6") == 200
        # ... and a forged hop on the left does not get the first one a fresh count.
        assert score("198.51.100.1, 203.0.113.5") == 429
    finally:
        throttle.rate = original
        throttle.num_requests, throttle.duration = throttle.parse_rate(original)
