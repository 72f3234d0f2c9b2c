"""``ketaclinic seed --patients N --years Y --seed S``: synthetic patients for tests and benchmarks.

Bulk loading, not a user action: it bypasses the services (see ``ketaclinic.devdata.seeding``),
so it refuses to run in production mode unless ``--force``. It writes a few thousand rows a
transaction, so a server running on the same database keeps answering while it runs.

A clinic chain at the size of issue 17 (50 locations, 100,000 patients, about 10 M diary entries
and 5 M audit events):

    ketaclinic seed --locations 50 --patients 100000 --years 3 --audit-per-patient 50
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ketaclinic.clinics.models import Clinic
from ketaclinic.devdata.seeding import SeedRefusedError, seed_clinic


class Command(BaseCommand):
    help = "Write deterministic synthetic patients, infusion series and pain diaries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=200, help="patients (default 200)")
        parser.add_argument("--years", type=float, default=3.0, help="years of history")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--clinic", default="", help="clinic slug (default: the first clinic)")
        parser.add_argument(
            "--locations",
            type=int,
            default=0,
            help="add seed sites until the clinic has this many locations (default: keep them)",
        )
        parser.add_argument(
            "--audit-per-patient",
            type=int,
            default=50,
            help="audit events per patient, on the clinic's hash chain (default 50; 0 for none)",
        )
        parser.add_argument(
            "--force", action="store_true", help="run even in production mode (never on real data)"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.MODE == "production" and not options["force"]:
            raise CommandError(
                "Refusing to seed synthetic patients in production mode "
                "(KETACLINIC_MODE=production). Use a demo or test database, or pass --force."
            )
        slug = options["clinic"]
        clinics = Clinic.objects.order_by("pk")
        clinic = clinics.filter(slug=slug).first() if slug else clinics.first()
        if clinic is None:
            raise CommandError(
                f"No clinic with slug {slug!r}."
                if slug
                else "No clinic yet: run `ketaclinic demo`."
            )
        total = options["patients"]
        try:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                disable=options["quiet"],
            ) as progress:
                task = progress.add_task(f"Seeding {clinic.slug}", total=total)
                summary = seed_clinic(
                    clinic=clinic,
                    patients=total,
                    years=options["years"],
                    seed=options["seed"],
                    locations=options["locations"],
                    audit_per_patient=options["audit_per_patient"],
                    progress=lambda done: progress.advance(task, done),
                )
        except SeedRefusedError as error:
            raise CommandError(str(error)) from error
        # Millions of rows arrived by COPY in minutes; until the planner's statistics are read
        # again it takes a clinic with 5 M audit events for one with 9,000 and scans (the audit
        # page's count took 100 ms instead of 3 at 5 M events). Autovacuum would get there later.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"Seeded {summary.patients} patients: {summary.series} series, "
            f"{summary.appointments} infusion appointments ({summary.no_shows} no-shows), "
            f"{summary.adverse_events} adverse events, {summary.diary_entries} diary entries, "
            f"{summary.audit_events} audit events."
        )
