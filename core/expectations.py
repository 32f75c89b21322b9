"""The Great Expectations suite of each source's raw table, built from its declaration.

These checks guard what ingestion promises: identifiers pseudonymised, group
keys from the public domains, answers in range, free text scrubbed. Dagster
shows each expectation as an asset check. GX validates pandas frames here;
its SQL route through duckdb_engine misreports results (see STACK-NOTES).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import duckdb
import great_expectations as gx
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from core.sources import SourceField, source

PSEUDONYM = r"^[0-9a-f]{64}$"  # HMAC-SHA256 in hex
# A KvK number or e-mail address left in free text, as `core.scrub` finds them (8 digits that are not part of a longer
# number, a decimal or an amount: the scrubber leaves '€ 12345678' and '12345678 euro').
IDENTIFIER_IN_TEXT = r"(?<![0-9+.,€])(?<!€ )[0-9]{8}(?![0-9]|[.,][0-9]| ?(?:euro|EUR))|@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    success: bool
    unexpected_count: int
    description: str


def _expectations(name: str) -> dict[str, Callable[[], gx.expectations.Expectation]]:
    """Expectation name -> how to build it, for `raw.<table>` of source `name` (values of dynamic domains are read when built)."""
    declared = source(name)
    gxe = gx.expectations
    identity = list(declared.row_identity)
    suite: dict[str, Callable[[], gx.expectations.Expectation]] = {
        f"{declared.key}_unique": lambda: gxe.ExpectColumnValuesToBeUnique(column=declared.key),
    } if len(identity) == 1 else {  # `latest: row`: a key comes back in every delivery, once per submitted_at
        f"{'_'.join(identity)}_unique": lambda: gxe.ExpectCompoundColumnsToBeUnique(column_list=identity),
    }
    for column, field in declared.fields.items():
        stored = field.pseudonym or column
        if field.type == "identifier":
            suite[f"{stored}_is_pseudonym"] = partial(gxe.ExpectColumnValuesToMatchRegex, column=stored, regex=PSEUDONYM)
        elif field.type == "choice" and field.integer_codes:
            codes = [int(code) for code in field.allowed()]
            suite[f"{column}_in_range"] = partial(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=min(codes), max_value=max(codes))
        elif field.type == "choice":
            suite[f"{column}_{'known' if field.domain else 'valid'}"] = partial(_in_set, column, field)
        elif field.type in ("integer", "decimal", "money"):
            suite[f"{column}_in_range"] = partial(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=field.minimum, max_value=field.maximum)
        elif field.type == "free_text":
            suite[f"{column}_has_no_identifiers"] = partial(gxe.ExpectColumnValuesToNotMatchRegex, column=column, regex=IDENTIFIER_IN_TEXT)
    for column, field in declared.fields.items():
        if field.required and field.role != "key":
            stored = field.pseudonym or column
            suite[f"{stored}_not_null"] = partial(gxe.ExpectColumnValuesToNotBeNull, column=stored)
    return suite


def _in_set(column: str, field: SourceField) -> gx.expectations.Expectation:
    return gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=field.allowed())


def expectation_names(name: str) -> dict[str, str]:
    """Check name -> what it checks, without reading any domain (for the Dagster definitions)."""
    return {check: check.replace("_", " ") for check in _expectations(name)}


def raw_suite(name: str = "cgc") -> dict[str, gx.expectations.Expectation]:
    """Expectation name -> expectation for `raw.<table>` of source `name`, from its declaration; the name is the Dagster check name."""
    return {check: build() for check, build in _expectations(name).items()}


def raw_cgc_suite() -> dict[str, gx.expectations.Expectation]:
    return raw_suite("cgc")


def _config_key(configuration) -> str:
    """GX returns results in its own order; match them to expectations by type and arguments."""
    kwargs = {k: v for k, v in configuration.kwargs.items() if k not in ("batch_id",)}
    return f"{configuration.type}:{sorted((k, str(v)) for k, v in kwargs.items())}"


def validate_raw(frame: pd.DataFrame, name: str = "cgc") -> list[ExpectationOutcome]:
    """Run source `name`'s suite on a frame of its raw table."""
    return _Validator(name).validate(frame)


@dataclass(frozen=True)
class TableOutcome:
    outcomes: list[ExpectationOutcome]
    rows_checked: int
    batches: int
    scope: str  # "new rows" (the files this run loaded), "all rows" or "no new rows" (a run that loaded nothing)


BATCH_ROWS = 200_000  # rows per pandas frame, whatever the size of the table (GX takes about 10 s per batch on this machine)
STREAM_ROWS = 50_000  # rows per Arrow chunk of the one ordered scan
BATCH_COLUMN = "_gx_batch"


def checked_columns(name: str) -> str:
    """The select list of the columns the suite reads: all but lists (GX checks no list columns)."""
    lists = [column for column, field in source(name).fields.items() if field.type == "multi_choice"]
    return f"* EXCLUDE ({', '.join(lists)})" if lists else "*"


def validate_table(connection, name: str, run_id: str | None = None, batch_rows: int = BATCH_ROWS, *,
                   all_when_none: bool = True) -> TableOutcome:
    """Run source `name`'s suite on `raw.<table>` in the warehouse, in batches of about `batch_rows` rows.

    Scope: the rows of the files run `run_id` loaded (the manifest records the run of each file). When that run
    loaded none: every row (`all_when_none`: the check run on its own, from the Dagster UI), or none (the pipeline's
    run found no new file: what it checked before has not changed). Memory stays at one batch, never the table:
    the rows are split by a hash of their identity columns, so every copy of an identity is in the same batch and the
    uniqueness expectations see all of them; one scan ordered by that batch number serves every batch. The counts of
    unexpected values add up over the batches.
    """
    declared = source(name)
    columns = checked_columns(name)
    scope, where, parameters = "all rows", "TRUE", []
    if run_id is not None:
        (new_files,) = connection.execute(
            "SELECT count(*) FROM meta.ingest_manifest WHERE source = ? AND run_id = ? AND rows_raw > 0", [name, run_id]).fetchone()
        if new_files:
            scope = "new rows"
            where = "file_hash IN (SELECT file_hash FROM meta.ingest_manifest WHERE source = ? AND run_id = ?)"
            parameters = [name, run_id]
        elif not all_when_none:
            scope, where = "no new rows", "FALSE"
    (rows,) = connection.execute(f"SELECT count(*) FROM {declared.raw_table} WHERE {where}", parameters).fetchone()
    batches = max(1, -(-rows // batch_rows))
    identity = ", ".join(declared.row_identity)
    validator = _Validator(name)
    totals: dict[str, ExpectationOutcome] = {}

    def check(frame: pd.DataFrame) -> None:
        for outcome in validator.validate(frame.drop(columns=BATCH_COLUMN)):
            earlier = totals.get(outcome.name)
            totals[outcome.name] = outcome if earlier is None else ExpectationOutcome(
                outcome.name, earlier.success and outcome.success, earlier.unexpected_count + outcome.unexpected_count, outcome.description)

    # One scan, ordered by batch, streamed: a query per batch would read the whole table once per batch (32 times
    # for the nation's CGC rows). Arrow chunks of one batch are gathered, then checked as one frame.
    reader = connection.execute(
        f"SELECT {columns}, hash({identity}) % ? AS {BATCH_COLUMN} FROM {declared.raw_table} WHERE {where} ORDER BY {BATCH_COLUMN}",
        [batches, *parameters]).fetch_record_batch(STREAM_ROWS)
    local = duckdb.connect()  # Arrow to pandas as DuckDB converts (decimals, timestamps), beside the open scan

    def as_pandas(chunks: list[pa.RecordBatch]) -> pd.DataFrame:
        return local.from_arrow(pa.Table.from_batches(chunks)).df()

    pending: list[pa.RecordBatch] = []  # the chunks (or parts of chunks) of batch `pending_batch`, in order
    pending_batch = None
    for chunk in reader:
        numbers = chunk.column(BATCH_COLUMN)
        while chunk.num_rows:
            first = numbers[0].as_py()
            if first != pending_batch and pending:  # a new batch begins: check the one gathered
                check(as_pandas(pending))
                pending = []
            pending_batch = first
            same = pc.sum(pc.equal(numbers, first)).as_py()  # sorted: the rows of batch `first` lead the chunk
            pending.append(chunk.slice(0, same))
            chunk, numbers = chunk.slice(same), numbers.slice(same)
    if pending or not totals:  # the last batch, or an empty table (every expectation still reports)
        check(as_pandas(pending) if pending else
              connection.execute(f"SELECT {columns}, 0 AS {BATCH_COLUMN} FROM {declared.raw_table} WHERE FALSE").df())
    local.close()
    return TableOutcome(list(totals.values()), rows, batches, scope)


class _Validator:
    """One ephemeral GX context and source `name`'s suite, for any number of frames."""

    def __init__(self, name: str) -> None:
        self.context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        ),
        )
        self.definition = (
            self.context.data_sources.add_pandas("warehouse").add_dataframe_asset(f"raw_{name}").add_batch_definition_whole_dataframe("all_rows")
        )
        self.named = raw_suite(name)
        self.suite = gx.ExpectationSuite(name=f"raw_{name}", expectations=list(self.named.values()))

    def validate(self, frame: pd.DataFrame) -> list[ExpectationOutcome]:
        batch = self.definition.get_batch(batch_parameters={"dataframe": frame})
        by_config = {_config_key(r.expectation_config): r for r in batch.validate(self.suite).results}
        outcomes = []
        for check, expectation in self.named.items():
            result = by_config[_config_key(expectation.configuration)]
            unexpected = int(result.result.get("unexpected_count", 0) or 0)
            outcomes.append(ExpectationOutcome(check, bool(result.success), unexpected, expectation.expectation_type))
        return outcomes


def validate_raw_cgc(frame: pd.DataFrame) -> list[ExpectationOutcome]:
    return validate_raw(frame, "cgc")
