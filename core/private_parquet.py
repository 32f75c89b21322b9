"""Encrypted Parquet for the files organisations read of their own records (`data/operational/`).

A creditor's claims and a consultant's caseload hold pseudonyms and amounts,
so their files are encrypted at rest: Parquet modular encryption as DuckDB
writes it (AES-GCM, footer and columns), under a key derived from the
accounts key, which both the pipeline (writer) and the web app (reader)
already hold (`accounts.crypto`). Released exports are not encrypted: they
are differentially private and meant to be read.

>>> import tempfile, os
>>> os.environ.setdefault("MKB_ACCOUNTS_KEY", "dGVzdC1hY2NvdW50cy1rZXktMzItYnl0ZXMtbG9uZyE=") and None
>>> with tempfile.TemporaryDirectory() as folder:
...     path = write_private_parquet(pl.DataFrame({"claim": ["c1", "c2"], "cents": [1250, 99]}), Path(folder), "own.parquet")
...     secret_visible = b"c1" in path.read_bytes() and b"c2" in path.read_bytes()
...     reader = duckdb.connect(":memory:"); add_key(reader)
...     back = read_private_parquet(reader, path).rows()
>>> secret_visible, back
(False, [('c1', 1250), ('c2', 99)])
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from core.landing import write_atomically_with

KEY_NAME = "operational"


def _key() -> str:
    from accounts.crypto import derived_key

    return base64.b64encode(derived_key(b"operational-files")).decode()  # 32 bytes: AES-256


def key_id() -> str:
    """A hash of the files' key, to tell whether files were written under the key in use (it reveals nothing of it)."""
    return hashlib.sha256(b"operational-file-key|" + _key().encode()).hexdigest()


def add_key(connection: duckdb.DuckDBPyConnection) -> None:
    """Make the key known to `connection` (before `lock_configuration`, see dashboards.creditor.locked_to)."""
    connection.execute(f"PRAGMA add_parquet_key('{KEY_NAME}', '{_key()}')")


@contextmanager
def private_parquet_writer() -> Iterator[Callable[[pl.DataFrame, Path, str], Path]]:
    """A function writing frames as encrypted Parquet files, all through one DuckDB session (opening one loads the httpfs
    extension, about 0.1 s: one per file made 157 creditor files take 25 s)."""
    from core.warehouse import encrypted_session

    session = encrypted_session()  # DuckDB writes encrypted files only with the httpfs extension's OpenSSL
    try:
        add_key(session)

        def write_file(frame: pl.DataFrame, folder: Path, name: str) -> Path:
            def write(temporary: Path) -> None:
                session.register("private_frame", frame.to_arrow())
                try:
                    target = str(temporary).replace("'", "''")
                    session.execute(f"COPY private_frame TO '{target}' (FORMAT parquet, ENCRYPTION_CONFIG {{footer_key: '{KEY_NAME}'}})")
                finally:
                    session.unregister("private_frame")

            return write_atomically_with(folder, name, write)

        yield write_file
    finally:
        session.close()


def write_private_parquet(frame: pl.DataFrame, folder: Path, name: str) -> Path:
    """`frame` as an encrypted Parquet file `folder/name`, written atomically (`core.landing.write_atomically_with`)."""
    with private_parquet_writer() as write:
        return write(frame, folder, name)


def read_private_parquet(connection: duckdb.DuckDBPyConnection, path: Path) -> pl.DataFrame:
    """The frame of an encrypted file, through `connection` (which holds the key: `add_key`)."""
    quoted = str(path).replace("'", "''")
    return connection.execute(f"SELECT * FROM read_parquet('{quoted}', encryption_config = {{footer_key: '{KEY_NAME}'}})").pl()


def read_private_file(path: Path) -> pl.DataFrame:
    """One encrypted file read whole (the pipeline's side, tests); the web app reads through a locked connection instead."""
    connection = duckdb.connect(":memory:")
    try:
        add_key(connection)
        return read_private_parquet(connection, path)
    finally:
        connection.close()
