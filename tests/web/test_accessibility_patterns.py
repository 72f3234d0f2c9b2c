"""The shared accessibility patterns of the templates (issue 16 item 11), checked in the source
so a new page follows them before the browser walk's axe-core audit meets it
(``tests/security/browser/test_csp_walk_every_role.py``):

- a table that may scroll sideways sits in the one wrapper the keyboard can reach and a screen
  reader names: ``<div class="table-wrap" tabindex="0" role="region" aria-label="...">``;
- a column of actions has a header a screen reader can read (visually hidden), never ``<th></th>``.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ketaclinic"

_WRAPPER = re.compile(r"<div\b[^>]*\bclass=\"[^\"]*\btable-wrap\b[^\"]*\"[^>]*>")
_EMPTY_HEADER = re.compile(r"<th\b[^>]*>\s*</th>")


def _templates() -> list[Path]:
    return sorted(SRC.glob("**/templates/**/*.html"))


def test_the_patterns_are_looked_for_in_the_templates() -> None:
    # Without this the checks below could pass on no file at all.
    wrapped = [p for p in _templates() if _WRAPPER.search(p.read_text(encoding="utf-8"))]
    assert len(wrapped) > 10, wrapped


def test_every_table_wrapper_is_reachable_by_keyboard_and_named() -> None:
    bare = [
        f"{path.relative_to(SRC)}: {tag}"
        for path in _templates()
        for tag in _WRAPPER.findall(path.read_text(encoding="utf-8"))
        if not ('tabindex="0"' in tag and 'role="region"' in tag and 'aria-label="' in tag)
    ]
    assert bare == [], "\n".join(bare)


def test_no_table_header_is_empty() -> None:
    empty = [
        f"{path.relative_to(SRC)}: {tag}"
        for path in _templates()
        for tag in _EMPTY_HEADER.findall(path.read_text(encoding="utf-8"))
    ]
    assert empty == [], "\n".join(empty)
