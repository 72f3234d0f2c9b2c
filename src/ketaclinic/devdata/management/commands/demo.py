from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ketaclinic.devdata.demo import demo_logins, load_demo_full


class Command(BaseCommand):
    help = (
        "Load the demo clinic with 2.5 years of history and today's worklists "
        "(idempotent: existing data is kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="only the base clinic: no past patients, no worklist items (what tests use)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError(
                "The demo clinic has published passwords: run it with KETACLINIC_MODE=demo only."
            )
        started = time.monotonic()
        loaded = load_demo_full(history=not options["no_history"])
        self.stdout.write(self.style.SUCCESS(f"Demo clinic ready: {loaded.clinic.name}"))
        if loaded.history is not None:
            summary = loaded.history.summary
            self.stdout.write(
                f"  history: {summary.patients} patients, {summary.sessions} infusion sessions, "
                f"{summary.diary_entries} diary entries, {loaded.history.boosters_open} open "
                f"booster suggestions ({time.monotonic() - started:.1f} s)"
            )
        for role, email, password in demo_logins():
            self.stdout.write(f"  {role:<22} {email:<38} {password}")
