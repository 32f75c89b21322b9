"""Researcher and dashboard exports: every stored release as Parquet that explains itself.

`data/exports/<spec>/<spec>_<period>_v<version>.parquet` holds one release
(long format: one row per group x measure x statistic x category); its
key-value metadata carries epsilon, delta, privacy unit, mechanism,
confidence level, version, spec hash and time, so the file can be read and
understood without our code. Each folder has a codebook (`codebook.json`
and a readable `README.md`). The public ledger and budgets are exported
too. Files are written atomically (temporary name, fsync, rename), so a
reader never sees half a file; exporting again keeps a release's file as it
is, and refuses (`ExportConflict`) when its bytes would differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from core.files import public_dir
from core.landing import write_atomically
from privacy.engine import release_table
from privacy.ledger import budget_frame, entries_frame, yearly_loss
from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum


COLUMNS = {
    "release_id": "Identifier of the release: <release>/<period>/v<version>.",
    "release_name": "The release specification (config/releases/<name>.yaml).",
    "version": "Version of the release for this period; a new version has new noise and was charged again.",
    "period": "Budget period: survey wave (YYYY-MM) or month.",
    "level": "Grouping of this row, e.g. nation, province, sector; its key columns are filled, the others empty.",
    "measure": "What is measured (see 'measures' below).",
    "statistic": "count | sum | mean | p<q> (quantile, e.g. p50 = median) | share | balance | ratio (of two sums of the release).",
    "category": "For shares: the answer category (balance measures: positive, neutral, negative).",
    "estimate": "The released figure (noisy); empty when suppressed. Counts are never negative.",
    "ci_low": "Lower end of the combined interval (privacy noise and sampling error together, see 'uncertainty'): "
    "where the figure over all firms the respondents stand for lies, at the stated confidence. Dashboards show this one.",
    "ci_high": "Upper end of the combined interval.",
    "dp_low": "Lower end of the privacy-noise interval: where the exact figure among the respondents lies, at the stated "
    "confidence (derived from the known noise distribution; measured coverage 94-97 % at 95 %).",
    "dp_high": "Upper end of the privacy-noise interval.",
    "sampling_se": "Standard error from sampling (the respondents are a sample of all firms), estimated from released "
    "figures only, in the unit of the estimate; 0 for counts and sums, which describe the respondents themselves.",
    "basis": "Noisy number of units or answers the figure rests on; empty when suppressed.",
    "unit_of_estimate": "Unit of estimate and interval: procent, procentpunten, bedrijven, or the measure's unit.",
    "suppressed": "True when the cell is not published ('x' in CBS tables); then estimate, interval and basis are empty.",
    "suppression_reason": "Why a cell is suppressed (Dutch): too few units in the group, or too few answers.",
    "epsilon": "Privacy loss of the whole release (all its cells together).",
    "delta": "Delta of the release (0: pure differential privacy).",
    "confidence_level": "Confidence level of ci_low / ci_high and dp_low / dp_high.",
    "released_at": "When the release was made (local time).",
}

SUPPRESSION = (
    "A suppressed cell has suppressed = true, a reason, and empty estimate, ci_low, ci_high and basis. "
    "Cells are suppressed when the noisy number of units in the group, or of answers behind the figure, "
    "is below the release's suppression_threshold."
)

INTERVAL_COLUMNS = json.dumps({
    "ci_low/ci_high": "combined: privacy noise and sampling error",
    "dp_low/dp_high": "privacy noise only (exact figure among the respondents)",
    "sampling_se": "standard error from sampling",
})

UNCERTAINTY = (
    "Each figure has two kinds of error, stored apart. Privacy noise: dp_low to dp_high holds the exact figure among "
    "the respondents with the stated confidence; it is derived from the noise's exact distribution (its scale is public, "
    "see the file metadata 'components'), by inverting a test whose statistic is pure noise under the figure, exactly "
    "where at most two noisy values are involved and otherwise by a seeded simulation of the declared noise. Sampling: "
    "sampling_se is the standard error of the figure as an estimate for all firms, for a simple random sample without "
    "finite-population correction and without weighting: shares sqrt(p(1-p)/n), balances sqrt((p+ + p- - b^2)/n), means "
    "s/sqrt(n) with s from a released sum of squares, else from a released histogram of the same column (bin middles, plus "
    "width^2/12 within a bin), else the largest spread values within the bounds allow (Bhatia-Davis), "
    "quantiles sqrt(p(1-p)/n)/density. Combined: ci_low = estimate - sqrt((estimate - dp_low)^2 + (z sampling_se)^2), "
    "ci_high alike, z the normal quantile of the level, clipped to the possible range."
)

HIERARCHY = (
    "Levels are released independently, each with its own noise: lower levels (provinces, sectors) need not "
    "add up to the higher level (nation), and the difference is noise. For a total, use the higher level."
)


def write_parquet_atomically(table: pa.Table, target: Path) -> Path:
    """The table as Parquet, through the project's one atomic writer (temporary file, fsync, rename, folder fsync)."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    return write_atomically(target.parent, target.name, buffer.getvalue().to_pybytes(), public=True)


class ExportConflict(RuntimeError):
    """A release's export file exists with other bytes: a published release is never replaced by other numbers."""


def write_release_file(table: pa.Table, target: Path) -> Path:
    """Write one release's Parquet file, or keep it when it has these very bytes; refuse when it differs.

    A release id is made once, so its file never changes. Other bytes mean
    the numbers were made again (a lost ledger) or their columns changed: the
    published file stays, and the export stops with a message.
    """
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    data = buffer.getvalue().to_pybytes()
    if target.exists():
        if target.read_bytes() == data:
            return target
        raise ExportConflict(
            f"{target.name}: this release was exported before with other numbers or columns; a published release is never "
            "overwritten (make a new version, or restore the privacy ledger that made the published one)"
        )
    return write_atomically(target.parent, target.name, data, public=True)


def _write_text_atomically(text: str, target: Path) -> None:
    write_atomically(target.parent, target.name, text.encode("utf-8"), public=True)


def _arrow(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> pa.Table:
    result = connection.execute(sql, parameters or []).arrow()
    return result.read_all() if hasattr(result, "read_all") else result


def _measure_description(measure) -> dict:
    text = {
        Count: "number of units in the group",
        Sum: f"sum of {getattr(measure, 'column', '')}, each value clamped to {getattr(measure, 'bounds', '')}",
        Mean: f"mean of {getattr(measure, 'column', '')}, each value clamped to {getattr(measure, 'bounds', '')}",
        Quantiles: f"quantiles of {getattr(measure, 'column', '')} from a histogram over bins {getattr(measure, 'bin_edges', '')}",
        Shares: "percent of answers per category" + (" (respondents naming it; several answers possible)" if getattr(measure, "multi_select", False) else ""),
        Balance: "balance: percent positive minus percent negative answers (percentage points)",
    }[type(measure)]
    described = {"kind": measure.kind, "description": text}
    for field in ("column", "unit", "bounds", "rationale", "positive", "negative", "categories"):
        if getattr(measure, field, None) is not None:
            described[field] = getattr(measure, field)
    return described


def codebook(spec: ReleaseSpec) -> dict:
    """What every column and measure of a release's files means."""
    keys = {dim: "Group key (public reference domain)" if spec.groups.keys == "public" else "Group key (selected privately)" for dim in spec.groups.dimensions}
    return {
        "release": spec.name,
        "title": spec.title,
        "description": spec.description.strip(),
        "privacy_unit": spec.privacy_unit.label,
        "contribution_bound": spec.contribution.rationale.strip(),
        "levels": {name: dims for name, dims in spec.groups.levels.items()},
        "columns": {**COLUMNS, **keys},
        "measures": {m.name: _measure_description(m) for m in spec.measures} | {
            r.name: {"kind": "ratio", "description": f"{r.numerator} divided by {r.denominator} (post-processing of those two sums; "
                     f"its interval from their joint noise, within {list(r.bounds)})", "unit": r.unit, "bounds": list(r.bounds),
                     "rationale": r.rationale} for r in spec.ratios},
        "suppression": SUPPRESSION + f" Threshold: {spec.suppression_threshold}.",
        "hierarchy": HIERARCHY,
        "uncertainty": UNCERTAINTY,
        "file_metadata": "Parquet key-value metadata: release_id, epsilon, delta, privacy_unit, mechanism, confidence_level, "
        "version, spec_hash, created_at, components (noise per vector), interval_columns (which interval column is which).",
    }


def _readme(book: dict) -> str:
    lines = [f"# {book['title']} ({book['release']})", "", book["description"], "", f"Privacy unit: {book['privacy_unit']}.", "",
             f"Contribution bound: {book['contribution_bound']}", "", "## Columns", ""]
    lines += [f"- `{name}`: {text}" for name, text in book["columns"].items()]
    lines += ["", "## Measures", ""]
    lines += [f"- `{name}` ({m['kind']}): {m['description']}" + (f". Why these bounds: {m['rationale']}" if "rationale" in m else "")
              for name, m in book["measures"].items()]
    lines += ["", "## Suppression", "", book["suppression"], "", "## Levels", "", book["hierarchy"], "",
              "## Uncertainty", "", book["uncertainty"], ""]
    return "\n".join(lines)


def _exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0])


def export_release(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, exports: Path) -> list[Path]:
    """Write every stored release of `spec` and its codebook to `exports/<spec>/` (idempotent; read-only is enough)."""
    folder = public_dir(exports / spec.name, top=exports)
    written = []
    released = _exists(connection, "privacy", "ledger") and _exists(connection, "releases", spec.name)
    entries = connection.execute("SELECT * FROM privacy.ledger WHERE release_name = ? ORDER BY release_id", [spec.name]).pl() if released else []
    order = ", ".join(["level", *spec.groups.dimensions, "measure", "statistic", "category"])
    for entry in entries.iter_rows(named=True) if released else []:
        table = _arrow(connection, f"SELECT * FROM {release_table(spec)} WHERE release_id = ? ORDER BY {order}", [entry["release_id"]])
        metadata = {
            "release_id": entry["release_id"],
            "epsilon": repr(entry["epsilon"]),
            "delta": repr(entry["delta"]),
            "privacy_unit": entry["privacy_unit"],
            "mechanism": entry["mechanism"],
            "confidence_level": repr(spec.confidence_level),
            "version": str(entry["version"]),
            "spec_hash": entry["spec_hash"],
            "created_at": entry["created_at"].isoformat(),
            "components": entry["components"],
            "bounding": entry["bounding"],
            "interval_columns": INTERVAL_COLUMNS,
        }
        if entry.get("rho"):  # zCDP releases only (older files keep their bytes): epsilon is then this rho alone at the dataset's delta
            metadata["rho"] = repr(entry["rho"])
        table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        written.append(write_release_file(table, folder / f"{spec.name}_{entry['period']}_v{entry['version']}.parquet"))
    book = codebook(spec)
    _write_text_atomically(json.dumps(book, indent=2, ensure_ascii=False), folder / "codebook.json")
    _write_text_atomically(_readme(book), folder / "README.md")
    return written


def export_ledger(connection: duckdb.DuckDBPyConnection, exports: Path, settings=None) -> list[Path]:
    """The public ledger, the budget per dataset per period and one unit's loss per 12 months (no personal data),
    read from the ledger file itself, not from the warehouse's copy."""
    from privacy.loading import privacy_settings

    public_dir(exports, top=exports)
    entries = entries_frame(connection).sort("created_at", "release_id").to_arrow()
    return [
        write_parquet_atomically(entries, exports / "privacy_ledger.parquet"),
        write_parquet_atomically(budget_frame(connection).to_arrow(), exports / "privacy_budget.parquet"),
        write_parquet_atomically(yearly_loss(connection, settings or privacy_settings()).to_arrow(), exports / "privacy_yearly_loss.parquet"),
    ]
