"""Who may see the chair board and who may chart, in one place.

- The board: every staff role of the clinic. The front desk sees who sits where and in which
  state (it checks patients in) but no clinical detail: no vitals times, no alerts.
- The chart of a session: nurses, physicians and the clinic admin (medical director) read it;
  only nurses and physicians write to it; only a physician overrides a failed pre-infusion
  check or signs.
- Patients never see either; other clinics' staff get a 404 like anyone outside scope.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Location
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.lib.views import user_clinic_id

BOARD_VIEWERS = frozenset({Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})
# Who sees clinical detail on the board (alerts, time since the last vitals).
BOARD_CLINICAL = frozenset({Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})
ARRIVAL_RECORDERS = frozenset({Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN})
CHART_READERS = frozenset({Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})
CHARTERS = frozenset({Role.NURSE, Role.PHYSICIAN})
SIGNERS = frozenset({Role.PHYSICIAN})


def _staff(user: User | None, roles: frozenset[Role]) -> User:
    if (
        user is None
        or not user.is_authenticated
        or not user.is_active
        or user.clinic_id is None
        or user.role not in roles
    ):
        raise Http404("Page not found")
    return user


def require_role(user: User | None, roles: frozenset[Role]) -> User:
    """The user, if active staff of a clinic in one of ``roles``; otherwise 404."""
    return _staff(user, roles)


def access_location(user: User | None, location_id: int) -> Location:
    """A location of the user's clinic whose board the user may see, or 404."""
    staff = _staff(user, BOARD_VIEWERS)
    try:
        return Location.objects.get(pk=location_id, clinic_id=user_clinic_id(staff))
    except Location.DoesNotExist:
        raise Http404("Page not found") from None


def sessions_visible_to(user: User) -> QuerySet[InfusionSession]:
    if user.role not in CHART_READERS or user.clinic_id is None or not user.is_active:
        return InfusionSession.objects.none()
    return InfusionSession.objects.filter(clinic_id=user.clinic_id)


def access_session(
    user: User | None,
    public_id: uuid.UUID | str,
    *,
    for_write: bool,
    roles: frozenset[Role] | None = None,
    lock: bool = False,
) -> InfusionSession:
    """Fetch and authorize together; ``lock`` takes the row lock for a write (select_for_update).

    ``roles`` narrows the writers further (e.g. ``SIGNERS``); anything outside scope is a 404.
    """
    staff = _staff(user, CHARTERS if for_write else CHART_READERS)
    if roles is not None:
        _staff(staff, roles)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such session") from None
    qs = sessions_visible_to(staff).select_related("patient", "location", "chair", "clinic")
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(public_id=key)
    except InfusionSession.DoesNotExist:
        raise Http404("No such session") from None
