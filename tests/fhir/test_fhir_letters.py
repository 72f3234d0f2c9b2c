"""Progress letters as DocumentReferences with their PDF as a Binary (the PDF itself or FHIR
JSON, by the Accept header), and Provenance of every signed record: what they say, who reads
them (the letters page's readers; never the front desk), each search parameter, the audit
trail, and a page of 100 at the cost of a page of 10."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.assessments.models import Consultation
from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.resources.base import instant
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.outcomes.letters.services import letter_request
from ketaclinic.outcomes.models import Letter
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan
from tests.conftest import World
from tests.factories.assessments import make_consultation
from tests.factories.infusions import bare_session
from tests.factories.outcomes import ready_letter
from tests.factories.plans import draft, signed
from tests.fhir.test_fhir_api import BASE, FHIR_JSON, fhir, hidden, ids_of, refused
from tests.fhir.test_smart_oauth import _backend, _client_credentials, _read
from tests.fhir.validate import valid

Browser = Callable[[str], Client]
PDF = "application/pdf"
CONTENT = b"%PDF-1.4 test"  # what tests.factories.outcomes.ready_letter stores


def _letter_of(world: World, patient: Patient) -> Letter:
    letter = ready_letter(world)
    Letter.objects.filter(pk=letter.pk).update(patient=patient)
    letter.refresh_from_db()
    return letter


def _letters(world: World) -> tuple[Letter, Letter, Letter]:
    """A drawn letter of Alice's and one of Bob's; a letter of Alice's still being prepared."""
    hers = ready_letter(world)
    his = _letter_of(world, world.bob_patient)
    queued = letter_request(actor=Actor(user=world.physician), patient=world.alice_patient)
    return hers, his, queued


def _ref(kind: str, row: Any) -> dict[str, str]:
    return {"reference": f"{kind}/{row.public_id}"}


# --- DocumentReference ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_drawn_letter_is_a_final_document_whose_pdf_is_its_binary(
    world: World, client_for: Browser
) -> None:
    hers, _, queued = _letters(world)
    client = client_for("physician")
    resource = fhir(client, f"DocumentReference/{hers.public_id}")
    assert (resource["status"], resource["docStatus"]) == ("current", "final")
    assert resource["type"] == {
        "coding": [
            {
                "system": "https://ketaclinic.org/fhir/CodeSystem/document-type",
                "code": "progress-letter",
                "display": "Progress letter",
            }
        ],
        "text": "Progress letter",
    }
    assert resource["subject"] == _ref("Patient", world.alice_patient)
    assert resource["author"] == [_ref("Practitioner", world.physician)]
    assert resource["custodian"] == _ref("Organization", world.clinic)
    assert resource["date"] == instant(hers.ready_at)  # type: ignore[arg-type]
    [content] = resource["content"]
    assert content["attachment"]["contentType"] == PDF
    assert content["attachment"]["url"] == f"Binary/{hers.public_id}"
    # A letter still being prepared has no document yet.
    refused(client, f"DocumentReference/{queued.public_id}", 404)


@pytest.mark.django_db
def test_letters_are_read_by_the_clinical_staff_only(world: World, client_for: Browser) -> None:
    hers, his, _ = _letters(world)
    both = {str(hers.public_id), str(his.public_id)}
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "DocumentReference"))) == both
    # The letters page and its download are the clinical staff's: the patients, the front desk
    # and another clinic read none.
    for persona in ("alice", "bob", "front_desk", "other_physician"):
        client = client_for(persona)
        assert ids_of(fhir(client, "DocumentReference")) == [], persona
        refused(client, f"DocumentReference/{hers.public_id}", 404)


@pytest.mark.django_db
def test_letters_are_searched_by_patient_date_status_and_type(
    world: World, client_for: Browser
) -> None:
    hers, his, _ = _letters(world)
    Letter.objects.filter(pk=his.pk).update(ready_at=timezone.now() - dt.timedelta(days=40))
    client = client_for("nurse")
    a = world.alice_patient.public_id
    assert ids_of(fhir(client, f"DocumentReference?patient={a}")) == [str(hers.public_id)]
    assert ids_of(fhir(client, f"DocumentReference?subject=Patient/{a}")) == [str(hers.public_id)]
    today = timezone.localdate()
    assert ids_of(fhir(client, f"DocumentReference?date={today}")) == [str(hers.public_id)]
    assert ids_of(fhir(client, f"DocumentReference?date=lt{today}")) == [str(his.public_id)]
    assert len(ids_of(fhir(client, "DocumentReference?status=current"))) == 2
    assert ids_of(fhir(client, "DocumentReference?status=superseded")) == []
    system = "https://ketaclinic.org/fhir/CodeSystem/document-type"
    assert len(ids_of(fhir(client, f"DocumentReference?type={system}|progress-letter"))) == 2
    assert ids_of(fhir(client, "DocumentReference?type=http://loinc.org|11506-3")) == []


@pytest.mark.django_db
def test_a_page_of_100_letters_costs_the_queries_of_a_page_of_10(
    world: World, client_for: Browser
) -> None:
    first = ready_letter(world)
    Letter.objects.bulk_create(
        Letter(
            clinic=world.clinic,
            patient=world.bob_patient if n % 2 else world.alice_patient,
            requested_by=world.nurse,
            status=first.status,
            pdf_file=first.pdf_file.name,
            ready_at=timezone.now(),
        )
        for n in range(110)
    )
    client = client_for("physician")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"DocumentReference?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)


# --- Binary -----------------------------------------------------------------------------------


def _exports(letter: Letter) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_type="progress_letter", action="export", object_id=str(letter.public_id)
        )
    )


@pytest.mark.django_db
def test_the_binary_is_the_pdf_or_fhir_json_as_the_client_asks(
    world: World, client_for: Browser
) -> None:
    hers, _, _ = _letters(world)
    client = client_for("physician")
    path = f"{BASE}Binary/{hers.public_id}"
    for accept in (PDF, "*/*", "", "text/html,application/xhtml+xml,*/*;q=0.8"):
        response = client.get(path, headers={"Accept": accept} if accept else None)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == PDF
        assert response.content == CONTENT
        assert "no-store" in response["Cache-Control"]
    for accept in (FHIR_JSON, "application/json", f"{PDF};q=0.5, {FHIR_JSON}", f"{FHIR_JSON}, */*"):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response["Content-Type"].startswith(FHIR_JSON)
        resource = valid(response.json())
        assert resource["resourceType"] == "Binary"
        assert resource["id"] == str(hers.public_id)
        assert resource["contentType"] == PDF
        assert resource["securityContext"] == _ref("DocumentReference", hers)
        assert base64.b64decode(resource["data"]) == CONTENT
    # _format asks for JSON whatever the Accept header says.
    assert client.get(f"{path}?_format=json", headers={"Accept": PDF}).json()["data"]
    refused_body = client.get(path, headers={"Accept": "text/html"})
    assert refused_body.status_code == 406
    assert refused_body.json()["resourceType"] == "OperationOutcome"
    # Each read that gave the letter away is one export event, as the download page writes.
    events = _exports(hers)
    assert len(events) == 9
    assert {(e.patient_id, e.actor_id) for e in events} == {
        (world.alice_patient.pk, world.physician.pk)
    }
    assert {e.detail["format"] for e in events} == {"pdf", "json"}


@pytest.mark.django_db
def test_the_binary_is_read_by_the_letters_readers_only(world: World, client_for: Browser) -> None:
    hers, his, queued = _letters(world)
    path = f"{BASE}Binary/{hers.public_id}"
    assert Client().get(path).status_code == 401
    for persona in ("alice", "bob", "front_desk", "other_physician"):
        response = client_for(persona).get(path)
        assert response.status_code == 404, persona
        assert response.json()["issue"][0]["code"] == "not-found"
    nurse = client_for("nurse")
    assert nurse.get(f"{BASE}Binary/{his.public_id}").status_code == 200
    # Not drawn yet, or no such id: nothing to give.
    assert nurse.get(f"{BASE}Binary/{queued.public_id}").status_code == 404
    assert nurse.get(f"{BASE}Binary/not-an-id").status_code == 404
    assert _exports(hers) == []
    # Binary is read only: not a searchable type, and listed so.
    refused(nurse, "Binary", 404)
    statement = fhir(Client(), "metadata")
    [binary] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Binary"]
    assert binary["interaction"] == [{"code": "read"}]


@pytest.mark.django_db
def test_a_missing_file_is_a_404_and_no_export(world: World, client_for: Browser) -> None:
    hers = ready_letter(world)
    hers.pdf_file.storage.delete(hers.pdf_file.name)
    response = client_for("physician").get(f"{BASE}Binary/{hers.public_id}")
    assert response.status_code == 404
    assert _exports(hers) == []


@pytest.mark.django_db
def test_a_backend_reads_the_binary_with_the_document_references_scope(world: World) -> None:
    hers = ready_letter(world)
    backend, secret = _backend(world)
    path = f"{BASE}Binary/{hers.public_id}"

    def read(scope: str) -> int:
        token = _client_credentials(backend, secret, scope).json()["access_token"]
        return Client().get(path, headers={"Authorization": f"Bearer {token}"}).status_code

    assert read("system/DocumentReference.read") == 200
    assert read("system/*.read") == 200
    assert read("system/Patient.read") == 403
    [first, _] = _exports(hers)
    assert first.actor_id is None
    assert first.detail["client"] == backend.application.client_id


# --- Provenance -------------------------------------------------------------------------------


def _signatures(world: World) -> dict[str, Any]:
    """A signed and a draft consultation of Alice's, her signed plan and a draft of Bob's, a
    signed and an unsigned infusion session of Alice's."""
    signed_at = timezone.now() - dt.timedelta(days=3)
    visit = make_consultation(world.alice_patient, world.physician, signed_at=signed_at)
    unsigned_visit = make_consultation(world.alice_patient, world.physician)
    plan = signed(world)
    draft(world, world.bob_patient)
    ended = timezone.now() - dt.timedelta(hours=2)
    session = bare_session(
        world,
        world.alice_patient,
        None,
        status=SessionStatus.DEFERRED,
        deferred_reason="Blood pressure 172/104.",
        signed_by=world.physician,
        signed_at=ended,
    )
    open_session = bare_session(world, world.bob_patient, None)
    return {
        "visit": visit,
        "unsigned_visit": unsigned_visit,
        "plan": plan,
        "session": session,
        "open_session": open_session,
        # signed() signs an eligibility decision first: its consultation is signed too.
        "decision_visits": list(
            Consultation.objects.filter(patient=world.alice_patient, decision__isnull=False)
        ),
    }


@pytest.mark.django_db
def test_each_signed_record_has_a_provenance_naming_the_signer(
    world: World, client_for: Browser
) -> None:
    records = _signatures(world)
    client = client_for("physician")
    signed_rows = [
        records["visit"],
        *records["decision_visits"],
        records["plan"],
        records["session"],
    ]
    assert set(ids_of(fhir(client, "Provenance?_count=100"))) == {
        str(row.public_id) for row in signed_rows
    }
    visit = fhir(client, f"Provenance/{records['visit'].public_id}")
    assert visit["target"] == [_ref("Encounter", records["visit"])]
    assert visit["recorded"] == instant(records["visit"].signed_at)
    assert visit["activity"]["coding"][0]["code"] == "LA"
    [agent] = visit["agent"]
    assert agent["who"] == _ref("Practitioner", world.physician)
    assert agent["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
        "code": "legal",
        "display": "Legal Authenticator",
    }
    plan = fhir(client, f"Provenance/{records['plan'].public_id}")
    # One signature signs the plan and its ketamine protocol.
    assert plan["target"] == [
        _ref("CarePlan", records["plan"]),
        _ref("MedicationRequest", records["plan"]),
    ]
    session = fhir(client, f"Provenance/{records['session'].public_id}")
    assert session["target"] == [_ref("Encounter", records["session"])]
    assert session["location"] == _ref("Location", world.cleveland)
    for unsigned in ("unsigned_visit", "open_session"):
        refused(client, f"Provenance/{records[unsigned].public_id}", 404)


@pytest.mark.django_db
def test_provenance_is_clinical_content(world: World, client_for: Browser) -> None:
    records = _signatures(world)
    bob_visit = make_consultation(world.bob_patient, world.physician, signed_at=timezone.now())
    plan = str(records["plan"].public_id)
    signatures = {plan, str(records["visit"].public_id), str(bob_visit.public_id)}
    for persona in ("nurse", "physician", "clinic_admin"):
        assert signatures <= set(ids_of(fhir(client_for(persona), "Provenance?_count=100")))
    backend, secret = _backend(world)
    system = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    assert signatures <= set(ids_of(_read("Provenance?_count=100", system)))
    # Who signed what is read as the notes are (assessments.access.READERS): no patient reads
    # it, not even of her own records, though Alice reads her signed plan itself.
    assert fhir(client_for("alice"), f"CarePlan/{plan}")["id"] == plan
    for persona in ("alice", "bob", "front_desk", "other_physician"):
        client = client_for(persona)
        assert ids_of(fhir(client, "Provenance?_count=100")) == [], persona
        hidden(client, "Provenance", signatures)


@pytest.mark.django_db
def test_provenance_is_searched_by_patient_target_agent_and_recorded(
    world: World, client_for: Browser
) -> None:
    records = _signatures(world)
    bob_visit = make_consultation(world.bob_patient, world.physician, signed_at=timezone.now())
    client = client_for("nurse")
    b = world.bob_patient.public_id
    assert ids_of(fhir(client, f"Provenance?patient={b}")) == [str(bob_visit.public_id)]
    session = records["session"]
    assert ids_of(fhir(client, f"Provenance?target=Encounter/{session.public_id}")) == [
        str(session.public_id)
    ]
    plan = records["plan"]
    for target in (f"CarePlan/{plan.public_id}", f"MedicationRequest/{plan.public_id}"):
        assert ids_of(fhir(client, f"Provenance?target={target}")) == [str(plan.public_id)]
    # The id of a plan, named as an Encounter, is no Encounter's.
    assert ids_of(fhir(client, f"Provenance?target=Encounter/{plan.public_id}")) == []
    assert len(
        ids_of(
            fhir(client, f"Provenance?agent=Practitioner/{world.physician.public_id}&_count=100")
        )
    ) == len(ids_of(fhir(client, "Provenance?_count=100")))
    assert ids_of(fhir(client, f"Provenance?agent=Practitioner/{world.nurse.public_id}")) == []
    three_days_ago = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    assert str(records["visit"].public_id) in ids_of(
        fhir(client, f"Provenance?recorded={three_days_ago}")
    )
    assert str(records["visit"].public_id) not in ids_of(
        fhir(client, f"Provenance?recorded=gt{three_days_ago}&_count=100")
    )


@pytest.mark.django_db
def test_a_page_of_100_provenances_costs_the_queries_of_a_page_of_10(
    world: World, client_for: Browser
) -> None:
    now = timezone.now()
    for n in range(50):
        patient = world.bob_patient if n % 2 else world.alice_patient
        make_consultation(patient, world.physician, signed_at=now)
        bare_session(
            world,
            patient,
            None,
            status=SessionStatus.DEFERRED,
            deferred_reason="Not today.",
            signed_by=world.physician,
            signed_at=now,
        )
    for patient in (world.alice_patient, world.bob_patient):
        for _ in range(2):
            signed(world, patient)
    assert Plan.objects.filter(signed_at__isnull=False).count() == 4
    assert InfusionSession.objects.count() == 50
    client = client_for("physician")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"Provenance?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)
