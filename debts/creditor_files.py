"""One file per creditor organisation with the rules' advice on its own claims: what its staff see (issue 12.4).

    operational.debt_advice (per claim per month, every organisation)
      -> data/operational/<creditor>/advice.parquet   that organisation's own claims only, one row per claim per month

The web app never reads the warehouse (README, "Security"), so the pipeline
publishes what a creditor's staff may see as files, the way releases are
published to `exports/`. Minimal disclosure decides what a file holds:

* the organisation's own claims: claim_id, month, kind of debt, stage,
  principal (cents), the recommended action with its Dutch text, the reason
  codes with their Dutch texts, projected collection costs and the costs the
  action avoids (cents);
* `letter`: which of the organisation's claims go in one letter, as a number
  per organisation per month (1, 2, ... in the order of each letter's first
  claim_id), not the engine's `letter_group`, which is built from the person's
  pseudonym;
* of everything the platform knows from other organisations only the two
  facts the rules need, as yes/no: `small_debts_elsewhere` ("deze persoon
  heeft ook kleine schulden bij andere organisaties") and
  `in_debt_counselling_anywhere` ("in schuldhulp"); never an amount, a count
  or the name or code of another organisation.

No `person_id`: it is a keyed hash under the platform's pseudonym key, the
same for this person at every organisation, so handing it out would let
organisations link their debtors with each other without the platform. A
creditor knows its own debtor by its own claim_id; the letter number says
which claims belong to one person. Municipality of residence and creditor
type are left out too: the page does not need them.

Files are private (`core.files`: 0600 in 0700 folders), written atomically,
and the web app reads them as the same user locally; in production the
operator gives `operational/` to the pipeline with the web app's group and
setgid (2750), so folders inside become 2750 and files 0640: the web app
reads, nobody else does (README, "Production"). An organisation whose claims
are gone from the warehouse loses its file: a file never shows stale claims.
A file is written again only when the organisation's rows changed (or this
code, its labels or the files' key): `.fingerprints.json` beside the folders
holds per organisation a hash of what its file was made from (counts and
hashes only, no value).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl

from core import fingerprints
from core.files import private_dir
from core.landing import write_atomically
from core.private_parquet import key_id, private_parquet_writer
from core.reference import domain_codes
from debts.labels import ACTION_LABELS, REASONS
from debts.pipeline import ADVICE_TABLE

ADVICE_FILE = "advice.parquet"
FINGERPRINT_FILE = ".fingerprints.json"  # in the operational folder: organisation -> what its file was made from
STREAM_ROWS = 200_000  # rows per batch read from the warehouse while the files are written
ORGANISATION_CODE = re.compile(r"^[A-Za-z0-9_]{2,40}$")  # the codes of reference/creditors.csv: one folder name, no path
CREDITOR_COLUMNS = {
    "claim_id": pl.Utf8,
    "month": pl.Utf8,  # 'YYYY-MM'
    "debt_type": pl.Utf8,  # code of the declaration (sources/debt_signal/source.yaml)
    "stage": pl.Utf8,  # code of the declaration
    "principal_cents": pl.Int64,  # what is still owed without collection costs, cents
    "action": pl.Utf8,  # the rules' recommended action (debts/rules.py)
    "action_label": pl.Utf8,  # its Dutch text (debts/labels.py)
    "reasons": pl.List(pl.Utf8),  # reason codes behind the action
    "reason_texts": pl.List(pl.Utf8),  # their Dutch texts, in the same order
    "letter": pl.Int64,  # claims with the same number this month go in one letter; null: no letter to the person
    "projected_cost_cents": pl.Int64,  # collection costs if collection goes on to the bailiff, cents
    "projected_saving_cents": pl.Int64,  # collection costs the recommended action avoids, cents
    "small_debts_elsewhere": pl.Boolean,  # the person also has small debts at another organisation (nothing more)
    "in_debt_counselling_anywhere": pl.Boolean,  # some organisation knows the person gets debt counselling (nothing more)
}


class UnknownOrganisation(ValueError):
    """A code that is not an organisation of the public domain `creditor`: it never becomes a folder name."""


def organisation_folder(operational: Path, organisation: str) -> Path:
    """The folder of one organisation's files, for a code of the domain `creditor` only (never a path from elsewhere).

    >>> organisation_folder(Path("/data/operational"), "GM0363")
    PosixPath('/data/operational/GM0363')
    >>> organisation_folder(Path("/data/operational"), "../secrets")
    Traceback (most recent call last):
    ...
    debts.creditor_files.UnknownOrganisation: organisation: '../secrets' is no creditor of reference/creditors.csv
    """
    if not ORGANISATION_CODE.fullmatch(organisation) or organisation not in set(domain_codes("creditor")):
        raise UnknownOrganisation(f"organisation: {organisation!r} is no creditor of reference/creditors.csv")
    return operational / organisation


def advice_file(operational: Path, organisation: str) -> Path:
    """Where one organisation's advice file is: `<operational>/<code>/advice.parquet`."""
    return organisation_folder(operational, organisation) / ADVICE_FILE


def creditor_view(advice: pl.DataFrame) -> pl.DataFrame:
    """The rows of one organisation's file from its rows of `operational.debt_advice` (see the module docstring)."""
    reason_texts = {code: reason.label for code, reason in REASONS.items()}
    first_claim = pl.col("claim_id").min().over("month", "letter_group")
    letters = (advice.filter(pl.col("letter_group").is_not_null()).select("month", "letter_group", first_claim.alias("first_claim")).unique()
               .with_columns(pl.col("first_claim").rank("dense").over("month").cast(pl.Int64).alias("letter")).drop("first_claim"))
    return (
        advice.join(letters, on=["month", "letter_group"], how="left")  # a null letter_group (no letter) matches nothing
        .with_columns(
            pl.col("action").replace_strict(ACTION_LABELS, return_dtype=pl.Utf8).alias("action_label"),
            pl.col("reasons").list.eval(pl.element().replace_strict(reason_texts, return_dtype=pl.Utf8)).alias("reason_texts"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in CREDITOR_COLUMNS.items()])
        .sort("month", "claim_id")
    )


def _made_by() -> str:
    """What every file is made by besides its rows: this module, the Dutch labels and the files' key (hashed)."""
    from debts import labels

    parts = [Path(__file__).read_bytes(), Path(labels.__file__).read_bytes(), key_id().encode()]
    return hashlib.sha256(b"|".join(parts)).hexdigest()


def _fingerprints(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    """Organisation -> (a hash of its rows in the advice table and of `_made_by`, its rows)."""
    made_by = _made_by()
    return {creditor: (fingerprints.fingerprint(made_by, rows, total), rows)
            for creditor, (rows, total) in fingerprints.row_hashes(connection, ADVICE_TABLE, "creditor").items()}


def _recorded(operational: Path) -> dict[str, str]:
    try:
        recorded = json.loads((operational / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: every file is written again
    return recorded if isinstance(recorded, dict) else {}


def write_creditor_files(connection: duckdb.DuckDBPyConnection, operational: Path) -> dict[str, int]:
    """Write the advice file of every organisation whose rows changed since its file was written (or whose file is
    missing); remove the files of organisations without claims now.

    Returns rows per organisation (in its file). Each file is written atomically (temporary file, fsync, rename): the
    web app reads the old file or the new one, never half of one. The fingerprints are written after the files: a
    stop in between makes the next run write those files again.
    """
    private_dir(operational)
    current, recorded = _fingerprints(connection), _recorded(operational)
    stale = sorted(organisation for organisation, (fingerprint, _) in current.items()
                   if recorded.get(organisation) != fingerprint or not advice_file(operational, organisation).exists())
    # One scan of the table in the order of the organisations, streamed in batches: one organisation's rows in
    # memory at a time, not the nation's claims (and not one scan of the whole table per organisation).
    batches = connection.execute(f"SELECT * FROM {ADVICE_TABLE} WHERE list_contains(?::VARCHAR[], creditor) ORDER BY creditor",
                                 [stale]).fetch_record_batch(STREAM_ROWS)
    with private_parquet_writer() as write:
        def flush(parts: list[pl.DataFrame]) -> None:
            view = creditor_view(pl.concat(parts))
            organisation = parts[0]["creditor"][0]
            write(view, organisation_folder(operational, organisation), ADVICE_FILE)

        pending: list[pl.DataFrame] = []
        for batch in batches:
            for part in pl.from_arrow(batch).partition_by("creditor", maintain_order=True):
                if pending and pending[0]["creditor"][0] != part["creditor"][0]:
                    flush(pending)
                    pending = []
                pending.append(part)
        if pending:
            flush(pending)
    known = set(domain_codes("creditor"))
    for folder in operational.iterdir():
        if folder.is_dir() and folder.name in known and folder.name not in current:
            shutil.rmtree(folder)  # no claims any more: no file, rather than last month's claims
    made_from = {organisation: fingerprint for organisation, (fingerprint, _) in sorted(current.items())}
    if made_from != recorded:
        write_atomically(operational, FINGERPRINT_FILE, json.dumps(made_from, indent=1).encode("utf-8"))
    return {organisation: rows for organisation, (_, rows) in sorted(current.items())}
