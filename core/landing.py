"""The landing zone: one file per submission or delivery, written atomically; what a landing file is.

A file appears under its final name only when it is complete and on disk
(temporary file, fsync, rename, fsync of the folder), so the ingestion never
reads half a file and a respondent is thanked only after the answer is safe.

Every complete file is listed, whatever its type: the ingestion records the
ones it does not read (say `.xlsx`) as refused instead of passing them over.
The limits per file (`config/ingest.yaml`) and the recognition of binary
content by its bytes (`filetype`), not its name, live here too.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import filetype
import yaml
from pydantic import BaseModel, ConfigDict, Field

from core.files import file_mode, private_dir
from core.settings import CONFIG_DIR

LANDING_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
"""The types the ingestion reads: CSV, JSON lines (one object per line, also under `.json`) and Parquet (creditor deliveries)."""
TEMP_PREFIX = ".incoming-"
LIMITS_FILE = CONFIG_DIR / "ingest.yaml"
SNIFF_BYTES = 8192  # filetype reads at most this much of a file's head


def write_atomically(folder: Path, name: str, content: bytes, public: bool = False) -> Path:
    """Write `content` to `folder/name` so that it is either absent or complete and durable.

    The file and any folder made for it are readable by their owner only
    (`core.files`), unless `public` (released exports are for others to read).
    """
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())

    return write_atomically_with(folder, name, write, public)


def write_atomically_with(folder: Path, name: str, write: Callable[[Path], None], public: bool = False) -> Path:
    """`write_atomically` for a writer that makes the file itself (DuckDB's COPY): `write(temporary)`, fsync, rename."""
    if public and not folder.is_dir():
        raise FileNotFoundError(f"{folder}: make released folders with core.files.public_dir first")
    private_dir(folder)  # a no-op for a folder that exists
    target = folder / name
    handle, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)  # 0600 from the first byte
    os.close(handle)
    try:
        write(Path(temporary))
        with open(temporary, "rb") as stream:
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

    @property
    def readable(self) -> bool:
        """Whether the ingestion reads this type of file (by its name; its content is checked when read)."""
        return self.path.suffix.lower() in LANDING_SUFFIXES


def list_landing_files(landing: Path, source: str) -> list[LandingFile]:
    """Every complete landing file of one source, of any type, oldest first (temporary and hidden files are skipped)."""
    folder = landing / source
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if path.name.startswith((TEMP_PREFIX, ".")) or not path.is_file():
            continue
        status = path.stat()
        found.append(LandingFile(path, source, status.st_size, status.st_mtime_ns))
    return sorted(found, key=lambda f: (f.modified_ns, f.path.name))


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: the manifest key, so a file is loaded once whatever its name."""
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """`content_hash` of a file on disk, read in chunks (for files too large to read whole)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# --------------------------------------------------------------------------- limits and content


class IngestLimits(BaseModel):
    """How much work one landing file may cause (`config/ingest.yaml`); sizes in bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_megabytes: float = Field(gt=0)
    max_field_kilobytes: float = Field(gt=0)
    max_line_kilobytes: float = Field(gt=0)
    max_columns: int = Field(gt=0)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_megabytes * 1024 * 1024)

    @property
    def max_field_bytes(self) -> int:
        return int(self.max_field_kilobytes * 1024)

    @property
    def max_line_bytes(self) -> int:
        return int(self.max_line_kilobytes * 1024)


@cache
def ingest_limits() -> IngestLimits:
    """The limits of `config/ingest.yaml`."""
    with open(LIMITS_FILE, encoding="utf-8") as handle:
        return IngestLimits.model_validate(yaml.safe_load(handle))


def binary_kind(data: bytes) -> str | None:
    """What binary content a file holds, by its bytes (e.g. 'gzip (application/gzip)'); None for text.

    `filetype` knows archives, documents and images by their first bytes. Some
    signatures are plain letters (a BMP starts with "BM"), so a head that reads
    as text without NUL bytes counts as text whatever it resembles.

    >>> import gzip
    >>> binary_kind(gzip.compress(b"a,b\\n1,2\\n"))
    'gz (application/gzip)'
    >>> binary_kind(b"BMW,Audi\\n1,2\\n") is None
    True
    """
    head = data[:SNIFF_BYTES]
    kind = filetype.guess(head)
    if kind is None or _reads_as_text(head):
        return None
    return f"{kind.extension} ({kind.mime})"


def _reads_as_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes (a character cut off at the end of the head is fine)."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True
