"""What every test shares: the personas (``world``, built by ``tests.factories.world``), a
client signed in as any of them, an empty cache, Hypothesis settings, and the browser plugin."""

from __future__ import annotations

import hypothesis
import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories.world import PERSONAS as PERSONAS
from tests.factories.world import World as World
from tests.factories.world import make_world

# The browser fixtures (Chromium, waits, the fixed afternoon) for every browser test.
pytest_plugins = ["tests.plugins.browser"]

# Hypothesis times each example against a 200 ms deadline and health-checks how long drawing the
# data takes: on a loaded machine both fail properties that hold. The properties are what the
# tests check; wall-clock time is not, so neither budget applies anywhere in the suite.
hypothesis.settings.register_profile(
    "ketaclinic", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("ketaclinic")


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with none.
    cache.clear()


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def client_for(world: World):  # type: ignore[no-untyped-def]
    def make(persona: str) -> Client:
        client = Client()
        user = world.persona(persona)
        if user is not None:
            client.force_login(user)
        return client

    return make
