"""The accessibility audit of the browser walk (issue 16 item 11): axe-core, from npm at the
version and hash of ``package-lock.json`` (``make browser`` runs ``npm ci``), run in the page
Playwright shows, at the desktop and the phone width, keeping the serious and critical findings.

The checker's source goes in through ``page.evaluate`` (the DevTools protocol, which the page's
Content-Security-Policy does not govern), not a ``<script>`` tag the policy would refuse: so the
same walk that checks the policy can audit the page, and the policy stays on while it does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# The two widths: a laptop and a phone (the heights do not change what axe reports).
AUDIT_WIDTHS: tuple[ViewportSize, ...] = (
    {"width": 1366, "height": 800},
    {"width": 390, "height": 844},
)

# axe's own impact scale is minor < moderate < serious < critical; the issue asks for none of the
# two upper ones. Only violations are collected (not passes or incomplete), which keeps each run
# quick and its answer small.
_RUN = """async (exclude) => {
  const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
  const result = await axe.run(context, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
}"""


@functools.cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise FileNotFoundError(
            f"{AXE_JS} is missing: run `make browser` (it installs axe-core with `npm ci`)"
        )
    # A trailing expression, so the script's own completion value is not taken for a function
    # for Playwright to call.
    return AXE_JS.read_text(encoding="utf-8") + "\n;true"


class Audit:
    """The serious and critical findings of every page audited, for one report at the end."""

    def __init__(self) -> None:
        self.findings: list[str] = []

    def check(self, page: Page, where: str, *, exclude: tuple[str, ...] = ()) -> None:
        """Audit the page in view at each width, without reloading it, then give it back at the
        width it had; ``exclude`` names parts of the page (CSS selectors) that are not ours."""
        before = page.viewport_size
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source())
        for size in AUDIT_WIDTHS:
            page.set_viewport_size(size)
            violations: list[dict[str, Any]] = page.evaluate(_RUN, list(exclude))
            for v in violations:
                targets = ", ".join(v["targets"][:5]) + (" ..." if len(v["targets"]) > 5 else "")
                self.findings.append(
                    f"{where} at {size['width']} px: {v['id']} ({v['impact']}) {v['help']}"
                    f" -- {targets}"
                )
        if before is not None:
            page.set_viewport_size(before)

    def report(self) -> str:
        return "\n".join(
            [f"{len(self.findings)} serious or critical accessibility findings:", *self.findings]
        )

    def assert_clean(self) -> None:
        assert self.findings == [], self.report()
