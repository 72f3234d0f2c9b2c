"""Breaker probe (issue 15 item 1): a staff member without a second factor reaches no page of
the clinic's data, whichever route they try, with or without htmx.

The MFA gate's own tests open six patient pages; this walks every route of the authorization
matrix that each staff role may open, as that role with its factors removed, and asserts that
nothing is shown (no 200 outside the sign-in and second-factor pages) and that no read of patient
data is audited: a page that showed patient data would leave one (test_audit_completeness.py).
"""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from tests.conftest import PERSONAS, World
from tests.factories.sessions import signed_in_client
from tests.security.walk import events_since, last_event_id, reads, route_kwargs, url_for
from tests.test_authorization_matrix import MATRIX

STAFF = ("front_desk", "nurse", "physician", "clinic_admin")
# Pages that stay open to enrol: allauth's account and second-factor pages (no clinic data).
OPEN_PREFIXES = ("account_", "mfa_")


def _open_page(name: str) -> bool:
    # Public pages (the matrix opens them to anonymous visitors too) show nothing of the clinic.
    return name.startswith(OPEN_PREFIXES) or MATRIX[name][0][0] == 200


COLUMNS = {persona: PERSONAS.index(persona) for persona in STAFF}
ROUTES = sorted(
    name
    for name, (expected, _kwargs) in MATRIX.items()
    if not _open_page(name) and any(expected[i] == 200 for i in COLUMNS.values())
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ROUTES)
def test_no_route_shows_clinic_data_to_staff_without_a_second_factor(
    world: World, name: str
) -> None:
    url = url_for(name, route_kwargs(world, name))
    expected = MATRIX[name][0]
    for persona, column in COLUMNS.items():
        if expected[column] != 200:
            continue
        user = world.persona(persona)
        assert user is not None
        Authenticator.objects.filter(user=user).delete()
        client = signed_in_client(user)
        mark = last_event_id()
        for htmx in (False, True):
            response = client.get(url, headers={"HX-Request": "true"} if htmx else None)
            if url.startswith(("/api/", "/fhir/")):
                assert response.status_code == 403, persona
            elif htmx:
                # htmx navigates the whole page there (a 200 with no body to swap in).
                assert response.get("HX-Redirect") == "/accounts/2fa/", persona
                assert response.content == b"", persona
            else:
                assert response.status_code == 302, persona
                assert response["Location"] == "/accounts/2fa/", persona
        assert reads(events_since(mark)) == [], persona
