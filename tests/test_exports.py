"""Researcher exports explain themselves: opened with DuckDB and pandas in a Python that cannot import our code."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from core.warehouse import connect as warehouse_connect
from privacy.loading import privacy_settings, release_specs
from tests.conftest import released_quarters, released_waves

READER = r"""
import json, sys
from pathlib import Path
import duckdb, pandas, pyarrow.parquet as pq

exports = Path(sys.argv[1])
releases = set(json.loads(sys.argv[2]))  # the release folders (exports/alerts holds early warnings, not released cells)
report = {"folders": {}}
for folder in sorted(p for p in exports.iterdir() if p.is_dir() and p.name in releases):
    files = sorted(folder.glob("*.parquet"))
    if not files:  # a private-key release whose mart had no row in any closed period (nothing to select from)
        report["folders"][folder.name] = {"files": []}
        continue
    first = files[0]
    kv = dict(duckdb.sql(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{first}')").fetchall())
    frame = pandas.read_parquet(first)
    total, suppressed, shown_without_estimate, hidden_with_estimate = duckdb.sql(
        f"SELECT COUNT(*), COUNT(*) FILTER (suppressed), COUNT(*) FILTER (NOT suppressed AND estimate IS NULL), "
        f"COUNT(*) FILTER (suppressed AND estimate IS NOT NULL) FROM read_parquet('{folder}/*.parquet')"
    ).fetchone()
    report["folders"][folder.name] = {
        "files": [f.name for f in files],
        "metadata": kv,
        "pyarrow_metadata_keys": sorted(k.decode() for k in pq.read_schema(first).metadata),
        "pandas_columns": list(frame.columns),
        "pandas_rows": len(frame),
        "rows": total, "suppressed": suppressed,
        "shown_without_estimate": shown_without_estimate, "hidden_with_estimate": hidden_with_estimate,
        "codebook": json.loads((folder / "codebook.json").read_text(encoding="utf-8")),
        "readme": (folder / "README.md").read_text(encoding="utf-8"),
    }
ledger = pandas.read_parquet(exports / "privacy_ledger.parquet")
report["ledger"] = ledger[["release_id", "epsilon", "delta", "spec_hash"]].to_dict("records")
report["our_code_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in {"privacy", "core", "dashboards", "pipelines", "assets"})
print(json.dumps(report, default=str))
"""

REQUIRED_METADATA = {"release_id", "epsilon", "delta", "privacy_unit", "mechanism", "confidence_level", "version", "spec_hash", "created_at"}


def read_exports_without_our_code(exports) -> dict:
    # -I: isolated mode, so neither the working directory nor PYTHONPATH can put our packages on the path
    folders = json.dumps(sorted({*release_specs(), "dis_running"}))
    done = subprocess.run([sys.executable, "-I", "-c", READER, str(exports), folders], capture_output=True, text=True, cwd="/", timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_exports_open_with_duckdb_and_pandas_and_carry_their_privacy_metadata(pipeline):
    report = read_exports_without_our_code(pipeline.exports)
    assert report["our_code_loaded"] == []
    assert set(report["folders"]) == set(release_specs()) | {"dis_running"}
    others = {p.name for p in pipeline.exports.iterdir() if p.is_dir()} - set(report["folders"])
    assert others == {"alerts"}  # the early warnings (post-processing of these releases; tests/test_alerts.py reads them)
    ledger = {row["release_id"]: row for row in report["ledger"]}
    running = report["folders"].pop("dis_running")  # one file per open proposal, rewritten as its series grows
    assert len(running["files"]) == 2 and REQUIRED_METADATA <= set(running["metadata"])
    assert set(running["pandas_columns"]) <= set(running["codebook"]["columns"]) and running["hidden_with_estimate"] == 0
    suppressed = {}  # per public-key release: cells shown as 'x'
    for name, folder in report["folders"].items():
        dataset = release_specs()[name].dataset  # the closed waves, eight closed quarters of the programme, three closed proposals or months
        periods = released_waves() if dataset == "cgc" else released_quarters(pipeline) if dataset == "programme" else 3
        assert len(folder["files"]) == periods, name  # a dataset's releases cover the same periods, with rows or not
        assert all(f.startswith(f"{name}_") and f.endswith("_v1.parquet") for f in folder["files"])
        metadata = folder["metadata"]
        assert REQUIRED_METADATA <= set(metadata) and REQUIRED_METADATA <= set(folder["pyarrow_metadata_keys"])
        entry = ledger[metadata["release_id"]]
        assert float(metadata["epsilon"]) == entry["epsilon"] and metadata["spec_hash"] == entry["spec_hash"]
        unit_kind = privacy_settings().datasets[release_specs()[name].dataset].privacy_unit.kind  # firm, or person (debt signals)
        assert float(metadata["confidence_level"]) == 0.95 and metadata["privacy_unit"].startswith(unit_kind)
        if release_specs()[name].privacy_loss.rho is None:
            assert "make_laplace" in metadata["mechanism"] and "rho" not in metadata
        else:  # zCDP: Gaussian noise, its rho in the file, its epsilon that rho alone at the dataset's delta
            assert "make_gaussian" in metadata["mechanism"] and float(metadata["rho"]) == pytest.approx(release_specs()[name].privacy_loss.rho)
        # the codebook explains every column, how suppression shows, and how levels relate
        book = folder["codebook"]
        assert set(folder["pandas_columns"]) <= set(book["columns"]), set(folder["pandas_columns"]) - set(book["columns"])
        assert "suppressed = true" in book["suppression"] and "need not add up" in book["hierarchy"]
        if release_specs()[name].groups.keys == "public":  # private keys (the themes) may select nothing from 1,500 firms
            assert folder["rows"] > 0
            suppressed[name] = folder["suppressed"]
        assert folder["shown_without_estimate"] == 0 and folder["hidden_with_estimate"] == 0
        assert "## Columns" in folder["readme"] and book["title"] in folder["readme"]
        # which interval is which: the combined one, the privacy noise's, the sampling error's
        assert {"ci_low", "ci_high", "dp_low", "dp_high", "sampling_se"} <= set(folder["pandas_columns"])
        assert set(json.loads(metadata["interval_columns"])) == {"ci_low/ci_high", "dp_low/dp_high", "sampling_se"}
        assert "sampling" in book["uncertainty"] and "## Uncertainty" in folder["readme"]
    # small groups are suppressed in the releases with many groups (a release over the articles of a proposal may have none)
    assert suppressed["cgc_balance"] > 0 and suppressed["dis_impact"] > 0


def test_exports_hold_released_numbers_only(pipeline):
    with duckdb.connect() as connection:
        columns = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM read_parquet('{pipeline.exports}/*/*.parquet', union_by_name=true)").fetchall()}
    assert not columns & {"firm_id", "kvk_number", "free_text", "response_id"}
    assert {"estimate", "ci_low", "ci_high", "suppressed", "epsilon"} <= columns


def test_exporting_again_writes_the_same_files(pipeline, tmp_path):
    from privacy.export import export_release
    from privacy.loading import release_specs

    first, second = tmp_path / "first", tmp_path / "second"
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        spec = release_specs()["cgc_balance"]
        written = [export_release(connection, spec, target) for target in (first, second)]
    for a, b in zip(*written, strict=True):
        assert a.read_bytes() == b.read_bytes()
