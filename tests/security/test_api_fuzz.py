"""Issue 15 item 10: schemathesis over the whole /api/v1/, in process, against the schema the
application serves.

Every operation of the served OpenAPI document is called with generated requests, valid and
invalid (schemathesis' positive and negative modes), through the WSGI application itself: no
server error, every response (status, content type, body) as the schema documents it. The run is
bounded and repeatable: a fixed number of examples per operation, derandomized.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

SCHEMA_PATH = "/api/v1/openapi.json"
EXAMPLES = 40


@pytest.fixture
def api_schema(db: None) -> Any:
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_its_schema_says(case: Any) -> None:
    # The scoring endpoint is throttled per address; each example starts with fresh counters so
    # the run tests the answers, and the 429 is exercised (and checked) below.
    cache.clear()
    case.call_and_validate()


def test_the_schema_documents_400_and_429_wherever_a_request_is_read_or_throttled(
    client: Any,
) -> None:
    document = client.get(SCHEMA_PATH).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = set(operation["responses"])
            assert {"400", "422"} <= responses, (method, path, responses)
            if method == "post" and "/instruments/" in path:
                assert "429" in responses, (method, path, responses)


def test_a_throttled_caller_gets_the_documented_429(client: Any, settings: Any) -> None:
    cache.clear()
    answers = [
        client.post(
            "/api/v1/instruments/nrs/score",
            data='{"answers": {"pain": 5}}',
            content_type="application/json",
        )
        for _ in range(61)
    ]
    assert answers[0].status_code == 200
    throttled = answers[-1]
    assert throttled.status_code == 429
    assert throttled["Content-Type"].startswith("application/json")
    assert "detail" in throttled.json()
