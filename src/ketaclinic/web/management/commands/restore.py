"""``ketaclinic restore FILE``: put a backup back, then check it.

Refuses, changing nothing, when the file is not a backup, is encrypted and the key is missing or
wrong, was changed or cut short, was taken from the other engine or by a newer version, or when
the database is not empty (``--force`` replaces what is there). After restoring it compares
every table's rows and every audit chain's head with the backup's manifest and runs ``audit
verify``. Stop the site first: docs/operations.md "Backups".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from ketaclinic.web.backup import BackupError, backup_restore, configured_key


class Command(BaseCommand):
    help = "Restore a backup (ketaclinic backup) into the configured database and storage."
    # Restore may run against an empty database, before any migration: the checks of a running
    # site do not apply.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the backup file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace a database that is not empty (everything in it is lost)",
        )
        parser.add_argument(
            "--unencrypted",
            action="store_true",
            help="in production, accept a backup written in clear (backup --unencrypted)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup_restore(
                path=options["file"],
                key=configured_key(),
                force=options["force"],
                allow_unencrypted=settings.MODE != "production" or options["unencrypted"],
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(f"The database could not be read or written: {error}") from error
        manifest = summary.manifest
        facts = manifest.facts
        self.stdout.write(
            f"Restored the backup of {manifest.created_at} (ketaclinic {manifest.app_version}, "
            f"{manifest.engine}): {len(facts.tables)} tables, {facts.rows:,} rows, "
            f"{summary.media_restored} stored file{'' if summary.media_restored == 1 else 's'}, "
            f"in {summary.seconds:.1f} s."
        )
        width = max((len(t) for t in facts.tables), default=0)
        for table, rows in sorted(facts.tables.items()):
            if rows:
                self.stdout.write(f"  {table:<{width}}  {rows:>12,}")
        self.stdout.write(
            "Every table has the rows the manifest lists, and every audit chain ends where it says."
        )
        self.stdout.write(summary.chains_verified)
        if summary.media_left:
            self.stdout.write(
                f"{summary.media_left} stored file{'' if summary.media_left == 1 else 's'} not "
                "in the backup were left in place."
            )
        if summary.extra_tables:
            self.stdout.write(
                "Tables the backup does not have were left in place: "
                + ", ".join(summary.extra_tables)
            )
        if summary.pending_migrations:
            self.stdout.write(
                f"The backup predates {len(summary.pending_migrations)} migration"
                f"{'' if len(summary.pending_migrations) == 1 else 's'} of this version: run "
                "`ketaclinic migrate` before starting the site."
            )
        self.stdout.write(self.style.SUCCESS("Restore complete."))
