"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ketaclinic.outcomes.diary.links import diary_link_issue
from tests.authz import DENY, LOGIN, OK, PATIENT_PAGE
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import ready_letter, suggestion_for

# The diary of a patient of our clinic: clinical staff only; the front desk, patients and other
# clinics get a 404.
#                      anon   alice  bob    desk   nurse  phys   admin  other_phys
CLINICAL_DIARY = (LOGIN, DENY, DENY, DENY, OK, OK, OK, DENY)
# Alice's emailed link opens without a log-in, and for Alice; anyone signed in as someone else
# is refused with a clear 400 page (nothing can be recorded into another person's diary).
ALICE_LINK = (OK, OK, 400, 400, 400, 400, 400, 400)


def _alice(world: World) -> dict[str, Any]:
    return {"public_id": world.alice_patient.public_id}


def _alice_link(world: World) -> dict[str, Any]:
    with transaction.atomic():
        token = diary_link_issue(patient=world.alice_patient, instrument="nrs", entry_date=today())
    return {"token": token}


ENTRIES: dict[str, Any] = {
    "outcomes:my_diary": (PATIENT_PAGE, None),
    "outcomes:my_diary_record": (PATIENT_PAGE, lambda w: {"instrument": "nrs"}),
    "outcomes:my_diary_reminders": (PATIENT_PAGE, None),
    "outcomes:diary_link": (ALICE_LINK, _alice_link),
    "outcomes:staff_patient_diary": (CLINICAL_DIARY, _alice),
}


def _open_suggestion(world: World) -> dict[str, Any]:
    return {"public_id": suggestion_for(world, approved=False).public_id}


def _alice_offer(world: World) -> dict[str, Any]:
    return {"public_id": suggestion_for(world, approved=True).public_id}


def _ready_letter(world: World) -> dict[str, Any]:
    return {"public_id": ready_letter(world).public_id}


#                   anon   alice  bob    desk   nurse  phys   admin  other_phys
PHYSICIAN_QUEUE = (LOGIN, DENY, DENY, DENY, DENY, OK, DENY, OK)
OUR_PHYSICIAN = (LOGIN, DENY, DENY, DENY, DENY, OK, DENY, DENY)
ALICE_ONLY = (LOGIN, OK, DENY, DENY, DENY, DENY, DENY, DENY)

ENTRIES.update(
    {
        "outcomes:staff_boosters": (PHYSICIAN_QUEUE, None),
        "outcomes:staff_booster": (OUR_PHYSICIAN, _open_suggestion),
        "outcomes:my_booster": (ALICE_ONLY, _alice_offer),
        "outcomes:staff_patient_letters": (CLINICAL_DIARY, _alice),
        "outcomes:staff_letter_pdf": (CLINICAL_DIARY, _ready_letter),
    }
)
