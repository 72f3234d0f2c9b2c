"""Encryption at rest for backups: AES-256-GCM in framed chunks, streamed.

The file: a header, then the chunks.

- header (61 bytes): ``MAGIC`` (8), format version (1), chunk size (4, big-endian), a random salt
  (32) and a key check (16);
- each chunk: up to ``chunk size`` bytes of plaintext, encrypted, with its 16-byte GCM tag. Every
  chunk but the last is full, so the reader needs no lengths.

Each file gets its own key, derived from the configured key and the file's salt (HKDF-SHA256), so
the chunk counter can be the nonce without ever repeating one under a key. The nonce is the
chunk's index and a flag set on the last chunk only; the header is every chunk's associated data.
So a changed byte, a chunk moved or dropped, a file cut at a chunk boundary, or a changed header
all fail authentication, and the reader says which. The key check tells a wrong key from a
damaged file before any chunk is read. Memory stays at about two chunks whatever the file size.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"KCBACKUP"
VERSION = 1
KEY_BYTES = 32
SALT_BYTES = 32
CHECK_BYTES = 16
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + 4 + SALT_BYTES + CHECK_BYTES
# 1 MiB: large enough that the per-chunk cost (a Python call, 16 bytes of tag) is noise, small
# enough that memory stays flat.
CHUNK_BYTES = 1 << 20
_INFO = b"ketaclinic backup v1"


class BackupCryptoError(Exception):
    """A backup that cannot be decrypted: the message says why, for the operator."""


class WrongKeyError(BackupCryptoError):
    pass


class TamperedError(BackupCryptoError):
    pass


def key_new() -> str:
    """A fresh random key, base64, as BACKUP_ENCRYPTION_KEY takes it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def key_decode(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError("BACKUP_ENCRYPTION_KEY: expected 32 bytes in base64.")
    return key


def is_encrypted(first_bytes: bytes) -> bool:
    return first_bytes.startswith(MAGIC)


def _file_keys(key: bytes, salt: bytes) -> tuple[AESGCM, bytes]:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES + CHECK_BYTES, salt=salt, info=_INFO
    ).derive(key)
    return AESGCM(derived[:KEY_BYTES]), derived[KEY_BYTES:]


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only file object: what is written goes to ``raw`` encrypted; ``close()`` writes
    the last chunk (without it the file reads as cut short) and leaves ``raw`` open."""

    def __init__(self, raw: BinaryIO, key: bytes, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        salt = os.urandom(SALT_BYTES)
        self._aead, check = _file_keys(key, salt)
        self._header = MAGIC + bytes([VERSION]) + chunk_bytes.to_bytes(4, "big") + salt + check
        self._raw = raw
        self._chunk = chunk_bytes
        self._buffer = bytearray()
        self._index = 0
        self.closed = False
        raw.write(self._header)

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("write to a closed backup file")
        self._buffer += data
        # Strictly more than a chunk: the last chunk is only known at close(), and may be full.
        while len(self._buffer) > self._chunk:
            self._emit(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]
        return len(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self.closed = True

    def _emit(self, plain: bytes, *, final: bool) -> None:
        nonce = _nonce(self._index, final)
        self._raw.write(self._aead.encrypt(nonce, plain, self._header))
        self._index += 1


class DecryptingReader:
    """A read-only file object over an encrypted backup: each chunk is authenticated before any
    of its bytes are returned. ``finished`` turns true once the last chunk has been read."""

    def __init__(self, raw: BinaryIO, key: bytes) -> None:
        header = _read_exactly(raw, HEADER_BYTES)
        if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
            raise TamperedError("The file is not an encrypted ketaclinic backup (no header).")
        if header[len(MAGIC)] != VERSION:
            raise BackupCryptoError(
                f"The backup's encryption format is version {header[len(MAGIC)]}; this version of "
                f"ketaclinic reads version {VERSION}. Restore it with the version that wrote it."
            )
        offset = len(MAGIC) + 1
        chunk = int.from_bytes(header[offset : offset + 4], "big")
        salt = header[offset + 4 : offset + 4 + SALT_BYTES]
        check = header[offset + 4 + SALT_BYTES :]
        self._aead, expected = _file_keys(key, salt)
        if not secrets.compare_digest(check, expected):
            raise WrongKeyError(
                "The backup was encrypted with a different key than BACKUP_ENCRYPTION_KEY: "
                "set the key it was written with (nothing was restored)."
            )
        if not 0 < chunk <= 64 * CHUNK_BYTES:
            raise TamperedError("The backup's header was changed: its chunk size is impossible.")
        self._header = header
        self._raw = raw
        self._frame = chunk + TAG_BYTES
        self._pending: bytes | None = None
        # The current chunk's plaintext and how much of it was read: slicing a position keeps
        # small reads (gzip asks for 8 KiB at a time) from copying the rest of the chunk.
        self._plain = b""
        self._position = 0
        self._index = 0
        self.finished = False

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size
        while size < 0 or wanted > 0:
            if self._position >= len(self._plain):
                if self.finished:
                    break
                self._plain, self._position = self._next_chunk(), 0
                continue
            end = len(self._plain) if size < 0 else min(len(self._plain), self._position + wanted)
            parts.append(self._plain[self._position : end])
            wanted -= end - self._position
            self._position = end
        return b"".join(parts)

    def _next_chunk(self) -> bytes:
        current = self._pending if self._pending is not None else self._raw_frame()
        # A chunk is the last one when nothing follows it: read one frame ahead to know.
        following = self._raw_frame() if len(current) == self._frame else b""
        self._pending = following
        final = not following
        if len(current) < TAG_BYTES:
            raise TamperedError(
                "The backup ends before its last chunk: the file was cut short "
                "(an interrupted copy or a full disk). Nothing was restored."
            )
        try:
            plain = self._aead.decrypt(_nonce(self._index, final), current, self._header)
        except InvalidTag:
            raise self._failure(current, final) from None
        self._index += 1
        self.finished = final
        return plain

    def _failure(self, current: bytes, final: bool) -> TamperedError:
        if final:
            try:
                self._aead.decrypt(_nonce(self._index, False), current, self._header)
            except InvalidTag:
                pass
            else:
                # An intact chunk written as "more follows", and nothing follows it.
                return TamperedError(
                    "The backup ends before its last chunk: the file was cut short "
                    "(an interrupted copy or a full disk). Nothing was restored."
                )
        return TamperedError(
            f"The backup's chunk {self._index} failed its authentication: the file was changed "
            "or damaged after it was written (or its chunks were reordered). Nothing was "
            "restored."
        )

    def _raw_frame(self) -> bytes:
        return _read_exactly(self._raw, self._frame)


def _read_exactly(raw: BinaryIO, size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the file (a pipe may return less per read)."""
    parts: list[bytes] = []
    missing = size
    while missing > 0:
        part = raw.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)
