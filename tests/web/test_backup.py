"""Backups and the restore drill (``ketaclinic backup`` / ``ketaclinic restore``).

The drill runs on the suite's engine (SQLite in ``make test``, PostgreSQL in CI's second run):
a small clinic is seeded once, backed up, and restored into fresh databases, each compared with
the original table by table (rows and a checksum of every row); the restored audit trail must
verify. Every refusal is checked to change nothing. The encryption's framing is checked on its
own first, with chunks small enough to cut, drop and reorder.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.web.backup.crypto import (
    HEADER_BYTES,
    TAG_BYTES,
    DecryptingReader,
    EncryptingWriter,
    TamperedError,
    WrongKeyError,
    key_decode,
    key_new,
)
from tests.web.backup_sites import ENGINE, WRITER_SNIPPET, Site, Sites, seed, sites_in

# The drill's tests share one seeded clinic: one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("backup_drill")

KEY = key_new()
OTHER_KEY = key_new()

# --- the encryption's framing ------------------------------------------------------------------

CHUNK = 16


def encrypt(plain: bytes, key: str = KEY) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key_decode(key), chunk_bytes=CHUNK)
    for start in range(0, len(plain), 7):  # writes of any size
        writer.write(plain[start : start + 7])
    writer.close()
    return out.getvalue()


def decrypt(data: bytes, key: str = KEY, read_size: int = 5) -> bytes:
    reader = DecryptingReader(io.BytesIO(data), key_decode(key))
    parts = []
    while part := reader.read(read_size):
        parts.append(part)
    assert reader.finished
    return b"".join(parts)


def frames(data: bytes) -> list[bytes]:
    body = data[HEADER_BYTES:]
    size = CHUNK + TAG_BYTES
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("length", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5])
def test_encryption_round_trips_any_length(length: int) -> None:
    plain = os.urandom(length)
    data = encrypt(plain)
    assert plain == decrypt(data)
    assert decrypt(data, read_size=-1) == plain
    # Every chunk is full but the last, which may be full or (for an empty file) empty.
    chunks = max(1, -(-length // CHUNK))
    assert len(data) == HEADER_BYTES + length + TAG_BYTES * chunks
    # The text does not show through: checked where a chance match is negligible (a short
    # random string turns up in random bytes often: one byte does in a quarter of files).
    if length >= 16:
        assert plain not in data


def test_each_file_is_encrypted_differently_under_one_key() -> None:
    assert encrypt(b"same content") != encrypt(b"same content")


def test_the_wrong_key_is_named_before_any_chunk_is_read() -> None:
    data = encrypt(b"patient records" * 10)
    with pytest.raises(WrongKeyError, match="different key"):
        decrypt(data, key=OTHER_KEY)


def test_a_changed_byte_fails_its_chunks_authentication() -> None:
    data = bytearray(encrypt(b"x" * (3 * CHUNK)))
    data[HEADER_BYTES + CHUNK + TAG_BYTES + 3] ^= 1  # in chunk 1
    with pytest.raises(TamperedError, match="chunk 1 failed its authentication"):
        decrypt(bytes(data))


def test_a_changed_header_fails_authentication() -> None:
    data = bytearray(encrypt(b"x" * (3 * CHUNK)))
    data[9] ^= 1  # the chunk size: the key check still passes, every chunk's associated data not
    with pytest.raises(TamperedError):
        decrypt(bytes(data))


def test_a_file_cut_at_a_chunk_boundary_is_cut_short() -> None:
    data = encrypt(b"x" * (3 * CHUNK + 5))
    header, chunks = data[:HEADER_BYTES], frames(data)
    with pytest.raises(TamperedError, match="cut short"):
        decrypt(header + b"".join(chunks[:2]))
    with pytest.raises(TamperedError, match="cut short"):
        decrypt(header)


def test_reordered_or_dropped_chunks_fail_authentication() -> None:
    data = encrypt(b"a" * CHUNK + b"b" * CHUNK + b"c" * CHUNK + b"d")
    header, chunks = data[:HEADER_BYTES], frames(data)
    with pytest.raises(TamperedError, match="chunk 0"):
        decrypt(header + chunks[1] + chunks[0] + b"".join(chunks[2:]))
    with pytest.raises(TamperedError, match="chunk 1"):
        decrypt(header + chunks[0] + b"".join(chunks[2:]))


def test_data_appended_after_the_last_chunk_fails_authentication() -> None:
    data = encrypt(b"x" * (2 * CHUNK))
    with pytest.raises(TamperedError):
        decrypt(data + bytes(CHUNK + TAG_BYTES))


def test_a_key_must_be_32_bytes_of_base64() -> None:
    assert len(key_decode(key_new())) == 32
    with pytest.raises(ValueError, match="32 bytes"):
        key_decode("c2hvcnQ=")


# --- the restore drill -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    yield from sites_in(tmp_path_factory.mktemp("backup-drill"))


@pytest.fixture(scope="module")
def source(sites: Sites) -> Site:
    site = sites.new("source")
    seed(site)
    return site


@pytest.fixture(scope="module")
def plain_backup(source: Site) -> Path:
    path = source.root / "plain.kcb"
    source.run("backup", "--output", str(path))
    return path


@pytest.fixture(scope="module")
def encrypted_backup(source: Site) -> Path:
    path = source.root / "encrypted.kcb"
    source.key = KEY
    try:
        done = source.run("backup", "--output", str(path))
    finally:
        source.key = ""
    assert "encrypted" in done.stdout
    assert "NOT encrypted" not in done.stdout
    return path


def assert_same_site(restored: Site, source: Site) -> None:
    expected = source.checksums()
    assert restored.checksums() == expected
    assert sum(rows for rows, _ in expected.values()) > 1000  # the comparison compared something
    assert restored.media_files() == source.media_files() != {}


def assert_untouched_fresh(site: Site) -> None:
    assert site.tables() == []
    assert site.media_files() == {}


def test_the_drill_restores_every_row_and_file_into_a_fresh_database(
    sites: Sites, source: Site, plain_backup: Path
) -> None:
    assert stat.S_IMODE(plain_backup.stat().st_mode) == 0o600
    manifest = read_manifest(plain_backup)
    assert manifest["engine"] == ENGINE
    assert manifest["tables"]["patients_patient"] == source.count("patients_patient")
    # Two chains: the clinic's and the one of events without a clinic.
    assert set(manifest["audit_heads"]) == {"0", "1"}
    assert manifest["migrations"]["audit"][0] == "0001_initial"
    assert {m["name"] for m in manifest["media"]} == set(source.media_files())

    target = sites.new("fresh")
    done = target.run("restore", str(plain_backup))

    assert_same_site(target, source)
    assert "Restore complete." in done.stdout
    assert f"{len(manifest['tables'])} tables" in done.stdout
    assert "every audit chain ends where it says" in done.stdout
    # restore ran `audit verify` on the restored database: every event of both chains.
    events = manifest["tables"]["audit_auditevent"]
    assert f"Audit trail: 2 chains, {events} events checked" in done.stdout


def test_an_encrypted_backup_restores_only_with_its_key(
    sites: Sites, source: Site, encrypted_backup: Path
) -> None:
    data = encrypted_backup.read_bytes()
    assert data.startswith(b"KCBACKUP")
    assert b"manifest.json" not in data
    assert b"patients_patient" not in data
    assert stat.S_IMODE(encrypted_backup.stat().st_mode) == 0o600
    target = sites.new("encrypted")

    target.key = OTHER_KEY
    refused = target.run("restore", str(encrypted_backup), check=False)
    assert refused.returncode == 1
    assert "encrypted with a different key" in refused.stderr
    assert_untouched_fresh(target)

    target.key = ""
    refused = target.run("restore", str(encrypted_backup), check=False)
    assert refused.returncode == 1
    assert "is encrypted: set BACKUP_ENCRYPTION_KEY" in refused.stderr
    assert_untouched_fresh(target)

    target.key = KEY
    target.run("restore", str(encrypted_backup))
    assert_same_site(target, source)


def test_a_changed_or_cut_backup_is_refused_and_nothing_changes(
    sites: Sites, encrypted_backup: Path
) -> None:
    data = encrypted_backup.read_bytes()
    target = sites.new("tampered")
    target.key = KEY
    changed = target.root / "changed.kcb"
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    changed.write_bytes(bytes(flipped))
    cut = target.root / "cut.kcb"
    cut.write_bytes(data[: len(data) - 100])
    for damaged in (changed, cut):
        refused = target.run("restore", str(damaged), check=False)
        assert refused.returncode == 1, refused.stdout
        assert "failed its authentication" in refused.stderr
        assert "Nothing was restored" in refused.stderr
        assert_untouched_fresh(target)


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(
    sites: Sites, source: Site, plain_backup: Path
) -> None:
    before = source.checksums()
    refused = source.run("restore", str(plain_backup), check=False)
    assert refused.returncode == 1
    assert "is not empty: it holds 1 clinic" in refused.stderr
    assert "patients" in refused.stderr
    assert "audit events" in refused.stderr
    assert "--force" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert source.checksums() == before

    # A site with other data (three more events, a file of its own) is replaced by --force.
    other = sites.new("other")
    other.run("restore", str(plain_backup))
    restored = other.checksums()
    other.run("shell", "-c", WRITER_SNIPPET.replace("EVENTS", "3"))
    (other.media / "letters" / "newer.pdf").write_bytes(b"%PDF newer")
    assert other.checksums() != restored
    done = other.run("restore", "--force", str(plain_backup))
    assert other.checksums() == restored
    assert "Restore complete." in done.stdout
    # Files the backup does not hold are left (they may be newer), and said so.
    assert "1 stored file not in the backup were left in place" in done.stdout
    assert (other.media / "letters" / "newer.pdf").exists()


def test_restore_refuses_a_backup_of_the_other_engine(sites: Sites, plain_backup: Path) -> None:
    root = sites.root / "other-engine"
    root.mkdir()
    if ENGINE == "sqlite":
        # Never reached: the engines are compared before any connection.
        target = Site(root=root, url="postgres://nobody@127.0.0.1:1/not_a_database")
    else:
        target = Site(root=root, url=f"sqlite:///{root / 'site.sqlite3'}")
    refused = target.run("restore", str(plain_backup), check=False)
    assert refused.returncode == 1
    theirs, ours = ("SQLite", "PostgreSQL") if ENGINE == "sqlite" else ("PostgreSQL", "SQLite")
    assert f"holds a {theirs} database and DATABASE_URL names a {ours} one" in refused.stderr
    assert not (root / "site.sqlite3").exists()
    assert target.media_files() == {}


def test_restore_refuses_a_backup_from_a_newer_version(sites: Sites, plain_backup: Path) -> None:
    newer = sites.root / "newer.kcb"
    rewrite_manifest(
        plain_backup,
        newer,
        lambda m: m["migrations"]["audit"].append("9999_from_the_future"),
    )
    target = sites.new("newer")
    refused = target.run("restore", str(newer), check=False)
    assert refused.returncode == 1
    assert "made by a newer version" in refused.stderr
    assert "audit.9999_from_the_future" in refused.stderr
    assert_untouched_fresh(target)


def test_a_backup_taken_while_the_site_writes_restores_consistent(
    sites: Sites, source: Site
) -> None:
    writer = source.popen("shell", "-c", WRITER_SNIPPET.replace("EVENTS", "300"))
    try:
        # Once the writer is under way (no time asserted: it may well have finished).
        start = source.count("audit_auditevent")
        deadline = time.monotonic() + 60
        while source.count("audit_auditevent") == start and writer.poll() is None:
            assert time.monotonic() < deadline, "the writer never wrote"
            time.sleep(0.1)
        path = source.root / "online.kcb"
        source.run("backup", "--output", str(path))
    finally:
        output, _ = writer.communicate(timeout=300)
    assert writer.returncode == 0, output
    target = sites.new("online")
    # restore checks each table's rows and each chain's head against the manifest, and runs
    # audit verify: a snapshot torn by the writer fails one of them.
    done = target.run("restore", str(path))
    assert "Restore complete." in done.stdout
    assert target.count("audit_auditevent") == read_manifest(path)["tables"]["audit_auditevent"]


def test_production_refuses_an_unencrypted_backup_unless_asked(sites: Sites, source: Site) -> None:
    production = Site(
        root=source.root,
        url=source.url,
        mode="production",
        extra_env={"SECRET_KEY": "drill-" + "x" * 40, "ALLOWED_HOSTS": "clinic.example"},
    )
    path = sites.root / "production.kcb"
    refused = production.run("backup", "--output", str(path), check=False)
    assert refused.returncode == 1
    assert "Refusing to write an unencrypted backup in production" in refused.stderr
    assert not path.exists()
    assert list(sites.root.glob("production.kcb*")) == []

    done = production.run("backup", "--output", str(path), "--unencrypted")
    assert "NOT encrypted" in done.stdout
    assert path.read_bytes()[:2] == b"\x1f\x8b"

    # Restoring one in production needs the same word: a file in clear proves no origin.
    empty = sites.new("production-restore")
    target = Site(root=empty.root, url=empty.url, mode="production", extra_env=production.extra_env)
    refused = target.run("restore", str(path), check=False)
    assert refused.returncode == 1
    assert "Refusing to restore an unencrypted backup in production" in refused.stderr
    assert target.tables() == []
    restored = target.run("restore", str(path), "--unencrypted")
    assert "Restore complete." in restored.stdout


def test_a_backup_never_overwrites_a_file(source: Site) -> None:
    path = source.root / "taken.kcb"
    path.write_bytes(b"an older backup")
    refused = source.run("backup", "--output", str(path), check=False)
    assert refused.returncode == 1
    assert "exists: choose a new name" in refused.stderr
    assert path.read_bytes() == b"an older backup"


# --- reading and rewriting archives --------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    with tarfile.open(path, mode="r:gz") as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        data: dict[str, Any] = json.loads(member.read())
        return data


def rewrite_manifest(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> None:
    with (
        tarfile.open(source, mode="r:gz") as tar_in,
        gzip.open(target, "wb") as zipped,
        tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as tar_out,
    ):
        for member in tar_in:
            data = tar_in.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "manifest.json":
                manifest = json.loads(content)
                change(manifest)
                content = json.dumps(manifest).encode()
                member.size = len(content)
            tar_out.addfile(member, io.BytesIO(content))
