"""Production settings as a real production process reads them (issue 15 item 6): Django's
``check --deploy`` reports nothing, HTTPS and HSTS are on by default, and DEBUG=true is refused."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.production import manage, production_env


def test_check_deploy_reports_nothing_with_production_settings(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "System check identified no issues" in output


_READ_SETTINGS = """
import json
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in (
    "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_REDIRECT_EXEMPT",
)}))
"""


def _settings(env: dict[str, str]) -> dict[str, object]:
    result = manage(env, "shell", "-c", _READ_SETTINGS)
    assert result.returncode == 0, result.stderr
    values: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


def test_production_defaults_to_https_only(tmp_path: Path) -> None:
    assert _settings(production_env(tmp_path)) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
    }


def test_the_operator_can_opt_into_preload_and_still_passes_the_check(tmp_path: Path) -> None:
    env = production_env(tmp_path, SECURE_HSTS_PRELOAD="true", SECURE_HSTS_SECONDS="63072000")
    values = _settings(env)
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_HSTS_SECONDS"] == 63072000
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_debug(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, DEBUG="true"), "check")
    assert result.returncode != 0
    assert "DEBUG=true is refused in production" in result.stderr


def test_demo_mode_has_no_https_redirect_or_hsts(tmp_path: Path) -> None:
    env = production_env(tmp_path, KETACLINIC_MODE="demo")
    values = _settings(env)
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_a_short_metrics_token_is_refused_and_a_trailing_newline_is_dropped(
    tmp_path: Path,
) -> None:
    short = manage(production_env(tmp_path, METRICS_TOKEN="secret"), "check")
    assert short.returncode != 0
    assert "METRICS_TOKEN: expected at least 24 characters" in short.stderr
    token = secrets.token_urlsafe(32)
    result = manage(
        production_env(tmp_path, METRICS_TOKEN=token + "\n"),
        "shell",
        "-c",
        "from django.conf import settings; print(repr(settings.METRICS_TOKEN))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == repr(token)
