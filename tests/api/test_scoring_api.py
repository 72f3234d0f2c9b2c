"""POST /api/v1/instruments/{code}/score: public, rate-limited, documented, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from ketaclinic.clinical import instruments

URL = "/api/v1/instruments/{code}/score"


def post(client: Client, code: str, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL.format(code=code), data=data, content_type="application/json", **extra)


@pytest.mark.django_db
def test_it_scores_dn4_interview_with_the_score_fields() -> None:
    items = (
        "burning",
        "painful_cold",
        "electric_shocks",
        "tingling",
        "pins_and_needles",
        "numbness",
        "itching",
    )
    answers = dict.fromkeys(items, False)
    answers.update(burning=True, tingling=True, numbness=True)
    response = post(Client(), "dn4-interview", {"answers": answers})
    assert response.status_code == 200
    body = response.json()
    expected = instruments.score("dn4-interview", answers)
    assert body == {
        "code": "dn4-interview",
        "total": 3.0,
        "maximum": 7.0,
        "cutoff": 3.0,
        "positive": True,
        "band": expected.band,
        "source": expected.source,
    }


@pytest.mark.django_db
def test_an_instrument_without_a_cutoff_answers_null_positive() -> None:
    body = post(
        Client(), "peg", {"answers": {"pain": 6, "enjoyment": 5, "general_activity": 7}}
    ).json()
    assert body["total"] == 6.0
    assert body["cutoff"] is None
    assert body["positive"] is None


@pytest.mark.django_db
def test_an_unknown_instrument_is_a_404() -> None:
    response = post(Client(), "paindetect", {"answers": {}})
    assert response.status_code == 404
    assert "paindetect" in response.json()["detail"]


@pytest.mark.django_db
def test_bad_answers_are_a_422_naming_each_bad_item() -> None:
    response = post(
        Client(),
        "aldrete",
        {
            "answers": {
                "activity": 3,
                "respiration": True,
                "circulation": 2,
                "consciousness": 2,
                "extra": 1,
            }
        },
    )
    assert response.status_code == 422
    bad = {tuple(d["loc"])[-1] for d in response.json()["detail"]}
    assert bad == {"activity", "respiration", "oxygen_saturation", "extra"}


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["{not json", "[]", '{"answers": 5}', '"answers"', ""])
def test_malformed_bodies_are_a_4xx_never_a_500(body: str) -> None:
    response = post(Client(), "nrs", body)
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


@pytest.mark.django_db
def test_the_endpoint_is_in_the_openapi_document() -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    operation = doc["paths"]["/api/v1/instruments/{code}/score"]["post"]
    # 400: a body that is not JSON; 429: the per-address limit (tests/security/test_api_fuzz.py).
    assert set(operation["responses"]) == {"200", "400", "404", "422", "429"}
    assert operation.get("security") in (None, [])


@pytest.mark.django_db
def test_responses_match_the_published_schema() -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    props = set(schemas["ScoreOut"]["properties"])
    body = post(Client(), "nrs", {"answers": {"pain": 4}}).json()
    assert set(body) == props


@pytest.mark.django_db
def test_it_is_rate_limited_per_client_address() -> None:
    from ketaclinic.api import api as api_module

    # The throttle reads its rate when the API module is built; rebuild it for this limit.
    throttle = api_module.score_throttle
    original = throttle.rate
    throttle.rate = "3/m"
    throttle.num_requests, throttle.duration = throttle.parse_rate("3/m")
    try:
        client = Client()
        codes = [
            post(client, "nrs", {"answers": {"pain": 1}}, REMOTE_ADDR="192.0.2.1").status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        # Another address is not affected, and X-Forwarded-For cannot dodge the limit.
        assert (
            post(client, "nrs", {"answers": {"pain": 1}}, REMOTE_ADDR="192.0.2.2").status_code
            == 200
        )
        assert (
            post(
                client,
                "nrs",
                {"answers": {"pain": 1}},
                REMOTE_ADDR="192.0.2.1",
                HTTP_X_FORWARDED_FOR="198.51.100.9",
            ).status_code
            == 429
        )
    finally:
        throttle.rate = original
        throttle.num_requests, throttle.duration = throttle.parse_rate(original)
