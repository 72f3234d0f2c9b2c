"""Typed readers for environment variables.

Settings read the environment only through these helpers so that a bad value stops start-up
with a message naming the variable, instead of surfacing later as a confusing failure
(the pattern of healthchecks' ``envbool``/``envint``).
"""

from __future__ import annotations

import os
from pathlib import Path


class ConfigurationError(RuntimeError):
    """Raised at start-up when the environment cannot configure a safe server."""


def env_str(name: str, default: str = "") -> str:
    """A string, or the contents of the file named by ``<name>_FILE`` (for container secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE: cannot read {file_name!r}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}: expected true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: expected a whole number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ConfigurationError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def env_addresses(name: str) -> list[tuple[str, str]]:
    """Email addresses as (name, address) pairs, from a comma-separated list such as
    ``"Ops <ops@clinic.example>, it@clinic.example"`` (Django's ``ADMINS`` shape)."""
    from email.utils import getaddresses

    raw = os.environ.get(name, "")
    if not raw.strip():
        return []
    pairs = getaddresses([raw])
    # An empty item (a trailing comma) is skipped; getaddresses answers ("", "") for what it
    # cannot parse, and keeps a bare word as an address: both are refused below.
    found = [(real.strip(), address.strip()) for real, address in pairs if real or address]
    bad = [address for _, address in found if address.count("@") != 1 or " " in address]
    if bad or not found:
        raise ConfigurationError(
            f"{name}: expected email addresses separated by commas, as "
            f"'Name <name@example.org>, other@example.org'; cannot read {raw!r}"
        )
    return found
