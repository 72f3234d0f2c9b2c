"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tests.authz import (
    ADMIN_PAGE,
    DENY,
    GONE,
    LOGIN,
    OK,
    OUR_PATIENT_REGISTRAR,
    OUR_PATIENT_STAFF,
    PATIENT_PAGE,
    PUBLIC,
    STAFF_PAGE,
)
from tests.conftest import World
from tests.factories.plans import make_plan
from tests.factories.scheduling import (
    consultation_appointment,
    induction_series,
    setup_schedule,
)

# Alice's own appointment: hers to change; Bob and every staff role get a 404 on the patient
# pages (staff use the desk pages). Waitlist joining is POST-only: 405 for patients on GET.
#                      anon   alice  bob    desk   nurse  phys   admin  other_phys
OWN_APPOINTMENT = (LOGIN, OK, DENY, DENY, DENY, DENY, DENY, DENY)
OWN_APPOINTMENT_POST_ONLY = (LOGIN, GONE, GONE, DENY, DENY, DENY, DENY, DENY)
# POST-only desk actions: a 405 on GET for the roles that may post, a 404 for everyone else.
DESK_POST_ONLY = (LOGIN, DENY, DENY, GONE, DENY, GONE, GONE, GONE)
# A link with a bad signature: a clear page with status 400 for anyone.
BAD_LINK = (400,) * 8


def _alice_appointment(world: World) -> dict[str, Any]:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    appointment = consultation_appointment(sched, world.alice_patient, start)
    return {"public_id": appointment.public_id}


def _alice(world: World) -> dict[str, Any]:
    setup_schedule(world)
    return {"public_id": world.alice_patient.public_id}


def _cleveland(world: World) -> dict[str, Any]:
    setup_schedule(world)
    return {"location_id": world.cleveland.pk}


def _alice_plan(world: World) -> dict[str, Any]:
    setup_schedule(world)
    return {"plan_id": make_plan(world, world.alice_patient).public_id}


def _alice_series(world: World) -> dict[str, Any]:
    setup_schedule(world)
    plan = make_plan(world, world.alice_patient)
    series = induction_series(
        world, world.alice_patient, plan=plan, recovery_min=60, created_by=world.front_desk
    )
    return {"public_id": series.public_id}


def _bad_token(world: World) -> dict[str, Any]:
    return {"token": "not-a-signed-token"}


ENTRIES: dict[str, Any] = {
    "scheduling:book": (PUBLIC, None),
    "scheduling:book_slots": (PUBLIC, _cleveland),
    # Without a chosen time these send the visitor back to the start of the flow.
    "scheduling:book_details": ((302,) * 8, None),
    "scheduling:book_confirm": ((302,) * 8, None),
    "scheduling:my_appointments": (PATIENT_PAGE, None),
    "scheduling:my_appointment_cancel": (OWN_APPOINTMENT, _alice_appointment),
    "scheduling:my_appointment_reschedule": (OWN_APPOINTMENT, _alice_appointment),
    "scheduling:my_waitlist_join": (OWN_APPOINTMENT_POST_ONLY, _alice_appointment),
    "scheduling:link_cancel": (BAD_LINK, _bad_token),
    "scheduling:link_reschedule": (BAD_LINK, _bad_token),
    "scheduling:link_waitlist": (BAD_LINK, _bad_token),
    "scheduling:desk_bookings": (STAFF_PAGE, None),
    "scheduling:desk_book": (OUR_PATIENT_REGISTRAR, _alice),
    "scheduling:desk_appointment": (OUR_PATIENT_STAFF, _alice_appointment),
    "scheduling:schedule": (STAFF_PAGE, None),
    "scheduling:schedule_appointment_status": (DESK_POST_ONLY, _alice_appointment),
    "scheduling:plan_series": (OUR_PATIENT_REGISTRAR, _alice_plan),
    "scheduling:series_detail": (OUR_PATIENT_STAFF, _alice_series),
    "scheduling:admin_types": (ADMIN_PAGE, None),
    "scheduling:admin_availability": (ADMIN_PAGE, None),
    "scheduling:admin_exceptions": (ADMIN_PAGE, None),
    "scheduling:admin_policy": (ADMIN_PAGE, None),
}

__all__ = ["ENTRIES", "OK"]
