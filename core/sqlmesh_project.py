"""The SQLMesh project (the repository root): what it reads from the source declarations, and running it.

Every declared source (`sources/<name>/source.yaml`, see `core.sources`)
gets, without code of its own:

- its raw table in `external_models.yaml` (generated here, from
  `core.warehouse.column_types`; `write_external_models()` rewrites it and a
  test fails when the committed file and the declarations differ);
- `staging.<name>_answers`, `staging.<name>_profiles` and `marts.<mart>`:
  SQLMesh Python models that return SQL, one blueprint per source
  (`models/staging/answers.py`, `models/staging/profiles.py`,
  `models/marts/unit_period.py`); the blueprint variables come from the
  helpers below; a source declared `latest: row` (deliveries: a claim's
  state per month) gets `staging.<name>_latest` and a mart of one row per key
  per period instead (`models/staging/latest_rows.py`, `models/marts/key_period.py`);
- after every ingestion, a restatement of what changed in its raw table (`plan_and_refresh`): a source whose
  periods are calendar months has an incremental mart (INCREMENTAL_BY_TIME_RANGE on the period, `register_marts`)
  and only its changed months are restated; any other mart is rebuilt whole when its raw rows changed.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import yaml

from core.periods import period_end
from core.reference import domains
from core.settings import PROJECT_ROOT, paths
from core.sources import Source, SourceField, sources
from core.warehouse import (
    CATALOG,
    column_types,
    httpfs_extension,
    lake_catalog,
    lake_extensions,
    limit_memory,
    memory_limit,
    warehouse_attach_sql,
    warehouse_key,
    writer_lock,
)

# SQLMesh writes its user file to $SQLMESH_HOME (default ~/.sqlmesh) at import; a service account has no home,
# and generated files belong under data/. Set before the first import of sqlmesh in this process.
os.environ.setdefault("SQLMESH_HOME", str(paths().data_dir / "sqlmesh-home"))

from sqlglot import exp
from sqlmesh import Context
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig
from sqlmesh.core.config.connection import DuckDBAttachOptions

EXTERNAL_MODELS = PROJECT_ROOT / "external_models.yaml"
REGENERATE = '.venv/bin/python -c "from core.sqlmesh_project import write_external_models; write_external_models()"'
LOAD_COLUMNS = {
    "file_hash": "SHA-256 of the delivered file",
    "row_number": "data row (or line) in that file, 1-based",
    "loaded_at": "when the row was loaded",
}


def staging_models(declared: Source) -> list[str]:
    """The staging views SQLMesh makes for a source: answers and profiles, or the latest rows (`latest: row`)."""
    if declared.latest == "row":
        return [f"staging.{declared.name}_latest"]
    return [f"staging.{declared.name}_answers", f"staging.{declared.name}_profiles"]


def row_columns(declared: Source) -> list[str]:
    """A `latest: row` source's columns in staging and its mart: every declared field (identifiers as their pseudonym), no free text."""
    return [field.pseudonym or name for name, field in declared.fields.items() if field.type != "free_text"]


def rebuilt_models() -> list[str]:
    """The models that hold data derived from `raw` (every source's mart): restated where their raw rows changed."""
    return [f"marts.{declared.mart}" for declared in sources().values()]


# ---------------------------------------------------------------------------- incremental marts (calendar months)

FIRST_MONTH = "1900-01"  # an incremental mart's start: a month before it would never be filled (the declarations refuse them)
MONTH_FORMAT = "%Y-%m"


def month_filter(evaluator, period: str, table: str | None = None) -> str:
    """The filter of an incremental mart's query: its period ('YYYY-MM' text) within the months SQLMesh fills now.

    A Python model's SQL is not rendered again, so the interval's bounds go in here (`evaluator.template`)."""
    column = f'{table}."{period}"' if table else f'"{period}"'
    return evaluator.template(f"{column} BETWEEN STRFTIME(@start_dt, '{MONTH_FORMAT}') AND STRFTIME(@end_dt, '{MONTH_FORMAT}')", {})


def register_marts(function, declared: list[Source], blueprint, *, grains: list[str], prefix: str = "") -> None:
    """Register `function` (a Python model returning SQL) as the mart of every source in `declared`.

    Sources whose periods are calendar months get an incremental mart: INCREMENTAL_BY_TIME_RANGE with the period
    as its time column ('YYYY-MM' text), so SQLMesh replaces whole months. One model per period column name (the
    kind names the column; the blueprints of one model share its kind), each with its own template variable
    (SQLMesh names a model by its template): `<prefix>_<period>_mart`. Intervals are months (`@monthly`):
    `plan_and_refresh` sets the execution time past the last month with rows, so no month, not even a future one,
    is left unfilled. Other sources share one FULL model (variable `<prefix>_mart`). `blueprint(source, variable)`
    gives a source's blueprint variables, the mart's name under `variable`.
    """
    from sqlmesh import model
    from sqlmesh.core.model.kind import ModelKindName, TimeColumn

    definition = {"is_sql": True, "grains": grains, "owner": "data_engineering", "description": "@description",
                  "audits": grain_audits(answer_rules=True)}
    whole = [one for one in declared if one.period.calendar != "month"]
    by_period: dict[str, list[Source]] = {}
    for one in declared:
        if one.period.calendar == "month":
            by_period.setdefault(one.period.field, []).append(one)
    if whole:  # only with blueprints: a model without any would be one model of the literal name
        variable = "_".join(part for part in (prefix, "mart") if part)
        model(f"marts.@{{{variable}}}", kind="FULL", blueprints=[blueprint(one, variable) for one in whole], **definition)(function)
    for period, group in by_period.items():
        variable = "_".join(part for part in (prefix, period, "mart") if part)
        kind = {"name": ModelKindName.INCREMENTAL_BY_TIME_RANGE, "time_column": TimeColumn(column=period, format=MONTH_FORMAT)}
        model(f"marts.@{{{variable}}}", kind=kind, start=f"{FIRST_MONTH}-01", cron="@monthly",
              blueprints=[blueprint(one, variable) for one in group], **definition)(function)


# ---------------------------------------------------------------------------- from a declaration to SQLMesh


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def field_comment(declared: Source, name: str, field: SourceField, joined: bool = False) -> str:
    """One line about a column, from the declaration's label and rules (for `/* comments */` and descriptions).

    `joined`: a multi-select answer as text, its codes joined with ';' (staging and marts; raw holds a list).
    """
    label = field.label
    if field.role == "unit":
        text = f"{label}, pseudonymised (keyed hash): the privacy unit ({declared.unit})"
    elif field.role == "period":
        text = f"{label}: " + ("month 'YYYY-MM'" if declared.period.calendar == "month" else "one period per proposal")
    elif field.role == "key":
        text = f"{label}: " + ("the submission" if declared.latest == "answer" else "the record, delivered again with every new state")
    elif field.type in ("choice", "multi_choice") and field.domain:
        text = f"{label}: {domains()[field.domain].description} (domain '{field.domain}')"
    elif field.type == "choice" and field.integer_codes:
        labels = field.labels()
        first, last = next(iter(labels)), list(labels)[-1]
        text = f"{label}: {first} ({labels[first]}) to {last} ({labels[last]})"
    elif field.type == "choice":
        text = f"{label}: {' | '.join(field.allowed())}"
    elif field.type == "multi_choice":
        joined_with = "';'-joined " if joined else ""
        text = f"{label}: {joined_with}codes in the respondent's order, of {' | '.join(field.allowed())}"
    elif field.type in ("integer", "decimal"):
        unit = f" {field.unit}" if field.unit else ""
        step = f" in steps of {_number(field.step)}" if field.step else ""
        text = f"{label}: {_number(field.minimum)} to {_number(field.maximum)}{unit}{step}"
    elif field.type == "money":
        text = f"{label}: euros with cents (exact decimal), {_number(field.minimum)} to {_number(field.maximum)}"
    elif field.type == "date":
        text = f"{label}: date" + (", not in the future" if field.not_in_future else "") + (
            f", not before {field.not_before}" if field.not_before else "")
    elif field.type == "flag":
        text = f"{label}: yes/no (null: not known to the sender)"
    elif field.type == "free_text":
        text = f"{label}: free text, scrubbed at ingestion (at most {field.max_length} characters)"
    else:
        text = label
    return " ".join(text.replace("*/", "* /").split())


def column_comments(declared: Source, joined: bool = False) -> dict[str, str]:
    """Raw column -> one line about it (identifiers under their pseudonym), the load columns included."""
    comments = {field.pseudonym or name: field_comment(declared, name, field, joined) for name, field in declared.fields.items()}
    return {**comments, **LOAD_COLUMNS}


def columns(*names: str) -> exp.Tuple:
    """`(a, b, c)` for an audit's `columns :=` (a blueprint variable must be SQL, not text, to name columns)."""
    return exp.Tuple(expressions=[exp.column(name) for name in names])


def answer_rules(declared: Source, roles: tuple[str, ...] = ("answer",)) -> exp.Tuple:
    """The mart's answer checks as `forall` criteria: own options (accepted values), integer codes, number bounds (range).

    A blueprint shares its model's audit list, so the per-answer `accepted_values` and `accepted_range` audits
    (whose number differs per source) are written as what they render to, one criterion per answer.
    A null answer (not given) passes, as it does in `accepted_values`.
    """
    rules: list[exp.Expr] = []
    for name, field in declared.of_role(*roles).items():
        column = exp.column(name)
        if field.type == "choice" and field.integer_codes:
            rules.append(column.isin(*(exp.Literal.number(int(code)) for code in field.allowed())))
        elif field.type == "choice" and field.options:
            rules.append(column.isin(*(exp.Literal.string(code) for code in field.allowed())))
        elif field.type == "multi_choice" and field.options:
            options = exp.Array(expressions=[exp.Literal.string(code) for code in field.allowed()])
            rules.append(exp.func("LIST_HAS_ALL", options, exp.func("STRING_SPLIT", column, exp.Literal.string(";"))))
        elif field.type in ("integer", "decimal", "money"):
            rules.append(column.between(exp.Literal.number(_number(field.minimum)), exp.Literal.number(_number(field.maximum))))
    return exp.Tuple(expressions=rules or [exp.true()])


# ---------------------------------------------------------------------------- external models


def external_models_yaml() -> str:
    """`external_models.yaml`: every source's raw table with its DuckDB types (`core.warehouse`) and column descriptions."""
    entries = []
    for name, declared in sources().items():
        identifier = declared.fields[declared.unit_field]
        entries.append({
            "name": declared.raw_table,
            "description": f"{declared.title} ({name}): one row per accepted "
                           f"{'submission' if declared.latest == 'answer' else 'delivered state of a ' + declared.key + ' (per ' + declared.submitted_at + ')'}, "
                           f"{identifier.label} pseudonymised as {declared.unit_column}. Written by the Dagster ingestion.",
            "columns": column_types(name),
            "column_descriptions": column_comments(declared),
        })
    header = (
        "# Tables SQLMesh reads but does not own: the raw tables the Dagster ingestion writes, one per declared source.\n"
        "# GENERATED from sources/*/source.yaml; do not edit. After changing a declaration, run\n"
        f"#   {REGENERATE}\n"
    )
    return header + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=1000)


def write_external_models(path: Path = EXTERNAL_MODELS) -> Path:
    path.write_text(external_models_yaml(), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- running the project


class EncryptedWarehouse(DuckDBAttachOptions):
    """The warehouse attached as `core.warehouse` attaches it: encrypted, with the key (SQLMesh has no option for it)."""

    encryption_key: str

    def to_sql(self, alias: str) -> str:
        return warehouse_attach_sql(Path(self.path), self.encryption_key, alias=alias, read_only=self.read_only).replace("ATTACH", "ATTACH IF NOT EXISTS", 1)


class EncryptedDuckDBConnection(DuckDBConnectionConfig):
    """DuckDB with the httpfs extension loaded (from its package, by path) before the encrypted warehouse is attached."""

    @property
    def _cursor_init(self):
        attach = super()._cursor_init

        def init(cursor) -> None:
            cursor.execute(f"LOAD '{httpfs_extension()}'")
            if lake_catalog() is not None:
                for extension in lake_extensions():
                    cursor.execute(f"LOAD '{extension}'")
            cursor.execute("SET temp_file_encryption = true")
            attach(cursor)

        return init


def sqlmesh_connection(warehouse: Path) -> DuckDBConnectionConfig:
    """The warehouse as SQLMesh's only catalog (named like every connection of ours, so physical names agree)."""
    warehouse = Path(warehouse)
    return EncryptedDuckDBConnection(
        catalogs={CATALOG: EncryptedWarehouse(type="duckdb", path=str(warehouse), encryption_key=warehouse_key() if lake_catalog() is None else "")},
        connector_config={"temp_directory": str(warehouse.with_name(warehouse.name + ".tmp")), "memory_limit": memory_limit()},
        register_comments=lake_catalog() is None,  # DuckLake keeps no comments on views
    )


def sqlmesh_config(warehouse: Path) -> Config:
    return Config(
        gateways={"local": GatewayConfig(connection=sqlmesh_connection(warehouse))},
        default_gateway="local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2024-01-01", cron="@daily"),
        # Beside the warehouse, not in the repository: generated files live under data/, and in production the
        # pipeline's user may not write the code folder.
        cache_dir=str(warehouse.parent / "sqlmesh-cache"),
        disable_anonymized_analytics=True,  # no usage events leave the machine
    )


def sqlmesh_context(warehouse: Path, project: Path = PROJECT_ROOT) -> Context:
    """A Context on `warehouse`; the Python models read `core.sources.sources()` while it loads."""
    return Context(paths=str(project), config=sqlmesh_config(warehouse))


def plan_and_refresh(warehouse: Path, project: Path = PROJECT_ROOT) -> dict[str, object]:
    """Apply model changes to prod (a real plan), then restate what changed in the raw tables since the marts were made."""
    rebuilt = rebuilt_models()
    with writer_lock("sqlmesh"):  # a shared lake: one plan at a time (both would restate the same marts)
        return _plan_and_refresh(warehouse, project, rebuilt)


FINGERPRINTS = "meta.mart_fingerprints"  # per mart per period: the raw rows it was last made from (count, sum of row hashes)
FINGERPRINT_MEMORY = "256MB"  # DuckDB's memory while it reads the raw tables for them


def _fingerprints(adapter) -> dict[str, dict[str, tuple[int, int]]]:
    """Per mart, per period of its raw table: (rows, the sum of their hashes). Any change to a raw row changes it:
    a new file, an erased firm (rows gone, files renamed), new pseudonyms after a key change, retention."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    # One pass over every raw row, a few groups to keep: DuckDB's buffer would fill with pages it never reads again
    # (at national size the step's peak, 4 GB beside SQLMesh's context); a small buffer streams as fast.
    limit_memory(adapter, FINGERPRINT_MEMORY)
    try:
        for declared in sources().values():
            rows = adapter.fetchall(
                f'SELECT CAST("{declared.period.field}" AS VARCHAR), COUNT(*), CAST(SUM(HASH(r)) AS VARCHAR) FROM {declared.raw_table} AS r GROUP BY 1')
            found[f"marts.{declared.mart}"] = {period: (count, int(total)) for period, count, total in rows}
    finally:
        adapter.execute(f"SET memory_limit = '{memory_limit()}'")
    return found


def _recorded(adapter) -> dict[str, dict[str, tuple[int, int]]]:
    adapter.execute("CREATE SCHEMA IF NOT EXISTS meta")
    adapter.execute(f"CREATE TABLE IF NOT EXISTS {FINGERPRINTS} (mart VARCHAR, period VARCHAR, rows BIGINT, fingerprint VARCHAR)")
    recorded: dict[str, dict[str, tuple[int, int]]] = {}
    for mart, period, rows, fingerprint in adapter.fetchall(f"SELECT mart, period, rows, fingerprint FROM {FINGERPRINTS}"):
        recorded.setdefault(mart, {})[period] = (rows, int(fingerprint))
    return recorded


def _record(adapter, marts: list[str], current: dict[str, dict[str, tuple[int, int]]]) -> None:
    """`marts` are made from the raw rows of `current`: the next call restates only what differs from them."""
    with adapter.transaction():
        for mart in marts:
            adapter.execute(f"DELETE FROM {FINGERPRINTS} WHERE mart = '{mart}'")
            values = ", ".join(f"('{mart}', '{_quoted(period)}', {rows}, '{total}')" for period, (rows, total) in sorted(current[mart].items()))
            if values:
                adapter.execute(f"INSERT INTO {FINGERPRINTS} VALUES {values}")


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _model_name(snapshot_id) -> str:
    """'"warehouse"."marts"."cgc_firm_wave"' (a snapshot's name) -> 'marts.cgc_firm_wave'."""
    return snapshot_id.name.replace('"', "").split(".", 1)[-1]


def _months_filled(plan, name: str) -> set[str]:
    """The months the plan fills for model `name` (its intervals, as 'YYYY-MM')."""
    from sqlmesh.utils.date import to_datetime

    months: set[str] = set()
    for interval in plan.missing_intervals:
        if _model_name(interval.snapshot_id) == name:
            for begin, _ in interval.intervals:
                months.add(to_datetime(begin).strftime("%Y-%m"))
    return months


def _plan_and_refresh(warehouse: Path, project: Path, rebuilt: list[str]) -> dict[str, object]:
    context = sqlmesh_context(warehouse, project)
    try:
        adapter = context.engine_adapter
        current, recorded = _fingerprints(adapter), _recorded(adapter)
        monthly = {f"marts.{d.mart}" for d in sources().values() if d.period.calendar == "month"}
        # Every month with raw rows is in the past of the execution time, a future month too (a wave planned ahead):
        # an incremental model only fills months before it. The months recorded last time count too: a future month
        # whose rows were erased must still be restated (SQLMesh refuses a restatement past the execution time).
        latest = max([date.today().strftime("%Y-%m"),
                      *(period for mart in monthly for found in (current[mart], recorded.get(mart, {})) for period in found)])
        horizon = (period_end("month", latest) + timedelta(days=1)).isoformat()
        plan = context.plan_builder(execution_time=horizon).build()
        changed = sorted(s.name for s in plan.new_snapshots)
        # What this plan builds it builds from today's raw rows: restating it as well would build it twice. Only what
        # it fills counts (a new snapshot may reuse the old table: a change of description or audits builds nothing).
        # A FULL mart is built whole when it is filled; an incremental one when its first month is (a fresh warehouse,
        # a changed model), else the months it fills (new ones).
        filled = {_model_name(interval.snapshot_id) for interval in plan.missing_intervals}
        months_filled = {name: _months_filled(plan, name) for name in rebuilt if name in monthly}
        whole = {name for name in rebuilt if name in filled and (name not in monthly or FIRST_MONTH in months_filled[name])}
        context.apply(plan)
        _record(adapter, sorted(whole), current)
        restated: dict[str, str] = {}
        by_range: dict[tuple[str, str] | None, list[str]] = {}
        for name in rebuilt:
            if name in whole:
                continue
            before, now = recorded.get(name, {}), current[name]
            dirty = {period for period in before.keys() | now.keys() if before.get(period) != now.get(period)}
            if name in monthly:
                dirty -= months_filled[name]  # the plan has just made these months from today's rows
            if not dirty:
                continue
            if name in monthly:
                first, last = min(dirty), max(dirty)
                by_range.setdefault((first, last), []).append(name)
                restated[name] = first if first == last else f"{first} … {last}"
            else:
                by_range.setdefault(None, []).append(name)
                restated[name] = "all"
        for months, names in by_range.items():
            window = {} if months is None else {"start": f"{months[0]}-01", "end": period_end("month", months[1]).isoformat()}
            context.plan(restate_models=names, auto_apply=True, no_prompts=True, execution_time=horizon, **window)
            _record(adapter, names, current)
        for name in rebuilt:  # unchanged marts: the fingerprints may still be new (a first call on an older warehouse)
            if name not in whole and name not in restated and recorded.get(name) != current[name]:
                _record(adapter, [name], current)
        return {"models_changed": changed, "models_rebuilt": rebuilt, "models_built_by_the_plan": sorted(whole),
                "restated": restated, "unchanged": sorted(set(rebuilt) - whole - restated.keys())}
    finally:
        context.close()


def run_unit_tests(warehouse: Path):
    """SQLMesh's YAML unit tests (tests/models/); returns the unittest result."""
    context = sqlmesh_context(warehouse)
    try:
        return context.test()
    finally:
        context.close()


def grain_audits(*, answer_rules: bool) -> list[tuple[str, dict]]:
    """The audits of every generated model: its required columns not null, one row per grain, and (marts) the answer rules.

    The blueprint gives `not_null_columns`, `grain_columns` and, with `answer_rules`, `answer_rules`.
    """
    from sqlmesh.core.dialect import parse_one

    audits = [("not_null", {"columns": parse_one("@not_null_columns")}),
              ("unique_combination_of_columns", {"columns": parse_one("@grain_columns")})]
    if answer_rules:
        audits.append(("forall", {"criteria": parse_one("@answer_rules")}))
    return audits
