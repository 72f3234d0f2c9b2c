"""Who is reading, and what they may read: the web app's own rules, never a second set.

A signed-in session reads within its role and clinic, exactly as the pages do: staff of a
clinic read its directory (the clinic, its locations, its staff) and its patients
(``patients.api.patients_visible_to``); a patient reads her own record and her clinic's
directory. Anyone else gets a 401; a record outside what the reader may see is a 404, as on
the pages (a 403 would confirm it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor
from ketaclinic.fhir.http import FhirError


@dataclass(frozen=True)
class FhirReader:
    """A signed-in reader of the API: the user, their clinic, and the actor audits name."""

    user: User
    clinic_id: int
    actor: Actor

    @property
    def is_patient(self) -> bool:
        return bool(self.user.is_patient)


def reader_of(request: HttpRequest) -> FhirReader:
    """The request's reader, or a 401 ``OperationOutcome``."""
    user = request.user
    if (
        not user.is_authenticated
        or not isinstance(user, User)
        or not user.is_active
        or user.clinic_id is None
        or not (user.is_clinic_staff or user.is_patient)
    ):
        raise FhirError(401, "Sign in to read this clinic's records.")
    return FhirReader(user=user, clinic_id=user.clinic_id, actor=Actor.from_request(request))
