"""The landing zone: one file per submission or delivery, written atomically.

A file appears under its final name only when it is complete and on disk
(temporary file, fsync, rename, fsync of the folder), so the ingestion never
reads half a file and a respondent is thanked only after the answer is safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.files import file_mode, private_dir

LANDING_SUFFIXES = (".csv", ".jsonl", ".json")
TEMP_PREFIX = ".incoming-"


def write_atomically(folder: Path, name: str, content: bytes, public: bool = False) -> Path:
    """Write `content` to `folder/name` so that it is either absent or complete and durable.

    The file and any folder made for it are readable by their owner only
    (`core.files`), unless `public` (released exports are for others to read).
    """
    if public and not folder.is_dir():
        raise FileNotFoundError(f"{folder}: make released folders with core.files.public_dir first")
    private_dir(folder)  # a no-op for a folder that exists
    target = folder / name
    handle, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)  # 0600 from the first byte
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode(folder, public))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source: str
    size: int
    modified_ns: int


def list_landing_files(landing: Path, source: str) -> list[LandingFile]:
    """Complete landing files of one source, oldest first (temporary files are skipped)."""
    folder = landing / source
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if path.name.startswith((TEMP_PREFIX, ".")) or path.suffix.lower() not in LANDING_SUFFIXES:
            continue
        status = path.stat()
        found.append(LandingFile(path, source, status.st_size, status.st_mtime_ns))
    return sorted(found, key=lambda f: (f.modified_ns, f.path.name))


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: the manifest key, so a file is loaded once whatever its name."""
    return hashlib.sha256(data).hexdigest()
