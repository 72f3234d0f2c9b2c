"""The FHIR R4 API over a signed-in session: metadata, read and search of the directory and of
patients, paging, the reader's scope, the audit trail, and every refusal as an OperationOutcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.assessments.api import EXAM_OBSERVATIONS
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.rating_scales import CHARTING_ONLY, RATING_SCALES
from ketaclinic.clinics.models import Location
from ketaclinic.fhir import pages
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.writes import CREATABLE
from ketaclinic.infusions.services._common import LOINC_OF
from ketaclinic.outcomes.models import Instrument
from ketaclinic.patients.api import patients_visible_to
from ketaclinic.patients.models import Patient
from tests.conftest import PERSONAS, World
from tests.factories import make_patient
from tests.fhir.validate import valid

ClientFor = Callable[[str], Client]
BASE = "/fhir/R4/"
FHIR_JSON = "application/fhir+json"


def fhir(client: Client, path: str, status: int = 200, prefer: str = "") -> dict[str, Any]:
    response = client.get(BASE + path, headers={"Prefer": prefer} if prefer else None)
    assert response.status_code == status, (path, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    return valid(body)


def refused(client: Client, path: str, status: int, prefer: str = "") -> str:
    """The OperationOutcome's diagnostics of a refusal."""
    body = fhir(client, path, status, prefer)
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


def ids_of(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def walk(client: Client, path: str) -> tuple[list[str], int]:
    """Every id of a search, following the next links; and the number of pages."""
    seen: list[str] = []
    pages = 0
    url: str | None = BASE + path
    while url is not None:
        bundle = fhir(client, url.split(BASE, 1)[1])
        pages += 1
        seen += ids_of(bundle)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return seen, pages


def hidden(client: Client, kind: str, ids: Collection[str]) -> None:
    """None of ``ids`` is the reader's: a search of ``kind`` shows none of them, and each read
    is a 404 that writes nothing to the audit trail (no record was shown)."""
    assert ids, "nothing to hide asserts nothing"
    found, _ = walk(client, f"{kind}?_count=100")
    assert not set(found) & set(ids), kind
    before = AuditEvent.objects.count()
    for public_id in sorted(ids):
        assert f"No {kind}" in refused(client, f"{kind}/{public_id}", 404)
    assert AuditEvent.objects.count() == before, kind


@pytest.mark.django_db
def test_metadata_lists_exactly_what_is_served(client: Client) -> None:
    statement = fhir(client, "metadata")
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    [rest] = statement["rest"]
    served = {r["type"]: r for r in rest["resource"]}
    assert len(served) == len(rest["resource"])
    # Binary is served apart from the registry (fhir/binary.py): read by id, never searched.
    assert set(served) == {*REGISTRY, "Binary"}
    binary = served.pop("Binary")
    assert [i["code"] for i in binary["interaction"]] == ["read"]
    assert not binary.get("searchParam")
    for name, resource in served.items():
        created = ["create"] if name in CREATABLE else []
        assert [i["code"] for i in resource["interaction"]] == [
            *REGISTRY[name].interactions,
            *created,
        ], name
        assert [p["name"] for p in resource["searchParam"]] == list(REGISTRY[name].all_params)
    assert "handling=strict" in rest["documentation"]


@pytest.mark.django_db
def test_the_observation_documentation_speaks_for_its_three_tables(client: Client) -> None:
    # The diary's table leads the type, so its docs are the type's: they must name what the
    # infusion chart and the exam store as well, not the diary's alone.
    [rest] = fhir(client, "metadata")["rest"]
    [observation] = [r for r in rest["resource"] if r["type"] == "Observation"]
    params = {p["name"]: p["documentation"] for p in observation["searchParam"]}
    stored = {
        *(code.code for coded in EXAM_OBSERVATIONS.values() for code in coded),
        *LOINC_OF.values(),
        *Instrument.values,
        *(scale.code for scale in (*RATING_SCALES, *CHARTING_ONLY)),
    }
    assert {"72514-3", "8310-5", "cadss6", "aldrete", "peg"} <= stored
    assert [code for code in sorted(stored) if code not in params["code"]] == []
    for category in ("survey", "vital-signs"):
        assert category in params["category"]
        assert category in observation["documentation"]
    for table in ("diary", "chart", "exam"):
        assert table in observation["documentation"]
        assert table in params["date"]


@pytest.mark.django_db
def test_without_a_session_every_read_is_a_401(client: Client, world: World) -> None:
    for path in ("Patient", f"Patient/{world.alice_patient.public_id}", "Organization"):
        response = client.get(BASE + path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["issue"][0]["code"] == "login"


@pytest.mark.django_db
def test_each_persona_sees_exactly_what_the_pages_show(world: World, client_for: ClientFor) -> None:
    for persona in PERSONAS[1:]:
        user = world.persona(persona)
        assert user is not None
        client = client_for(persona)
        visible = {str(p.public_id) for p in patients_visible_to(user)}
        found, _ = walk(client, "Patient?_count=100")
        assert set(found) == visible, persona
        assert len(found) == len(visible), persona
        clinic = user.clinic
        assert clinic is not None
        [org] = ids_of(fhir(client, "Organization"))
        assert org == str(clinic.public_id)
        sites = {str(s.public_id) for s in clinic.locations.all()}
        assert set(ids_of(fhir(client, "Location"))) == sites
        for patient in Patient.objects.all():
            path = f"Patient/{patient.public_id}"
            if str(patient.public_id) in visible:
                assert fhir(client, path)["id"] == str(patient.public_id)
            else:
                assert "No Patient" in refused(client, path, 404), (persona, path)
        elsewhere = Location.objects.exclude(clinic=clinic).first()
        assert elsewhere is not None
        refused(client, f"Location/{elsewhere.public_id}", 404)
        refused(client, f"Organization/{elsewhere.clinic.public_id}", 404)


@pytest.mark.django_db
def test_a_patient_resource_says_what_the_record_holds(world: World, client_for: ClientFor) -> None:
    alice = world.alice_patient
    resource = fhir(client_for("physician"), f"Patient/{alice.public_id}")
    assert resource["name"] == [
        {"use": "official", "family": alice.family_name, "given": [alice.given_name]}
    ]
    assert resource["birthDate"] == alice.date_of_birth.isoformat()
    assert resource["gender"] == alice.sex
    assert resource["identifier"][0]["value"] == alice.mrn
    assert resource["managingOrganization"] == {
        "reference": f"Organization/{world.clinic.public_id}"
    }
    # No database id anywhere: every id and reference is a public id.
    assert str(alice.pk) not in {resource["id"], resource["managingOrganization"]["reference"]}


@pytest.mark.django_db
def test_paging_visits_every_patient_once_at_a_cost_flat_in_the_page_size(
    world: World, client_for: ClientFor
) -> None:
    for n in range(130):
        make_patient(world.clinic, given=f"Paged{n:03d}", family="Reader")
    client = client_for("physician")
    everyone = {str(p.public_id) for p in Patient.objects.filter(clinic=world.clinic)}
    found, pages = walk(client, "Patient?_count=25")
    assert len(found) == len(set(found)) == len(everyone)
    assert set(found) == everyone
    assert pages == -(-len(everyone) // 25)
    assert found == sorted(found)  # the stable order: the public id

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir(client, f"Patient?_count={count}")
        return len(captured)

    assert queries(10) == queries(100)
    # _count beyond the largest page is the largest page.
    assert len(ids_of(fhir(client, "Patient?_count=500"))) == 100


@pytest.mark.django_db
def test_every_patient_shown_is_audited_once_and_directory_reads_are_not(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("nurse")
    before = AuditEvent.objects.count()
    bundle = fhir(client, "Patient?_count=100")
    shown = ids_of(bundle)
    events = AuditEvent.objects.filter(object_type="fhir_read").order_by("id")
    assert [e.object_id for e in events] == shown
    assert {e.actor_id for e in events} == {world.nurse.pk}
    assert {e.detail["interaction"] for e in events} == {"search"}
    fhir(client, f"Patient/{world.alice_patient.public_id}")
    last = AuditEvent.objects.order_by("-id").first()
    assert last is not None
    assert last.patient_id == world.alice_patient.pk
    assert last.detail["interaction"] == "read"
    count = AuditEvent.objects.count()
    for path in ("Organization", "Location", "Practitioner", "PractitionerRole", "metadata"):
        fhir(client, path)
    assert AuditEvent.objects.count() == count == before + len(shown) + 1


@pytest.mark.django_db
def test_searches_match_as_r4_defines(world: World, client_for: ClientFor) -> None:
    client = client_for("front_desk")
    old = make_patient(world.clinic, given="Olive", family="Oldham")
    Patient.objects.filter(pk=old.pk).update(date_of_birth=dt.date(1950, 6, 15))
    young = make_patient(world.clinic, given="Yara", family="Young")
    Patient.objects.filter(pk=young.pk).update(date_of_birth=dt.date(1999, 1, 2))

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Patient?{query}&_count=100")))

    o, y = str(old.public_id), str(young.public_id)
    assert o in found("birthdate=1950")
    assert y not in found("birthdate=1950")
    assert found("birthdate=1950-06-15") == {o}
    assert o in found("birthdate=lt1951")
    assert y not in found("birthdate=lt1951")
    assert y in found("birthdate=ge1999-01-02")
    assert o not in found("birthdate=ge1999-01-02")
    assert y in found("birthdate=gt1999-01-01")
    assert y not in found("birthdate=gt1999-01-02")
    assert o not in found("birthdate=ne1950-06")
    assert found("family=oldh") == {o}  # from the start, any case
    assert found("name=yar") == {y}
    assert found("family=Oldham,Young") == {o, y}  # a comma: any of them
    assert found("family=Oldham&given=Yara") == set()  # repeated parameters: all of them
    assert found(f"_id={o},{y}") == {o, y}
    assert found(f"identifier={old.mrn.lower()}") == {o}
    assert found("gender=female") == {
        str(p.public_id) for p in Patient.objects.filter(clinic=world.clinic, sex="female")
    }
    assert found("_lastUpdated=ge2000-01-01") >= {o, y}
    assert found("_lastUpdated=lt2000-01-01") == set()
    # The calendar's last year, month, day and second are dates like any other: their range
    # ends where timestamps end.
    assert found("_lastUpdated=lt9999") >= {o, y}
    assert found("_lastUpdated=ge9999") == set()
    assert found("_lastUpdated=le9999-12") >= {o, y}
    assert found("_lastUpdated=lt9999-12-31") >= {o, y}
    assert found("_lastUpdated=le9999-12-31T23:59:59Z") >= {o, y}
    assert found("birthdate=lt9999-12-31") >= {o, y}
    nurse_roles = ids_of(fhir(client, "PractitionerRole?role=nurse"))
    assert nurse_roles == [str(world.nurse.public_id)]
    here = ids_of(fhir(client, f"PractitionerRole?location=Location/{world.charlotte.public_id}"))
    assert set(here) == {
        str(u.public_id) for u in world.charlotte.staff.filter(clinic=world.clinic)
    }


@pytest.mark.django_db
def test_bad_searches_are_refused_naming_the_parameter_and_change_nothing(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("physician")
    before = AuditEvent.objects.count()
    assert "_count" in refused(client, "Patient?_count=lots", 400)
    assert "_count" in refused(client, "Patient?_count=-1", 400)
    assert "birthdate" in refused(client, "Patient?birthdate=last-tuesday", 400)
    assert "birthdate" in refused(client, "Patient?birthdate=1970-13-01", 400)
    # Past the last moment a timestamp holds, in UTC.
    after_all = "_lastUpdated=9999-12-31T23:00:00-05:00".replace("+", "%2B")
    assert "_lastUpdated" in refused(client, f"Patient?{after_all}", 400)
    assert "sa" in refused(client, "Patient?birthdate=sa1970", 400)
    assert "_cursor" in refused(client, "Patient?_cursor=page-2", 400)
    assert "Unknown search parameter: shoe-size" in refused(
        client, "Patient?shoe-size=9", 400, prefer="handling=strict"
    )
    assert "does not serve" in refused(client, "Spaceship", 404)
    assert "Nothing is served" in refused(client, "Patient/x/_history", 404)
    assert "only JSON" in refused(client, "Patient?_format=xml", 406).replace("Only", "only")
    response = client.post(BASE + "Patient", data="{}", content_type=FHIR_JSON)
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"
    assert AuditEvent.objects.count() == before
    # Lenient by default: the unknown parameter is ignored and named in the Bundle.
    bundle = fhir(client, "Patient?shoe-size=9&_count=5")
    [note] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "shoe-size" in note["resource"]["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_every_directory_resource_validates(world: World, client_for: ClientFor) -> None:
    client = client_for("clinic_admin")
    for name in ("Organization", "Location", "Practitioner", "PractitionerRole"):
        bundle = fhir(client, f"{name}?_count=100")
        for entry in bundle["entry"]:
            resource = fhir(client, f"{name}/{entry['resource']['id']}")
            assert resource == entry["resource"]
    [doctor] = [
        e["resource"]
        for e in fhir(client, "PractitionerRole?_count=100")["entry"]
        if e["resource"]["id"] == str(world.physician.public_id)
    ]
    assert doctor["code"][0]["coding"][0]["code"] == "doctor"
    assert doctor["practitioner"] == {"reference": f"Practitioner/{world.physician.public_id}"}


@pytest.mark.django_db
def test_a_search_by_post_keeps_the_parameters_out_of_the_address(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("front_desk")
    alice = world.alice_patient
    response = client.post(
        BASE + "Patient/_search",
        data=f"family={alice.family_name}&birthdate={alice.date_of_birth.isoformat()}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    bundle = valid(response.json())
    assert ids_of(bundle) == [str(alice.public_id)]
    refused_json = client.post(BASE + "Patient/_search", data="{}", content_type=FHIR_JSON)
    assert refused_json.status_code == 415
    assert client.post(BASE + "Patient/_search").status_code == 415  # no form body either
    anonymous = Client().post(
        BASE + "Patient/_search", data="family=x", content_type="application/x-www-form-urlencoded"
    )
    assert anonymous.status_code == 401
    # A signed-in browser's search needs its CSRF token, as any form does.
    guarded = Client(enforce_csrf_checks=True)
    guarded.cookies = client.cookies
    forged = guarded.post(
        BASE + "Patient/_search", data="family=x", content_type="application/x-www-form-urlencoded"
    )
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["issue"][0]["diagnostics"]


FORM = "application/x-www-form-urlencoded"


def _links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"].split(BASE, 1)[1] for link in bundle["link"]}


@pytest.mark.django_db
def test_a_search_by_post_pages_with_links_that_hold_its_terms_sealed(
    world: World, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    namesakes = {str(make_patient(world.clinic, given=f"Pat{n}", family="Moreno").public_id)
                 for n in range(3)}  # fmt: skip
    namesakes.add(str(world.alice_patient.public_id))
    client = client_for("front_desk")
    first = client.post(BASE + "Patient/_search", data="family=Moreno&_count=2", content_type=FORM)
    assert first.status_code == 200
    bundle = valid(first.json())
    seen = ids_of(bundle)
    links = _links(bundle)
    while "next" in links:
        assert "Moreno" not in links["next"]
        assert "family" not in links["next"]
        assert "_getpages=" in links["next"]
        bundle = fhir(client, links["next"])
        seen += ids_of(bundle)
        links = _links(bundle)
    assert "Moreno" not in links["self"]
    assert sorted(seen) == sorted(namesakes)  # every match once, in order, then no next link
    # The second page's link: another reader's, an altered one, one with more terms, or one
    # past its hour, is refused and shows nobody.
    second = _links(valid(first.json()))["next"]
    before = AuditEvent.objects.count()
    assert "not yours" in refused(client_for("physician"), second, 410)
    assert "not yours" in refused(
        client_for("physician"), second.replace("Patient?", "Location?"), 410
    )
    sealed = second.split("_getpages=", 1)[1].split("&", 1)[0]
    flipped = "x" if sealed[20] != "x" else "y"
    altered = second.replace(sealed, sealed[:20] + flipped + sealed[21:])
    assert "not yours" in refused(client, altered, 410)
    assert "_getpages" in refused(client, second + "&family=Oldham", 400)
    monkeypatch.setattr(pages, "PAGES_TTL", -1)  # every link is past its time
    assert "expired" in refused(client, second, 410)
    assert AuditEvent.objects.count() == before
    # Parameters in the address of a POST count with the body's: one search of them all.
    both = client.post(
        BASE + f"Patient/_search?_id={world.alice_patient.public_id}",
        data="family=Moreno&_count=100",
        content_type=FORM,
    )
    assert ids_of(valid(both.json())) == [str(world.alice_patient.public_id)]


@pytest.mark.django_db
def test_requests_past_djangos_limits_are_refused_not_failed(
    world: World, client_for: ClientFor, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for("physician")
    before = AuditEvent.objects.count()
    many = "&".join(f"x{n}=1" for n in range(1100))  # past DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert "too many parameters" in refused(client, f"Patient?{many}", 400)
    by_post = client.post(BASE + "Patient/_search", data=many, content_type=FORM)
    assert by_post.status_code == 400
    assert valid(by_post.json())["issue"][0]["code"] == "too-costly"
    huge = client.post(
        BASE + "Patient/_search", data="family=" + "a" * 3_000_000, content_type=FORM
    )  # past DATA_UPLOAD_MAX_MEMORY_SIZE
    assert huge.status_code == 413
    assert valid(huge.json())["issue"][0]["code"] == "too-long"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no server failure logged
    assert AuditEvent.objects.count() == before  # nobody was shown


@pytest.mark.django_db
def test_a_405_names_the_methods_the_address_answers(world: World, client_for: ClientFor) -> None:
    client = client_for("physician")
    alice = f"Patient/{world.alice_patient.public_id}"
    before = AuditEvent.objects.count()
    answers = [
        (client.put(BASE + alice), "GET, HEAD"),
        (client.delete(BASE + "Patient"), "GET, HEAD"),
        (client.post(BASE + "Patient", data="{}", content_type=FHIR_JSON), "GET, HEAD"),
        (client.put(BASE + "QuestionnaireResponse"), "GET, HEAD, POST"),
        (client.post(BASE + "metadata"), "GET, HEAD"),
        (client.get(BASE + "Patient/_search"), "POST"),
    ]
    for response, allowed in answers:
        assert response.status_code == 405, response.content[:200]
        assert response["Allow"] == allowed
        assert valid(response.json())["resourceType"] == "OperationOutcome"
    assert AuditEvent.objects.count() == before  # nothing read, nothing written


@pytest.mark.django_db
def test_modifiers_are_applied_or_refused_never_dropped(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("physician")
    alice = str(world.alice_patient.public_id)
    assert ids_of(fhir(client, "Patient?family:exact=Moreno")) == [alice]
    assert ids_of(fhir(client, "Patient?family:exact=Mor")) == []  # the whole name
    assert ids_of(fhir(client, "Patient?family:exact=moreno")) == []  # and its case
    assert ids_of(fhir(client, "Patient?family=mor&_count=100")) == [alice]
    before = AuditEvent.objects.count()
    for kind, asked in (
        ("Patient", "family:contains=Zzzzz"),
        ("Patient", "birthdate:missing=true"),
        ("Patient", "gender:not=male"),
        ("Appointment", f"patient:Location={alice}"),
        ("Appointment", f"patient:Nonsense={alice}"),
    ):
        said = refused(client, f"{kind}?{asked}", 400)
        assert asked.split("=")[0].split(":")[1] in said
    assert AuditEvent.objects.count() == before  # nobody was shown
    # An unknown parameter, modified or not, is still only ignored without handling=strict.
    assert fhir(client, "Patient?shoe-size:exact=9")["resourceType"] == "Bundle"


@pytest.mark.django_db
def test_a_reference_of_another_type_matches_nothing(world: World, client_for: ClientFor) -> None:
    client = client_for("physician")
    alice = world.alice_patient.public_id
    cleveland = world.cleveland.public_id
    assert ids_of(fhir(client, f"Location?_id={cleveland}")) == [str(cleveland)]
    assert ids_of(fhir(client, f"PractitionerRole?location=Location/{cleveland}"))
    assert ids_of(fhir(client, f"PractitionerRole?location:Location={cleveland}"))
    for wrong in (f"Patient/{cleveland}", f"http://elsewhere.test/fhir/Practitioner/{cleveland}"):
        assert ids_of(fhir(client, f"PractitionerRole?location={wrong}")) == [], wrong
    assert ids_of(fhir(client, f"Patient?_id={alice}")) == [str(alice)]


@pytest.mark.django_db
def test_a_nul_character_is_refused_naming_the_parameter(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("physician")
    before = AuditEvent.objects.count()
    for query in ("family=Mo%00reno", "name:exact=a%00b", "gender=fe%00male"):
        assert "NUL" in refused(client, f"Patient?{query}", 400)
    posted = client.post(BASE + "Patient/_search", data="family=Mo%00reno", content_type=FORM)
    assert posted.status_code == 400
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_a_record_number_is_found_by_its_own_system_only(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("physician")
    alice = world.alice_patient
    ours = f"urn:uuid:{world.clinic.public_id}"
    theirs = f"urn:uuid:{world.other_clinic.public_id}"
    assert ids_of(fhir(client, f"Patient?identifier={ours}|{alice.mrn}")) == [str(alice.public_id)]
    assert ids_of(fhir(client, f"Patient?identifier={alice.mrn}")) == [str(alice.public_id)]
    for system in (theirs, "urn:oid:1.2.3", "urn:uuid:not-a-uuid", ""):
        assert ids_of(fhir(client, f"Patient?identifier={system}|{alice.mrn}")) == [], system
