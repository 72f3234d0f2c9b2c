"""AuditEvent: the clinic's audit trail (``audit.AuditEvent``), one resource per event, the
event's public id as its id. Read only by the clinic's admins, signed in to the web app, as only
they open the audit page: ``access.ADMIN_SESSION_TYPES`` refuses the type to everyone else with a
403 (every token too, whatever its scopes, and no scope offers it), and ``rows`` shows nobody else
a row. Reading the trail is audited as the page audits it: one ``audit_log`` read event per read
or search (``ResourceType.read_event``), not one per patient the events name.

What an event says, in R4's terms:

- ``type``: the DICOM audit event id (DCM, PS3.16 CID 400 "Audit Event ID", the codes R4's
  audit-event-type value set takes in): 110114 User Authentication for the sign-in events (with
  the subtype 110122 Login or 110123 Logout where one fits), 110101 Audit Log Used for reads of
  the trail, 110106 Export for exports, 110110 Patient Record for any other event about a
  patient; any other event (the clinic's settings, its staff, a clean-up) has no DICOM id that
  fits and carries the clinic's own code ``clinic-record``. ``subtype`` is always the event's
  own action and object (``read.patient_chart``) in the clinic's CodeSystem, with its words as
  the audit page shows them.
- ``action`` (R4 audit-event-action): C create, R read and export, U update, sign and override,
  D delete, E the sign-in events (a function executed). ``outcome`` 0, or 4 (a minor failure)
  for a refused sign-in, a lockout, an identity not confirmed.
- ``agent``: who acted (a Practitioner, or the Patient whose account it was), her role at the
  time, the address she came from; the server itself (the task worker, a command) when nobody.
- ``source``: the clinic (Organization) observed it, on this application server.
- ``entity``: the patient the event is about, and the object: its type in the clinic's
  CodeSystem, its public id when it has one (never a database id) and the fields it names.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import describe, object_words
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.directory import ROLE_SYSTEM
from ketaclinic.fhir.search import PATIENT, Param, dates, ids, token_code

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/audit-event"
OBJECT_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/audit-object"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"

# DICOM PS3.16 CID 400 (Audit Event ID) and CID 401 (Audit Event Type Code).
USER_AUTHENTICATION = {"system": DCM, "code": "110114", "display": "User Authentication"}
AUDIT_LOG_USED = {"system": DCM, "code": "110101", "display": "Audit Log Used"}
EXPORT = {"system": DCM, "code": "110106", "display": "Export"}
PATIENT_RECORD = {"system": DCM, "code": "110110", "display": "Patient Record"}
LOGIN = {"system": DCM, "code": "110122", "display": "Login"}
LOGOUT = {"system": DCM, "code": "110123", "display": "Logout"}
CLINIC_RECORD = {
    "system": EVENT_SYSTEM,
    "code": "clinic-record",
    "display": "The clinic's own records (settings, staff, schedules, clean-ups)",
}

AUTHENTICATION = frozenset(
    {
        Action.LOGIN,
        Action.LOGIN_REFUSED,
        Action.LOGOUT,
        Action.TIMEOUT,
        Action.LOCKOUT,
        Action.MFA_ENROL,
        Action.MFA_REMOVE,
        Action.MFA_RESET,
        Action.PASSWORD_CHANGE,
        Action.PASSWORD_RESET,
        Action.REAUTH,
        Action.REAUTH_REFUSED,
    }
)
SUBTYPES: dict[str, dict[str, str]] = {
    Action.LOGIN: LOGIN,
    Action.LOGOUT: LOGOUT,
    Action.TIMEOUT: LOGOUT,
}
FAILED = frozenset({Action.LOGIN_REFUSED, Action.LOCKOUT, Action.REAUTH_REFUSED})
# R4 audit-event-action by the trail's action; the sign-in events are E (execute).
ACTION_SYSTEM = "http://hl7.org/fhir/audit-event-action"
ACTIONS: dict[str, str] = {
    Action.CREATE: "C",
    Action.READ: "R",
    Action.EXPORT: "R",
    Action.UPDATE: "U",
    Action.SIGN: "U",
    Action.OVERRIDE: "U",
    Action.DELETE: "D",
}
# What of an event's detail the resource shows: names and kinds, never values of a record and
# never a database id (details may hold those).
SHOWN_DETAIL = ("fields", "section", "interaction", "type", "instrument", "change", "kind")
ROLE_NAMES = dict(Role.choices)


def _type(event: AuditEvent) -> dict[str, str]:
    if event.action in AUTHENTICATION:
        return USER_AUTHENTICATION
    if event.object_type == "audit_log":
        return AUDIT_LOG_USED
    if event.action == Action.EXPORT:
        return EXPORT
    if event.patient_id is not None:
        return PATIENT_RECORD
    return CLINIC_RECORD


def _who(user: User | None) -> dict[str, str]:
    if user is None:
        return {"display": "ketaclinic itself (the task worker or a command)"}
    if user.role == Role.PATIENT:
        patient = getattr(user, "patient", None)  # joined by ``_events``; None if she has none
        if patient is not None:
            return reference("Patient", patient) or {}
        return {"display": "a patient"}
    return reference("Practitioner", user) or {}


def _agent(event: AuditEvent) -> dict[str, Any]:
    user = event.actor
    role = event.actor_role
    staff = role and role != Role.PATIENT
    return {
        "type": (
            {"coding": [{"system": SECURITY_ROLE, "code": "humanuser", "display": "human user"}]}
            if user is not None
            else None
        ),
        "role": (
            [
                {
                    "coding": [
                        {"system": ROLE_SYSTEM, "code": role, "display": ROLE_NAMES.get(role, role)}
                    ]
                }
            ]
            if staff
            else []
        ),
        "who": _who(user),
        "requestor": user is not None,
        # type 2: an IP address (R4 network-type).
        "network": {"address": event.ip_address, "type": "2"} if event.ip_address else None,
    }


def _public_id(object_id: str) -> str | None:
    """The object's id if it is a public id (a UUID); database ids are never shown."""
    try:
        return str(uuid.UUID(object_id)) if object_id else None
    except ValueError:
        return None


def _detail(detail: Any) -> list[dict[str, str]]:
    if not isinstance(detail, dict):
        return []
    shown = []
    for key in SHOWN_DETAIL:
        value = detail.get(key)
        if isinstance(value, list):
            value = ", ".join(str(each) for each in value)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            shown.append({"type": key, "valueString": str(value)})
    return shown


def _entities(event: AuditEvent) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if event.patient is not None:
        found.append(
            {
                "what": reference("Patient", event.patient),
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    words = object_words(event.object_type)
    public = _public_id(event.object_id)
    found.append(
        {
            "what": (
                {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{public}"}}
                if public is not None
                else None
            ),
            "type": {"system": OBJECT_SYSTEM, "code": event.object_type, "display": words},
            "name": words,
            "detail": _detail(event.detail),
        }
    )
    return found


def audit_event(event: AuditEvent) -> dict[str, Any]:
    sentence = describe(event.action, event.object_type)
    return pruned(
        {
            "resourceType": "AuditEvent",
            "id": str(event.public_id),
            "meta": {"lastUpdated": instant(event.occurred_at)},
            "type": _type(event),
            "subtype": [
                SUBTYPES.get(event.action, {}),
                {
                    "system": EVENT_SYSTEM,
                    "code": f"{event.action}.{event.object_type}",
                    "display": sentence,
                },
            ],
            "action": ACTIONS.get(event.action, "E"),
            "recorded": instant(event.occurred_at),
            "outcome": "4" if event.action in FAILED else "0",
            "outcomeDesc": sentence if event.action in FAILED else None,
            "agent": [_agent(event)],
            "source": {
                "site": event.clinic.name if event.clinic is not None else None,
                "observer": reference("Organization", event.clinic),
                "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
            },
            "entity": _entities(event),
        }
    )


def _events(reader: FhirReader) -> QuerySet[AuditEvent]:
    user = reader.user
    # ``access`` refuses the type to anyone but a clinic admin's session; this is the backstop.
    if reader.scopes is not None or user is None or user.role != Role.CLINIC_ADMIN:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(clinic_id=reader.clinic_id).select_related(
        "actor__patient", "patient", "clinic"
    )


def _agents(qs: QuerySet[AuditEvent], given: list[str]) -> QuerySet[AuditEvent]:
    """``agent``: Practitioner/[id] (a staff member), Patient/[id] (a patient's own account),
    or an id alone (either)."""
    match = Q(pk__in=[])
    for value in given:
        kind, _, key = value.rpartition("/")
        try:
            wanted = uuid.UUID(key)
        except ValueError:
            continue
        if kind in ("", "Practitioner"):
            match |= Q(actor__public_id=wanted)
        if kind in ("", "Patient"):
            match |= Q(actor__patient__public_id=wanted)
    return qs.filter(match)


def _actions(qs: QuerySet[AuditEvent], given: list[str]) -> QuerySet[AuditEvent]:
    """``action``: C, R, U, D or E (R4 audit-event-action; another system's code is none)."""
    codes = {token_code(value, ACTION_SYSTEM) for value in given} - {None}
    stored = [action for action, code in ACTIONS.items() if code in codes]
    match = Q(action__in=stored)
    if "E" in codes:
        match |= ~Q(action__in=list(ACTIONS))
    return qs.filter(match)


AUDIT_EVENT = ResourceType(
    name="AuditEvent",
    rows=_events,
    to_fhir=audit_event,
    params={
        "patient": Param(
            "reference", ids("patient__public_id"), "Patient/[id]: events about her.", PATIENT
        ),
        "date": Param("date", dates("occurred_at", param="date"), "When the event happened."),
        "agent": Param(
            "reference",
            _agents,
            "Practitioner/[id] or Patient/[id]: who acted (their account).",
            ("Practitioner", "Patient"),
        ),
        "action": Param("token", _actions, "C, R, U, D or E (R4 audit-event-action)."),
    },
    updated_field="occurred_at",
    read_event="audit_log",
    doc=(
        "The clinic's audit trail, for its admins only (signed in to the web app): every read"
        " and change of patient data, and every sign-in. Reading it is audited too."
    ),
)
