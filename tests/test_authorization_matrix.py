"""Every route of the project x every persona -> the expected answer.

A route added without an entry here fails ``test_every_route_has_a_matrix_entry``. Outside a
persona's scope the answer is a 404 (never a 403 that would confirm the record exists);
anonymous visitors of private pages are sent to the log-in page.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.authz import (
    ADMIN_PAGE,
    ANY_SIGNED_IN,
    AUTH_FORM,
    AUTH_PUBLIC,
    AUTH_SIGNED_IN,
    AUTH_SIGNED_IN_OFF,
    DENY,
    GONE,
    LOGIN,
    OK,
    PATIENT_PAGE,
    PUBLIC,
    REDIRECT,
)
from tests.conftest import PERSONAS, World


def _other_clinic_patient(world: World) -> dict[str, Any]:
    return {"public_id": world.other_patient.public_id}


Entry = tuple[tuple[Any, ...], Callable[[World], dict[str, Any]] | None]

MATRIX: dict[str, Entry] = {
    "landing": (PUBLIC, None),
    "healthz": (PUBLIC, None),
    # Public probes: the test world has no worker heartbeat, so it is not ready (web/health.py).
    "readyz": ((503,) * 8, None),
    # Off without METRICS_TOKEN, for everyone (tests/web/test_metrics.py sends the token).
    "metrics": ((DENY,) * 8, None),
    "home": (ANY_SIGNED_IN, None),
    "nav_counts": (ANY_SIGNED_IN, None),
    "my_record": (PATIENT_PAGE, None),
    "clinic_overview": (ADMIN_PAGE, None),
    "account_login": (AUTH_FORM, None),
    "account_logout": ((REDIRECT,) + (OK,) * 7, None),
    "account_inactive": (AUTH_PUBLIC, None),
    "account_signup": (AUTH_FORM, None),
    "account_reauthenticate": (AUTH_SIGNED_IN, None),
    # allauth 65.22 added re-authentication by emailed code; settings keep re-authentication to
    # the password (ACCOUNT_REAUTHENTICATION_METHODS), so allauth refuses both pages.
    "account_request_reauthentication_code": (AUTH_SIGNED_IN_OFF, None),
    "account_confirm_reauthentication_code": (AUTH_SIGNED_IN_OFF, None),
    "account_email": (AUTH_SIGNED_IN, None),
    "account_email_verification_sent": (AUTH_PUBLIC, None),
    "account_change_password": (AUTH_SIGNED_IN, None),
    "account_set_password": ((LOGIN,) + (REDIRECT,) * 7, None),
    "account_reset_password": (AUTH_PUBLIC, None),
    "account_confirm_login_code": ((REDIRECT,) * 8, None),
    "account_confirm_email": (AUTH_PUBLIC, lambda w: {"key": "not-a-real-key"}),
    "account_reset_password_from_key_done": (AUTH_PUBLIC, None),
    "account_reset_password_from_key": (
        AUTH_PUBLIC,
        lambda w: {"uidb36": "zz", "key": "not-a-real-key"},
    ),
    "account_reset_password_done": (AUTH_PUBLIC, None),
    "api:openapi-json": (PUBLIC, None),
    "api:openapi-view": (PUBLIC, None),
    "api:score_instrument": ((GONE,) * 8, lambda w: {"code": "nrs"}),
    "api:api-root": ((DENY,) * 8, None),
}

# Each app may keep its rows beside its tests (tests/<app>/matrix_entries.py, ENTRIES) using the
# column tuples above; they are merged here so one table still covers every route.
for _module in (
    "tests.accounts.matrix_entries",
    "tests.patients.matrix_entries",
    "tests.audit.matrix_entries",
    "tests.screening.matrix_entries",
    "tests.scheduling.matrix_entries",
    "tests.assessments.matrix_entries",
    "tests.plans.matrix_entries",
    "tests.clinics.matrix_entries",
    "tests.infusions.matrix_entries",
    "tests.outcomes.matrix_entries",
    "tests.analytics.matrix_entries",
    "tests.fhir.matrix_entries",
):
    MATRIX.update(importlib.import_module(_module).ENTRIES)

# Extra cases: the same page asked for a record outside the persona's scope.
SCOPE_CASES: dict[str, Entry] = {
    # Olga works at the other clinic: its record is hers to see, and ours are not.
    "patients:detail": ((LOGIN,) + (DENY,) * 6 + (OK,), _other_clinic_patient),
    "patients:edit": ((LOGIN,) + (DENY,) * 6 + (OK,), _other_clinic_patient),
}


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            yield from _walk(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
            yield name, str(pattern.pattern)


def project_routes() -> set[str]:
    # Django's operator admin is outside the clinic product (superusers only, its own checks).
    return {name for name, _ in _walk(get_resolver().url_patterns) if not name.startswith("admin:")}


def test_every_route_has_a_matrix_entry() -> None:
    routes = project_routes()
    assert routes - set(MATRIX) == set(), "add these routes to the authorization matrix"
    assert set(MATRIX) - routes == set(), "these matrix entries name no route"


def _url(name: str, kwargs: dict[str, Any]) -> str:
    from django.urls import reverse

    return reverse(name, kwargs=kwargs or None)


def _cases(table: dict[str, Entry]) -> list[Any]:
    return [
        pytest.param(name, persona, i, id=f"{name}-{persona}")
        for name in table
        for i, persona in enumerate(PERSONAS)
    ]


def _check(
    client_for: Any,
    world: World,
    name: str,
    persona: str,
    expected: Any,
    kwargs_of: Callable[[World], dict[str, Any]] | None,
) -> None:
    url = _url(name, kwargs_of(world) if kwargs_of else {})
    response = client_for(persona).get(url)
    if expected == LOGIN:
        assert response.status_code == 302, (name, persona, response.status_code)
        assert response["Location"].startswith("/accounts/login/"), response["Location"]
    else:
        assert response.status_code == expected, (name, persona, response.status_code)


@pytest.mark.parametrize(("name", "persona", "column"), _cases(MATRIX))
def test_matrix(client_for: Any, world: World, name: str, persona: str, column: int) -> None:
    expected, kwargs_of = MATRIX[name]
    _check(client_for, world, name, persona, expected[column], kwargs_of)


@pytest.mark.parametrize(("name", "persona", "column"), _cases(SCOPE_CASES))
def test_records_outside_scope_are_not_found(
    client_for: Any, world: World, name: str, persona: str, column: int
) -> None:
    expected, kwargs_of = SCOPE_CASES[name]
    _check(client_for, world, name, persona, expected[column], kwargs_of)


@pytest.mark.parametrize("persona", PERSONAS)
def test_scoring_api_is_public_for_every_persona(client_for: Any, persona: str) -> None:
    response = client_for(persona).post(
        "/api/v1/instruments/nrs/score",
        data=json.dumps({"answers": {"pain": 6}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["total"] == 6.0


@pytest.mark.parametrize("persona", PERSONAS)
def test_navigation_links_only_to_pages_the_persona_may_open(
    client_for: Any, world: World, persona: str
) -> None:
    from ketaclinic.web.context_processors import NAVIGATION

    user = world.persona(persona)
    client = client_for(persona)
    for _label, url_name in NAVIGATION.get(user.role if user else "", []):
        column = PERSONAS.index(persona)
        assert MATRIX[url_name][0][column] == OK, (persona, url_name)
        assert client.get(_url(url_name, {})).status_code == 200
