"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.authz import OUR_PATIENT_REGISTRAR, OUR_PATIENT_STAFF, REGISTRAR_PAGE, STAFF_PAGE
from tests.conftest import World


def _alice(world: World) -> dict[str, Any]:
    return {"public_id": world.alice_patient.public_id}


ENTRIES: dict[str, Any] = {
    "patients:list": (STAFF_PAGE, None),
    "patients:new": (REGISTRAR_PAGE, None),
    "patients:detail": (OUR_PATIENT_STAFF, _alice),
    "patients:edit": (OUR_PATIENT_REGISTRAR, _alice),
}
