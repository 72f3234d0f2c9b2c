"""QuestionnaireResponse from the public self-check: once attached to her record, one response
per instrument it scored (DN4 interview, ID Pain, S-LANSS), each with its own id, the answers as
the self-check scored them and the score it showed; read by whoever reads her diary, never
while anonymous; searched, exported, and given ids for the self-checks stored before."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.instruments import REGISTRY as INSTRUMENTS
from ketaclinic.fhir.models import BulkExport
from ketaclinic.fhir.resources.base import instant
from ketaclinic.fhir.resources.questionnaire import questionnaire_url
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.screening.models import SelfCheck, SelfCheckResult
from ketaclinic.screening.questions import SCREENING_CODES
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests.conftest import World
from tests.fhir.exports import run_export
from tests.fhir.test_fhir_answers import _answers, _score
from tests.fhir.test_fhir_api import BASE, fhir, ids_of, refused
from tests.fhir.test_smart_oauth import _bearer, _client_credentials
from tests.fhir.validate import valid
from tests.screening.helpers import answers

Browser = Callable[[str], Client]

pytestmark = pytest.mark.django_db


def _attached(world: World, patient: Any = None, **overrides: Any) -> SelfCheck:
    check = selfcheck_submit(answers=answers(**overrides))
    return selfcheck_attach(
        actor=Actor(user=world.front_desk), selfcheck=check, patient=patient or world.alice_patient
    )


def _ids(check: SelfCheck) -> dict[str, str]:
    return {r.instrument: str(r.public_id) for r in SelfCheckResult.objects.filter(selfcheck=check)}


def test_an_attached_self_check_reads_as_a_response_per_instrument_with_the_score_shown(
    world: World, client_for: Browser
) -> None:
    check = _attached(world)
    assert check.attached_at is not None
    ids = _ids(check)
    assert set(ids) == set(SCREENING_CODES)
    assert len(set(ids.values())) == 3  # an id each, none the self-check's own
    assert str(check.public_id) not in ids.values()
    client = client_for("physician")
    alice = {"reference": f"Patient/{world.alice_patient.public_id}"}
    for code, resource_id in ids.items():
        before = AuditEvent.objects.filter(patient=world.alice_patient).count()
        found = valid(fhir(client, f"QuestionnaireResponse/{resource_id}"))
        # One read event for her, as every read of her record.
        assert AuditEvent.objects.filter(patient=world.alice_patient).count() == before + 1
        assert found["questionnaire"] == questionnaire_url(code)
        assert found["status"] == "completed"
        assert found["subject"] == found["author"] == found["source"] == alice
        assert found["authored"] == instant(check.created_at)
        assert found["meta"]["lastUpdated"] == instant(check.attached_at)
        shown = check.scores[code]
        assert _score(found)["total"] == shown["total"]
        assert _score(found)["positive"] == shown["positive"]
        # Every item of the instrument, answered as she answered the shared questions: the
        # yeses were burning and numbness (``answers``), which each instrument words its own
        # way (S-LANSS has no numbness item).
        items = {item.key for item in INSTRUMENTS[code].items}
        assert set(_answers(found)) == items
        yes = {key for key, value in _answers(found).items() if value == "yes"}
        assert yes == YESES[code]


#: The items each instrument asks about burning and numbness (the registry's item keys).
YESES = {
    "dn4-interview": {"burning", "numbness"},
    "id-pain": {"hot_burning", "numb"},
    "s-lanss": {"hot_burning"},
}


def test_she_and_the_clinical_staff_read_them_the_front_desk_and_others_do_not(
    world: World, client_for: Browser
) -> None:
    hers = set(_ids(_attached(world)).values())
    bobs = set(_ids(_attached(world, world.bob_patient)).values())
    anonymous = set(_ids(selfcheck_submit(answers=answers())).values())
    for persona in ("nurse", "physician", "clinic_admin"):
        assert set(ids_of(fhir(client_for(persona), "QuestionnaireResponse?_count=100"))) == (
            hers | bobs
        )
    alice = client_for("alice")
    assert set(ids_of(fhir(alice, "QuestionnaireResponse"))) == hers
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    token = _client_credentials(backend, secret, "system/QuestionnaireResponse.read")
    bundle = Client().get(
        f"{BASE}QuestionnaireResponse?_count=100", headers=_bearer(token.json()["access_token"])
    )
    assert set(ids_of(valid(bundle.json()))) == hers | bobs
    assert ids_of(fhir(client_for("front_desk"), "QuestionnaireResponse")) == []
    before = AuditEvent.objects.count()
    for persona, outside in (
        ("alice", bobs),
        ("front_desk", hers),
        ("other_physician", hers),
        ("physician", anonymous),  # an anonymous self-check is in no one's record
    ):
        for resource_id in outside:
            refused(client_for(persona), f"QuestionnaireResponse/{resource_id}", 404)
    assert AuditEvent.objects.count() == before  # a refusal reads nothing, so audits nothing


def test_searches_by_patient_questionnaire_status_authored_and_last_updated(
    world: World, client_for: Browser
) -> None:
    hers = _ids(_attached(world))
    bobs = _ids(_attached(world, world.bob_patient))
    client = client_for("nurse")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"QuestionnaireResponse?_count=100&{query}")))

    alice = world.alice_patient.public_id
    assert found(f"patient={alice}") == set(hers.values())
    assert found(f"subject=Patient/{world.bob_patient.public_id}") == set(bobs.values())
    assert found(f"questionnaire={questionnaire_url('s-lanss')}") == {
        hers["s-lanss"],
        bobs["s-lanss"],
    }
    assert found(f"patient={alice}&questionnaire=id-pain,dn4-interview") == {
        hers["id-pain"],
        hers["dn4-interview"],
    }
    assert found(f"patient={alice}&status=completed") == set(hers.values())
    assert found(f"patient={alice}&status=in-progress") == set()
    now = dt.datetime.now(dt.UTC)
    later = (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert found(f"patient={alice}&authored=gt{earlier}") == set(hers.values())
    assert found(f"patient={alice}&authored=gt{later}") == set()
    assert found(f"patient={alice}&_lastUpdated=gt{earlier}") == set(hers.values())
    assert found(f"patient={alice}&_lastUpdated=gt{later}") == set()
    include = "_include=QuestionnaireResponse:patient"
    bundle = fhir(client, f"QuestionnaireResponse?_id={hers['id-pain']}&{include}")
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "QuestionnaireResponse",
        "Patient",
    ]


def test_a_bulk_export_holds_them(world: World, django_capture_on_commit_callbacks: Any) -> None:
    hers = _ids(_attached(world))
    anonymous = _ids(selfcheck_submit(answers=answers()))
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    token = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    with django_capture_on_commit_callbacks(execute=False):
        kickoff = Client().get(
            f"{BASE}$export?_type=QuestionnaireResponse",
            headers={"Prefer": "respond-async"} | _bearer(token),
        )
    assert kickoff.status_code == 202
    export = BulkExport.objects.get()
    run_export(export.pk)
    export.refresh_from_db()
    lines = set()
    for each in export.files.filter(count__gt=0):
        url = reverse("fhir:export_file", args=[each.public_id])
        response = Client().get(url, headers=_bearer(token))
        assert response.status_code == 200
        lines |= {valid(json.loads(line))["id"] for line in response.getvalue().splitlines()}
    assert set(hers.values()) <= lines
    assert not set(anonymous.values()) & lines


def test_the_migration_gives_the_self_checks_stored_before_an_id_per_instrument(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = [
        selfcheck_submit(answers=answers()),
        _attached(world),
        _attached(world, world.bob_patient),
    ]
    SelfCheckResult.objects.all().delete()  # as they were before the migration
    migration = importlib.import_module("ketaclinic.screening.migrations.0002_selfcheck_results")
    monkeypatch.setattr(migration, "FILL_BATCH", 2)  # a batch boundary crossed
    migration.fill(apps, None)
    for check in stored:
        assert set(_ids(check)) == set(check.scores) == set(SCREENING_CODES)
    assert SelfCheckResult.objects.values("public_id").distinct().count() == 9
