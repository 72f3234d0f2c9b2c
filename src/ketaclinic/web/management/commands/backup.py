"""``ketaclinic backup --output FILE``: the database, the stored files and a manifest, in one file.

Safe while the site runs (web/backup/engines.py). With BACKUP_ENCRYPTION_KEY set the file is
encrypted; production refuses to write one in clear unless told so (``--unencrypted``). Exits 0
with a one-line summary; on a refusal or failure, 1 with the reason, and no file is left behind.
Schedules, retention and keys: docs/operations.md "Backups".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from ketaclinic.web.backup import BackupError, backup_write, configured_key
from ketaclinic.web.backup.crypto import key_new


class Command(BaseCommand):
    help = "Back up the database and the stored files (clinic logos, letters) to one file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="the backup file to write (new)")
        parser.add_argument(
            "--unencrypted",
            action="store_true",
            help="write the file in clear even in production (only onto encrypted storage)",
        )
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="print a new random key for BACKUP_ENCRYPTION_KEY and exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(key_new())
            return
        output: Path | None = options["output"]
        if output is None:
            raise CommandError("--output: name the backup file to write.")
        key = None if options["unencrypted"] else configured_key()
        if key is None and settings.MODE == "production" and not options["unencrypted"]:
            # A backup is every patient's record in one file, and backups travel (offsite
            # copies, spare disks, a colleague's laptop for a restore drill): in production
            # one in clear is written only when someone asked for it by name.
            raise CommandError(
                "Refusing to write an unencrypted backup in production: the file would hold "
                "every patient's record in clear. Set BACKUP_ENCRYPTION_KEY_FILE (make a key "
                "with `ketaclinic backup --new-key`), or pass --unencrypted if the backup goes "
                "only to storage that is itself encrypted."
            )
        try:
            summary = backup_write(output=output.resolve(), key=key)
        except BackupError as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(f"The database could not be read or written: {error}") from error
        facts = summary.manifest.facts
        chains = len(facts.audit_heads)
        self.stdout.write(
            f"Backup written: {summary.path} ({summary.size / 2**20:.1f} MiB, "
            f"{'encrypted' if summary.encrypted else 'NOT encrypted'}): "
            f"{len(facts.tables)} tables, {facts.rows:,} rows, {chains} audit "
            f"chain{'' if chains == 1 else 's'}, {len(summary.manifest.media)} stored "
            f"file{'' if len(summary.manifest.media) == 1 else 's'}, in {summary.seconds:.1f} s."
        )
