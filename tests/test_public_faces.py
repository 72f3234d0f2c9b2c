"""Each app's public face (docs/architecture.md "Layout"): other apps import an app's ``api``
module, which lists what they may call, and its ``models`` (the shared vocabulary of rows), and
nothing else of it. So a write to appointments from another app goes through scheduling's own
services (transitions, versions, audit), and an app can reshape its insides freely.

The clinical core and ``lib`` are shared building blocks, imported by anyone. Tests are outside
the package and may reach inside.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import grimp
import pytest

import ketaclinic

PACKAGE = Path(ketaclinic.__file__).parent
SHARED = {"clinical", "lib"}
APPS = sorted(p.parent.name for p in PACKAGE.glob("*/apps.py"))
PUBLIC = {"api", "models"}


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in APPS else None


def face_breaches(graph: grimp.ImportGraph) -> list[str]:
    """Every import from one app into another app's insides, as 'importer -> imported'."""
    found = []
    for importer in sorted(graph.modules):
        source = _app(importer)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            target = _app(imported)
            if target is None or target == source or target in SHARED:
                continue
            if imported.split(".")[2] not in PUBLIC:
                found.append(f"{importer} -> {imported}")
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Imports under TYPE_CHECKING count too: a type named from another app's insides is a
    # dependency on them all the same.
    return grimp.build_graph("ketaclinic", exclude_type_checking_imports=False, cache_dir=None)


def test_other_apps_import_only_an_apps_api_and_models(graph: grimp.ImportGraph) -> None:
    assert face_breaches(graph) == []


def test_a_reach_inside_another_app_is_found() -> None:
    # The check itself can fail: one import of scheduling's services from outcomes is reported.
    graph = grimp.build_graph("ketaclinic", exclude_type_checking_imports=False, cache_dir=None)
    graph.add_import(
        importer="ketaclinic.outcomes.selectors",
        imported="ketaclinic.scheduling.services",
        line_number=1,
        line_contents="from ketaclinic.scheduling.services import appointment_book",
    )
    assert face_breaches(graph) == [
        "ketaclinic.outcomes.selectors -> ketaclinic.scheduling.services"
    ]


# The ``api`` app's own ``api.py`` is its HTTP routes (a page), not a face.
FACES = [a for a in APPS if a != "api" and (PACKAGE / a / "api.py").exists()]


@pytest.mark.parametrize("app", FACES)
def test_every_name_an_api_lists_is_there(app: str) -> None:
    module = importlib.import_module(f"ketaclinic.{app}.api")
    names = module.__all__
    assert names == sorted(names)
    assert [n for n in names if not hasattr(module, n)] == []
