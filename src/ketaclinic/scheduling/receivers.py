"""Scheduling's answers to what lower apps announce (connected in ``SchedulingConfig.ready``).

The plans app sits below scheduling and may not call it; it sends a signal instead, and the
work it asks for is done here through scheduling's own services (locks, audit, emails).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from ketaclinic.audit.api import Actor, client_ip
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.services import booking_signup_complete, series_replace_for_revision

# The booking flow's session key (scheduling/views/booking.py SESSION_KEY): the chosen time.
BOOKING_SESSION_KEY = "scheduling.booking"


def plan_superseded_receiver(
    sender: object, *, actor: Actor, superseded_plan_ids: Sequence[int], **kwargs: Any
) -> list[str]:
    """``plans.signals.plan_superseded`` (gate 3): cancel the sessions still to come of the
    superseded plans' series, in the signing transaction; returns the cancelled series' ids."""
    return series_replace_for_revision(actor=actor, superseded_plan_ids=superseded_plan_ids)


def email_confirmed_receiver(
    sender: object, *, request: HttpRequest | None, email_address: Any, **kwargs: Any
) -> None:
    """allauth's ``email_confirmed``: a visitor who signed up while booking has proved the
    address, so their patient record is made now from what they entered (``PendingSignup``),
    their self-check attached, and the chosen time offered again in the browser that verified
    (signing in there, if it is another one, leads back to the confirmation page)."""
    from ketaclinic.screening.api import attach_kept

    user = email_address.user
    ip = client_ip(request) if request is not None else None
    kept = booking_signup_complete(user=user, ip=ip)
    if kept is None:
        return
    if kept.selfcheck_id is not None:
        patient = Patient.objects.get(user=user)
        selfcheck_id = kept.selfcheck_id
        # The screening app's own write, once the record it attaches to has committed.
        transaction.on_commit(
            lambda: attach_kept(
                actor=Actor(user=user, ip=ip), selfcheck_id=selfcheck_id, patient=patient
            ),
            robust=True,
        )
    session = getattr(request, "session", None)
    if session is not None and kept.start is not None and kept.provider_id is not None:
        session[BOOKING_SESSION_KEY] = {
            "location": kept.location_id,
            "provider": kept.provider_id,
            "start": kept.start.isoformat(),
        }
