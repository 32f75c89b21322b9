"""The resources assets use: the warehouse file, the landing/exports/account folders, the pseudonymisation key.

They live beside the assets that use them (an asset never reaches up into
`pipelines/`); `pipelines/resources.py` builds them from the environment, and
tests build them around `tmp_path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from core import warehouse
from core.pseudonymise import MIN_KEY_LENGTH
from core.settings import PSEUDONYM_KEY_ENV


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file (one writer: pipeline runs, one step at a time)."""

    path: str

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse; in a shared lake, while no other process runs this step (`core.warehouse.writer_lock`).

        An asset replaces its own tables (CREATE OR REPLACE); two processes doing so at once collide in DuckLake,
        so one waits for the other and then finds its work done or does it again on the newer data.
        """
        with warehouse.writer_lock(f"step/{_step_name()}"), warehouse.connect(Path(self.path)) as connection:
            yield connection


def _step_name() -> str:
    """The running op's name (an asset's step), or 'outside-a-run' for a connection outside Dagster."""
    try:
        return dg.OpExecutionContext.get().op.name
    except dg.DagsterInvariantViolationError:  # no op is running
        return "outside-a-run"


class Folders(dg.ConfigurableResource):
    """Landing zone (input files), exports (released Parquet), operational files (one folder per organisation, for its
    own staff only) and the account store (its audit trail records exports)."""

    landing: str
    exports: str
    accounts: str
    operational: str


class PseudonymKey(dg.ConfigurableResource):
    """The HMAC key for identifiers; set `MKB_PSEUDONYM_KEY` (the demo writes a local key)."""

    key: str

    def as_bytes(self) -> bytes:
        if len(self.key) < MIN_KEY_LENGTH:
            raise dg.Failure(f"{PSEUDONYM_KEY_ENV} must be at least {MIN_KEY_LENGTH} characters; run `mkbvm keygen`.")
        return self.key.encode()
