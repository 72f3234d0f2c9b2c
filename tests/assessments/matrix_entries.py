"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py).

Consultations are clinical notes: physicians write and sign, nurses and clinic admins read, the
front desk, patients and other clinics get a 404.
"""

from __future__ import annotations

from typing import Any

from tests.authz import DENY, LOGIN, OK
from tests.conftest import World

#                   anon   alice  bob    desk   nurse  phys   admin  other_phys
CLINICAL_READ = (LOGIN, DENY, DENY, DENY, OK, OK, OK, DENY)
PHYSICIAN_ONLY = (LOGIN, DENY, DENY, DENY, DENY, OK, DENY, DENY)


def _alice(world: World) -> dict[str, Any]:
    return {"public_id": world.alice_patient.public_id}


def _draft(world: World) -> dict[str, Any]:
    from tests.factories.assessments import complete

    return {"public_id": complete(world).public_id}


def _signed(world: World) -> dict[str, Any]:
    from tests.factories.assessments import signed

    return {"public_id": signed(world).public_id}


ENTRIES: dict[str, Any] = {
    "assessments:consultation_list": (CLINICAL_READ, _alice),
    "assessments:consultation_new": (PHYSICIAN_ONLY, _alice),
    "assessments:consultation_detail": (CLINICAL_READ, _draft),
    "assessments:consultation_history": (PHYSICIAN_ONLY, _draft),
    "assessments:consultation_exam": (PHYSICIAN_ONLY, _draft),
    "assessments:consultation_grade": (PHYSICIAN_ONLY, _draft),
    "assessments:consultation_sign": (PHYSICIAN_ONLY, _draft),
    "assessments:consultation_addendum": (PHYSICIAN_ONLY, _signed),
}
