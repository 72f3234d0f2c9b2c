from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ketaclinic.devdata.demo import demo_logins, load_demo


class Command(BaseCommand):
    help = "Load the demo clinic (idempotent: existing data is kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError(
                "The demo clinic has published passwords: run it with KETACLINIC_MODE=demo only."
            )
        clinic = load_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo clinic ready: {clinic.name}"))
        for role, email, password in demo_logins():
            self.stdout.write(f"  {role:<22} {email:<38} {password}")
