"""Clients written by others, against a live server: fhirclient (SMART Health IT's Python
client, its R4 models and its own App Launch with PKCE) for a patient app, and
requests-oauthlib's client-credentials flow for a backend system. Each authorizes, reads,
searches and follows the pages, within exactly what the web app gives: the patient app posts a
diary entry, built from the server's Questionnaire, and reads it back; the backend searches,
pages and reads every type the CapabilityStatement states, each resource parsed by fhirclient's
own R4 class, fetches a letter's PDF, and runs a bulk export to completion."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment as FhirAppointment
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.patient import Patient as FhirPatient
from fhirclient.models.questionnaire import Questionnaire as FhirQuestionnaire
from fhirclient.models.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from ketaclinic.audit.api import Actor
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.patients.models import Patient
from tests.clock import today
from tests.conftest import World
from tests.factories import make_patient
from tests.factories.sessions import signed_in_client
from tests.fhir.test_fhir_appointments import _book
from tests.fhir.test_fhir_observations import _diaries
from tests.scheduling.helpers import run_due_jobs

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK = "http://localhost/app-callback"
HIDDEN = r'<input type="hidden" name="([^"]+)" value="([^"]*)"'


@pytest.fixture(autouse=True)
def _plain_http_for_the_test_server() -> Any:
    # oauthlib refuses http outside this flag; the live test server has no TLS.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    yield
    os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


def _browser_session(live_server: Any, world: World) -> requests.Session:
    """Alice's browser: the session cookie of a real sign-in."""
    signed = signed_in_client(world.alice)
    browser = requests.Session()
    for name, cookie in signed.cookies.items():
        # No domain: http.cookiejar sends a cookie for "localhost" only when it names none.
        browser.cookies.set(name, cookie.value)
    return browser


def test_fhirclient_launches_as_a_patient_app_and_reads_her_record(
    live_server: Any, world: World
) -> None:
    import re

    _book(world)
    app, _ = fhir_client_register(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        name="Someone else's app",
        kind="patient_app",
        redirect_uris=[CALLBACK],
    )
    smart = smart_client.FHIRClient(
        settings={
            "app_id": app.application.client_id,
            "api_base": f"{live_server.url}/fhir/R4",
            "redirect_uri": CALLBACK,
            "scope": "patient/*.read patient/QuestionnaireResponse.write launch/patient",
        }
    )
    # fhirclient reads the CapabilityStatement to find the endpoints, and builds its own
    # authorization address with PKCE S256.
    authorize = smart.authorize_url
    assert authorize.startswith(f"{live_server.url}/oauth/authorize/")
    browser = _browser_session(live_server, world)
    consent = browser.get(authorize, allow_redirects=False)
    assert consent.status_code == 200, consent.headers.get("Location")
    form = dict(re.findall(HIDDEN, consent.text))
    answer = browser.post(
        f"{live_server.url}/oauth/authorize/",
        data={**form, "allow": "Authorize"},
        headers={"Referer": authorize},
        allow_redirects=False,
    )
    assert answer.status_code == 302
    smart.handle_callback(answer.headers["Location"])
    assert smart.patient_id == str(world.alice_patient.public_id)
    patient = smart.patient
    assert isinstance(patient, FhirPatient)
    assert patient.name[0].family == world.alice_patient.family_name
    search = FhirAppointment.where(struct={"patient": smart.patient_id})
    found = list(search.perform_resources_iter(smart.server))
    assert len(found) == 2
    assert {a.participant[0].actor.reference for a in found} == {
        f"Patient/{world.alice_patient.public_id}"
    }
    # Bob's record is not hers to read.
    with pytest.raises(Exception, match="404"):
        FhirPatient.read(str(world.bob_patient.public_id), smart.server)
    # Her app records today's pain: the question and its answers as the server's Questionnaire
    # states them, the answer posted as fhirclient builds it, then read back.
    [nrs] = FhirQuestionnaire.where(struct={"name": "nrs"}).perform_resources_iter(smart.server)
    question = nrs.item[0]
    six = next(
        option.valueCoding for option in question.answerOption if option.valueCoding.code == "6"
    )
    answer = FhirQuestionnaireResponse(
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": nrs.url,
            "status": "completed",
            "subject": {"reference": f"Patient/{smart.patient_id}"},
            "authored": today().isoformat(),  # her day, in her clinic's time zone
            "item": [{"linkId": question.linkId, "answer": [{"valueCoding": six.as_json()}]}],
        }
    )
    created = answer.create(smart.server)
    entry = DiaryEntry.objects.get(patient=world.alice_patient)
    assert (created["id"], entry.instrument, entry.score) == (str(entry.public_id), "nrs", 6)
    back = FhirQuestionnaireResponse.read(created["id"], smart.server)
    assert back.item[0].answer[0].valueCoding.code == "6"
    assert back.subject.reference == f"Patient/{smart.patient_id}"


def _backend_session(live_server: Any, world: World) -> OAuth2Session:
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    client_id = backend.application.client_id
    oauth = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    config = requests.get(
        f"{live_server.url}/fhir/R4/.well-known/smart-configuration", timeout=30
    ).json()
    oauth.fetch_token(
        token_url=config["token_endpoint"],
        client_id=client_id,
        client_secret=secret,
        scope=["system/*.read"],
    )
    return oauth


def test_a_backend_system_bulk_exports_its_clinic_to_completion(
    live_server: Any, world: World
) -> None:
    _diaries(world)
    oauth = _backend_session(live_server, world)
    kickoff = oauth.get(
        f"{live_server.url}/fhir/R4/$export",
        headers={"Accept": "application/fhir+json", "Prefer": "respond-async"},
    )
    assert kickoff.status_code == 202
    status_url = kickoff.headers["Content-Location"]
    assert oauth.get(status_url).status_code == 202  # not yet written
    run_due_jobs()  # the worker, as ``ketaclinic worker`` runs it
    status = oauth.get(status_url)
    assert status.status_code == 200
    manifest = status.json()
    assert manifest["requiresAccessToken"] is True
    types: dict[str, int] = {}
    for output in manifest["output"]:
        # The same token fetches the files; without it, nothing.
        assert requests.get(output["url"], timeout=30).status_code == 401
        response = oauth.get(output["url"])
        assert response.status_code == 200
        lines = response.text.splitlines()
        assert len(lines) == output["count"]
        for line in lines:
            parsed = FHIRElementFactory.instantiate(output["type"], json.loads(line))
            assert parsed.resource_type == output["type"]
        types[output["type"]] = len(lines)
    assert types["Patient"] == Patient.objects.filter(clinic=world.clinic).count()
    assert types["Observation"] >= 5
    # Deleting the export deletes its files.
    assert oauth.delete(status_url).status_code == 202
    assert oauth.get(manifest["output"][0]["url"]).status_code == 404


def test_a_backend_system_reads_and_pages_with_an_oauth_library(
    live_server: Any, world: World
) -> None:
    for n in range(45):
        make_patient(world.clinic, given=f"Paged{n:02d}", family="Backend")
    oauth = _backend_session(live_server, world)
    url: str | None = f"{live_server.url}/fhir/R4/Patient?_count=10"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = oauth.get(url)
        assert response.status_code == 200
        bundle = Bundle(response.json(), strict=True)
        pages += 1
        seen += [entry.resource.id for entry in bundle.entry or []]
        url = next((link.url for link in bundle.link if link.relation == "next"), None)
    ours = {str(p.public_id) for p in Patient.objects.filter(clinic=world.clinic)}
    assert len(seen) == len(set(seen)) == len(ours)
    assert set(seen) == ours
    assert pages == -(-len(ours) // 10)
    other = oauth.get(f"{live_server.url}/fhir/R4/Patient/{world.other_patient.public_id}")
    assert other.status_code == 404


def _pages(oauth: Any, url: str | None) -> list[dict[str, Any]]:
    """Every resource of a search, following its ``next`` links; each page parsed strictly by
    fhirclient's Bundle and each resource by its own R4 class."""
    found: list[dict[str, Any]] = []
    while url is not None:
        response = oauth.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        page = response.json()
        bundle = Bundle(page, strict=True)
        for entry in page.get("entry", []):
            resource = entry["resource"]
            parsed = FHIRElementFactory.instantiate(resource["resourceType"], resource)
            assert parsed.resource_type == resource["resourceType"]
            if entry["search"]["mode"] == "match":
                found.append(resource)
        url = next((link.url for link in bundle.link if link.relation == "next"), None)
    return found


def test_a_backend_system_searches_pages_and_reads_every_type_the_server_states(
    live_server: Any, world: World
) -> None:
    from tests.factories.scheduling import setup_schedule
    from tests.fhir.test_fhir_no_leaks import _everything
    from tests.fhir.test_fhir_schedule import _days, _range

    _everything(world)
    setup_schedule(world)  # a physician's hours at Cleveland: a Schedule, and free Slots
    oauth = _backend_session(live_server, world)
    base = f"{live_server.url}/fhir/R4/"
    metadata = oauth.get(base + "metadata")
    assert metadata.status_code == 200
    statement = CapabilityStatement(metadata.json(), strict=True)
    searched = {
        resource.type: {interaction.code for interaction in resource.interaction}
        for resource in statement.rest[0].resource
    }
    stated = [name for name, codes in searched.items() if "search-type" in codes]
    assert len(stated) >= 20
    assert searched["Binary"] == {"read"}  # read through a DocumentReference, below
    counts: dict[str, int] = {}
    every: list[dict[str, Any]] = []
    for type_name in stated:
        if type_name == "AuditEvent":
            # The audit trail is the clinic admins' pages' alone: no token reads it.
            refused = oauth.get(base + "AuditEvent")
            assert refused.status_code == 403
            assert refused.json()["resourceType"] == "OperationOutcome"
            continue
        query = "_count=2"
        if type_name == "Slot":
            cleveland = f"Location/{world.cleveland.public_id}"
            schedule = next(
                each["id"]
                for each in _pages(oauth, base + "Schedule?_count=50")
                if cleveland in {actor["reference"] for actor in each["actor"]}
            )
            query += f"&schedule={schedule}&{_range(world.cleveland, _days(1), 7)}"
        found = _pages(oauth, f"{base}{type_name}?{query}")
        assert found, f"{type_name}: the seeded world has some"
        ids = [resource["id"] for resource in found]
        assert len(ids) == len(set(ids)), type_name  # paging repeats nothing
        for resource in found[:3]:
            read = oauth.get(f"{base}{type_name}/{resource['id']}")
            assert read.status_code == 200, type_name
            # A Schedule's planning horizon starts at the moment of asking.
            moving = {"planningHorizon"}
            assert {k: v for k, v in read.json().items() if k not in moving} == {
                k: v for k, v in resource.items() if k not in moving
            }, type_name
        counts[type_name] = len(found)
        every += found
    # The other clinic's patient is named nowhere, and her record is not found.
    other = str(world.other_patient.public_id)
    assert other not in json.dumps(every)
    assert oauth.get(f"{base}Patient/{other}").status_code == 404
    # A letter's PDF, through the DocumentReference's attachment, with the same token.
    letter = _pages(oauth, base + "DocumentReference?_count=1")[0]
    # The url is relative to the server's base, as FHIR references are.
    binary = urljoin(base, letter["content"][0]["attachment"]["url"])
    pdf = oauth.get(binary, headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert counts["Patient"] == Patient.objects.filter(clinic=world.clinic).count()
