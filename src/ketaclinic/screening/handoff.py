"""Hand-over of a visitor's anonymous self-check to their new patient record.

The self-check is found through the session of the browser that took it. A patient who signs
in and confirms a booking gets it attached in that browser (scheduling views). A visitor who
signs up while booking has no record until the email is verified, perhaps in another browser
(a phone's mail app, say) whose session never held it: so the sign-up keeps the self-check's id
with the pending details, and the verification attaches it by that id (``attach_kept``).
"""

from __future__ import annotations

import logging
import uuid

from django.http import HttpRequest

from ketaclinic.audit.api import Actor
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import (
    SESSION_ANSWERS,
    SESSION_RESULT,
    selfcheck_from_session,
)
from ketaclinic.screening.services import selfcheck_attach

logger = logging.getLogger(__name__)


def attach_from_session(request: HttpRequest, *, actor: Actor, patient: Patient) -> bool:
    """Attach the session's anonymous self-check, if any, to ``patient``; whether one was.

    Never refuses the caller's action over it: a self-check that cannot be attached stays
    anonymous (and is purged later). Once attached, the session forgets it and its answers: it
    is part of the record, read only through the chart.
    """
    selfcheck = selfcheck_from_session(request)
    if selfcheck is None:
        return False
    try:
        selfcheck_attach(actor=actor, selfcheck=selfcheck, patient=patient)
    except ValueError:
        logger.warning("self-check %s not attached", selfcheck.public_id)
        return False
    request.session.pop(SESSION_RESULT, None)
    request.session.pop(SESSION_ANSWERS, None)
    return True


def keep_for_signup(request: HttpRequest) -> uuid.UUID | None:
    """The id of the session's anonymous self-check, for a sign-up to keep until the email is
    verified (``attach_kept`` then); the session forgets it and its answers, as on attaching."""
    selfcheck = selfcheck_from_session(request)
    if selfcheck is None:
        return None
    request.session.pop(SESSION_RESULT, None)
    request.session.pop(SESSION_ANSWERS, None)
    return selfcheck.public_id


def attach_kept(*, actor: Actor, selfcheck_id: uuid.UUID, patient: Patient) -> bool:
    """Attach the self-check a sign-up kept the id of, if it is still anonymous; whether it was.

    Never refuses the caller's action over it, as ``attach_from_session``."""
    selfcheck = SelfCheck.objects.filter(public_id=selfcheck_id, patient__isnull=True).first()
    if selfcheck is None:
        return False
    try:
        selfcheck_attach(actor=actor, selfcheck=selfcheck, patient=patient)
    except ValueError:
        logger.warning("self-check %s not attached", selfcheck.public_id)
        return False
    return True
