"""Landing files once ingested: moved out of the landing zone into an encrypted archive the pipeline alone can read.

A landing file holds identifiers as delivered (KvK numbers, BSNs, e-mail
addresses) next to answers and amounts. Once its rows are in the warehouse
(or in quarantine) and the manifest records it, the ingestion seals it: the
bytes are encrypted with age (X25519 recipient, ChaCha20-Poly1305 in 64 KiB
chunks, streamed: a 512 MB delivery never sits in memory whole) into
`<data>/archive/<source>/<sha256>--<name>.age`, then the plain file is
removed. The archive is kept because a re-key (`core.rekey`) reads the
identifiers again from the files, and an erasure rewrites them.

The key is an age identity (`AGE-SECRET-KEY-1...`) from `MKB_ARCHIVE_KEY` or
the key file `mkbvm keygen` writes (`data/secrets/archive.key`); the web app
never needs it (it writes landing files, it never reads them back).

A crash between the sealed file's rename and the removal of the plain file
leaves both: the next run finds the file in the manifest, sees the sealed copy
and removes the plain one. A file sent again later (same bytes) is sealed once.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pyrage

from core.landing import file_hash as landing_file_hash
from core.landing import write_atomically_with
from core.settings import paths

ARCHIVE_KEY_ENV = "MKB_ARCHIVE_KEY"
SUFFIX = ".age"
SEPARATOR = "--"


class ArchiveKeyError(RuntimeError):
    """No archive key, or one that is not an age identity."""


def archive_key_file() -> Path:
    return paths().secrets / "archive.key"


def new_archive_key() -> str:
    return str(pyrage.x25519.Identity.generate())


@cache
def _identity(text: str) -> pyrage.x25519.Identity:
    try:
        return pyrage.x25519.Identity.from_str(text)
    except pyrage.IdentityError:
        raise ArchiveKeyError(f"{ARCHIVE_KEY_ENV} is not an age identity (AGE-SECRET-KEY-1...); run `mkbvm keygen`.") from None


def identity() -> pyrage.x25519.Identity:
    text = os.environ.get(ARCHIVE_KEY_ENV, "").strip()
    if not text:
        try:
            text = archive_key_file().read_text().strip()
        except OSError:
            raise ArchiveKeyError(f"There is no archive key: set {ARCHIVE_KEY_ENV} or run `mkbvm keygen` (writes {archive_key_file()}).") from None
    return _identity(text)


def archive_of(landing: Path) -> Path:
    """The archive beside a landing zone: `<data>/archive/` for `<data>/landing/`."""
    return landing.parent / "archive"


def sealed_path(archive: Path, source: str, file_hash: str, name: str) -> Path:
    return archive / source / f"{file_hash}{SEPARATOR}{name}{SUFFIX}"


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def seal(path: Path, archive: Path, source: str, file_hash: str | None = None) -> Path:
    """Encrypt landing file `path` into the archive (durably, atomically), then remove it; the sealed file's path.

    `file_hash` is the SHA-256 of its bytes as the manifest recorded it (computed when not given).
    """
    file_hash = file_hash or landing_file_hash(path)
    target = sealed_path(archive, source, file_hash, path.name)
    if not target.exists():
        def write(temporary: Path) -> None:
            with open(path, "rb") as plain, open(temporary, "wb") as sealed:
                pyrage.encrypt_io(plain, sealed, [identity().to_public()])

        write_atomically_with(archive / source, target.name, write)  # temporary file, fsync, rename, fsync of the folder
    path.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return target


def next_archive_key_file() -> Path:
    """Where `mkbvm rotate-key` puts the new identity while it re-encrypts the archive (`rotate_archive`)."""
    return archive_key_file().with_name("archive.key.next")


def _identities() -> list[pyrage.x25519.Identity]:
    """The identity, and during (or after an interrupted) rotation the next one: a file opens under either."""
    found = [identity()]
    try:
        found.append(_identity(next_archive_key_file().read_text().strip()))
    except OSError:
        pass
    return found


def read_sealed(path: Path) -> bytes:
    """The plain bytes of a sealed file (the pipeline's side only)."""
    with open(path, "rb") as sealed:
        return pyrage.decrypt(sealed.read(), _identities())


def rotate_archive(archive: Path, new_key: str) -> int:
    """Re-encrypt every sealed file for the identity `new_key`, each in place by one rename; returns how many.

    Files already under the new key (a rotation run again after a stop) are re-encrypted once more, harmlessly.
    Until the key file is renamed, `read_sealed` opens files under the old and the new identity alike.
    """
    recipient, identities, count = _identity(new_key).to_public(), [*_identities(), _identity(new_key)], 0
    for path in sorted(archive.glob(f"*/*{SUFFIX}")):
        def write(temporary: Path, path: Path = path) -> None:
            plain = pyrage.decrypt(path.read_bytes(), identities)  # whole, in memory: a file is at most 512 MB (config/ingest.yaml)
            temporary.write_bytes(pyrage.encrypt(plain, [recipient]))

        write_atomically_with(path.parent, path.name, write)
        count += 1
    return count


def sealed_files(archive: Path, source: str) -> dict[str, Path]:
    """The sealed files of one source by the SHA-256 of their plain bytes."""
    folder = archive / source
    if not folder.is_dir():
        return {}
    return {p.name.split(SEPARATOR, 1)[0]: p for p in folder.iterdir() if p.name.endswith(SUFFIX) and SEPARATOR in p.name}


def delivered_name(sealed: Path) -> str:
    """The name a sealed file was delivered under."""
    return sealed.name.split(SEPARATOR, 1)[1].removesuffix(SUFFIX)


def delivered_files(landing: Path, source: str, pattern: str = "*") -> dict[str, bytes]:
    """Every file of a source as delivered, by name: those still in the landing zone and the sealed ones (decrypted)."""
    from fnmatch import fnmatch

    found = {p.name: p.read_bytes() for p in (landing / source).glob(pattern) if p.is_file()} if (landing / source).is_dir() else {}
    for sealed in sealed_files(archive_of(landing), source).values():
        if fnmatch(delivered_name(sealed), pattern):
            found.setdefault(delivered_name(sealed), read_sealed(sealed))
    return found
