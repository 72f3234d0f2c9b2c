"""Backups and restores of the whole site: the database, the default storage's files, a manifest.

``backup_write`` (``ketaclinic backup``) copies a consistent snapshot of the database while the
site runs (engines.py), reads the manifest's facts from that same snapshot (manifest.py) and
streams manifest, database and files into one archive, encrypted when a key is set (archive.py,
crypto.py). ``backup_restore`` (``ketaclinic restore``) refuses before it touches anything when
the file, the key, the engine, the version or a non-empty database say so; unpacks and
authenticates the whole file; restores; then checks the result against the manifest and runs
the audit trail's own verification. Operating it: docs/operations.md "Backups".

A backup is not an audited action: it writes nothing to the database it copies (the snapshot
would not hold the event anyway), and a restore brings back the trail exactly as it was.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from ketaclinic.web.backup import engines
from ketaclinic.web.backup.archive import (
    MANIFEST_MEMBER,
    MEDIA_PREFIX,
    ArchiveError,
    add_json,
    add_stream,
    archive_manifest,
    archive_stage,
    archive_writer,
    file_kind,
    media_names,
    storage_name_safe,
)
from ketaclinic.web.backup.crypto import BackupCryptoError, key_decode
from ketaclinic.web.backup.engines import EngineError
from ketaclinic.web.backup.manifest import (
    FORMAT_VERSION,
    DatabaseFacts,
    Manifest,
    app_version,
    facts_read,
    now_text,
    quote,
    table_names,
)

DATABASE_MEMBERS = {"sqlite": engines.SQLITE_MEMBER, "postgresql": engines.POSTGRES_MEMBER}
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# Tables `ketaclinic migrate` fills on its own: a database with rows only there is empty.
MIGRATE_FILLS = frozenset({"django_migrations", "django_content_type", "auth_permission"})
# What a refusal names first when it finds data, by model.
NAMED_MODELS = ("clinics.Clinic", "accounts.User", "patients.Patient", "audit.AuditEvent")


class BackupError(Exception):
    """A backup or restore that did not happen, or did not check out: the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size: int
    encrypted: bool
    manifest: Manifest
    seconds: float


@dataclass
class RestoreSummary:
    manifest: Manifest
    media_restored: int = 0
    media_left: int = 0
    chains_verified: str = ""
    pending_migrations: list[str] = field(default_factory=list)
    extra_tables: list[str] = field(default_factory=list)
    seconds: float = 0.0


def configured_key() -> bytes | None:
    text = str(getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or "")
    return key_decode(text) if text else None


# --- backup -----------------------------------------------------------------------------------


def backup_write(*, output: Path, key: bytes | None) -> BackupSummary:
    """Write a backup to ``output`` (a new file, mode 0600), encrypted with ``key`` if given."""
    started = time.monotonic()
    if output.exists():
        raise BackupError(f"{output} exists: choose a new name (a backup never overwrites one).")
    if not output.parent.is_dir():
        raise BackupError(f"{output.parent} is not a directory.")
    vendor = engines.vendor()
    if vendor not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    # The dump is written next to the output: the space it needs is the space the backup needs.
    work = Path(tempfile.mkdtemp(prefix=".ketaclinic-backup-", dir=output.parent))
    partial = output.with_name(output.name + ".partial")
    try:
        dump = work / "database"
        try:
            if vendor == "sqlite":
                facts, detail = engines.sqlite_snapshot(dump)
            else:
                facts, detail = engines.postgres_snapshot(dump)
        except EngineError as error:
            raise BackupError(str(error)) from error
        # After the database's snapshot: a file the snapshot names was written before it (a
        # logo is stored before its row commits), so it is in the storage by now.
        names = media_names(default_storage)
        media: list[dict[str, Any]] = [
            {"name": name, "size": default_storage.size(name)} for name in names
        ]
        manifest = Manifest(
            engine=vendor,
            database_member=DATABASE_MEMBERS[vendor],
            facts=facts,
            media=media,
            engine_detail=detail,
            created_at=now_text(),
            app_version=app_version(),
        )
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw:
            with archive_writer(raw, key) as tar:
                add_json(tar, MANIFEST_MEMBER, manifest.to_json())
                with dump.open("rb") as database:
                    add_stream(tar, manifest.database_member, dump.stat().st_size, database)
                for item in media:
                    _add_media(tar, str(item["name"]), int(item["size"]))
            raw.flush()
            os.fsync(raw.fileno())
        # Under its name only once complete: a backup cut short by a crash or a full disk is
        # never mistaken for a good one.
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return BackupSummary(
        path=output,
        size=output.stat().st_size,
        encrypted=key is not None,
        manifest=manifest,
        seconds=time.monotonic() - started,
    )


def _add_media(tar: Any, name: str, size: int) -> None:
    try:
        with default_storage.open(name, "rb") as stored:
            add_stream(tar, MEDIA_PREFIX + name, size, stored)
    except OSError as error:
        raise BackupError(
            f"The stored file {name} changed while the backup ran ({error}): run it again."
        ) from error


# --- restore ----------------------------------------------------------------------------------


def backup_read_manifest(*, path: Path, key: bytes | None) -> tuple[Manifest, bool]:
    """The backup's manifest, and whether the file is encrypted; refusals as BackupError."""
    if not path.is_file():
        raise BackupError(f"There is no backup file at {path}.")
    try:
        encrypted = file_kind(path) == "encrypted"
        if encrypted and key is None:
            raise BackupError(
                f"{path} is encrypted: set BACKUP_ENCRYPTION_KEY (or BACKUP_ENCRYPTION_KEY_FILE) "
                "to the key it was written with. Nothing was restored."
            )
        data = archive_manifest(path, key if encrypted else None)
    except (ArchiveError, BackupCryptoError) as error:
        raise BackupError(str(error)) from error
    if data.get("format") != FORMAT_VERSION:
        raise BackupError(
            f"The backup's format is {data.get('format')!r}; this version reads format "
            f"{FORMAT_VERSION}. Restore it with the version that wrote it "
            f"({data.get('app_version', 'unknown')})."
        )
    try:
        manifest = Manifest.from_json(data)
        names = [m["name"] for m in manifest.media]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BackupError(f"The backup's manifest is incomplete ({error}).") from error
    _check_manifest_names(manifest, names)
    return manifest, encrypted


def _check_manifest_names(manifest: Manifest, names: list[Any]) -> None:
    """The restore writes the storage by the manifest's names: a crafted one (absolute, ``..``,
    an empty part) is refused here, before anything changes, not by the storage halfway through
    (after the database was already replaced)."""
    if manifest.database_member != DATABASE_MEMBERS.get(manifest.engine):
        raise BackupError(
            f"The backup's manifest names the database member {manifest.database_member!r}, "
            f"not the one of a {manifest.engine!r} backup: it was altered. Nothing was restored."
        )
    for name in names:
        if not isinstance(name, str) or not storage_name_safe(name):
            raise BackupError(
                f"The backup's manifest names a file outside the storage ({name!r}): it was "
                "altered. Nothing was restored."
            )


def backup_restore(
    *, path: Path, key: bytes | None, force: bool, allow_unencrypted: bool = True
) -> RestoreSummary:
    """Restore ``path`` into the configured database and storage, then check the result.

    ``allow_unencrypted=False`` (production, unless the operator says otherwise) refuses a file
    in clear: only an encrypted backup proves, by its key, that it is one of this clinic's own;
    a clear one could have been written by anyone who could place a file there."""
    started = time.monotonic()
    manifest, encrypted = backup_read_manifest(path=path, key=key)
    if not encrypted and not allow_unencrypted:
        raise BackupError(
            "Refusing to restore an unencrypted backup in production: nothing proves it is one "
            "of this clinic's own backups. Restore an encrypted one, or pass --unencrypted if "
            "you know where this file came from. Nothing was changed."
        )
    _check_engine(manifest)
    pending = _check_migrations(manifest)
    if not force:
        found = _data_found()
        if found:
            where = engines.describe_database()
            raise BackupError(
                f"{where[0].upper()}{where[1:]} is not empty: it holds {found}. Restoring "
                "replaces all of it: back it up first if it may be needed, then restore again "
                "with --force. Nothing was changed."
            )
    staging = Path(tempfile.mkdtemp(prefix="ketaclinic-restore-"))
    try:
        try:
            _data, written = archive_stage(
                path,
                key if encrypted else None,
                staging,
                tuple(DATABASE_MEMBERS.values()),
            )
        except (ArchiveError, BackupCryptoError) as error:
            raise BackupError(str(error)) from error
        _check_staged(manifest, written)
        staged_database = staging / manifest.database_member
        try:
            if manifest.engine == "sqlite":
                engines.sqlite_restore(staged_database)
            else:
                engines.postgres_restore(staged_database)
        except EngineError as error:
            raise BackupError(str(error)) from error
        summary = RestoreSummary(manifest=manifest, pending_migrations=pending)
        summary.media_restored, summary.media_left = _restore_media(manifest, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary.extra_tables = _check_restored(manifest)
    summary.chains_verified = _verify_audit_trail()
    summary.seconds = time.monotonic() - started
    return summary


def _check_engine(manifest: Manifest) -> None:
    vendor = engines.vendor()
    if manifest.engine != vendor:
        theirs = ENGINE_NAMES.get(manifest.engine, manifest.engine)
        ours = ENGINE_NAMES.get(vendor, vendor)
        raise BackupError(
            f"The backup holds a {theirs} database and DATABASE_URL names a {ours} one: a "
            f"backup restores onto the engine it was taken from. Point DATABASE_URL at a {theirs} "
            "database. Nothing was changed."
        )


def _check_migrations(manifest: Manifest) -> list[str]:
    """Refuse a backup from a newer version; name the migrations an older one still needs."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    applied = {(app, name) for app, names in manifest.facts.migrations.items() for name in names}
    ours = set(loader.migrated_apps)
    unknown = sorted(f"{app}.{name}" for app, name in applied - known if app in ours)
    if unknown:
        raise BackupError(
            f"The backup was made by a newer version of ketaclinic ({manifest.app_version}): it "
            f"has migrations this version does not know ({', '.join(unknown[:5])}"
            f"{', ...' if len(unknown) > 5 else ''}). Restore it with that version or a later "
            "one. Nothing was changed."
        )
    return sorted(f"{app}.{name}" for app, name in known - applied if app in ours)


def _data_found() -> str:
    """What the configured database holds beyond what migrate writes, in words; "" if nothing."""
    if engines.vendor() == "sqlite" and not engines.sqlite_path().exists():
        return ""
    with connection.cursor() as cursor:
        tables = table_names(cursor, engines.vendor())
        skip = MIGRATE_FILLS | _cache_tables()
        filled = []
        for table in tables:
            if table in skip:
                continue
            cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608 (quoted name)
            if cursor.fetchone() is not None:
                filled.append(table)
        if not filled:
            return ""
        parts = []
        for label in NAMED_MODELS:
            model = apps.get_model(label)
            table = model._meta.db_table
            if table in filled:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
                row = cursor.fetchone()
                count = int(row[0]) if row else 0
                noun = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
                parts.append(f"{count:,} {noun}")
    parts.append(f"rows in {len(filled)} table{'' if len(filled) == 1 else 's'} in all")
    return ", ".join(parts)


def _cache_tables() -> set[str]:
    return {
        str(cache["LOCATION"])
        for cache in settings.CACHES.values()
        if cache["BACKEND"].endswith("DatabaseCache")
    }


def _check_staged(manifest: Manifest, written: list[str]) -> None:
    expected = {manifest.database_member} | {MEDIA_PREFIX + str(m["name"]) for m in manifest.media}
    missing = sorted(expected - set(written))
    if missing:
        raise BackupError(
            f"The backup lacks what its manifest lists ({', '.join(missing[:5])}): it is "
            "incomplete. Nothing was restored."
        )


def _restore_media(manifest: Manifest, staging: Path) -> tuple[int, int]:
    """Write every file of the backup to the default storage; the count of files left there
    that the backup does not hold (never deleted: they may be newer than the backup)."""
    names = [str(m["name"]) for m in manifest.media]
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
        with (staging / (MEDIA_PREFIX + name)).open("rb") as staged:
            saved = default_storage.save(name, File(staged, name=name))
        if saved != name:  # pragma: no cover (the name was freed just above)
            raise BackupError(f"The storage saved {name} as {saved}: restore it by hand.")
    left = len(set(media_names(default_storage)) - set(names))
    return len(names), left


def _check_restored(manifest: Manifest) -> list[str]:
    """Compare the restored database with the manifest: every table's rows, every chain's head.
    The tables the database has beyond the backup's are returned (left by --force over a newer
    schema)."""
    with connection.cursor() as cursor:
        restored: DatabaseFacts = facts_read(cursor, engines.vendor())
    expected = manifest.facts
    differ = sorted(
        f"{table} ({restored.tables.get(table, 'missing')} rows, the backup has {rows})"
        for table, rows in expected.tables.items()
        if restored.tables.get(table) != rows
    )
    if differ:
        raise BackupError(
            "The restored database does not match the backup's manifest: "
            + "; ".join(differ[:5])
            + ". Do not start the site on it; restore again, or from another backup."
        )
    if restored.audit_heads != expected.audit_heads:
        raise BackupError(
            "The restored audit chains do not end where the backup's manifest says: do not start "
            'the site on it (docs/operations.md "Audit trail").'
        )
    return sorted(set(restored.tables) - set(expected.tables))


def _verify_audit_trail() -> str:
    """``ketaclinic audit verify`` on the restored database: its report."""
    out = io.StringIO()
    try:
        call_command("audit", "verify", stdout=out)
    except CommandError as error:
        raise BackupError(
            f"The restored audit trail does not verify: {error} Do not start the site on it "
            '(docs/operations.md "Audit trail").'
        ) from error
    return out.getvalue().strip()
