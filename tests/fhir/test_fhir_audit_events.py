"""AuditEvent: the clinic's audit trail through the FHIR API, for its admins only (signed in),
every kind of event a valid R4 AuditEvent, searched by patient, date, agent and action, its
reading audited as the audit page audits it, at a cost flat in the page size; and the migration
that gave every event its public id, which changed no hash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.integrity import chain_verify
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.fhir.services import fhir_client_register
from tests.conftest import World
from tests.factories.accounts import make_user
from tests.fhir.test_fhir_api import fhir, ids_of, refused, walk
from tests.fhir.test_smart_oauth import _bearer, _client_credentials, _patient_app, _token_for
from tests.fhir.validate import valid

Browser = Callable[[str], Client]
DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _record(**fields: Any) -> AuditEvent:
    with transaction.atomic():
        return audit_record(**fields)


def _trail(world: World) -> dict[str, AuditEvent]:
    """One event of each kind the trail holds, in the clinic's chain."""
    nurse = Actor(user=world.nurse, ip="203.0.113.9")
    return {
        "chart": _record(
            actor=nurse, action=Action.READ, object_type="patient_chart",
            object_id=world.alice_patient.public_id, patient=world.alice_patient,
        ),
        "diary": _record(
            actor=Actor(user=world.alice, ip="2001:db8::7"), action=Action.CREATE,
            object_type="diary_entry", object_id=41, patient=world.alice_patient,
            detail={"instrument": "nrs", "date": "2026-01-02", "fields": ["answers", "score"],
                    "via_link": False},
        ),
        "sign": _record(
            actor=Actor(user=world.physician), action=Action.SIGN, object_type="consultation",
            object_id=7, patient=world.bob_patient, detail={"fields": ["status"]},
        ),
        "login": _record(actor=nurse, action=Action.LOGIN, object_type="user", object_id=3),
        "refused": _record(
            actor=Actor(user=None, ip="198.51.100.4"), action=Action.LOGIN_REFUSED,
            object_type="user", clinic=world.clinic,
        ),
        "settings": _record(
            actor=Actor(user=world.clinic_admin), action=Action.UPDATE,
            object_type="clinic_policy", object_id=2, clinic=world.clinic,
            detail={"fields": ["max_dose"], "location": 12},
        ),
        "export": _record(
            actor=Actor(user=None), action=Action.EXPORT, object_type="fhir_export",
            clinic=world.clinic, detail={"types": ["Patient"]},
        ),
        "purge": _record(
            actor=Actor(user=None), action=Action.DELETE, object_type="diary_link_purge",
            clinic=world.clinic, detail={"removed": 3},
        ),
        "elsewhere": _record(
            actor=Actor(user=world.other_physician), action=Action.READ,
            object_type="patient_chart", patient=world.other_patient,
        ),
    }  # fmt: skip


def _ours(trail: dict[str, AuditEvent]) -> set[str]:
    return {str(e.public_id) for name, e in trail.items() if name != "elsewhere"}


def _search(client: Client, query: str = "") -> set[str]:
    found, _ = walk(client, f"AuditEvent?_count=100&{query}")
    return set(found)


@pytest.mark.django_db
def test_only_the_clinics_admins_read_the_trail(world: World, client_for: Browser) -> None:
    trail = _trail(world)
    admin = client_for("clinic_admin")
    assert _ours(trail) <= _search(admin)
    assert str(trail["elsewhere"].public_id) not in _search(admin)
    refused(admin, f"AuditEvent/{trail['elsewhere'].public_id}", 404)
    for persona in ("alice", "bob", "front_desk", "nurse", "physician", "other_physician"):
        said = refused(client_for(persona), "AuditEvent", 403)
        assert "admins" in said
        refused(client_for(persona), f"AuditEvent/{trail['chart'].public_id}", 403)
    # Another clinic's admin reads her own clinic's trail, never ours.
    theirs = Client()
    theirs.force_login(make_user(world.other_clinic, "clinic_admin"))
    assert str(trail["elsewhere"].public_id) in _search(theirs)
    assert not _ours(trail) & _search(theirs)
    refused(theirs, f"AuditEvent/{trail['chart'].public_id}", 404)


@pytest.mark.django_db
def test_no_token_reads_the_trail_whatever_its_scopes(world: World, client_for: Browser) -> None:
    trail = _trail(world)
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    system = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    patient = _token_for(client_for("alice"), _patient_app(world), "patient/*.read")
    for token in (system, patient["access_token"]):
        for path in ("AuditEvent", f"AuditEvent/{trail['chart'].public_id}"):
            response = Client().get(f"/fhir/R4/{path}", headers=_bearer(token))
            assert response.status_code == 403, response.content[:200]
            assert valid(response.json())["resourceType"] == "OperationOutcome"
    # And no scope names it: a backend cannot ask for it.
    assert _client_credentials(backend, secret, "system/AuditEvent.read").status_code == 400


@pytest.mark.django_db
def test_every_kind_of_event_is_a_valid_r4_audit_event(world: World, client_for: Browser) -> None:
    trail = _trail(world)
    admin = client_for("clinic_admin")
    bundle = fhir(admin, "AuditEvent?_count=100")  # every entry validated
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    clinic = {"reference": f"Organization/{world.clinic.public_id}"}

    chart = by_id[str(trail["chart"].public_id)]
    assert chart["type"] == {"system": DCM, "code": "110110", "display": "Patient Record"}
    assert chart["action"] == "R"
    assert chart["outcome"] == "0"
    assert chart["recorded"].startswith(
        trail["chart"].occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    )
    [agent] = chart["agent"]
    assert agent["who"] == {"reference": f"Practitioner/{world.nurse.public_id}"}
    assert agent["role"][0]["coding"][0]["code"] == "nurse"
    assert agent["requestor"] is True
    assert agent["network"] == {"address": "203.0.113.9", "type": "2"}
    assert chart["source"]["observer"] == clinic
    patient, thing = chart["entity"]
    assert patient["what"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert thing["type"]["code"] == "patient_chart"
    assert thing["what"]["identifier"]["value"] == f"urn:uuid:{world.alice_patient.public_id}"
    assert chart["subtype"][-1]["display"] == "Viewed the patient chart"

    diary = by_id[str(trail["diary"].public_id)]
    assert diary["action"] == "C"
    assert diary["agent"][0]["who"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    thing = diary["entity"][-1]
    assert "what" not in thing  # its object id is a database id: never shown
    assert {d["type"]: d["valueString"] for d in thing["detail"]} == {
        "fields": "answers, score",
        "instrument": "nrs",
    }
    assert by_id[str(trail["sign"].public_id)]["action"] == "U"

    login = by_id[str(trail["login"].public_id)]
    assert login["type"]["code"] == "110114"
    assert login["subtype"][0] == {"system": DCM, "code": "110122", "display": "Login"}
    assert login["action"] == "E"
    refusal = by_id[str(trail["refused"].public_id)]
    assert refusal["outcome"] == "4"
    assert refusal["agent"][0]["requestor"] is False

    settings = by_id[str(trail["settings"].public_id)]
    assert settings["type"]["system"] == "https://ketaclinic.org/fhir/CodeSystem/audit-event"
    assert settings["agent"][0]["who"] == {
        "reference": f"Practitioner/{world.clinic_admin.public_id}"
    }
    assert [d["type"] for d in settings["entity"][-1]["detail"]] == ["fields"]
    assert by_id[str(trail["export"].public_id)]["type"]["code"] == "110106"
    assert by_id[str(trail["purge"].public_id)]["action"] == "D"
    # Reading the trail is an event too, and it reads as one.
    reading = AuditEvent.objects.filter(object_type="audit_log").latest("id")
    assert fhir(admin, f"AuditEvent/{reading.public_id}")["type"]["code"] == "110101"


@pytest.mark.django_db
def test_reading_the_trail_is_audited_as_the_audit_page_audits_it(
    world: World, client_for: Browser
) -> None:
    trail = _trail(world)
    admin = client_for("clinic_admin")
    before = AuditEvent.objects.count()
    fhir(admin, "AuditEvent?_count=100")
    fhir(admin, f"AuditEvent/{trail['chart'].public_id}")
    fhir(admin, "AuditEvent?action=D&date=1990")  # none found: still a read of the trail
    new = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.object_type, e.patient_id, e.actor_id) for e in new] == [
        ("read", "audit_log", None, world.clinic_admin.pk)
    ] * 3
    assert [e.detail["interaction"] for e in new] == ["search", "read", "search"]
    # The audit page writes the same event for its own reads.
    page = admin.get("/clinic/audit/")
    assert page.status_code == 200
    assert AuditEvent.objects.latest("id").object_type == "audit_log"


@pytest.mark.django_db
def test_searches_by_patient_date_agent_and_action(world: World, client_for: Browser) -> None:
    trail = _trail(world)
    admin = client_for("clinic_admin")
    ids = {name: str(event.public_id) for name, event in trail.items()}
    assert _search(admin, f"patient={world.alice_patient.public_id}") == {
        ids["chart"],
        ids["diary"],
    }
    assert _search(admin, f"agent=Practitioner/{world.nurse.public_id}") == {
        ids["chart"],
        ids["login"],
    }
    assert _search(admin, f"agent=Patient/{world.alice_patient.public_id}") == {ids["diary"]}
    assert _search(admin, f"agent={world.physician.public_id}") == {ids["sign"]}
    # The type a reference names, by its value or by a :[type] modifier, is the agent's.
    assert _search(admin, f"agent:Practitioner={world.nurse.public_id}") == {
        ids["chart"],
        ids["login"],
    }
    assert _search(admin, f"agent:Patient={world.nurse.public_id}") == set()
    assert _search(admin, f"agent=Location/{world.nurse.public_id}") == set()
    assert _search(admin, "action=C") == {ids["diary"]}
    assert _search(admin, "action=http://hl7.org/fhir/audit-event-action|C") == {ids["diary"]}
    assert _search(admin, "action=http://example.org/verbs|C") == set()
    assert ids["sign"] in _search(admin, "action=U")
    assert _search(admin, "action=D") == {ids["purge"]}
    assert {ids["login"], ids["refused"]} <= _search(admin, "action=E")
    assert ids["chart"] not in _search(admin, "action=E")
    today = timezone.localdate().isoformat()
    assert _ours(trail) <= _search(admin, f"date={today}")
    assert _search(admin, "date=lt2000-01-01") == set()
    assert _ours(trail) <= _search(admin, f"_lastUpdated=ge{today}")
    assert _search(admin, f"_id={ids['export']}") == {ids["export"]}


@pytest.mark.django_db
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(world: World, client_for: Browser) -> None:
    people = [world.nurse, world.physician, world.alice, world.clinic_admin, None]
    for n in range(110):
        _record(
            actor=Actor(user=people[n % 5], ip="203.0.113.1"),
            action=Action.READ,
            object_type="patient_chart",
            patient=world.alice_patient if n % 2 else world.bob_patient,
            clinic=world.clinic,
        )
    admin = client_for("clinic_admin")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(admin, f"AuditEvent?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)


# --- the migration ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_event_its_own_public_id_and_changes_no_hash(
    world: World,
) -> None:
    from django.db.migrations.executor import MigrationExecutor

    _trail(world)
    hashes = list(AuditEvent.objects.order_by("id").values_list("id", "hash"))
    before = [("audit", "0006_audit_page_indexes")]
    executor = MigrationExecutor(connection)
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]
    executor.migrate(before)
    report = chain_verify()
    assert (report.broken, report.missing_triggers) == ([], [])
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    assert list(AuditEvent.objects.order_by("id").values_list("id", "hash")) == hashes
    given = list(AuditEvent.objects.values_list("public_id", flat=True))
    assert None not in given
    assert len(set(given)) == len(given) == len(hashes)
    report = chain_verify()
    assert (report.events, report.broken, report.missing_triggers) == (len(hashes), [], [])
    call_command("audit", "verify")  # exits 0
    # The triggers are back: an event cannot be changed or removed, even by SQL.
    for statement in (
        "UPDATE audit_auditevent SET public_id = NULL",
        "DELETE FROM audit_auditevent",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            connection.cursor().execute(statement)
    # New events carry on the chain with their own ids.
    event = _record(actor=Actor(user=world.nurse), action=Action.READ, object_type="patient")
    assert event.public_id not in given
    assert chain_verify().intact
