"""The backup file's container: a gzip'd tar stream, encrypted when a key is set.

Members, in order: ``manifest.json``, the database (``database/sqlite3`` or ``database/pg_dump``),
then the default storage's files under ``media/``. Written as a stream (tar ``w|``), so nothing
but the database dump ever sits on disk in full; read back the same way into a staging
directory, where every member's name is checked before a byte is written (no absolute paths, no
``..``, regular files only: a crafted archive cannot write outside the staging directory).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from django.core.files.storage import Storage

from ketaclinic.web.backup.crypto import (
    MAGIC,
    BackupCryptoError,
    DecryptingReader,
    EncryptingWriter,
)

MANIFEST_MEMBER = "manifest.json"
MEDIA_PREFIX = "media/"
# Level 1: most of what level 6 saves on a database, at several times the speed (a backup of a
# large clinic is bound by compression, not by the disk).
GZIP_LEVEL = 1
_GZIP_MAGIC = b"\x1f\x8b"
_COPY_BYTES = 1 << 20


class ArchiveError(Exception):
    """The file is not a readable backup: the message says why, for the operator."""


def media_names(storage: Storage) -> list[str]:
    """Every file of the storage, as names relative to its root, sorted."""
    names: list[str] = []

    def walk(folder: str) -> None:
        try:
            folders, files = storage.listdir(folder)
        except FileNotFoundError:
            return
        for name in files:
            names.append(f"{folder}/{name}" if folder else name)
        for sub in folders:
            walk(f"{folder}/{sub}" if folder else sub)

    walk("")
    return sorted(names)


@contextmanager
def archive_writer(raw: BinaryIO, key: bytes | None) -> Iterator[tarfile.TarFile]:
    """A tar stream to add members to; closed (and its last chunk written) on leaving."""
    encrypted = EncryptingWriter(raw, key) if key is not None else None
    sink: Any = encrypted if encrypted is not None else raw
    # mtime=0: the gzip header carries no time, so the same content gives the same bytes.
    with (
        gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        yield tar
    if encrypted is not None:
        encrypted.close()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def add_stream(tar: tarfile.TarFile, name: str, size: int, stream: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    tar.addfile(info, stream)


def add_json(tar: tarfile.TarFile, name: str, data: dict[str, Any]) -> None:
    add_bytes(tar, name, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


def file_kind(path: Path) -> str:
    """ "encrypted", "plain", or a refusal: what the file's first bytes say it is."""
    with path.open("rb") as f:
        start = f.read(len(MAGIC))
    if start.startswith(MAGIC):
        return "encrypted"
    if start.startswith(_GZIP_MAGIC):
        return "plain"
    raise ArchiveError(f"{path} is not a ketaclinic backup (it starts with neither header).")


def storage_name_safe(name: str) -> bool:
    """Whether ``name`` is a plain relative name inside the storage: checked on the raw text,
    part by part (``PurePosixPath`` would fold ``a//b`` and ``a/./b`` away, and then the
    manifest's name and the member's would no longer be the same file)."""
    parts = name.split("/")
    return (
        bool(name)
        and "\x00" not in name
        and not name.startswith("/")
        and all(part not in {"", ".", ".."} for part in parts)
    )


def _member_path(name: str, database_members: tuple[str, ...]) -> PurePosixPath:
    path = PurePosixPath(name)
    if name == MANIFEST_MEMBER or name in database_members:
        return path
    safe = name.startswith(MEDIA_PREFIX) and storage_name_safe(name[len(MEDIA_PREFIX) :])
    if not safe:
        raise ArchiveError(
            f"The backup holds an unexpected member {name!r}: it is not a ketaclinic backup, "
            "or it was altered. Nothing was restored."
        )
    return path


def archive_stage(
    path: Path, key: bytes | None, staging: Path, database_members: tuple[str, ...]
) -> tuple[dict[str, Any], list[str]]:
    """Unpack the whole backup into ``staging``: the manifest, and the members written.

    Everything is read and authenticated before anything is restored, so a changed or cut file
    is refused while the database is still untouched.
    """
    written: list[str] = []
    manifest: dict[str, Any] | None = None
    with path.open("rb") as raw:
        reader: Any = raw
        decrypting: DecryptingReader | None = None
        if key is not None:
            decrypting = DecryptingReader(raw, key)
            reader = decrypting
        try:
            with (
                gzip.GzipFile(fileobj=reader, mode="rb") as unzipped,
                tarfile.open(fileobj=unzipped, mode="r|") as tar,
            ):
                for member in tar:
                    target = _member_path(member.name, database_members)
                    if not member.isfile():
                        raise ArchiveError(
                            f"The backup's member {member.name!r} is not a regular file: it "
                            "is not a ketaclinic backup, or it was altered."
                        )
                    source = tar.extractfile(member)
                    if source is None:  # pragma: no cover (regular files always have data)
                        continue
                    if member.name == MANIFEST_MEMBER:
                        manifest = json.loads(source.read().decode("utf-8"))
                        continue
                    _write_new(staging / target, source)
                    written.append(member.name)
                # The tar stream ends before gzip's trailer (its CRC) and the last encrypted
                # chunk: read both, or a file cut after the tar's end would pass.
                while unzipped.read(_COPY_BYTES):
                    pass
        except BackupCryptoError:
            raise
        except (OSError, EOFError, zlib.error, tarfile.TarError, ValueError) as error:
            raise ArchiveError(
                f"The backup is damaged or cut short ({error}). Nothing was restored."
            ) from error
        # The last chunk is the one nothing follows (crypto.py), so no data can trail it.
        if decrypting is not None and not decrypting.finished:
            raise ArchiveError("The backup ends before its last chunk. Nothing was restored.")
    if manifest is None:
        raise ArchiveError("The backup has no manifest: it is not a ketaclinic backup.")
    return manifest, written


def archive_manifest(path: Path, key: bytes | None) -> dict[str, Any]:
    """The manifest alone, from the first member: enough to refuse a restore before reading the
    rest (a wrong engine, a newer version, a wrong key). Its chunk is authenticated."""
    with path.open("rb") as raw:
        reader: Any = DecryptingReader(raw, key) if key is not None else raw
        try:
            with (
                gzip.GzipFile(fileobj=reader, mode="rb") as unzipped,
                tarfile.open(fileobj=unzipped, mode="r|") as tar,
            ):
                member = tar.next()
                source = tar.extractfile(member) if member is not None else None
                if member is None or member.name != MANIFEST_MEMBER or source is None:
                    raise ArchiveError(
                        f"{path} has no manifest first: it is not a ketaclinic backup."
                    )
                manifest: dict[str, Any] = json.loads(source.read().decode("utf-8"))
                return manifest
        except BackupCryptoError:
            raise
        except (OSError, EOFError, zlib.error, tarfile.TarError, ValueError) as error:
            raise ArchiveError(
                f"The backup is damaged or cut short ({error}). Nothing was restored."
            ) from error


def _write_new(target: Path, source: IO[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        while chunk := source.read(_COPY_BYTES):
            out.write(chunk)
