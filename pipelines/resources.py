"""Resources: where the warehouse, landing zone and exports are, and the pseudonymisation key.

Environment switching lives here and only here. Defaults come from
`core.settings` (so `MKB_DATA_DIR` moves everything); the key comes only
from the environment. Tests build these resources around `tmp_path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from core import warehouse
from core.pseudonymise import MIN_KEY_LENGTH
from core.settings import PSEUDONYM_KEY_ENV, paths


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file (one writer: pipeline runs, one step at a time)."""

    path: str

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(Path(self.path)) as connection:
            yield connection


class Folders(dg.ConfigurableResource):
    """Landing zone (input files), exports (released Parquet) and the account store (its audit trail records exports)."""

    landing: str
    exports: str
    accounts: str


class PseudonymKey(dg.ConfigurableResource):
    """The HMAC key for identifiers; set `MKB_PSEUDONYM_KEY` (the demo writes a local key)."""

    key: str

    def as_bytes(self) -> bytes:
        if len(self.key) < MIN_KEY_LENGTH:
            raise dg.Failure(f"{PSEUDONYM_KEY_ENV} must be at least {MIN_KEY_LENGTH} characters; run `mkbvm keygen`.")
        return self.key.encode()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    current = paths()
    return {
        "warehouse": Warehouse(path=str(current.warehouse)),
        "folders": Folders(landing=str(current.landing), exports=str(current.exports), accounts=str(current.data_dir / "accounts" / "accounts.sqlite")),
        "pseudonym_key": PseudonymKey(key=dg.EnvVar(PSEUDONYM_KEY_ENV)),
    }
