"""A new patient's sign-up while booking: what they entered waits in a ``PendingSignup`` row
until the email is verified, and only then becomes a patient record (issue 15 item 10).

An address nobody verified must not leave a Patient: anyone can type anyone's email, and a
record made from it would sit in the clinic's lists as if it were a real patient. The row (not
the session) carries the details because the verification email is often opened in another
browser (a phone's mail app): that browser's session holds nothing of the booking.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.models import PendingSignup
from ketaclinic.scheduling.services.appointments import booking_patient_create

if TYPE_CHECKING:
    from ketaclinic.accounts.models import User

#: How long an unverified sign-up's details are kept: a week covers an email read late (and a
#: new verification email, which allauth sends when an unverified account tries to sign in).
SIGNUP_RETENTION = dt.timedelta(days=7)


def booking_signup_hold(
    *,
    user: User,
    location: Location,
    details: dict[str, Any],
    provider_id: object = None,
    start: object = None,
    selfcheck_id: uuid.UUID | None = None,
) -> PendingSignup:
    """Keep a new account's booking details until its email is verified (the sign-up adapter
    calls this in the transaction that creates the account), audited."""
    with transaction.atomic():
        pending = PendingSignup(
            user=user,
            location=location,
            details={str(k): str(v) for k, v in details.items()},
            provider_id=_int_or_none(provider_id),
            start=_aware_or_none(start),
            selfcheck_id=selfcheck_id,
        )
        pending.full_clean(exclude=["user", "location"])
        pending.save()
        audit_record(
            actor=Actor(user=user),
            action=Action.CREATE,
            object_type="pending_signup",
            object_id=pending.pk,
            clinic=location.clinic,
        )
    return pending


def booking_signup_complete(*, user: User, ip: str | None = None) -> PendingSignup | None:
    """The email of ``user`` is verified: make their patient record from the kept details and
    delete them, in one transaction; the row as it was (its chosen time), or None when there is
    nothing kept (not a booking sign-up, already done, or purged).

    The self-check the visitor took before signing up is attached on commit by the caller, as
    it is the screening app's write (``screening.api.attach_kept``).
    """
    with transaction.atomic():
        pending = (
            PendingSignup.objects.select_for_update()
            .select_related("location__clinic")
            .filter(user=user)
            .first()
        )
        if pending is None or hasattr(user, "patient"):
            return None
        booking_patient_create(
            user=user,
            clinic=pending.location.clinic,
            details=pending.details,
            home_location=pending.location,
            ip=ip,
        )
        kept = PendingSignup(
            user=user,
            location=pending.location,
            details={},
            provider_id=pending.provider_id,
            start=pending.start,
            selfcheck_id=pending.selfcheck_id,
        )
        # The patient's creation is this write's one audit event; the details now live there.
        pending.delete()
    return kept


def booking_signups_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the details of sign-ups not verified within ``SIGNUP_RETENTION``; how many.

    The accounts stay (an unverified account reaches nothing and holds no patient data); if
    one is verified later it has no record, and the visitor gives their details again.
    """
    cutoff = (now or timezone.now()) - SIGNUP_RETENTION
    with transaction.atomic():
        deleted, _ = PendingSignup.objects.filter(created_at__lt=cutoff).delete()
        if deleted:
            # One event with the count, as the other purges: the rows name no patient.
            audit_record(
                actor=Actor(user=None),
                action=Action.DELETE,
                object_type="pending_signup_purge",
                detail={"deleted": deleted},
            )
    return deleted


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _aware_or_none(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value)) if value is not None else None
        except ValueError:
            return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None
