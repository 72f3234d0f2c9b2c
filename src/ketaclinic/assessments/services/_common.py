"""What every consultation write shares: who may write, the locked draft and its save.

Kept apart from the aggregates so that the consultation's sections and the decision's signing
take the row lock, check the version and bump it the one same way (``ketaclinic.lib.locking``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.accounts.models import User
from ketaclinic.assessments.access import access_consultation, can_write
from ketaclinic.assessments.models import Consultation, ConsultationStatus
from ketaclinic.audit.api import Actor
from ketaclinic.lib.locking import bump_version, lock_row, require_version


class ConsultationLockedError(ValidationError):
    """A signed consultation is read-only: corrections are addenda."""

    def __init__(self, consultation: Consultation) -> None:
        when = f" on {consultation.signed_at:%Y-%m-%d}" if consultation.signed_at else ""
        super().__init__(
            f"This consultation was signed{when} and is locked: it cannot be edited. "
            "Add an addendum to correct or complete it.",
            code="locked",
        )


def writer(actor: Actor) -> User:
    """The acting physician; anyone else is told the consultation does not exist."""
    user = actor.user
    if user is None or not can_write(user):
        raise Http404("No such consultation")
    return user


def locked_consultation(user: User, public_id: str) -> Consultation:
    """The consultation, authorized for writing and row-locked until the transaction ends."""
    found = access_consultation(user, public_id, for_write=True)
    return lock_row(Consultation.objects.select_related("patient"), found.pk)


def locked_draft(actor: Actor, public_id: str, expected_version: int) -> Consultation:
    """The consultation, row-locked, refused if signed or if the form was stale."""
    consultation = locked_consultation(writer(actor), public_id)
    if consultation.status != ConsultationStatus.DRAFT:
        raise ConsultationLockedError(consultation)
    require_version(consultation, expected_version, "consultation")
    return consultation


def save_consultation(consultation: Consultation) -> None:
    """Validate every field and save the whole row, one version higher."""
    consultation.full_clean()
    bump_version(consultation)
