"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.authz import DENY, GONE, LOGIN, OK, PATIENT_PAGE
from tests.conftest import World
from tests.factories.plans import draft, with_protocol

# Plans are clinical notes: nurses and clinic admins read them, the front desk and other
# clinics get a 404, and only a physician writes.
#                    anon   alice  bob    desk   nurse  phys   admin  other_phys
CLINICAL_READ = (LOGIN, DENY, DENY, DENY, OK, OK, OK, DENY)
PHYSICIAN_WRITE = (LOGIN, DENY, DENY, DENY, DENY, OK, DENY, DENY)
# POST-only: the role gate answers first (404), then a physician's GET is 405.
PHYSICIAN_POST_ONLY = (LOGIN, DENY, DENY, DENY, DENY, GONE, DENY, GONE)


def _alice(world: World) -> dict[str, Any]:
    return {"public_id": world.alice_patient.public_id}


def _alice_draft(world: World) -> dict[str, Any]:
    return {"plan_id": with_protocol(world, draft(world)).public_id}


ENTRIES: dict[str, Any] = {
    "plans:patient_plans": (CLINICAL_READ, _alice),
    "plans:plan_new": (PHYSICIAN_WRITE, _alice),
    "plans:plan_detail": (CLINICAL_READ, _alice_draft),
    "plans:plan_edit": (PHYSICIAN_WRITE, _alice_draft),
    "plans:protocol_edit": (PHYSICIAN_WRITE, _alice_draft),
    "plans:plan_sign": (PHYSICIAN_POST_ONLY, _alice_draft),
    "plans:plan_revise": (PHYSICIAN_POST_ONLY, _alice_draft),
    "plans:plan_print": (CLINICAL_READ, _alice_draft),
    "plans:my_plan": (PATIENT_PAGE, None),
}
