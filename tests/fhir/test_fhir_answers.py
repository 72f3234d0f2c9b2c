"""QuestionnaireResponse: the diary's answers and the exam's DN4 as responses (their items, the
score, who answered, who reads them, searched by patient, questionnaire, status and day), and
the API's one write: a patient app posts her daily pain score or her weekly PEG, and it is a
diary entry, saved by the diary's own service; every refusal an OperationOutcome naming what is
at fault, and nothing saved."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir.resources.questionnaire import ANSWER_SYSTEM, questionnaire_url
from ketaclinic.fhir.resources.questionnaire_response import SCORE_EXTENSION
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.outcomes.diary.services import diary_entry_record
from ketaclinic.outcomes.models import DiaryEntry, EntrySource
from tests.clock import today
from tests.conftest import World
from tests.factories.assessments import complete, signed
from tests.fhir.test_fhir_api import BASE, FHIR_JSON, fhir, ids_of, refused
from tests.fhir.test_fhir_observations import _joined_long_ago
from tests.fhir.test_smart_oauth import _bearer, _client_credentials, _patient_app, _token_for
from tests.fhir.validate import valid

Browser = Callable[[str], Client]
WRITE = "patient/*.read patient/QuestionnaireResponse.write launch/patient"


def _score(resource: dict[str, Any]) -> dict[str, Any]:
    [extension] = [e for e in resource["extension"] if e["url"] == SCORE_EXTENSION]
    parts = extension["extension"]
    return {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in parts}


def _answers(resource: dict[str, Any]) -> dict[str, str]:
    return {item["linkId"]: item["answer"][0]["valueCoding"]["code"] for item in resource["item"]}


def _diary(world: World) -> tuple[DiaryEntry, DiaryEntry, DiaryEntry]:
    _joined_long_ago(world)
    day = today()
    nrs = diary_entry_record(
        actor=Actor(user=world.alice), patient=world.alice_patient, instrument="nrs",
        entry_date=day - dt.timedelta(days=1), answers={"pain": 4},
    )  # fmt: skip
    peg = diary_entry_record(
        actor=Actor(user=world.alice), patient=world.alice_patient, instrument="peg",
        entry_date=day, answers={"pain": 6, "enjoyment": 5, "general_activity": 3},
    )  # fmt: skip
    bobs = diary_entry_record(
        actor=Actor(user=None), patient=world.bob_patient, instrument="pgic", entry_date=day,
        answers={"change": 2},
    )  # fmt: skip
    return nrs, peg, bobs


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_diary_entry_reads_as_her_answers_to_the_instrument_with_its_score(
    world: World, client_for: Browser
) -> None:
    nrs, peg, bobs = _diary(world)
    client = client_for("physician")
    daily = fhir(client, f"QuestionnaireResponse/{nrs.public_id}")
    alice = {"reference": f"Patient/{world.alice_patient.public_id}"}
    assert daily["questionnaire"] == "https://ketaclinic.org/fhir/Questionnaire/nrs"
    assert daily["status"] == "completed"
    assert daily["subject"] == daily["author"] == daily["source"] == alice
    assert daily["authored"] == nrs.entry_date.isoformat()  # her day, not the moment saved
    [item] = daily["item"]
    assert item["linkId"] == "pain"
    assert item["answer"] == [
        {
            "valueCoding": {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                        "valueDecimal": 4,
                    }
                ],
                "system": ANSWER_SYSTEM,
                "code": "4",
                "display": "4",
            }
        }
    ]
    assert _score(daily) == {"total": 4, "band": "moderate"}
    weekly = fhir(client, f"QuestionnaireResponse/{peg.public_id}")
    assert _answers(weekly) == {"pain": "6", "enjoyment": "5", "general_activity": "3"}
    assert _score(weekly) == {"total": pytest.approx(14 / 3), "band": "moderate"}
    change = fhir(client, f"QuestionnaireResponse/{bobs.public_id}")
    assert change["questionnaire"].endswith("/pgic")
    assert _score(change) == {"total": 2, "band": "much improved"}


@pytest.mark.django_db
def test_the_exam_dn4_reads_as_the_physicians_with_its_visit_and_result(
    world: World, client_for: Browser
) -> None:
    exam = signed(world)
    draft = complete(world, world.bob_patient)
    client = client_for("nurse")
    found = fhir(client, f"QuestionnaireResponse/{exam.public_id}")
    assert found["questionnaire"] == "https://ketaclinic.org/fhir/Questionnaire/dn4"
    assert found["status"] == "completed"
    assert found["encounter"] == {"reference": f"Encounter/{exam.public_id}"}
    assert found["author"] == {"reference": f"Practitioner/{world.physician.public_id}"}
    assert found["authored"] == exam.exam_date.isoformat()
    answers = _answers(found)
    assert len(answers) == 10
    assert answers["burning"] == "yes"
    assert answers["painful_cold"] == "no"
    assert _score(found) == {"total": 5, "band": "likely neuropathic", "positive": True}
    assert fhir(client, f"QuestionnaireResponse/{draft.public_id}")["status"] == "in-progress"


@pytest.mark.django_db
def test_clinical_readers_and_the_patient_read_them_and_the_front_desk_does_not(
    world: World, client_for: Browser
) -> None:
    nrs, peg, bobs = _diary(world)
    exam = signed(world)
    hers = {str(nrs.public_id), str(peg.public_id), str(exam.public_id)}
    everyone = hers | {str(bobs.public_id)}
    for persona in ("nurse", "physician", "clinic_admin"):
        client = client_for(persona)
        assert set(ids_of(fhir(client, "QuestionnaireResponse?_count=100"))) == everyone
    alice = client_for("alice")
    # Her diary's, not her consultation's: the patient does not read her exam on the pages.
    assert set(ids_of(fhir(alice, "QuestionnaireResponse"))) == hers - {str(exam.public_id)}
    refused(alice, f"QuestionnaireResponse/{exam.public_id}", 404)
    refused(alice, f"QuestionnaireResponse/{bobs.public_id}", 404)
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    system = _client_credentials(backend, secret, "system/QuestionnaireResponse.read")
    bundle = Client().get(
        f"{BASE}QuestionnaireResponse?_count=100",
        headers=_bearer(system.json()["access_token"]),
    )
    assert set(ids_of(valid(bundle.json()))) == everyone
    desk = client_for("front_desk")
    assert ids_of(fhir(desk, "QuestionnaireResponse")) == []
    refused(desk, f"QuestionnaireResponse/{exam.public_id}", 404)
    assert ids_of(fhir(client_for("other_physician"), "QuestionnaireResponse")) == []
    refused(client_for("other_physician"), f"QuestionnaireResponse/{nrs.public_id}", 404)


@pytest.mark.django_db
def test_searches_by_patient_questionnaire_status_and_day(
    world: World, client_for: Browser
) -> None:
    nrs, peg, bobs = _diary(world)
    exam = signed(world)
    draft = complete(world, world.bob_patient)
    client = client_for("physician")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"QuestionnaireResponse?_count=100&{query}")))

    a = world.alice_patient.public_id
    assert found(f"patient={a}") == {str(nrs.public_id), str(peg.public_id), str(exam.public_id)}
    assert found(f"subject=Patient/{world.bob_patient.public_id}") == {
        str(bobs.public_id),
        str(draft.public_id),
    }
    assert found(f"questionnaire={questionnaire_url('nrs')}") == {str(nrs.public_id)}
    assert found(f"questionnaire={questionnaire_url('peg')}|1.0") == {str(peg.public_id)}
    assert found("questionnaire=Questionnaire/dn4") == {str(exam.public_id), str(draft.public_id)}
    assert found("questionnaire=pgic,peg") == {str(bobs.public_id), str(peg.public_id)}
    assert found("questionnaire=https://example.org/Questionnaire/nrs") == set()
    assert found("status=in-progress") == {str(draft.public_id)}
    assert found("status=completed") == {
        str(nrs.public_id),
        str(peg.public_id),
        str(bobs.public_id),
        str(exam.public_id),
    }
    day = today()
    assert found(f"patient={a}&authored=lt{day.isoformat()}") == {str(nrs.public_id)} | (
        {str(exam.public_id)} if exam.exam_date < day else set()
    )
    assert found(f"authored={(day - dt.timedelta(days=1)).isoformat()}") == {str(nrs.public_id)}
    assert found(f"_id={peg.public_id}") == {str(peg.public_id)}
    include = "_include=QuestionnaireResponse:patient"
    bundle = fhir(client, f"QuestionnaireResponse?_id={exam.public_id}&{include}")
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "include"]


@pytest.mark.django_db
def test_a_page_of_100_costs_the_queries_of_a_page_of_10(world: World, client_for: Browser) -> None:
    _joined_long_ago(world)
    start = today() - dt.timedelta(days=130)
    for n in range(120):
        patient = world.alice_patient if n % 2 else world.bob_patient
        diary_entry_record(
            actor=Actor(user=None), patient=patient, instrument="peg",
            entry_date=start + dt.timedelta(days=n),
            answers={"pain": n % 11, "enjoyment": 3, "general_activity": 2},
        )  # fmt: skip
    for patient in (world.alice_patient, world.bob_patient):
        complete(world, patient)
    client = client_for("physician")

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"QuestionnaireResponse?_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(10) == queries(100)


# --- the one write ----------------------------------------------------------------------------


def _nrs(world: World, pain: object = 6, **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire_url("nrs"),
        "status": "completed",
        "subject": {"reference": f"Patient/{world.alice_patient.public_id}"},
        "authored": today().isoformat(),
        "item": [
            {
                "linkId": "pain",
                "answer": [{"valueCoding": {"system": ANSWER_SYSTEM, "code": str(pain)}}],
            }
        ],
    }
    if pain is None:
        resource["item"] = []
    elif not isinstance(pain, int):
        resource["item"][0]["answer"] = [{"valueInteger": pain}]
    return resource | fields


def _post(
    body: dict[str, Any] | str,
    *,
    token: str | None = None,
    client: Client | None = None,
    content_type: str = FHIR_JSON,
    type_name: str = "QuestionnaireResponse",
) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = _bearer(token) if token else {}
    return (client or Client()).post(
        BASE + type_name, data=data, content_type=content_type, headers=headers
    )


def _refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"].startswith(FHIR_JSON)
    outcome = valid(response.json())
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    return dict(issue)


@pytest.fixture
def token(world: World, client_for: Browser) -> str:
    """Alice's app, authorized (the real flow) to read her record and write to her diary."""
    _joined_long_ago(world)
    granted = _token_for(client_for("alice"), _patient_app(world), WRITE)
    assert set(granted["scope"].split()) == set(WRITE.split())
    access: str = granted["access_token"]
    return access


@pytest.mark.django_db
def test_her_app_records_her_daily_pain_and_it_is_on_her_diary_page(
    world: World, client_for: Browser, token: str
) -> None:
    events = AuditEvent.objects.count()
    response = _post(_nrs(world, 6), token=token)
    assert response.status_code == 201, response.content[:400]
    created = valid(response.json())
    entry = DiaryEntry.objects.get(patient=world.alice_patient, instrument="nrs")
    assert response["Location"] == f"http://testserver{BASE}QuestionnaireResponse/{entry.public_id}"
    assert created["id"] == str(entry.public_id)
    assert (entry.entry_date, entry.answers, entry.score) == (today(), {"pain": 6}, 6)
    assert (entry.source, entry.recorded_by_id, entry.loinc) == (
        EntrySource.PORTAL,
        world.alice.pk,
        "72514-3",
    )
    assert created["author"] == {"reference": f"Patient/{world.alice_patient.public_id}"}
    # The diary's own audit event, once; showing her what she wrote reads nobody else's record.
    new = list(AuditEvent.objects.order_by("id")[events:])
    assert [(e.action, e.object_type) for e in new] == [("create", "diary_entry")]
    assert new[0].patient_id == world.alice_patient.pk
    page = client_for("alice").get("/me/diary/")
    assert "You recorded a pain of <strong>6</strong> today." in page.content.decode()
    read = Client().get(f"{BASE}QuestionnaireResponse/{entry.public_id}", headers=_bearer(token))
    assert read.json() == created
    observation = Client().get(f"{BASE}Observation/{entry.public_id}", headers=_bearer(token))
    assert observation.json()["valueQuantity"]["value"] == 6


@pytest.mark.django_db
def test_her_app_records_a_weekly_peg_with_whole_numbers_for_a_past_day(
    world: World, token: str
) -> None:
    yesterday = today() - dt.timedelta(days=1)
    body = _nrs(world) | {
        "questionnaire": questionnaire_url("peg") + "|1",
        "authored": f"{yesterday.isoformat()}T21:30:00-05:00",
        "item": [
            {"linkId": key, "answer": [{"valueInteger": value}]}
            for key, value in (("pain", 7), ("enjoyment", 6), ("general_activity", 5))
        ],
    }
    response = _post(body, token=token)
    assert response.status_code == 201, response.content[:400]
    entry = DiaryEntry.objects.get(patient=world.alice_patient, instrument="peg")
    assert entry.score == 6
    assert response.json()["authored"] == entry.entry_date.isoformat()
    # 02:30 the next day in UTC, but the diary's day is hers: New York's, where she lives.
    assert entry.entry_date == yesterday


@pytest.mark.django_db
def test_her_signed_in_session_records_too_with_its_csrf_token(world: World) -> None:
    _joined_long_ago(world)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.alice)
    refusal = _refused(_post(_nrs(world), client=browser), 403)
    assert "CSRF" in refusal["diagnostics"]
    assert not DiaryEntry.objects.exists()
    browser.get("/me/diary/")  # the page sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(
        BASE + "QuestionnaireResponse",
        data=json.dumps(_nrs(world, 3)),
        content_type=FHIR_JSON,
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 201, response.content[:400]
    assert DiaryEntry.objects.get().score == 3


def _nothing_saved(world: World, before: tuple[int, int], response: Any, status: int) -> str:
    issue = _refused(response, status)
    entries = AuditEvent.objects.filter(object_type="diary_entry").count()
    assert (DiaryEntry.objects.count(), entries) == before
    return " ".join([str(issue.get("diagnostics", "")), *issue.get("expression", [])])


@pytest.mark.django_db
def test_refusals_of_odd_bodies_repeat_nothing_typed_and_save_nothing(
    world: World, token: str
) -> None:
    before = (0, 0)
    typed = "pain from my new medication"

    def coded(code: str) -> dict[str, Any]:
        answer = {"valueCoding": {"system": ANSWER_SYSTEM, "code": code}}
        return _nrs(world) | {"item": [{"linkId": "pain", "answer": [answer]}]}

    said = _nothing_saved(world, before, _post(coded(typed), token=token), 422)
    assert "whole number" in said
    assert typed not in said  # what she typed is not repeated
    said = _nothing_saved(world, before, _post(_nrs(world, 11), token=token), 422)
    assert "at most 10" in said
    assert "11" not in said
    # Other scripts' digits are not the answer options' codes ("0" to "10").
    for digit in ("\u0663", "\uff13"):  # Arabic-Indic three, fullwidth three
        _nothing_saved(world, before, _post(coded(digit), token=token), 422)
    nested = '{"resourceType":"QuestionnaireResponse","x":' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "nested" in _nothing_saved(world, before, _post(nested, token=token), 400)


@pytest.mark.django_db
def test_every_refusal_names_what_is_at_fault_and_saves_nothing(
    world: World, client_for: Browser, token: str
) -> None:
    diary_entry_record(
        actor=Actor(user=world.alice), patient=world.alice_patient, instrument="nrs",
        entry_date=today() - dt.timedelta(days=2), answers={"pain": 5},
    )  # fmt: skip
    before = (1, 1)
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    peg_missing = _nrs(world) | {
        "questionnaire": questionnaire_url("peg"),
        "item": [{"linkId": "pain", "answer": [{"valueInteger": 4}]}],
    }
    cases: list[tuple[Any, int, str]] = [
        (_post(_nrs(world, 11), token=token), 422, "item.where(linkId='pain')"),
        (_post(_nrs(world, -1), token=token), 422, "item.where(linkId='pain')"),
        (_post(_nrs(world, "7"), token=token), 422, "item.where(linkId='pain')"),
        (_post(_nrs(world, None), token=token), 422, "missing answer"),
        (_post(peg_missing, token=token), 422, "item.where(linkId='enjoyment')"),
        (
            _post(
                _nrs(world)
                | {
                    "item": [
                        {"linkId": "mood", "answer": [{"valueInteger": 1}]},
                        {"linkId": "pain", "answer": [{"valueInteger": 2}]},
                    ]
                },
                token=token,
            ),
            422,
            "mood",
        ),
        (_post(_nrs(world, authored=tomorrow), token=token), 422, "QuestionnaireResponse.authored"),
        (_post(_nrs(world, authored="2020-01-01"), token=token), 422, "before you joined"),
        (_post(_nrs(world, authored="yesterday"), token=token), 400, "authored"),
        (
            _post(
                _nrs(world, subject={"reference": f"Patient/{world.bob_patient.public_id}"}),
                token=token,
            ),
            404,
            "QuestionnaireResponse.subject",
        ),
        (
            _post(
                _nrs(world, subject={"reference": f"Patient/{world.other_patient.public_id}"}),
                token=token,
            ),
            404,
            "subject",
        ),
        (_post(_nrs(world, subject=None), token=token), 400, "subject"),
        (
            _post(_nrs(world, questionnaire=questionnaire_url("pgic")), token=token),
            422,
            "questionnaire",
        ),
        (
            _post(_nrs(world, questionnaire=questionnaire_url("dn4")), token=token),
            422,
            "questionnaire",
        ),
        (
            _post(_nrs(world, questionnaire="https://example.org/q/pain"), token=token),
            422,
            "questionnaire",
        ),
        (
            _post(_nrs(world, status="in-progress"), token=token),
            422,
            "QuestionnaireResponse.status",
        ),
        (_post(_nrs(world), token=token, content_type="application/json"), 415, "Content-Type"),
        (_post("{not json", token=token), 400, "not JSON"),
        (_post({"resourceType": "Observation"}, token=token), 400, "resourceType"),
        (
            _post(_nrs(world, authored=(today() - dt.timedelta(days=2)).isoformat()), token=token),
            409,
            "authored",
        ),
    ]
    for response, status, named in cases:
        said = _nothing_saved(world, before, response, status)
        assert named in said, (status, said)


@pytest.mark.django_db
def test_only_the_patient_writes_her_own_diary(
    world: World, client_for: Browser, token: str
) -> None:
    before = (0, 0)
    # A token that may only read.
    reader = _token_for(client_for("alice"), _patient_app(world), "patient/*.read")["access_token"]
    said = _nothing_saved(world, before, _post(_nrs(world), token=reader), 403)
    assert "patient/QuestionnaireResponse.write" in said
    # A backend system's token, whatever its scopes.
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    system = _client_credentials(backend, secret, "system/*.read").json()["access_token"]
    _nothing_saved(world, before, _post(_nrs(world), token=system), 403)
    # A backend may not even ask for the write.
    asked = _client_credentials(backend, secret, "patient/QuestionnaireResponse.write")
    assert asked.status_code == 400
    # Staff, signed in: they record on the pages (the API's write is the patient's).
    for persona in ("physician", "nurse", "clinic_admin", "front_desk"):
        _nothing_saved(world, before, _post(_nrs(world), client=client_for(persona)), 403)
    _nothing_saved(world, before, _post(_nrs(world)), 401)
    # Another type is read and searched, not created; an unknown one is not served.
    said = _nothing_saved(world, before, _post(_nrs(world), token=token, type_name="Patient"), 405)
    assert "QuestionnaireResponse" in said
    _nothing_saved(world, before, _post(_nrs(world), token=token, type_name="Nothing"), 404)


@pytest.mark.django_db
def test_metadata_and_scopes_offer_the_one_write(client: Client) -> None:
    statement = fhir(client, "metadata")
    for resource in statement["rest"][0]["resource"]:
        codes = {i["code"] for i in resource["interaction"]}
        assert ("create" in codes) == (resource["type"] == "QuestionnaireResponse"), resource[
            "type"
        ]
    scopes = client.get(BASE + ".well-known/smart-configuration").json()["scopes_supported"]
    assert "patient/QuestionnaireResponse.write" in scopes
    assert not [s for s in scopes if s.endswith(".write") and not s.startswith("patient/Questionn")]
    assert not [s for s in scopes if "AuditEvent" in s]
