"""Who is reading, and what they may read: the web app's own rules, never a second set.

Three kinds of reader:

- a signed-in session: staff of a clinic read its directory and its patients, a patient her
  own record and her clinic's directory, exactly as the pages allow
  (``patients.api.patients_visible_to``);
- a patient app's token (SMART ``patient/...`` scopes): the patient who authorized it, as her
  session would, and only the types its scopes name;
- a backend system's token (``system/...`` scopes, client credentials): every record of the
  one clinic the client is registered for, and only the types its scopes name.

Without a credential, or with a token that is unknown, expired or revoked, the answer is a 401;
a type the token's scopes do not name is a 403; a record outside what the reader may see is a
404, as on the pages (a 403 would confirm it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest
from oauth2_provider.oauth2_backends import get_oauthlib_core

from ketaclinic.accounts.models import CLINICAL_ROLES, User
from ketaclinic.audit.api import Actor, client_ip
from ketaclinic.fhir.http import FhirError
from ketaclinic.fhir.models import ClientKind, FhirClient
from ketaclinic.patients.api import patients_visible_to
from ketaclinic.patients.models import Patient


@dataclass(frozen=True)
class FhirReader:
    """A reader of the API. ``user`` is None for a backend system; ``scopes`` None for a
    session (the role's reach, no narrower); ``client`` the OAuth client's id, if any."""

    user: User | None
    clinic_id: int
    actor: Actor
    scopes: frozenset[str] | None = None
    client: str = ""

    def patients(self) -> QuerySet[Patient]:
        """Every patient whose record the reader may see."""
        if self.user is not None:
            return patients_visible_to(self.user)
        return Patient.objects.filter(clinic_id=self.clinic_id)

    def clinical_patients(self) -> QuerySet[Patient]:
        """Every patient whose clinical content the reader may see: as ``patients``, but none
        for the front desk, who sees no clinical content on the pages either."""
        user = self.user
        if user is not None and user.is_clinic_staff and user.role not in CLINICAL_ROLES:
            return Patient.objects.none()
        return self.patients()

    def may_read(self, type_name: str) -> bool:
        if self.scopes is None:
            return True
        context = "system" if self.user is None else "patient"
        return bool({f"{context}/*.read", f"{context}/{type_name}.read"} & self.scopes)


def reader_of(request: HttpRequest) -> FhirReader:
    """The request's reader, or a 401 ``OperationOutcome``."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return _token_reader(request)
    user = request.user
    if (
        not user.is_authenticated
        or not isinstance(user, User)
        or not user.is_active
        or user.clinic_id is None
        or not (user.is_clinic_staff or user.is_patient)
    ):
        raise FhirError(401, "Sign in, or send an access token, to read this clinic's records.")
    return FhirReader(user=user, clinic_id=user.clinic_id, actor=Actor.from_request(request))


def _token_reader(request: HttpRequest) -> FhirReader:
    valid, checked = get_oauthlib_core().verify_request(request, scopes=[])
    token = getattr(checked, "access_token", None) if valid else None
    client = (
        FhirClient.objects.select_related("application")
        .filter(application_id=token.application_id)
        .first()
        if token is not None
        else None
    )
    if token is None or client is None:
        raise FhirError(401, "The access token is unknown, expired or revoked.", code="login")
    user = token.user
    if client.kind == ClientKind.BACKEND:
        if user is not None:
            raise FhirError(401, "A backend system's token stands for no person.", code="login")
    elif (
        user is None
        or not user.is_active
        or not user.is_patient
        or user.clinic_id != client.clinic_id
    ):
        raise FhirError(401, "This token stands for no patient of the app's clinic.", code="login")
    return FhirReader(
        user=user,
        clinic_id=client.clinic_id,
        actor=Actor(user=user, ip=client_ip(request)),
        scopes=frozenset(str(token.scope).split()),
        client=str(client.application.client_id),
    )
