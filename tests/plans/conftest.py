from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture(autouse=True)
def _patients_found_eligible(request: pytest.FixtureRequest) -> None:
    """Plans are made for patients a physician has examined and found eligible.

    Every test here that uses the shared personas starts from a signed "eligible" decision for
    Alice and Bob, as a real plan would; the eligibility gate itself (no decision, review,
    ineligible, expired) is walked in tests/safety/test_eligibility_gate.py.
    """
    if "world" not in request.fixturenames:
        return
    world = request.getfixturevalue("world")
    for patient in (world.alice_patient, world.bob_patient):
        factories.ensure_eligible(patient, world.physician)
