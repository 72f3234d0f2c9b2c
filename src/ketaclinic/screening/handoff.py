"""Hand-over of a visitor's anonymous self-check to their new patient record.

The self-check is found through the session of the browser that took it, so it is attached in
that browser's requests: when the booking flow creates the account (the ``user_signed_up``
receiver below), or when a patient who signed in instead confirms a booking (scheduling views).
Attaching at sign-up means it is not lost when the new patient opens the verification email in
another browser (a phone's mail app, say) and signs in there: that session never held it.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.signals import user_signed_up
from django.dispatch import receiver
from django.http import HttpRequest

from ketaclinic.audit.api import Actor, client_ip
from ketaclinic.patients.models import Patient
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


@receiver(user_signed_up, dispatch_uid="screening.attach_selfcheck_on_signup")
def attach_selfcheck_on_signup(
    sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any
) -> None:
    if request is None or user is None or not hasattr(request, "session"):
        return
    patient = Patient.objects.filter(user=user).first()
    if patient is None:  # not a patient account: nothing to attach to
        return
    # The new patient acts on their own record; they are not signed in until they verify.
    attach_from_session(request, actor=Actor(user=user, ip=client_ip(request)), patient=patient)
