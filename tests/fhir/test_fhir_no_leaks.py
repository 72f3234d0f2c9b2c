"""No leaks: one world where Alice, Bob (patients of the clinic) and Oscar (the other clinic's
patient) each have rows of every table-backed type, read by every persona's session, the
clinic's backend system (``system/*.read``) and Alice's patient app (``patient/*.read``).

What each reader may see is derived here from the rules, over the tables themselves, never from
the API's own ``rows``: records of the reader's clinic only; the directory for everyone; a
patient her own Patient, Appointments, diary and self-checks (Observation,
QuestionnaireResponse) and signed plans (CarePlan, MedicationRequest), and none of the clinical
notes; an anonymous self-check nobody; the front desk the patients and their Appointments and
no clinical content; nurses, physicians, clinic admins and backend systems everything of their
clinic; the audit trail a clinic admin's session only. A
search shows exactly those rows and audits exactly the patients shown, every other row's read
is a 404 that audits nothing, no resource carries a database id, and a page of every type costs
the same queries whatever its size (``_include`` too). Then the edges: ``_include``,
``_cursor``, ``_id``, ``_count``, HEAD and the other methods, the write, Bulk Data export across
clients and patients (and no file outliving its export), and disconnecting an app.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.assessments.models import Cause, Consultation
from ketaclinic.assessments.models import Observation as ExamObservation
from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.fhir import bulk
from ketaclinic.fhir.models import (
    BulkExport,
    BulkExportFile,
    ExportStatus,
    FhirClient,
    PieceStatus,
)
from ketaclinic.fhir.resources.questionnaire import questionnaire_url
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.infusions.models import (
    AdverseEvent,
    ChartEntry,
    EntryKind,
    InfusionSession,
    Phase,
    SessionStatus,
)
from ketaclinic.infusions.models import Observation as ChartObservation
from ketaclinic.outcomes.diary.services import diary_entry_record
from ketaclinic.outcomes.models import DiaryEntry, Letter, LetterStatus
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment
from ketaclinic.screening.models import SelfCheckResult
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests.clock import today
from tests.conftest import World
from tests.factories.accounts import make_user
from tests.factories.assessments import make_consultation
from tests.factories.patients import registered_since
from tests.factories.plans import plan_for
from tests.factories.scheduling import book_infusion, infusion_type
from tests.fhir.exports import run_export
from tests.fhir.test_smart_oauth import _client_credentials, _patient_app, _token_for
from tests.fhir.validate import valid
from tests.screening.helpers import answers as selfcheck_answers

Browser = Callable[[str], Client]
BASE = "/fhir/R4/"
FHIR_JSON = "application/fhir+json"
SESSIONS = ("alice", "bob", "front_desk", "nurse", "physician", "clinic_admin", "other_physician")
TABLE_TYPES = sorted(name for name, kind in REGISTRY.items() if kind.computed is None)


# --- the world: every table-backed type, for three patients of two clinics -------------------


@dataclass(frozen=True)
class Staff:
    """Who works on a patient's records at her clinic."""

    physician: User
    nurse: User
    location: Location


def _visit_rows(patient: Patient, staff: Staff) -> None:
    """Consultations (one signed with its causes, measurements and DN4; one draft), an infusion
    given, charted, signed and with an adverse event, a deferred one, her diary, a signed plan and
    a draft, and letters (one drawn, one still being prepared)."""
    now = timezone.now()
    signed = make_consultation(
        patient,
        staff.physician,
        exam_date=today() - dt.timedelta(days=5),
        signed_at=now - dt.timedelta(days=5),
        dn4_total=5,
        dn4_positive=True,
        dn4_answers={},
    )
    make_consultation(patient, staff.physician)  # a draft, without a DN4
    Cause.objects.create(
        consultation=signed, system="snomed", code="2177002", display="Postherpetic neuralgia"
    )
    for loinc, display, value, unit in (
        ("29463-7", "Body weight", 70.0, "kg"),
        # SpO2, stored under both pulse-oximetry codes: one resource, not two.
        ("2708-6", "SpO2", 98.0, "%"),
        ("59408-5", "SpO2", 98.0, "%"),
    ):
        ExamObservation.objects.create(
            consultation=signed,
            patient=patient,
            loinc=loinc,
            display=display,
            value=value,
            unit=unit,
            effective_date=signed.exam_date,
        )
    # Each patient's infusion at its own hour: the nurse is booked once at a time.
    start = now - dt.timedelta(days=3, hours=2 * patient.pk)
    booked = book_infusion(
        infusion_type(patient.clinic), staff.location, staff.nurse, patient, start
    )
    # Sessions straight in the table, as ``factories.infusions.bare_session`` writes them (at the
    # patient's own clinic, by its own staff).
    given = InfusionSession.objects.create(
        clinic=patient.clinic,
        location=staff.location,
        patient=patient,
        appointment=booked,
        arrived_at=start - dt.timedelta(minutes=15),
        arrived_by=staff.nurse,
        status=SessionStatus.DISCHARGED,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=40),
        discharged_at=start + dt.timedelta(minutes=70),
        discharged_by=staff.nurse,
        signed_at=start + dt.timedelta(hours=2),
        signed_by=staff.physician,
    )
    InfusionSession.objects.create(
        clinic=patient.clinic,
        location=staff.location,
        patient=patient,
        arrived_at=now - dt.timedelta(days=1),
        arrived_by=staff.nurse,
        status=SessionStatus.DEFERRED,
        deferred_reason="Blood pressure 172/104.",
    )
    entry = ChartEntry.objects.create(
        session=given,
        kind=EntryKind.VITALS,
        phase=Phase.DURING,
        taken_at=start + dt.timedelta(minutes=10),
        recorded_by=staff.nurse,
    )
    ChartObservation.objects.create(
        entry=entry,
        session=given,
        patient=patient,
        taken_at=entry.taken_at,
        system="loinc",
        code="8867-4",
        display="Heart rate",
        value=Decimal("80"),
        unit="/min",
    )
    AdverseEvent.objects.create(
        session=given,
        kind="headache",
        severity="mild",
        onset_at=start + dt.timedelta(minutes=20),
        interventions=["none"],
        outcome="resolved",
        recorded_by=staff.nurse,
    )
    registered_since(patient, 30)
    for days_ago, pain in ((1, 4), (2, 6)):
        diary_entry_record(
            actor=Actor(user=None),
            patient=patient,
            instrument="nrs",
            entry_date=today() - dt.timedelta(days=days_ago),
            answers={"pain": pain},
        )
    plan_for(patient, staff.physician)
    plan_for(patient, staff.physician, status=PlanStatus.DRAFT)
    for status in (LetterStatus.READY, LetterStatus.QUEUED):
        letter = Letter(
            clinic=patient.clinic,
            patient=patient,
            requested_by=staff.physician,
            status=status,
            ready_at=now if status == LetterStatus.READY else None,
        )
        if status == LetterStatus.READY:
            letter.pdf_file.save(f"letters/{letter.public_id}.pdf", ContentFile(b"%PDF-1.4 t"))
        else:
            letter.save()


def _everything(world: World) -> None:
    ours = Staff(world.physician, world.nurse, world.cleveland)
    akron = Location.objects.get(clinic=world.other_clinic)
    theirs = Staff(
        world.other_physician,
        make_user(world.other_clinic, Role.NURSE, name="Tess Theirs", locations=(akron,)),
        akron,
    )
    for patient, staff in (
        (world.alice_patient, ours),
        (world.bob_patient, ours),
        (world.other_patient, theirs),
    ):
        _visit_rows(patient, staff)
        attached = selfcheck_submit(answers=selfcheck_answers())
        selfcheck_attach(actor=Actor(user=None), selfcheck=attached, patient=patient)
    selfcheck_submit(answers=selfcheck_answers())  # anonymous: in nobody's record


# --- the rules, over the tables ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    type: str
    id: str
    clinic_id: int | None
    patient_id: int | None
    # record: the patient's registration and schedule; diary: what she reports; plan: a plan
    # (``draft`` says whether it is one); chart: the clinical notes; directory; audit.
    tier: str
    draft: bool = False


def _rows(rows: Any, kind: str, tier: str, clinic: str, patient: str) -> list[Row]:
    return [
        Row(kind, str(public_id), clinic_id, patient_id, tier)
        for public_id, clinic_id, patient_id in rows.values_list("public_id", clinic, patient)
    ]


def universe() -> list[Row]:
    """Every resource the tables hold, of every clinic, with what decides who reads it."""
    found: list[Row] = []
    found += _rows(Patient.objects.all(), "Patient", "record", "clinic_id", "pk")
    found += _rows(Appointment.objects.all(), "Appointment", "record", "clinic_id", "patient_id")
    for kind in ("Observation", "QuestionnaireResponse"):
        found += _rows(DiaryEntry.objects.all(), kind, "diary", "clinic_id", "patient_id")
    found += _rows(
        ChartObservation.objects.all(), "Observation", "chart", "session__clinic_id", "patient_id"
    )
    twins = ExamObservation.objects.filter(loinc="59408-5").filter(
        consultation__in=ExamObservation.objects.filter(loinc="2708-6").values("consultation")
    )
    found += _rows(
        ExamObservation.objects.exclude(pk__in=twins),
        "Observation",
        "chart",
        "consultation__clinic_id",
        "patient_id",
    )
    found += _rows(
        SelfCheckResult.objects.all(),
        "QuestionnaireResponse",
        "diary",
        "selfcheck__patient__clinic_id",
        "selfcheck__patient_id",
    )
    found += _rows(
        Consultation.objects.filter(dn4_total__isnull=False),
        "QuestionnaireResponse",
        "chart",
        "clinic_id",
        "patient_id",
    )
    for table in (Consultation, InfusionSession):
        found += _rows(table.objects.all(), "Encounter", "chart", "clinic_id", "patient_id")
    signed: tuple[Any, ...] = (Consultation, InfusionSession, Plan)
    for table in signed:
        found += _rows(
            table.objects.filter(signed_at__isnull=False),
            "Provenance",
            "chart",
            "clinic_id",
            "patient_id",
        )
    found += _rows(
        Cause.objects.all(),
        "Condition",
        "chart",
        "consultation__clinic_id",
        "consultation__patient_id",
    )
    found += _rows(
        InfusionSession.objects.filter(started_at__isnull=False),
        "MedicationAdministration",
        "chart",
        "clinic_id",
        "patient_id",
    )
    found += _rows(
        AdverseEvent.objects.all(),
        "AdverseEvent",
        "chart",
        "session__clinic_id",
        "session__patient_id",
    )
    found += _rows(
        Letter.objects.filter(status=LetterStatus.READY),
        "DocumentReference",
        "chart",
        "clinic_id",
        "patient_id",
    )
    for kind, plans in (
        ("CarePlan", Plan.objects.all()),
        ("MedicationRequest", Plan.objects.filter(protocol__isnull=False)),
    ):
        found += [
            Row(kind, str(public_id), clinic_id, patient_id, "plan", status == PlanStatus.DRAFT)
            for public_id, clinic_id, patient_id, status in plans.values_list(
                "public_id", "clinic_id", "patient_id", "status"
            )
        ]
    found += _rows(Clinic.objects.all(), "Organization", "directory", "pk", "pk")
    found += _rows(Location.objects.all(), "Location", "directory", "clinic_id", "clinic_id")
    staff = User.objects.filter(role__in=STAFF_ROLES, clinic__isnull=False)
    for kind in ("Practitioner", "PractitionerRole"):
        found += _rows(staff, kind, "directory", "clinic_id", "clinic_id")
    found += _rows(AuditEvent.objects.all(), "AuditEvent", "audit", "clinic_id", "patient_id")
    return [_no_patient(row) for row in found]


def _no_patient(row: Row) -> Row:
    # The directory's rows name no patient (the clinic id stood in for a column to read).
    if row.tier == "directory":
        return Row(row.type, row.id, row.clinic_id, None, row.tier)
    return row


@dataclass
class Reader:
    name: str
    client: Client
    clinic_id: int
    # patient, desk, clinical, admin (a clinic admin's session), backend
    kind: str
    patients: frozenset[int]
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(BASE + path, headers={**self.headers, **headers})

    def may_see(self, row: Row) -> bool:
        if row.clinic_id != self.clinic_id:
            return False
        if row.tier == "directory":
            return True
        if row.tier == "audit":
            return self.kind == "admin"
        if row.patient_id not in self.patients:
            return False
        if row.tier == "record":
            return True
        if row.tier == "diary":
            return self.kind != "desk"
        if row.tier == "plan":
            return self.kind != "desk" and not (self.kind == "patient" and row.draft)
        assert row.tier == "chart", row
        return self.kind in ("clinical", "admin", "backend")

    def refused(self, type_name: str) -> bool:
        """Types the reader may not read at all (a 403, not a 404)."""
        return type_name == "AuditEvent" and self.kind != "admin"


def _session_reader(world: World, client_for: Browser, persona: str) -> Reader:
    user = world.persona(persona)
    assert user is not None
    assert user.clinic_id is not None
    kind = {
        Role.PATIENT: "patient",
        Role.FRONT_DESK: "desk",
        Role.CLINIC_ADMIN: "admin",
    }.get(Role(user.role), "clinical")
    return Reader(persona, client_for(persona), user.clinic_id, kind, _patients_of(user))


def _patients_of(user: User | None, clinic_id: int | None = None) -> frozenset[int]:
    if user is not None and user.is_patient:
        return frozenset(Patient.objects.filter(user=user).values_list("pk", flat=True))
    clinic = clinic_id if user is None else user.clinic_id
    assert clinic is not None
    return frozenset(Patient.objects.filter(clinic_id=clinic).values_list("pk", flat=True))


def _backend_token(world: World, scope: str = "system/*.read", name: str = "Registry") -> str:
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name=name, kind="backend"
    )
    response = _client_credentials(backend, secret, scope)
    assert response.status_code == 200, response.content
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def readers(world: World, client_for: Browser) -> list[Reader]:
    found = [_session_reader(world, client_for, persona) for persona in SESSIONS]
    found.append(
        Reader(
            "backend",
            Client(),
            world.clinic.pk,
            "backend",
            _patients_of(None, world.clinic.pk),
            _bearer(_backend_token(world)),
        )
    )
    app = _patient_app(world)
    token = _token_for(client_for("alice"), app, "patient/*.read launch/patient")
    found.append(
        Reader(
            "alice's app",
            Client(),
            world.clinic.pk,
            "patient",
            _patients_of(world.alice),
            _bearer(token["access_token"]),
        )
    )
    return found


# --- what any answer must never hold ----------------------------------------------------------

# A reference naming a database id: ``Patient/12``, or a bare number.
NUMERIC_REFERENCE = re.compile(r"^(?:[A-Za-z]+/)?\d+$")


def database_ids(value: Any, where: str = "") -> Iterator[str]:
    """Where the JSON holds something that looks like a database id: an ``id`` that is a
    number (or a string of digits), a reference or a page link whose id is a number."""
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{where}.{key}"
            if key == "id" and (
                isinstance(inner, int) or (isinstance(inner, str) and inner.isdigit())
            ):
                yield here
            if key == "reference" and isinstance(inner, str) and NUMERIC_REFERENCE.match(inner):
                yield here
            if (
                key in ("fullUrl", "url")
                and isinstance(inner, str)
                and re.search(r"/\d+(?:$|\?)", inner)
            ):
                yield here
            yield from database_ids(inner, here)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from database_ids(inner, f"{where}[{index}]")


def _json(response: Any, path: str) -> dict[str, Any]:
    assert response["Content-Type"].startswith(FHIR_JSON), (path, response["Content-Type"])
    body: dict[str, Any] = response.json()
    leaks = list(database_ids(body))
    assert not leaks, (path, leaks)
    return body


def walk(reader: Reader, path: str) -> list[dict[str, Any]]:
    """Every page of a search, following the next links; each bundle validated."""
    pages = []
    url: str | None = BASE + path
    while url is not None:
        relative = url.split(BASE, 1)[1]
        response = reader.get(relative)
        assert response.status_code == 200, (reader.name, relative, response.content[:300])
        bundle = valid(_json(response, relative))
        pages.append(bundle)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        assert len(pages) < 20, (reader.name, path)
    return pages


def matched(pages: list[dict[str, Any]], mode: str = "match") -> list[str]:
    return [
        entry["resource"]["id"]
        for bundle in pages
        for entry in bundle.get("entry", [])
        if entry["search"]["mode"] == mode
    ]


# --- every type, every reader -----------------------------------------------------------------


@pytest.mark.django_db
def test_every_reader_sees_exactly_its_rows_of_every_type_and_nothing_else(
    world: World, client_for: Browser
) -> None:
    _everything(world)
    everyone = readers(world, client_for)
    rows = universe()
    # The rules above cover every type the registry serves from tables: a new one must be added.
    assert {row.type for row in rows} == set(TABLE_TYPES)
    patients = (world.alice_patient.pk, world.bob_patient.pk, world.other_patient.pk)
    for kind in TABLE_TYPES:
        held = {row.patient_id for row in rows if row.type == kind}
        if REGISTRY[kind].patient_of is not None:
            assert set(patients) <= held, f"{kind}: every patient has a row"
    by_type: dict[str, list[Row]] = {}
    for row in rows:
        by_type.setdefault(row.type, []).append(row)
    for reader in everyone:
        for kind in TABLE_TYPES:
            _check_type(reader, kind, by_type[kind])


def _check_type(reader: Reader, kind: str, rows: list[Row]) -> None:
    mine = {row.id for row in rows if reader.may_see(row)}
    others = {row.id for row in rows} - mine
    if reader.refused(kind):
        assert reader.get(f"{kind}?_count=100").status_code == 403, (reader.name, kind)
        for public_id in sorted({row.id for row in rows})[:3]:
            assert reader.get(f"{kind}/{public_id}").status_code == 403, (reader.name, kind)
        return
    last = _last_event()
    pages = walk(reader, f"{kind}?_count=100")
    found = matched(pages)
    assert len(found) == len(set(found)), (reader.name, kind, "shown twice")
    by_id = {row.id: row for row in rows}
    if kind == "AuditEvent":
        # Reading the trail is one audit_log event a page, as the audit page audits it.
        assert _audited_since(last) == [("audit_log", None)] * len(pages), reader.name
    else:
        # Every patient shown is audited, and nobody else; the directory writes nothing.
        shown = {by_id[public_id].patient_id for public_id in found} - {None}
        audited = _audited_since(last)
        assert {made for made, _ in audited} <= {"fhir_read"}, (reader.name, kind)
        assert {patient for _, patient in audited} == shown, (reader.name, kind)
    if kind == "AuditEvent":
        # The walk itself adds events of the clinic (its reads): the ones that were there before
        # are all shown, and none of another clinic.
        assert mine <= set(found), (reader.name, kind)
        assert not set(found) & others, (reader.name, kind)
    else:
        assert set(found) == mine, (reader.name, kind, len(found), len(mine))
    before = AuditEvent.objects.count()
    for public_id in sorted(others):
        response = reader.get(f"{kind}/{public_id}")
        assert response.status_code == 404, (reader.name, kind, response.status_code)
        _json(response, f"{kind}/{public_id}")
    if kind != "AuditEvent":
        assert AuditEvent.objects.count() == before, (reader.name, kind, "a 404 is audited")
    for public_id in sorted(mine):
        last = _last_event()
        response = reader.get(f"{kind}/{public_id}")
        assert response.status_code == 200, (reader.name, kind, response.content[:200])
        assert _json(response, f"{kind}/{public_id}")["id"] == public_id
        patient = by_id[public_id].patient_id
        expected: list[tuple[str, int | None]]
        if kind == "AuditEvent":
            expected = [("audit_log", None)]
        else:
            expected = [("fhir_read", patient)] if patient is not None else []
        assert _audited_since(last) == expected, (reader.name, kind)


def _last_event() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _audited_since(last: int) -> list[tuple[str, int | None]]:
    """What the audit trail recorded since: each event's object type and patient."""
    return list(
        AuditEvent.objects.filter(pk__gt=last)
        .order_by("pk")
        .values_list("object_type", "patient_id")
    )


@pytest.mark.django_db
def test_a_letters_pdf_is_read_exactly_by_its_document_references_readers(
    world: World, client_for: Browser
) -> None:
    _everything(world)
    letters = [row for row in universe() if row.type == "DocumentReference"]
    for reader in readers(world, client_for):
        for row in letters:
            response = reader.get(f"Binary/{row.id}", Accept="application/pdf")
            expected = 200 if reader.may_see(row) else 404
            assert response.status_code == expected, (reader.name, row)


def _patient_named(resource: dict[str, Any]) -> str:
    """The id of the patient a resource is about."""
    if resource["resourceType"] == "Appointment":
        reference = resource["participant"][0]["actor"]["reference"]
    else:
        reference = resource["subject"]["reference"]
    kind, _, public_id = str(reference).partition("/")
    assert kind == "Patient"
    return public_id


@pytest.mark.django_db
def test_include_brings_only_what_the_rows_shown_name(world: World, client_for: Browser) -> None:
    _everything(world)
    rows = universe()
    for reader in readers(world, client_for):
        visible = {(row.type, row.id) for row in rows if reader.may_see(row)}
        for kind in TABLE_TYPES:
            offered = REGISTRY[kind].all_includes
            if not offered or reader.refused(kind):
                continue
            query = "&".join(f"_include={name}" for name in offered)
            entries = [
                entry
                for bundle in walk(reader, f"{kind}?_count=100&{query}")
                for entry in bundle.get("entry", [])
            ]
            included = {
                (entry["resource"]["resourceType"], entry["resource"]["id"])
                for entry in entries
                if entry["search"]["mode"] == "include"
            }
            assert included <= visible, (reader.name, kind, included - visible)
            named = {
                ("Patient", _patient_named(entry["resource"]))
                for entry in entries
                if entry["search"]["mode"] == "match"
            }
            assert {pair for pair in included if pair[0] == "Patient"} == named, (reader.name, kind)


@pytest.mark.django_db
def test_a_page_of_every_type_costs_the_same_queries_whatever_its_size(
    world: World, client_for: Browser
) -> None:
    _everything(world)
    rows = universe()
    for reader in readers(world, client_for):
        for kind in TABLE_TYPES:
            if reader.refused(kind) or kind == "AuditEvent":
                continue  # the audit trail's own page test counts it
            shown = [row for row in rows if row.type == kind and reader.may_see(row)]
            if len(shown) < 3:
                continue
            query = "".join(f"&_include={name}" for name in REGISTRY[kind].all_includes)
            counts = []
            for size in (1, 100):
                with CaptureQueriesContext(connection) as queries:
                    assert reader.get(f"{kind}?_count={size}{query}").status_code == 200
                counts.append(len(queries))
            assert counts[0] == counts[1], (reader.name, kind, counts)


# --- the edges: paging, ids, sizes, methods -----------------------------------------------------


@pytest.mark.django_db
def test_a_cursor_is_only_a_place_to_start_within_the_readers_rows(
    world: World, client_for: Browser
) -> None:
    _everything(world)
    rows = universe()
    alice = _session_reader(world, client_for, "alice")
    hers = {row.id for row in rows if row.type == "Observation" and alice.may_see(row)}
    everything = {row.id for row in rows if row.type == "Observation"}
    # Another type's id, another clinic's row's id, the smallest id: still her rows only.
    for cursor in (
        str(world.bob_patient.public_id),
        next(
            row.id for row in rows if row.type == "Encounter" and row.clinic_id != alice.clinic_id
        ),
        "00000000-0000-0000-0000-000000000000",
    ):
        found = matched(walk(alice, f"Observation?_count=1&_cursor={cursor}"))
        assert set(found) <= hers
        assert set(found) == {public_id for public_id in hers if public_id > cursor}
    assert len(everything - hers) > 0
    for garbage in ("nonsense", "1", "../Patient", "' OR 1=1 --"):
        response = alice.get(f"Observation?_cursor={garbage}")
        assert response.status_code == 400, garbage
        assert _json(response, garbage)["issue"][0]["expression"] == ["_cursor"]


@pytest.mark.django_db
def test_id_finds_the_readers_rows_only(world: World, client_for: Browser) -> None:
    _everything(world)
    rows = universe()
    physician = _session_reader(world, client_for, "physician")
    for kind in ("Patient", "Encounter", "Observation", "CarePlan", "Location", "Practitioner"):
        ours = [row.id for row in rows if row.type == kind and physician.may_see(row)]
        theirs = [row.id for row in rows if row.type == kind and not physician.may_see(row)]
        assert ours, kind
        assert theirs, kind
        found = matched(walk(physician, f"{kind}?_id={theirs[0]}"))
        assert found == [], kind
        found = matched(walk(physician, f"{kind}?_id={theirs[0]},{ours[0]}"))
        assert found == [ours[0]], kind
        # As a reference, too: Patient/[id] of another clinic finds nothing of hers.
        if kind not in ("Patient", "Location", "Practitioner"):
            other = f"Patient/{world.other_patient.public_id}"
            assert matched(walk(physician, f"{kind}?patient={other}")) == [], kind


@pytest.mark.django_db
def test_count_is_capped_and_checked(world: World, client_for: Browser) -> None:
    _everything(world)
    admin = _session_reader(world, client_for, "clinic_admin")
    huge = admin.get("AuditEvent?_count=99999999999999999999999999")
    assert huge.status_code == 200
    bundle = _json(huge, "huge")
    assert len(bundle.get("entry", [])) <= 100
    assert "_count=100" in bundle["link"][0]["url"]
    for bad in ("-1", "1e9", "ten", "0x10", "1.5"):
        response = admin.get(f"Patient?_count={bad}")
        assert response.status_code == 400, bad
        assert _json(response, bad)["issue"][0]["expression"] == ["_count"]
    nothing = _json(admin.get("Patient?_count=0"), "zero")
    assert "entry" not in nothing


@pytest.mark.django_db
def test_head_reads_as_get_and_starts_no_export(world: World, client_for: Browser) -> None:
    _everything(world)
    physician = client_for("physician")
    admin = client_for("clinic_admin")
    theirs = f"Patient/{world.other_patient.public_id}"
    assert physician.head(BASE + "Patient").status_code == 200
    assert physician.head(BASE + theirs).status_code == 404
    assert Client().head(BASE + "Patient").status_code == 401
    # This API reads: no other method changes a record.
    mine = f"Patient/{world.alice_patient.public_id}"
    for method in ("put", "patch", "delete", "options"):
        response = getattr(physician, method)(BASE + mine)
        assert response.status_code == 405, method
    assert physician.post(BASE + "Patient", {}).status_code == 405
    assert Patient.objects.filter(pk=world.alice_patient.pk).exists()
    before = BulkExport.objects.count()
    for path in ("$export", "Patient/$export", f"Group/{world.cleveland.public_id}/$export"):
        response = admin.head(BASE + path, headers={"Prefer": "respond-async"})
        assert response.status_code == 405, (path, response.status_code)
    assert BulkExport.objects.count() == before


# --- Bulk Data export: one client's, one person's --------------------------------------------

ASYNC = {"Prefer": "respond-async"}


def _kickoff(path: str, headers: dict[str, str], client: Client | None = None) -> Any:
    return (client or Client()).get(BASE + path, headers={**ASYNC, **headers})


def _written(kickoff: Any) -> tuple[str, list[str]]:
    """Run the export's job; its status address and its files' addresses."""
    assert kickoff.status_code == 202, kickoff.content[:300]
    status = kickoff["Content-Location"]
    export = BulkExport.objects.get(public_id=status.rstrip("/").rsplit("/", 1)[1])
    run_export(export.pk)
    export.refresh_from_db()
    return status, list(_file_urls(export))


def _file_urls(export: BulkExport) -> Iterator[str]:
    for each in export.files.all():
        yield f"http://testserver{BASE}bulk-files/{each.public_id}"


@pytest.mark.django_db
def test_an_export_is_followed_and_fetched_by_the_client_and_person_who_asked_only(
    world: World, client_for: Browser
) -> None:
    _everything(world)
    registry = _bearer(_backend_token(world, name="Registry"))
    billing = _bearer(_backend_token(world, name="Billing"))
    app = _patient_app(world)
    alice_app = _bearer(
        _token_for(client_for("alice"), app, "patient/*.read launch/patient")["access_token"]
    )
    bob_app = _bearer(
        _token_for(client_for("bob"), app, "patient/*.read launch/patient")["access_token"]
    )
    # Alice's app asks for her record; while it is written, Bob's export through the same app is
    # not held up by hers.
    hers = _kickoff("Patient/$export", alice_app)
    assert hers.status_code == 202
    his = _kickoff("Patient/$export", bob_app)
    assert his.status_code == 202, his.content[:300]
    status, files = _written(hers)
    assert files
    assert Client().get(status, headers=alice_app).status_code == 200
    for url in files:
        response = Client().get(url, headers=alice_app)
        assert response.status_code == 200
        body = response.getvalue().decode()
        for line in body.splitlines():
            assert not list(database_ids(json.loads(line)))
    # Nobody else follows or fetches it: the same app for Bob, another system of the clinic,
    # Alice's and the admin's sessions, the other clinic's physician.
    others: list[tuple[dict[str, str], Client]] = [
        (bob_app, Client()),
        (registry, Client()),
        (billing, Client()),
        ({}, client_for("alice")),
        ({}, client_for("clinic_admin")),
        ({}, client_for("other_physician")),
    ]
    for headers, browser in others:
        assert browser.get(status, headers=headers).status_code == 404, headers
        for url in files:
            assert browser.get(url, headers=headers).status_code == 404, headers
        assert browser.delete(status, headers=headers).status_code == 404, headers
    # One system's export is not another's.
    theirs, their_files = _written(_kickoff("$export", registry))
    assert their_files
    for headers in (billing, alice_app):
        assert Client().get(theirs, headers=headers).status_code == 404
        for url in their_files:
            assert Client().get(url, headers=headers).status_code == 404


@pytest.mark.django_db
def test_an_export_asks_only_for_what_the_reader_may_read(
    world: World, client_for: Browser
) -> None:
    narrow = _bearer(_backend_token(world, scope="system/Patient.read"))
    before = (BulkExport.objects.count(), AuditEvent.objects.count())
    for path in ("$export?_type=Observation", "$export?_type=Patient,Encounter"):
        assert _kickoff(path, narrow).status_code == 403, path
    assert _kickoff("$export?_type=AuditEvent", narrow).status_code == 403
    wide = _bearer(_backend_token(world, name="Wide"))
    before = (BulkExport.objects.count(), AuditEvent.objects.count())
    # The trail is read by a clinic admin's session only, never by a token.
    assert _kickoff("$export?_type=AuditEvent", wide).status_code == 403
    assert _kickoff("Patient/$export?_type=Slot", wide).status_code == 400
    # A Group is one of the reader's clinic's locations: another clinic's, or none, is a 404.
    elsewhere = Location.objects.get(clinic=world.other_clinic)
    for group in (str(elsewhere.public_id), str(uuid.uuid4()), "1", "cleveland"):
        assert _kickoff(f"Group/{group}/$export", wide).status_code == 404, group
    # A patient exports her own record only; the front desk and the nurse export nothing.
    assert _kickoff("$export", {}, client_for("alice")).status_code == 403
    assert (
        _kickoff(f"Group/{world.cleveland.public_id}/$export", {}, client_for("bob")).status_code
        == 403
    )
    for persona in ("front_desk", "nurse", "physician"):
        assert _kickoff("Patient/$export", {}, client_for(persona)).status_code == 403, persona
    assert (BulkExport.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_exporting_the_audit_trail_is_reading_it(world: World, client_for: Browser) -> None:
    _everything(world)
    admin = client_for("clinic_admin")
    _, files = _written(_kickoff("$export?_type=AuditEvent", {}, admin))
    assert files
    [event] = AuditEvent.objects.filter(object_type="audit_log")
    assert event.actor == world.clinic_admin
    assert event.clinic == world.clinic
    assert event.detail["type"] == "AuditEvent"
    theirs = set(
        AuditEvent.objects.exclude(clinic=world.clinic).values_list("public_id", flat=True)
    )
    lines = admin.get(files[0]).getvalue().decode().splitlines()
    shown = {uuid.UUID(json.loads(line)["id"]) for line in lines}
    assert shown
    assert not shown & theirs


@pytest.mark.django_db
def test_no_exported_file_outlives_its_export(
    world: World,
    client_for: Browser,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _everything(world)
    # Cancelled while a file is written, after its rows were read: that file goes too (the
    # cancel deleted the files it found, and this one was not finished yet).
    registry = _bearer(_backend_token(world, name="Registry"))
    write = bulk._write_piece

    def cancelled_meanwhile(piece: BulkExportFile, *args: Any) -> tuple[str, int, int]:
        written = write(piece, *args)
        assert default_storage.exists(written[0])
        BulkExport.objects.filter(pk=piece.export_id).update(status=ExportStatus.CANCELLED)
        return written

    monkeypatch.setattr(bulk, "_write_piece", cancelled_meanwhile)
    kickoff = _kickoff("$export?_type=Patient", registry)
    assert kickoff.status_code == 202
    export = BulkExport.objects.get()
    assert run_export(export.pk) == ["files to write: 1", "cancelled"]
    assert not BulkExportFile.objects.filter(status=PieceStatus.DONE).exists()
    assert _stored(export) == []
    monkeypatch.undo()
    # A client revoked: its exports go with it, and their files.
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Leaving", kind="backend"
    )
    leaving = _bearer(_client_credentials(backend, secret, "system/*.read").json()["access_token"])
    _, files = _written(_kickoff("$export", leaving))
    finished = BulkExport.objects.get(client=backend)
    assert files
    assert _stored(finished)
    admin = client_for("clinic_admin")
    with django_capture_on_commit_callbacks(execute=True):
        revoked = admin.post(f"/clinic/api-clients/{backend.pk}/revoke/", {"confirmed": "1"})
    assert revoked.status_code == 302
    assert not BulkExport.objects.filter(pk=finished.pk).exists()
    assert _stored(finished) == []


def _stored(export: BulkExport) -> list[str]:
    """The export's files in the storage."""
    folder = f"fhir-export/{export.public_id}"
    if not default_storage.exists(folder):
        return []
    return list(default_storage.listdir(folder)[1])


# --- the one write ----------------------------------------------------------------------------


def _nrs(patient: Patient, pain: object = 6, authored: str | None = None) -> str:
    return json.dumps(
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": questionnaire_url("nrs"),
            "status": "completed",
            "subject": {"reference": f"Patient/{patient.public_id}"},
            "authored": authored or today().isoformat(),
            "item": [{"linkId": "pain", "answer": [{"valueInteger": pain}]}],
        }
    )


@pytest.mark.django_db
def test_the_write_is_her_own_diary_in_range_and_nothing_else(
    world: World, client_for: Browser
) -> None:
    registered_since(world.alice_patient, 30)
    registered_since(world.bob_patient, 30)
    app = _patient_app(world)
    scope = "patient/*.read patient/QuestionnaireResponse.write launch/patient"
    alice = _bearer(_token_for(client_for("alice"), app, scope)["access_token"])
    read_only = _bearer(
        _token_for(client_for("alice"), app, "patient/*.read launch/patient")["access_token"]
    )
    system = _bearer(_backend_token(world))

    def post(body: str, headers: dict[str, str], client: Client | None = None) -> Any:
        return (client or Client()).post(
            BASE + "QuestionnaireResponse", data=body, content_type=FHIR_JSON, headers=headers
        )

    before = (DiaryEntry.objects.count(), AuditEvent.objects.count())
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    refusals: list[tuple[str, dict[str, str], Client | None, int]] = [
        (_nrs(world.bob_patient), alice, None, 404),  # his diary, with her token
        (_nrs(world.other_patient), alice, None, 404),  # another clinic's patient
        (_nrs(world.alice_patient, authored=tomorrow), alice, None, 422),
        (_nrs(world.alice_patient, pain=11), alice, None, 422),
        (_nrs(world.alice_patient, pain=-1), alice, None, 422),
        (_nrs(world.alice_patient, pain=True), alice, None, 422),
        (_nrs(world.alice_patient, pain=5.5), alice, None, 422),
        (_nrs(world.alice_patient, pain="5"), alice, None, 422),
        (_nrs(world.alice_patient), read_only, None, 403),
        (_nrs(world.alice_patient), system, None, 403),
    ]
    for persona in ("front_desk", "nurse", "physician", "clinic_admin", "other_physician"):
        refusals.append((_nrs(world.alice_patient), {}, client_for(persona), 403))
    for sent, headers, browser, status in refusals:
        response = post(sent, headers, browser)
        assert response.status_code == status, (sent, response.content[:300])
        assert _json(response, "post")["resourceType"] == "OperationOutcome"
    assert (DiaryEntry.objects.count(), AuditEvent.objects.count()) == before
    created = post(_nrs(world.alice_patient, pain=7), alice)
    assert created.status_code == 201, created.content[:300]
    body = _json(created, "created")
    assert body["subject"]["reference"] == f"Patient/{world.alice_patient.public_id}"
    assert created["Location"].endswith(f"QuestionnaireResponse/{body['id']}")


# --- connected apps ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_disconnecting_an_app_ends_her_access_only(world: World, client_for: Browser) -> None:
    app = _patient_app(world)
    scope = "patient/*.read launch/patient"
    bob_token = _bearer(_token_for(client_for("bob"), app, scope)["access_token"])
    alice = client_for("alice")
    disconnect = f"/me/apps/{app.pk}/disconnect/"
    # She never connected it: a 404, and Bob's access stays.
    assert alice.post(disconnect, {"confirmed": "1"}).status_code == 404
    assert Client().get(BASE + "Patient", headers=bob_token).status_code == 200
    alice_token = _bearer(_token_for(alice, app, scope)["access_token"])
    assert alice.post(disconnect, {"confirmed": "1"}).status_code == 302
    assert Client().get(BASE + "Patient", headers=alice_token).status_code == 401
    assert Client().get(BASE + "Patient", headers=bob_token).status_code == 200
    # Another clinic's app, and no app at all, are 404s too.
    theirs, _ = fhir_client_register(
        actor=Actor(user=None),
        clinic=world.other_clinic,
        name="Their app",
        kind="patient_app",
        redirect_uris=["https://their-app.example/callback"],
    )
    nobody = max(FhirClient.objects.values_list("pk", flat=True)) + 100
    for client_id in (theirs.pk, nobody):
        assert (
            alice.post(f"/me/apps/{client_id}/disconnect/", {"confirmed": "1"}).status_code == 404
        )
    # HEAD and GET change nothing.
    assert alice.get(disconnect).status_code == 405
    assert alice.head(disconnect).status_code == 405
