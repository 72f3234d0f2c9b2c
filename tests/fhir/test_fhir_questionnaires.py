"""Questionnaires through the FHIR API: one per instrument patients answer, each built from the
instrument registry (the expected items below are read from the registry too, never copied),
readable by every signed-in reader and every token whose scopes name Questionnaire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.clinical.instruments import NOT_BUILT_IN, REGISTRY, Instrument
from ketaclinic.fhir.resources.questionnaire import (
    ANSWER_SYSTEM,
    ORDINAL_VALUE,
    answer_coding,
    questionnaire_url,
)
from ketaclinic.outcomes.models import NRS_LOINC
from tests.conftest import PERSONAS, World
from tests.fhir.test_fhir_api import BASE, fhir, ids_of, refused
from tests.fhir.test_smart_oauth import _backend, _client_credentials, _read

ClientFor = Callable[[str], Client]

# The instruments patients answer: everything the registry has but the clinicians' charting
# scales. The product's own names for them, to be sure none is missing by the rule's mistake.
EXPECTED = {"dn4", "dn4-interview", "id-pain", "s-lanss", "nrs", "peg", "pgic"}
PATIENTS_ANSWER = {c for c, i in REGISTRY.items() if i.administered_by != "clinician"}


def _questions(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in resource["item"] if item["type"] != "display"]


@pytest.mark.django_db
def test_one_questionnaire_per_instrument_patients_answer(
    world: World, client_for: ClientFor
) -> None:
    assert PATIENTS_ANSWER == EXPECTED
    bundle = fhir(client_for("nurse"), "Questionnaire?_count=100")
    assert set(ids_of(bundle)) == EXPECTED
    assert not set(ids_of(bundle)) & set(NOT_BUILT_IN)  # BPI, painDETECT, PROMIS: licensed
    for code in ("rass", "moaas", "aldrete", "bpi", "paindetect", "promis", "nope"):
        assert "No Questionnaire" in refused(client_for("nurse"), f"Questionnaire/{code}", 404)


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_the_items_are_the_registrys(world: World, client_for: ClientFor, code: str) -> None:
    instrument: Instrument = REGISTRY[code]
    resource = fhir(client_for("alice"), f"Questionnaire/{code}")
    assert resource["id"] == code
    assert (
        resource["url"]
        == questionnaire_url(code)
        == f"https://ketaclinic.org/fhir/Questionnaire/{code}"
    )
    assert resource["status"] == "active"
    assert resource["title"] == instrument.name
    assert resource["copyright"] == instrument.licence
    assert instrument.source in resource["description"]
    assert instrument.instructions in resource["description"]
    # The scoring rule, from the registry's numbers.
    for number in (instrument.minimum, instrument.maximum, instrument.cutoff):
        if number is not None:
            assert f"{number:g}" in resource["description"]
    for band in instrument.bands:
        assert band.label in resource["description"]
    questions = _questions(resource)
    assert [q["linkId"] for q in questions] == list(instrument.item_keys)
    for question, item in zip(questions, instrument.items, strict=True):
        assert question["text"] == item.wording
        assert question["type"] == "choice"
        assert question["required"] is True
        options = [option["valueCoding"] for option in question["answerOption"]]
        assert [o["display"] for o in options] == [c.label for c in item.choices]
        assert [o["extension"] for o in options] == [
            [{"url": ORDINAL_VALUE, "valueDecimal": c.points}] for c in item.choices
        ]
        assert {o["system"] for o in options} == {ANSWER_SYSTEM}
        for choice, option in zip(item.choices, options, strict=True):
            assert answer_coding(code, item.key, choice.value) == option
    # The printed instrument's shared headings come before the questions under them.
    stems = [item["text"] for item in resource["item"] if item["type"] == "display"]
    assert stems == list(dict.fromkeys(i.stem for i in instrument.items if i.stem is not None))
    link_ids = [item["linkId"] for item in resource["item"]]
    assert len(link_ids) == len(set(link_ids))


@pytest.mark.django_db
def test_the_nrs_question_is_loinc_72514_3_and_yes_is_not_one(
    world: World, client_for: ClientFor
) -> None:
    [pain] = _questions(fhir(client_for("physician"), "Questionnaire/nrs"))
    assert pain["code"][0]["system"] == "http://loinc.org"
    assert pain["code"][0]["code"] == NRS_LOINC
    assert all(
        "code" not in q for q in _questions(fhir(client_for("physician"), "Questionnaire/peg"))
    )
    # A yes/no answer is "yes"/"no", never the number 1/0 (True == 1 in Python).
    assert answer_coding("id-pain", "limited_to_joints", True)["code"] == "yes"
    assert answer_coding("id-pain", "limited_to_joints", True)["extension"][0]["valueDecimal"] == -1
    assert answer_coding("pgic", "change", 1)["code"] == "1"
    with pytest.raises(KeyError):
        answer_coding("pgic", "change", True)
    with pytest.raises(KeyError):
        questionnaire_url("rass")


@pytest.mark.django_db
def test_every_signed_in_reader_reads_them_and_nobody_else(
    world: World, client_for: ClientFor
) -> None:
    for persona in PERSONAS[1:]:
        client = client_for(persona)
        assert set(ids_of(fhir(client, "Questionnaire?_count=100"))) == EXPECTED, persona
        assert fhir(client, "Questionnaire/s-lanss")["id"] == "s-lanss"
    assert Client().get(BASE + "Questionnaire").status_code == 401
    assert Client().get(BASE + "Questionnaire/dn4").status_code == 401
    backend, secret = _backend(world)
    token = _client_credentials(backend, secret, "system/Questionnaire.read").json()
    assert set(ids_of(_read("Questionnaire", token["access_token"]))) == EXPECTED
    _read("Patient", token["access_token"], 403)
    other = _client_credentials(backend, secret, "system/Patient.read").json()
    _read("Questionnaire/dn4", other["access_token"], 403)


@pytest.mark.django_db
def test_searches_by_url_name_and_id_and_no_query_is_made(
    world: World, client_for: ClientFor
) -> None:
    client = client_for("front_desk")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Questionnaire?{query}")))

    assert found(f"url={questionnaire_url('peg')}") == {"peg"}
    assert found(f"url={questionnaire_url('peg')}|1.0") == {"peg"}
    assert found("url=https://example.org/Questionnaire/peg") == set()
    assert found("name=dn4") == {"dn4", "dn4-interview"}
    assert found("name=S_LANSS") == {"s-lanss"}
    assert found("name=s_lanss,pgic") == {"s-lanss", "pgic"}
    assert found("_id=nrs,pgic") == {"nrs", "pgic"}
    assert found("_id=nrs&_id=pgic") == set()  # repeated: both must match
    assert found("_id=rass") == set()
    # Paging by id, as for every type.
    first = fhir(client, "Questionnaire?_count=3")
    assert ids_of(first) == sorted(EXPECTED)[:3]
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert ids_of(fhir(client, nxt.split(BASE, 1)[1])) == sorted(EXPECTED)[3:6]
    assert "Unknown search parameter: code" in refused(
        client, "Questionnaire?code=x", 400, prefer="handling=strict"
    )
    assert "_cursor" in refused(client, "Questionnaire?_cursor=not%20an%20id", 400)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(BASE + path)
        return len(captured)

    # The instruments are the registry's, not rows: no query beyond the reader's own (its
    # session), which a type the server does not serve costs too.
    assert queries("Questionnaire?_count=100") == queries("Questionnaire/dn4") == queries("Nope")


@pytest.mark.django_db
def test_metadata_lists_questionnaire_with_its_parameters(client: Client) -> None:
    statement = fhir(client, "metadata")
    [served] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Questionnaire"]
    assert {i["code"] for i in served["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in served["searchParam"]} == {"_id", "url", "name"}
