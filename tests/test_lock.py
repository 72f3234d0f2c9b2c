"""The lock files agree with pyproject.toml's ranges and with what is installed.

``make lock`` writes requirements/main.txt and requirements/dev.txt; these tests fail when a range
in pyproject.toml is changed without refreshing the lock, when a pin carries no hash, or when the
environment running the tests is not the locked one.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+))?"
)


def _pins(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for the pins that apply on this interpreter."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            marker = match.group("marker")
            if marker and not Marker(marker.strip()).evaluate():
                current = None
                continue
            current = canonicalize_name(match.group("name"))
            pins[current] = (match.group("version"), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"main": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}


def test_pin_parser_reads_versions_hashes_and_skips_other_platforms(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:aa\n"
        "django==5.2.19 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n"
        "numpy==9.9 ; python_full_version >= '9.0' \\\n    --hash=sha256:dd\n"
    )
    assert _pins(lock) == {"django": ("5.2.19", 2)}


@pytest.mark.parametrize("lock", ["main", "dev"])
def test_every_pin_carries_a_hash(lock: str) -> None:
    pins = _pins(ROOT / "requirements" / f"{lock}.txt")
    assert pins, lock
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


@pytest.mark.parametrize("lock", ["main", "dev"])
def test_the_lock_satisfies_every_range_of_pyproject(lock: str) -> None:
    pins = _pins(ROOT / "requirements" / f"{lock}.txt")
    wanted = _project()["main"] + (_project()["dev"] if lock == "dev" else [])
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject.toml but not in {lock}.txt: run make lock"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} in {lock}.txt is outside {requirement.specifier}: run make lock"
        )


def test_main_and_dev_pin_the_same_versions() -> None:
    main = _pins(ROOT / "requirements" / "main.txt")
    dev = _pins(ROOT / "requirements" / "dev.txt")
    assert {name: dev[name][0] for name in main} == {name: v for name, (v, _) in main.items()}


def test_the_installed_environment_is_the_locked_one() -> None:
    dev = _pins(ROOT / "requirements" / "dev.txt")
    installed = {name: metadata.version(name) for name in dev if _installed(name)}
    assert installed == {name: version for name, (version, _) in dev.items()}


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
