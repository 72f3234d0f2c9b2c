"""Answers for the self-check, as a browser would post them, and a client that walks the steps."""

from __future__ import annotations

from typing import Any

from django.test import Client

from ketaclinic.screening import questions as q

FEEL = [question.concept for question in q.FEEL_QUESTIONS]
SELF_TESTS = [question.concept for question in q.SELF_TEST_QUESTIONS]
FLAGS = [flag.key for flag in q.RED_FLAGS]


def post_data(
    *,
    yes: tuple[str, ...] = (),
    duration: str = "6_to_12",
    regions: tuple[str, ...] = ("feet", "legs"),
    triggers: tuple[str, ...] = ("touch", "cold"),
    conditions: tuple[str, ...] = ("diabetes",),
    treatments: tuple[str, ...] = ("gabapentin", "physical_therapy"),
    flags: tuple[str, ...] = (),
) -> dict[str, dict[str, Any]]:
    """Form data for every step; ``yes`` lists the symptom concepts answered yes, ``flags`` the
    warning signs answered yes (everything else is no)."""

    def yes_no(keys: list[str], chosen: tuple[str, ...]) -> dict[str, str]:
        return {key: "yes" if key in chosen else "no" for key in keys}

    return {
        "feel": yes_no(FEEL, yes),
        "duration": {"duration": duration},
        "where": {"regions": list(regions)},
        "triggers": {"triggers": list(triggers)},
        "conditions": {"conditions": list(conditions)},
        "treatments": {"treatments": list(treatments)},
        "self-tests": yes_no(SELF_TESTS, yes),
        "warning-signs": yes_no(FLAGS, flags),
    }


def step_url(slug: str) -> str:
    return f"/self-check/{slug}/"


def walk(client: Client, data: dict[str, dict[str, Any]], *, until: str | None = None) -> Any:
    """Post each step in order (stopping before ``until``); returns the last response."""
    response: Any = None
    for slug in q.STEP_SLUGS:
        if slug == until:
            break
        response = client.post(step_url(slug), data[slug])
        assert response.status_code == 302, (slug, response.status_code)
    return response


def positive_data() -> dict[str, dict[str, Any]]:
    return post_data(
        yes=("burning", "electric_shocks", "pins_and_needles", "numbness", "rub_self_test")
    )


def answers(**overrides: Any) -> dict[str, dict[str, object]]:
    """Validated answers, as ``selfcheck_submit`` takes them (booleans, not form strings)."""
    stored: dict[str, dict[str, object]] = {
        "feel": {**dict.fromkeys(FEEL, False), "burning": True, "numbness": True},
        "duration": {"duration": "over_12"},
        "where": {"regions": ["feet"]},
        "triggers": {"triggers": ["touch"]},
        "conditions": {"conditions": ["diabetes"]},
        "treatments": {"treatments": ["pregabalin"]},
        "self-tests": dict.fromkeys(SELF_TESTS, False),
        "warning-signs": dict.fromkeys(FLAGS, False),
    }
    stored.update(overrides)
    return stored
