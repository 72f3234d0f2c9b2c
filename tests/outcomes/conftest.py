from __future__ import annotations

import pytest

from tests.conftest import World
from tests.factories.patients import registered_since


@pytest.fixture
def diary_world(world: World) -> World:
    """The shared personas, with Alice and Bob registered 120 days ago."""
    registered_since(world.alice_patient, 120)
    registered_since(world.bob_patient, 120)
    return world
