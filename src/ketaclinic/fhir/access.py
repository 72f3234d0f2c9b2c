"""Who is reading, and what they may read: the web app's own rules, never a second set.

Three kinds of reader:

- a signed-in session: staff of a clinic read its directory and its patients, a patient her
  own record and her clinic's directory, exactly as the pages allow
  (``patients.api.patients_visible_to``);
- a patient app's token (SMART ``patient/...`` scopes): the patient who authorized it, as her
  session would, and only the types its scopes name;
- a backend system's token (``system/...`` scopes, client credentials): every record of the
  one clinic the client is registered for, and only the types its scopes name.

The audit trail (AuditEvent) is read only by a clinic admin's session, as only she opens its
page: any other reader, and every token, is refused the type with a 403.

Without a credential, or with a token that is unknown, expired or revoked, the answer is a 401;
a type the token's scopes do not name is a 403; a record outside what the reader may see is a
404, as on the pages (a 403 would confirm it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest
from oauth2_provider.oauth2_backends import get_oauthlib_core

from ketaclinic.accounts.models import CLINICAL_ROLES, Role, User
from ketaclinic.audit.api import Actor, client_ip
from ketaclinic.fhir.http import FhirError
from ketaclinic.fhir.models import BulkExportPatient, ClientKind, FhirClient
from ketaclinic.patients.api import patients_visible_to
from ketaclinic.patients.models import Patient

# Types only a clinic admin's own session reads, as only she opens their page (the audit
# trail): no token, whatever its scopes, and no other role.
ADMIN_SESSION_TYPES = frozenset({"AuditEvent"})


@dataclass(frozen=True)
class FhirReader:
    """A reader of the API. ``user`` is None for a backend system; ``scopes`` None for a
    session (the role's reach, no narrower); ``client`` the OAuth client's id, if any."""

    user: User | None
    clinic_id: int
    actor: Actor
    scopes: frozenset[str] | None = None
    client: str = ""
    # A Group export reads the patients of one location only (their home location).
    location_id: int | None = None
    # A Group export's files read the patients its audit recorded (``BulkExportPatient``), not
    # the location's patients of the moment.
    audited_export: int | None = None

    def patients(self) -> QuerySet[Patient]:
        """Every patient whose record the reader may see."""
        if self.user is not None:
            visible = patients_visible_to(self.user)
        else:
            visible = Patient.objects.filter(clinic_id=self.clinic_id)
        if self.audited_export is not None:
            # A Group export's files: the patients its audit recorded, wherever they are now.
            audited = BulkExportPatient.objects.filter(export_id=self.audited_export)
            visible = visible.filter(pk__in=audited.values("patient_id"))
        elif self.location_id is not None:
            visible = visible.filter(home_location_id=self.location_id)
        return visible

    def clinical_patients(self) -> QuerySet[Patient]:
        """Every patient whose clinical content the reader may see: as ``patients``, but none
        for the front desk, who sees no clinical content on the pages either."""
        user = self.user
        if user is not None and user.is_clinic_staff and user.role not in CLINICAL_ROLES:
            return Patient.objects.none()
        return self.patients()

    def chart_patients(self) -> QuerySet[Patient]:
        """Every patient whose clinical notes (consultations, infusion charts, letters) the
        reader may see: the clinic's nurses, physicians and admins, and its registered systems,
        as the pages allow (``assessments.access.READERS``); no patient reads her own notes
        there, so none here, and not the front desk."""
        user = self.user
        if user is not None and user.role not in CLINICAL_ROLES:
            return Patient.objects.none()
        return self.patients()

    def may_read(self, type_name: str) -> bool:
        return not self.refusal(type_name)

    def refusal(self, type_name: str) -> str:
        """Why the reader may read no resource of the type (a 403), or "" if she may."""
        if type_name in ADMIN_SESSION_TYPES:
            user = self.user
            if self.scopes is None and user is not None and user.role == Role.CLINIC_ADMIN:
                return ""
            return f"Only the clinic's admins, signed in to the web app, read {type_name}."
        if self.scopes is None:
            return ""
        context = "system" if self.user is None else "patient"
        if {f"{context}/*.read", f"{context}/{type_name}.read"} & self.scopes:
            return ""
        return f"The access token's scopes do not include reading {type_name}."


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
