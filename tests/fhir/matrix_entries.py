"""Authorization-matrix rows for the FHIR API (merged by tests/test_authorization_matrix.py).

A program without a session gets FHIR's 401 (not the pages' redirect to the log-in page);
records outside the reader's scope answer 404, as the pages do."""

from __future__ import annotations

from typing import Any

from tests.authz import ADMIN_PAGE, DENY, GONE, LOGIN, OK, PUBLIC
from tests.conftest import World

UNAUTHORIZED = 401
#                   anon          alice  bob    desk   nurse  phys   admin  other_phys
SIGNED_IN_READ = (UNAUTHORIZED, OK, OK, OK, OK, OK, OK, OK)
ALICE_RECORD = (UNAUTHORIZED, OK, DENY, OK, OK, OK, OK, DENY)


def _patients(world: World) -> dict[str, Any]:
    return {"type_name": "Patient"}


def _alice(world: World) -> dict[str, Any]:
    return {"type_name": "Patient", "resource_id": world.alice_patient.public_id}


# A POST-only action of the clinic admin: a 405 on GET for her, a 404 for everyone else.
ADMIN_POST_ONLY = (LOGIN, DENY, DENY, DENY, DENY, DENY, GONE, DENY)


def _our_client(world: World) -> dict[str, Any]:
    from ketaclinic.audit.api import Actor
    from ketaclinic.fhir.services import fhir_client_register

    client, _ = fhir_client_register(
        actor=Actor(user=None), clinic=world.clinic, name="Registry", kind="backend"
    )
    return {"client_id": client.pk}


ENTRIES: dict[str, Any] = {
    "fhir:clients": (ADMIN_PAGE, None),
    "fhir:client_revoke": (ADMIN_POST_ONLY, _our_client),
    # The authorization page needs a session (then refuses a request without a client); the
    # token and revocation endpoints answer programs, and a GET is not theirs.
    "fhir:authorize": ((LOGIN,) + (400,) * 7, None),
    "fhir:token": ((GONE,) * 8, None),
    "fhir:revoke": ((GONE,) * 8, None),
    "fhir:smart_configuration": (PUBLIC, None),
    "fhir:metadata": (PUBLIC, None),
    "fhir:base": ((DENY,) * 8, None),
    "fhir:unknown": ((DENY,) * 8, lambda w: {"rest": "Patient/x/_history"}),
    "fhir:search": (SIGNED_IN_READ, _patients),
    # POST only (a search with its parameters in the body).
    "fhir:search_post": ((GONE,) * 8, _patients),
    "fhir:read": (ALICE_RECORD, _alice),
}
