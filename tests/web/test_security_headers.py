"""The headers every response carries (issue 15 item 6): no-store wherever a page is drawn for
someone, the strict Content-Security-Policy in every mode, Permissions-Policy and Referrer-Policy;
in production, the HTTPS redirect (not for the health check) and HSTS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client, override_settings

from tests.factories.world import World

pytestmark = pytest.mark.django_db

STRICT_POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


def _cache_control(response: object) -> set[str]:
    header = response["Cache-Control"]  # type: ignore[index]
    return {part.strip() for part in str(header).split(",")}


def _policy(response: object) -> set[str]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {part.strip() for part in str(header).split(";") if part.strip()}


def test_a_signed_in_page_is_never_stored(client_for: Callable[[str], Client]) -> None:
    response = client_for("alice").get("/me/")
    assert response.status_code == 200
    assert {"no-store", "no-cache", "private", "must-revalidate", "max-age=0"} <= _cache_control(
        response
    )


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/password/reset/", "/accounts/signup/"]
)
def test_the_sign_in_and_password_pages_are_never_stored(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert {"no-store", "private"} <= _cache_control(response)


def test_a_static_file_keeps_its_caching() -> None:
    response = Client().get("/static/ketaclinic/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.parametrize("persona", ["anonymous", "alice"])
def test_every_page_has_the_strict_policy_and_the_feature_policy(
    client_for: Callable[[str], Client], persona: str
) -> None:
    response = client_for(persona).get("/" if persona == "anonymous" else "/me/")
    assert response.status_code == 200
    assert _policy(response) == STRICT_POLICY
    permissions = {p.strip() for p in response["Permissions-Policy"].split(",")}
    assert permissions == {
        "camera=()",
        "microphone=()",
        "geolocation=()",
        "payment=()",
        "usb=()",
        "publickey-credentials-get=(self)",
        "publickey-credentials-create=(self)",
    }
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_a_not_found_page_has_the_policy_too(world: World) -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert _policy(response) == STRICT_POLICY
    assert "no-store" in _cache_control(response)


# The values production gets by default (tests/web/test_deploy_check.py reads them in a real
# production process); here Django's SecurityMiddleware is shown to act on them.
PRODUCTION_TLS = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": False,
}


@override_settings(**PRODUCTION_TLS)
def test_production_redirects_plain_http_but_not_the_health_check() -> None:
    response = Client().get("/accounts/login/?next=/me/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/?next=/me/"
    assert Client().get("/healthz").status_code == 200


@override_settings(**PRODUCTION_TLS)
def test_production_sends_hsts_over_https() -> None:
    response = Client().get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
