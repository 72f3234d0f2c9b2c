"""Patient registrations as a write load, for the kill -9 tests: one machine
(``tests/web/test_busy_database.py``) and two web nodes (``tests/multinode/``).

Threads register patients through the front desk's form as fast as the server answers, until
told to stop; a registration is acknowledged when its redirect to the new patient's page came
back, and only then may the test expect it stored. Each test says how a thread signs in and
which node each post goes to (``RegistrationLoad.run``).
"""

from __future__ import annotations

import re
import threading
import time

import requests

PATIENT_PAGE = re.compile(r"/staff/patients/([0-9a-f-]{36})/$")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FAMILY_NAME = "Killnine"
REGISTER = "/staff/patients/new/"


def csrf(page: requests.Response) -> str:
    """The form's CSRF token (the page must have answered 200)."""
    assert page.status_code == 200, (page.status_code, page.url)
    found = CSRF.search(page.text)
    assert found is not None, page.url
    return found.group(1)


class RegistrationLoad:
    """``threads`` clients registering patients, for at most ``seconds`` whatever happens."""

    def __init__(self, threads: int, seconds: float) -> None:
        self.acked: list[str] = []
        self.unanswered = 0  # no answer, or a server error: may or may not have been stored
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self._thread, args=(n,)) for n in range(threads)]

    def run(self, number: int) -> None:
        """One client's life: sign in, then ``register`` until ``going`` says stop."""
        raise NotImplementedError

    def _thread(self, number: int) -> None:
        try:
            self.run(number)
        except Exception as exc:  # reported by the test, not lost in a thread
            self.errors.append(repr(exc))

    def going(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def register(
        self, http: requests.Session, url: str, token: str, name: str
    ) -> requests.RequestException | None:
        """Post one registration to ``url`` and note how it ended; the exception when no answer
        came (the caller decides what a refused connection means)."""
        try:
            response = http.post(
                url,
                data={
                    "csrfmiddlewaretoken": token,
                    "given_name": name,
                    "family_name": FAMILY_NAME,
                    "date_of_birth": "1970-01-01",
                    "sex": "female",
                },
                headers={"Referer": url},
                allow_redirects=False,
                timeout=30,
            )
        except requests.RequestException as exc:
            with self.lock:
                self.unanswered += 1
            return exc
        found = PATIENT_PAGE.search(response.headers.get("Location", ""))
        with self.lock:
            if response.status_code == 302 and found:
                self.acked.append(found.group(1))
            else:
                self.unanswered += 1
                if response.status_code < 500:  # a refusal would be a bug in the test
                    self.errors.append(f"{response.status_code} {response.text[:300]}")
        return None

    def assert_nothing_acknowledged_lost(self, stored: set[str], at_least: int) -> None:
        """Every acknowledged registration is among ``stored`` (public ids, with or without
        dashes), and only unanswered ones may be extra."""
        assert self.errors == []
        acked = {public_id.replace("-", "") for public_id in self.acked}
        stored = {public_id.replace("-", "") for public_id in stored}
        assert len(acked) == len(self.acked) >= at_least
        assert acked - stored == set()  # every acknowledged write is there
        # A write cut off by the kill may or may not have committed; it was never acknowledged.
        assert len(stored - acked) <= self.unanswered
