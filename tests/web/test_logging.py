"""JSON logs by setting (``LOG_FORMAT=json``), each request's id, and error reports to ``ADMINS``
that carry no patient data (``lib/logs.py``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from ketaclinic.lib.access_log import MaskPathsFilter
from ketaclinic.lib.env import ConfigurationError, env_addresses
from ketaclinic.lib.logs import JsonFormatter, error_report, request_id

ERROR_URLS = "tests.web.error_urls"
ADMINS = [("Operations", "ops@clinic.example"), ("", "it@clinic.example")]


def _record(message: str, *args: Any, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("ketaclinic.test", logging.ERROR, __file__, 1, message, args, exc_info)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


# --- JSON lines -------------------------------------------------------------------------------


def test_a_json_line_has_the_time_level_logger_message_and_exception() -> None:
    record = _record("Job %s failed", "purge", exc=_raised(ValueError("bad value")))
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert sorted(entry) == ["exception", "level", "logger", "message", "time"]
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "ERROR",
        "ketaclinic.test",
        "Job purge failed",
    )
    assert entry["time"].endswith("+00:00")
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: bad value")


def test_a_json_line_masks_paths_in_the_message_and_the_exception() -> None:
    record = _record(
        "Not Found: %s", "/d/s3cret-token/?q=x", exc=_raised(KeyError("/a/0th3r-s3cret/"))
    )
    MaskPathsFilter().filter(record)  # the handler's filter, as settings.LOGGING has it
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "Not Found: /d/[token]/"
    assert "s3cret" not in entry["exception"]
    assert "/a/[token]/" in entry["exception"]


def test_a_line_written_while_a_request_is_answered_carries_its_id() -> None:
    token = request_id.set("0123456789abcdef")
    try:
        entry = json.loads(JsonFormatter().format(_record("inside")))
    finally:
        request_id.reset(token)
    assert entry["request_id"] == "0123456789abcdef"
    assert "request_id" not in json.loads(JsonFormatter().format(_record("outside")))


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "KETACLINIC_MODE": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "KETACLINIC_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


LOG_A_LINE = (
    "import logging; logging.getLogger('ketaclinic.test').warning('GET %s failed', '/d/t0ken/')"
)


def test_log_format_json_writes_one_object_a_line_with_paths_masked(tmp_path: Path) -> None:
    done = _manage(tmp_path, "shell", "-c", LOG_A_LINE, LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "ketaclinic.test" in line]
    entry = json.loads(line)
    assert entry["message"] == "GET /d/[token]/ failed"
    assert (entry["level"], entry["logger"]) == ("WARNING", "ketaclinic.test")


def test_the_plain_format_stays_the_default(tmp_path: Path) -> None:
    done = _manage(tmp_path, "shell", "-c", LOG_A_LINE)
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "ketaclinic.test" in line]
    assert line.endswith("WARNING ketaclinic.test GET /d/[token]/ failed")


def test_log_level_debug_writes_debug_lines_but_never_the_oauth_libraries(
    tmp_path: Path,
) -> None:
    # oauthlib's and DOT's DEBUG lines carry each token, code and refresh token they issue.
    code = (
        "import logging\n"
        "for name in ('ketaclinic.test', 'oauthlib.oauth2', 'oauth2_provider.views'):\n"
        "    logging.getLogger(name).debug('%s says token=s3cr3t', name)"
    )
    done = _manage(tmp_path, "shell", "-c", code, LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert "ketaclinic.test says" in done.stderr  # DEBUG is on
    assert "oauthlib" not in done.stderr
    assert "oauth2_provider" not in done.stderr


def test_an_unknown_log_format_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    done = _manage(tmp_path, "check", LOG_FORMAT="xml")
    assert done.returncode != 0
    assert "LOG_FORMAT: expected one of plain, json, got 'xml'" in done.stderr


# --- request ids ------------------------------------------------------------------------------


def test_every_response_names_its_request_id() -> None:
    first, second = Client().get("/healthz"), Client().get("/healthz")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_proxy_s_request_id_is_kept_only_when_a_proxy_is_trusted(settings: Any) -> None:
    given = {"X-Request-ID": "f00dfeedf00dfeed"}
    assert Client().get("/healthz", headers=given)["X-Request-ID"] != "f00dfeedf00dfeed"
    settings.TRUSTED_PROXY_COUNT = 1
    assert Client().get("/healthz", headers=given)["X-Request-ID"] == "f00dfeedf00dfeed"
    # Anything but an id (here a forged log line) is replaced.
    forged = Client().get("/healthz", headers={"X-Request-ID": "x\nERROR fake line"})
    assert "\n" not in forged["X-Request-ID"]
    assert forged["X-Request-ID"] != "x\nERROR fake line"


# --- ADMINS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        ("Ops <ops@clinic.example>,it@clinic.example", [("Ops", "ops@clinic.example"), ADMINS[1]]),
        ("Operations <ops@clinic.example>, it@clinic.example,", ADMINS),
    ],
)
def test_admins_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[tuple[str, str]]
) -> None:
    monkeypatch.setenv("ADMINS", raw)
    assert env_addresses("ADMINS") == expected


@pytest.mark.parametrize("raw", ["ops", "ops@clinic.example, someone", "Smith, John <j@x.org>"])
def test_admins_that_are_not_addresses_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("ADMINS", raw)
    with pytest.raises(ConfigurationError, match=r"^ADMINS: expected email addresses"):
        env_addresses("ADMINS")


# --- error emails -----------------------------------------------------------------------------


@pytest.fixture
def failing_site(settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = ERROR_URLS
    settings.ADMINS = ADMINS


@pytest.mark.django_db
def test_a_server_error_emails_the_admins_without_the_patient_s_data(failing_site: None) -> None:
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "not-a-session-but-a-secret"
    response = client.post(
        "/test-fails/?q=Moreno",
        {"full_name": "Alice Moreno", "date_of_birth": "1961-04-12", "note": "diabetic neuropathy"},
        HTTP_USER_AGENT="Clinic workstation 12",
    )
    assert response.status_code == 500
    (email,) = mail.outbox
    assert email.to == ["ops@clinic.example", "it@clinic.example"]
    sent = f"{email.subject}\n{email.body}"
    assert email.subject == "[ketaclinic] ERROR: RuntimeError in tests.web.error_urls.fails"
    for private in ("Alice", "Moreno", "1961", "neuropathy", "not-a-session", "workstation"):
        assert private not in sent, private
    assert "Error: RuntimeError" in email.body
    assert "View: tests.web.error_urls.fails" in email.body
    assert "Status: 500" in email.body
    assert "Request: POST /test-fails/" in email.body
    assert f"Request id: {response['X-Request-ID']}" in email.body
    assert 'error_urls.py", line' in email.body
    assert ", in fails" in email.body
    assert "RuntimeError (message withheld)" in email.body
    assert not getattr(email, "alternatives", [])  # no HTML report (Django's holds the request)


@pytest.mark.django_db
def test_no_email_without_admins_or_for_a_missing_page(failing_site: None, settings: Any) -> None:
    client = Client(raise_request_exception=False)
    assert client.get("/a-page-that-is-not/").status_code == 404
    assert mail.outbox == []
    settings.ADMINS = []
    assert client.get("/test-fails/").status_code == 500
    assert mail.outbox == []


def test_the_report_masks_a_token_in_the_path_and_names_the_chain() -> None:
    request = RequestFactory().get("/d/s3cret-token/")
    try:
        try:
            raise KeyError("Alice")
        except KeyError as first:
            raise ValueError("Moreno") from first
    except ValueError as exc:
        record = _record("Internal Server Error: %s", request.path, exc=exc)
    record.request = request
    record.status_code = 500
    subject, body = error_report(record)
    assert subject == "ERROR: ValueError in (no route)"
    assert "Request: GET /d/[token]/" in body
    assert "s3cret" not in body
    assert "KeyError (message withheld)" in body
    assert "ValueError (message withheld)" in body
    assert body.index("KeyError") < body.index("ValueError (message")
    assert "Alice" not in body
    assert "Moreno" not in body
