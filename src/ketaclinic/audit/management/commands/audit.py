"""``ketaclinic audit verify``: recompute the audit trail's hash chains and name the first break.

Exits 0 when every chain is intact and the triggers that refuse changes are in place, 1
otherwise. What a break means and what to do: docs/operations.md "Audit trail".
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ketaclinic.audit.integrity import chain_verify


class Command(BaseCommand):
    help = "Check the audit trail: `audit verify` recomputes every clinic's hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="verify")
        actions.add_parser(
            "verify",
            help="Recompute every event's hash and link; name the first broken link.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        report = chain_verify()
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Audit trail: {report.chains} chain{'' if report.chains == 1 else 's'}, "
            f"{report.events} event{'' if report.events == 1 else 's'} checked "
            f"in {seconds:.1f} s."
        )
        problems: list[str] = []
        if report.broken:
            first = report.broken[0]
            problems.append(
                f"First broken link: {first.describe()}. Broken links in all: {len(report.broken)}."
            )
        if report.missing_triggers:
            problems.append(
                "The triggers that refuse changes to audit events are missing or disabled: "
                + ", ".join(report.missing_triggers)
                + "."
            )
        if problems:
            raise CommandError(" ".join(problems), returncode=1)
        self.stdout.write(
            self.style.SUCCESS("Intact: every event follows the one before it in its chain.")
        )
