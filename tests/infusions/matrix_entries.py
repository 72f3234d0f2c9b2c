"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py).

The board: every staff role of our clinic (the front desk read-only, without clinical detail);
patients never see it. The chart and its actions: nurses and physicians chart, the clinic admin
reads; the front desk, patients and other clinics get a 404. Actions and arrivals are POST-only:
a GET by someone allowed to post answers 405.
"""

from __future__ import annotations

from typing import Any

from tests.authz import DENY, GONE, LOGIN, OK, OUR_PATIENT_STAFF, STAFF_PAGE
from tests.conftest import World
from tests.factories.infusions import arrive
from tests.factories.scheduling import infusion_appointment

#                  anon   alice  bob    desk   nurse  phys   admin  other_phys
CHART_PAGE = (LOGIN, DENY, DENY, DENY, OK, OK, OK, DENY)
CHART_ACTION = (LOGIN, DENY, DENY, DENY, GONE, GONE, DENY, DENY)
ARRIVAL = (LOGIN, DENY, DENY, GONE, GONE, GONE, DENY, DENY)


def _cleveland(world: World) -> dict[str, Any]:
    return {"location_id": world.cleveland.pk}


def _appointment(world: World) -> dict[str, Any]:
    return {"public_id": infusion_appointment(world, world.alice_patient).public_id}


def _session(world: World) -> dict[str, Any]:
    return {"public_id": arrive(world).session.public_id}


def _session_vitals(world: World) -> dict[str, Any]:
    return {**_session(world), "action": "vitals"}


def _alice(world: World) -> dict[str, Any]:
    return {"public_id": world.alice_patient.public_id}


ENTRIES: dict[str, Any] = {
    "infusions:board_home": (STAFF_PAGE, None),
    "infusions:board": (OUR_PATIENT_STAFF, _cleveland),
    "infusions:board_live": (OUR_PATIENT_STAFF, _cleveland),
    "infusions:arrive": (ARRIVAL, _appointment),
    "infusions:session": (CHART_PAGE, _session),
    "infusions:session_action": (CHART_ACTION, _session_vitals),
    "infusions:patient_sessions": (CHART_PAGE, _alice),
}
