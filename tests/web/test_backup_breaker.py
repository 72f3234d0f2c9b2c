"""Breaker probes of restore (issue 17): crafted backup files that try to write outside the
staging directory or MEDIA_ROOT, or to get past the checks and fail after the database was
already replaced.

An unencrypted backup is not authenticated, so anyone who can hand the operator a file can
craft it. What held before this file: absolute and ``..`` member names, symlinks, hard links and
devices in the tar are refused while staging. What did not: a member ``media//etc/x`` (an empty
path part, which ``PurePosixPath`` folds away) passed the member check, and its manifest name
``/etc/x`` passed ``_check_staged``; the first the restore heard of it was Django's storage
refusing the absolute name *after* the database had been replaced (a traceback, half a restore).
Now every media name in the manifest and every member name is checked on the raw text before
anything changes.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.web.backup import BackupError, backup_read_manifest
from ketaclinic.web.backup.archive import (
    ArchiveError,
    add_bytes,
    add_json,
    archive_stage,
    archive_writer,
)
from ketaclinic.web.backup.engines import SQLITE_MEMBER

DATABASE_MEMBERS = (SQLITE_MEMBER, "database/pg_dump")


def _manifest(media: list[dict[str, Any]], database_member: str = SQLITE_MEMBER) -> dict[str, Any]:
    return {
        "format": 1,
        "engine": "sqlite",
        "database_member": database_member,
        "tables": {},
        "migrations": {},
        "audit_heads": {},
        "media": media,
        "engine_detail": {},
        "created_at": "2026-01-01T00:00:00+00:00",
        "app_version": "test",
    }


def _crafted(path: Path, manifest: dict[str, Any], members: list[tarfile.TarInfo]) -> Path:
    """A plain (unencrypted) backup written by the real writer, with whatever members."""
    with path.open("wb") as raw, archive_writer(raw, None) as tar:
        add_json(tar, "manifest.json", manifest)
        add_bytes(tar, SQLITE_MEMBER, b"SQLite format 3\x00")
        for info in members:
            data = b"owned" if info.isfile() else None
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(b"owned")
    return info


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _everything_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "member",
    [
        _file("../../etc/x"),
        _file("/etc/x"),
        _file("media/../../x"),
        _file("media//etc/x"),
        _file("media/./x"),
        _file("media/"),
        _file("elsewhere/x"),
        _link("media/x", tarfile.SYMTYPE, "/etc/passwd"),
        _link("media/x", tarfile.LNKTYPE, "/etc/passwd"),
        _link("media/x", tarfile.CHRTYPE, ""),
        _link("media/x", tarfile.FIFOTYPE, ""),
    ],
    ids=lambda m: f"{m.name}:{m.type!r}",
)
def test_a_crafted_member_is_refused_and_nothing_lands_outside_the_staging_folder(
    tmp_path: Path, member: tarfile.TarInfo
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    staging = outside / "staging"
    staging.mkdir()
    backup = _crafted(tmp_path / "crafted.kcb", _manifest([]), [member])
    with pytest.raises(ArchiveError):
        archive_stage(backup, None, staging, DATABASE_MEMBERS)
    # Only what the staging folder itself may hold (the database member, written first).
    assert _everything_under(outside) <= {"staging", "staging/database", f"staging/{SQLITE_MEMBER}"}


@pytest.mark.parametrize(
    "name", ["/etc/x", "../x", "letters/../../x", "a//b", "./a", "a/./b", "", "a/", "a\x00b"]
)
def test_a_manifest_naming_a_file_outside_the_storage_is_refused_before_anything_changes(
    tmp_path: Path, name: str
) -> None:
    # The manifest is what the restore writes to the storage by: a crafted name must be refused
    # with the manifest, before the database or any file is touched, not by the storage after.
    backup = _crafted(tmp_path / "crafted.kcb", _manifest([{"name": name, "size": 5}]), [])
    with pytest.raises(BackupError, match="names a file outside the storage"):
        backup_read_manifest(path=backup, key=None)


def test_a_manifest_with_another_database_member_is_refused(tmp_path: Path) -> None:
    backup = _crafted(tmp_path / "crafted.kcb", _manifest([], database_member="media/x"), [])
    with pytest.raises(BackupError, match="database member"):
        backup_read_manifest(path=backup, key=None)


def test_an_ordinary_manifest_still_reads(tmp_path: Path) -> None:
    media = [{"name": "letters/0f1e.pdf", "size": 5}, {"name": "logos/a b.png", "size": 5}]
    backup = _crafted(
        tmp_path / "ok.kcb",
        _manifest(media),
        [_file("media/letters/0f1e.pdf"), _file("media/logos/a b.png")],
    )
    manifest, encrypted = backup_read_manifest(path=backup, key=None)
    assert not encrypted
    assert [m["name"] for m in manifest.media] == ["letters/0f1e.pdf", "logos/a b.png"]
    staging = tmp_path / "staging"
    staging.mkdir()
    data, written = archive_stage(backup, None, staging, DATABASE_MEMBERS)
    assert json.loads(json.dumps(data))["media"] == media
    assert written == [SQLITE_MEMBER, "media/letters/0f1e.pdf", "media/logos/a b.png"]
