"""What every test shares: the personas (``world``, built by ``tests.factories.world``), a
client signed in as any of them (as a real sign-in leaves it: ``tests.factories.sessions``), an
empty cache, Hypothesis settings, and the browser plugin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from tests.factories.sessions import signed_in_client
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


@pytest.fixture(autouse=True, scope="session")
def _media_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Files the tests store (progress letters' PDFs, logos) go to a directory of this run, not
    to the working copy's var/media."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with none.
    cache.clear()


@pytest.fixture(autouse=True)
def _force_login_is_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Client.force_login`` stands for a sign-in made before the test, as setting up: it writes
    no LOGIN audit event, so a test's count of audit events measures what it does. Signing in
    through the sign-in page writes it (tests/accounts/test_auth_events.py)."""
    from django.contrib.auth.signals import user_logged_in

    from ketaclinic.accounts.receivers import audit_login

    force_login = Client.force_login

    def quiet(self: Client, user: Any, backend: str | None = None) -> None:
        user_logged_in.disconnect(dispatch_uid="accounts.audit_login")
        try:
            force_login(self, user, backend)
        finally:
            user_logged_in.connect(audit_login, dispatch_uid="accounts.audit_login")

    monkeypatch.setattr(Client, "force_login", quiet)


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def client_for(world: World):  # type: ignore[no-untyped-def]
    def make(persona: str) -> Client:
        user = world.persona(persona)
        # Signed in as a real sign-in leaves it (the password, and the code where enrolled, just
        # now), so a signature within ACCOUNT_REAUTHENTICATION_TIMEOUT is not asked again.
        return Client() if user is None else signed_in_client(user)

    return make
