"""Where things live on disk, in one place.

Every path comes from an environment variable with a default under the
project's `data/` folder, so tests point the whole platform at a temporary
directory by setting `MKB_DATA_DIR` alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
CONFIG_DIR = PROJECT_ROOT / "config"

PSEUDONYM_KEY_ENV = "MKB_PSEUDONYM_KEY"
WAREHOUSE_KEY_ENV = "MKB_WAREHOUSE_KEY"


@dataclass(frozen=True)
class Paths:
    """The folders and files of one installation (all under `data_dir`)."""

    data_dir: Path

    @property
    def warehouse(self) -> Path:
        """The embedded DuckDB warehouse file."""
        return Path(os.environ.get("MKB_WAREHOUSE", self.data_dir / "warehouse.duckdb"))

    @property
    def landing(self) -> Path:
        """Landing zone: one sub-folder per source, one file per delivery."""
        return self.data_dir / "landing"

    @property
    def exports(self) -> Path:
        """Released (differentially private) Parquet files: the only data dashboards read."""
        return self.data_dir / "exports"

    @property
    def operational(self) -> Path:
        """Files for organisations that work with their own records: `<creditor>/advice.parquet` per creditor (private)."""
        return self.data_dir / "operational"

    @property
    def synthetic(self) -> Path:
        """Ground truth of the synthetic generator (never read by the pipeline)."""
        return self.data_dir / "synthetic"

    @property
    def secrets(self) -> Path:
        """Local secrets of the demo (the pseudonymisation key); git-ignored."""
        return self.data_dir / "secrets"


def paths() -> Paths:
    """Paths of the current installation, from `MKB_DATA_DIR` (default `./data`)."""
    return Paths(Path(os.environ.get("MKB_DATA_DIR", PROJECT_ROOT / "data")).resolve())
