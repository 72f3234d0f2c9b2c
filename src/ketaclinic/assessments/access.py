"""The one place that decides who may see or change a consultation (404 outside scope).

Clinical notes: physicians write and sign; nurses and clinic admins read; the front desk,
patients and other clinics get a 404, as if the record did not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db.models import QuerySet
from django.http import Http404

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.models import Consultation

READERS = frozenset({Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})
WRITERS = frozenset({Role.PHYSICIAN})


def consultations_visible_to(user: User) -> QuerySet[Consultation]:
    if (
        not user.is_authenticated
        or not user.is_active
        or user.clinic_id is None
        or user.role not in READERS
    ):
        return Consultation.objects.none()
    return Consultation.objects.filter(clinic_id=user.clinic_id)


def can_write(user: User) -> bool:
    return user.role in WRITERS and user.clinic_id is not None


def access_consultation(
    user: User,
    public_id: uuid.UUID | str,
    *,
    for_write: bool,
    related: Callable[[QuerySet[Consultation]], QuerySet[Consultation]] | None = None,
) -> Consultation:
    """Fetch and authorize together; ``for_write`` says what the caller intends. ``related``
    adds the joins and prefetches a page needs, so fetching and authorizing stay one query."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such consultation") from None
    if for_write and not can_write(user):
        raise Http404("No such consultation")
    qs = consultations_visible_to(user).select_related(
        "patient", "appointment", "created_by", "signed_by"
    )
    try:
        return (related(qs) if related else qs).get(public_id=key)
    except Consultation.DoesNotExist:
        raise Http404("No such consultation") from None
