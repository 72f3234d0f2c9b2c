"""Two independent checks of what the API emits: fhirclient's R4 (4.0.1) classes, strict (a
wrong type, an unknown element or a missing required one raises), and fhir.resources' pydantic
models (R4B, the nearest release with models that live beside pydantic 2: see pyproject.toml)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhirclient.models.fhirelementfactory import FHIRElementFactory


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once both libraries accept it (every entry of a Bundle too)."""
    kind = resource["resourceType"]
    parsed = FHIRElementFactory.instantiate(kind, resource)
    assert parsed.as_json()["resourceType"] == kind
    get_fhir_model_class(kind).model_validate(resource)
    for entry in resource.get("entry", []):
        valid(entry["resource"])
    return resource
