"""Who may read what the platform writes under `data/`: its owner only, except released exports.

The warehouse, the account store, the landing zone, Dagster's storage, logs
and keys hold answers, personal data or secrets. They are created readable by
their owner only (folders 0700, files 0600), whatever umask the process
started with:

* every entry point (the `mkbvm` command, the Streamlit app, the Dagster code
  location) and every connection to the warehouse or the account store calls
  `restrict_new_files()` (umask 077), so what libraries create themselves
  (DuckDB and its WAL, SQLite and its -wal/-shm, Dagster's run storage, logs)
  is owner-only, and so is everything the processes we start create;
* folders and files the project creates itself get their mode explicitly
  (`private_dir`, `public_dir`, `file_mode`), umask or not.

Released exports are for others to read: their folders are 0755 and their
files 0644. The creditors' own files (`operational/<code>/advice.parquet`,
debts/creditor_files.py) are personal data and stay private; the web app
reads them as the same user locally, and in production through the group of
a shared `operational/` folder (2750: folders inside 2750, files 0640).

An operator can share one zone with a second service account (in production
the web app writes the landing zone and the account store, and the pipeline
reads them; see the README) by giving that folder a group and the setgid bit
(`chmod 2770`). New folders and files inside such a folder take its group (the
kernel does that) and its group bits (we do that). Nothing here ever widens a
folder that was not set up that way, or changes a folder that exists.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PUBLIC_DIR = 0o755
PUBLIC_FILE = 0o644
OWNER_ONLY_UMASK = 0o077


def restrict_new_files() -> None:
    """Make files and folders this process (and its children) creates owner-only, whatever its umask was."""
    os.umask(OWNER_ONLY_UMASK)


def shared_group_bits(folder: Path) -> int:
    """The group bits (rwx) an operator shared `folder` with: set only on a setgid folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as top:
    ...     folder = Path(top)
    ...     folder.chmod(0o700); before = shared_group_bits(folder)
    ...     folder.chmod(0o2770); after = shared_group_bits(folder)
    >>> oct(before), oct(after)
    ('0o0', '0o70')
    """
    mode = folder.stat().st_mode
    return mode & 0o070 if mode & stat.S_ISGID else 0


def file_mode(folder: Path, public: bool = False) -> int:
    """The mode of a new file in `folder`: 0644 for a released export, else 0600 plus a shared folder's group read/write."""
    if public:
        return PUBLIC_FILE
    return PRIVATE_FILE | (shared_group_bits(folder) & 0o060)


def _make_dirs(path: Path, mode_of_new) -> Path:
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # made at the same moment by another process: leave it as that one made it
            continue
        os.chmod(folder, mode_of_new(folder))  # explicit: mkdir's mode is cut by the umask
    return path


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as owner-only folders; inside a shared (setgid) folder they stay shared.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as top:
    ...     made = private_dir(Path(top) / "a" / "b")
    ...     modes = [oct(p.stat().st_mode & 0o7777) for p in (made.parent, made)]
    >>> modes
    ['0o700', '0o700']
    """

    def mode_of_new(folder: Path) -> int:
        shared = shared_group_bits(folder.parent)
        return PRIVATE_DIR | shared | (stat.S_ISGID if shared else 0)

    return _make_dirs(path, mode_of_new)


def public_dir(path: Path, top: Path) -> Path:
    """Create a folder of released exports: `top` (e.g. data/exports) and what is below it 0755, what is above it owner-only.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     made = public_dir(Path(root) / "data" / "exports" / "cgc", top=Path(root) / "data" / "exports")
    ...     modes = [oct(p.stat().st_mode & 0o777) for p in (made.parent.parent, made.parent, made)]
    >>> modes
    ['0o700', '0o755', '0o755']
    """
    if path != top and top not in path.parents:
        raise ValueError(f"{path} is not inside the exports folder {top}")
    private_dir(top.parent)
    return _make_dirs(path, lambda folder: PUBLIC_DIR)


def private_file(path: Path) -> Path:
    """Create an empty file with the mode `file_mode` gives, if it does not exist (so a library that opens it keeps that mode)."""
    private_dir(path.parent)
    mode = file_mode(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return path
    os.close(descriptor)
    os.chmod(path, mode)  # os.open's mode is cut by the umask too
    return path
