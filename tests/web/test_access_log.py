"""Nothing identifying in the logs (issue 15 item 7): the access log of the real `ketaclinic
serve` and Django's request logging drop query strings and mask keys and tokens in paths.

The served test signs in as the demo front desk and the demo clinic admin, searches a patient by
a distinctive name and record number, filters the audit trail by that record number, opens a
password-reset key link from a real reset email and a real emailed diary link, and asks for a
page that does not exist; then it reads everything the server wrote.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ketaclinic.lib.access_log import MaskPathsFilter, mask_path, mask_text

# Names nobody else has, so finding one in the log is a leak, not a coincidence.
GIVEN, FAMILY, MRN = "Quillonbertha", "Zephyrantheson", "QZ7734291"
DEMO_PASSWORD = "ketaclinic-demo"


@pytest.mark.parametrize(
    ("path", "masked"),
    [
        ("/staff/patients/?q=Quillonbertha", "/staff/patients/"),
        ("/clinic/audit/?record_number=QZ1#top", "/clinic/audit/"),
        ("/accounts/confirm-email/MTA:1uX:abc/", "/accounts/confirm-email/[key]/"),
        ("/accounts/password/reset/key/1a-4kz-9f8e7d/", "/accounts/password/reset/key/[key]/"),
        (
            "/accounts/password/reset/key/1a-set-password/",
            "/accounts/password/reset/key/[key]/",
        ),
        ("/accounts/password/reset/key/done/", "/accounts/password/reset/key/done/"),
        ("/clinic/staff/join/Zm9vYmFy/", "/clinic/staff/join/[token]/"),
        ("/a/tok3n/cancel/", "/a/[token]/cancel/"),
        ("/a/tok3n/reschedule/?slot=1", "/a/[token]/reschedule/"),
        ("/a/tok3n/offer/", "/a/[token]/offer/"),
        ("/d/tok3n/", "/d/[token]/"),
        ("/d/tok3n", "/d/[token]"),
        ("/staff/patients/", "/staff/patients/"),
        ("/", "/"),
    ],
)
def test_a_path_loses_its_query_and_its_secret(path: str, masked: str) -> None:
    assert mask_path(path) == masked


def test_paths_inside_text_are_masked() -> None:
    line = (
        '127.0.0.1 - - [x] "GET /d/s3cret/?q=Zeph HTTP/1.1" 200 5 '
        '"https://clinic.example.org/staff/patients/?q=Zeph" "Mozilla/5.0"'
    )
    assert mask_text(line) == (
        '127.0.0.1 - - [x] "GET /d/[token]/ HTTP/1.1" 200 5 '
        '"https://clinic.example.org/staff/patients/" "Mozilla/5.0"'
    )


def test_django_request_logging_is_masked() -> None:
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/d/s3cret/",), None
    )
    assert MaskPathsFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /d/[token]/"


@pytest.mark.parametrize(
    ("logger", "args"),
    [
        ("django.request", ("Not Found: %s", "/d/s3cretT0ken/?q=Zephyrantheson")),
        ("django.server", ('"%s" %s %s', "GET /d/s3cretT0ken/?q=Zephyrantheson HTTP/1.1", 404, 9)),
    ],
)
def test_django_loggers_write_through_the_masking_console_only(
    logger: str, args: tuple[object, ...]
) -> None:
    # The handlers settings.LOGGING configured, each writing to a buffer for the test.
    handlers = set(logging.getLogger(logger).handlers) | set(logging.getLogger().handlers)
    streams = [h for h in handlers if isinstance(h, logging.StreamHandler)]
    assert streams
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in streams]
    try:
        logging.getLogger(logger).warning(*args)
    finally:
        for handler, stream in zip(streams, previous, strict=True):
            handler.setStream(stream)
    written = buffer.getvalue()
    assert "/d/[token]/" in written
    assert "s3cretT0ken" not in written
    assert "Zephyrantheson" not in written


# --- the real server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# The world of this test, made in the served database: the distinctive patient at a demo
# location, and an emailed diary link for them (the token the email would carry).
_WORLD = f"""
import datetime as dt
from django.db import transaction
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.outcomes.diary.links import diary_link_issue
from tests.factories import make_patient
clinic = Clinic.objects.get()
location = Location.objects.filter(clinic=clinic).order_by("pk").first()
patient = make_patient(clinic, given="{GIVEN}", family="{FAMILY}", mrn="{MRN}", location=location)
with transaction.atomic():
    print(diary_link_issue(patient=patient, instrument="nrs", entry_date=dt.date.today()))
"""


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, url
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match is not None, url
    return match.group(1)


def _sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    token = _csrf(session, f"{base}/accounts/login/")
    response = session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "login": email, "password": DEMO_PASSWORD},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "Sign out" in response.text, response.url
    return session


@pytest.mark.smoke
def test_a_served_session_leaves_no_name_record_number_key_or_token_in_the_log(
    tmp_path: Path,
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}
    }
    env.update(
        {
            "KETACLINIC_MODE": "demo",
            "KETACLINIC_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for args in (["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]):
        _manage(env, *args)
    _manage(env, "demo", "--no-history")
    diary_token = _manage(env, "shell", "-c", _WORLD).strip().splitlines()[-1]
    log_path = tmp_path / "served.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.manage", "serve", "--port", str(port)],
            env={**env, "WEB_WORKERS": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.25)

        desk = _sign_in(base, "frontdesk@demo.ketaclinic.test")
        for term in (GIVEN, FAMILY, MRN):
            # The search is posted (never in the URL) and the list redirects to itself.
            token = _csrf(desk, f"{base}/staff/patients/")
            found = desk.post(
                f"{base}/staff/patients/",
                data={"csrfmiddlewaretoken": token, "q": term},
                headers={"Referer": f"{base}/staff/patients/"},
                timeout=30,
            )
            assert found.status_code == 200
            assert "1 patient matches" in found.text, term
            assert f"{FAMILY}, {GIVEN}" in found.text, term
        admin = _sign_in(base, "admin@demo.ketaclinic.test")
        audit = admin.get(f"{base}/clinic/audit/", params={"record_number": MRN}, timeout=30)
        assert audit.status_code == 200

        # A real password-reset email, and its key link opened by the patient.
        anonymous = requests.Session()
        token = _csrf(anonymous, f"{base}/accounts/password/reset/")
        anonymous.post(
            f"{base}/accounts/password/reset/",
            data={"csrfmiddlewaretoken": token, "email": "alice@demo.ketaclinic.test"},
            headers={"Referer": f"{base}/accounts/password/reset/"},
            timeout=30,
        )
        mails = "".join(p.read_text() for p in (tmp_path / "mail").glob("*.log"))
        reset = re.search(r"/accounts/password/reset/key/([^/\s]+)/", mails)
        assert reset is not None, mails
        reset_key = reset.group(1)
        opened = anonymous.get(f"{base}{reset.group(0)}", timeout=30)
        assert opened.status_code == 200
        assert "set-password" in opened.url  # allauth moved the key out of the URL

        diary = requests.get(f"{base}/d/{diary_token}/", timeout=30)
        assert diary.status_code == 200
        missing = requests.get(f"{base}/no-such-page/", params={"q": FAMILY}, timeout=30)
        assert missing.status_code == 404
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise

    written = log_path.read_text()
    for secret in (GIVEN, FAMILY, MRN, reset_key, diary_token):
        assert secret not in written, secret
    # The requests are there, with their paths masked: the log still says what happened.
    assert '"GET /staff/patients/ HTTP/1.1" 200' in written
    assert '"GET /clinic/audit/ HTTP/1.1" 200' in written
    assert '"GET /accounts/password/reset/key/[key]/ HTTP/1.1" 302' in written
    assert '"GET /d/[token]/ HTTP/1.1" 200' in written
    assert '"GET /no-such-page/ HTTP/1.1" 404' in written
    assert "Not Found: /no-such-page/" in written
