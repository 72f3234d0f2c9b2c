"""Authorization-matrix rows for the FHIR API (merged by tests/test_authorization_matrix.py).

A program without a session gets FHIR's 401 (not the pages' redirect to the log-in page);
records outside the reader's scope answer 404, as the pages do."""

from __future__ import annotations

from typing import Any

from tests.authz import DENY, OK, PUBLIC
from tests.conftest import World

UNAUTHORIZED = 401
#                   anon          alice  bob    desk   nurse  phys   admin  other_phys
SIGNED_IN_READ = (UNAUTHORIZED, OK, OK, OK, OK, OK, OK, OK)
ALICE_RECORD = (UNAUTHORIZED, OK, DENY, OK, OK, OK, OK, DENY)


def _patients(world: World) -> dict[str, Any]:
    return {"type_name": "Patient"}


def _alice(world: World) -> dict[str, Any]:
    return {"type_name": "Patient", "resource_id": world.alice_patient.public_id}


ENTRIES: dict[str, Any] = {
    "fhir:metadata": (PUBLIC, None),
    "fhir:base": ((DENY,) * 8, None),
    "fhir:unknown": ((DENY,) * 8, lambda w: {"rest": "Patient/x/_history"}),
    "fhir:search": (SIGNED_IN_READ, _patients),
    "fhir:read": (ALICE_RECORD, _alice),
}
