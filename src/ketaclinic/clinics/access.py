"""Who may change a clinic's set-up, and the fetch-and-authorize helpers for its parts.

Only a clinic admin of the same clinic; anyone else gets a 404, as if the row did not exist
(the same rule as ``patients.access``). Services call these too, so a write is refused even if a
view forgot its role gate. The one exception is the second physician's decision on a proposed
change to the safety settings (gate 9): a physician of the same clinic.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from ketaclinic.accounts.api import admin_clinic, admin_user, physician_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Chair, Location, PolicyProposal, ProtocolTemplate

M = TypeVar("M", bound=Model)

# The role checks on an actor live with the roles (accounts.access); they are re-exported here
# because every clinic set-up write starts with them.
__all__ = [
    "access_chair",
    "access_location",
    "access_policy_proposal",
    "access_protocol_template",
    "admin_clinic",
    "admin_user",
    "physician_user",
]


def _get(qs: QuerySet[M], pk: int) -> M:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise Http404("Page not found")
    return found


def access_location(actor: Actor, location_id: int, *, for_update: bool = False) -> Location:
    qs = Location.objects.filter(clinic_id=admin_clinic(actor))
    return _get(qs.select_for_update() if for_update else qs, location_id)


def access_chair(actor: Actor, chair_id: int, *, for_update: bool = False) -> Chair:
    qs = Chair.objects.filter(location__clinic_id=admin_clinic(actor)).select_related("location")
    return _get(qs.select_for_update(of=("self",)) if for_update else qs, chair_id)


def access_protocol_template(
    actor: Actor, template_id: int, *, for_update: bool = False
) -> ProtocolTemplate:
    qs = ProtocolTemplate.objects.filter(clinic_id=admin_clinic(actor))
    return _get(qs.select_for_update() if for_update else qs, template_id)


def access_policy_proposal(actor: Actor, proposal_id: int) -> PolicyProposal:
    """A proposal of the acting physician's clinic, locked for the decision, or 404."""
    clinic_id = physician_user(actor).clinic_id
    assert clinic_id is not None
    qs = PolicyProposal.objects.filter(clinic_id=clinic_id).select_related("clinic", "proposed_by")
    return _get(qs.select_for_update(of=("self",)), proposal_id)
