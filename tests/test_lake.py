"""Past one machine: the warehouse as a DuckLake on a PostgreSQL catalog, with the privacy ledger in PostgreSQL too.

A real PostgreSQL (Debian's, started here on a free port), a shared data
path, and several processes writing at once: the same SQLMesh models and
releases as the single-file demo, every file loaded once, every release made
once and served to the other process, no budget overspent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psycopg
import pytest

from core.sources import sources
from core.warehouse import LAKE_CATALOG_ENV, LAKE_DATA_PATH_ENV, connect, reclaim_deleted
from privacy import ledger, ledger_postgres
from privacy.loading import privacy_settings
from tests.postgres_support import Postgres, postgres_server
from tests.privacy_support import RACER, firms_frame, warehouse_with

ROOT = Path(__file__).resolve().parent.parent
MKBVM = str(Path(sys.executable).with_name("mkbvm"))
WAVES = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture(scope="module")
def postgres() -> Postgres:
    with postgres_server() as server:
        yield server


@pytest.fixture()
def lake(postgres, tmp_path, monkeypatch, request) -> dict[str, str]:
    """A new lake (its own catalog database and data path) set for this process and the processes it starts."""
    name = "lake_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "_").replace("-", "_")
    environment = {LAKE_CATALOG_ENV: postgres.create_database(name), LAKE_DATA_PATH_ENV: str(tmp_path / "shared-lake")}
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    return environment


def test_the_lake_holds_the_warehouse_encrypted_and_the_ledger_in_postgresql(lake, tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        assert connection.execute("SELECT type FROM duckdb_databases() WHERE database_name = 'warehouse'").fetchone() == ("ducklake",)
    warehouse_with(tmp_path / "warehouse.duckdb", firms_frame(300, WAVES, seed=5))
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing in the single file: the lake has it all
    files = sorted(Path(lake[LAKE_DATA_PATH_ENV]).rglob("*.parquet"))
    assert files
    with pytest.raises(duckdb.Error):  # encrypted Parquet: no key, no rows
        duckdb.sql(f"SELECT * FROM read_parquet('{files[0]}')").fetchall()
    with connect(tmp_path / "warehouse.duckdb") as connection:
        firm = connection.execute("SELECT firm_id FROM marts.cgc_firm_wave LIMIT 1").fetchone()[0]
    assert not any(firm.encode() in path.read_bytes() for path in files)

    with connect(tmp_path / "warehouse.duckdb") as connection:
        ledger.ensure_ledger(connection)
        assert ledger.ledger_path(connection) == ledger_postgres.PREFIX + lake[LAKE_CATALOG_ENV]
    with psycopg.connect(lake[LAKE_CATALOG_ENV], autocommit=True) as database:
        database.execute("INSERT INTO mkbvm_ledger.ledger (release_id, release_name, dataset, period, version, query, privacy_unit, "
                         "unit_kind, period_end, epsilon, delta, rho, mechanism, components, bounding, spec_hash, created_at) "
                         "VALUES ('x/2025-01/v1', 'x', 'cgc', '2025-01', 1, 'q', 'firm', 'firm', '2025-01-31', 1, 0, 0, 'm', '[]', 'b', 'h', "
                         "'2025-02-01T00:00:00')")
        for statement in ("UPDATE mkbvm_ledger.ledger SET epsilon = 0", "DELETE FROM mkbvm_ledger.ledger", "TRUNCATE mkbvm_ledger.ledger CASCADE"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                database.execute(statement)


def test_rows_deleted_from_a_lake_leave_its_files_and_its_history(lake, tmp_path):
    """Erasure and retention end with `reclaim_deleted`: in a lake the old data files (time travel) would still hold the rows."""
    with connect(tmp_path / "warehouse.duckdb") as connection:
        connection.execute("CREATE SCHEMA raw; CREATE TABLE raw.answers AS SELECT i, 'firm-' || i AS firm FROM range(2000) t(i)")
        connection.execute("CREATE TABLE raw.other AS SELECT 1 AS kept")
        (version,) = connection.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('warehouse')").fetchone()
        before = {p.name for p in Path(lake[LAKE_DATA_PATH_ENV]).rglob("*.parquet")}
        connection.execute("DELETE FROM raw.answers WHERE i = 7")
        assert connection.execute(f"SELECT count(*) FROM raw.answers AT (VERSION => {version}) WHERE i = 7").fetchone() == (1,)
        reclaim_deleted(connection)
        after = {p.name for p in Path(lake[LAKE_DATA_PATH_ENV]).rglob("*.parquet")}
        assert connection.execute("SELECT count(*), count(*) FILTER (WHERE i = 7) FROM raw.answers").fetchone() == (1999, 0)
        with pytest.raises(duckdb.Error):  # the snapshot that still had the row is gone
            connection.execute(f"SELECT count(*) FROM raw.answers AT (VERSION => {version})").fetchall()
        assert connection.execute("SELECT * FROM raw.other").fetchall() == [(1,)]
    gone = before - after
    assert gone and len(after) == len(before)  # the answers' file was rewritten without the row (and the delete file is gone)


def test_two_processes_releasing_against_one_budget_in_a_lake_never_overspend(lake, tmp_path):
    """Each process on its own machine's folder, both on one lake and one ledger: per wave one release, one refusal."""
    warehouse_with(tmp_path / "first" / "warehouse.duckdb", firms_frame(600, WAVES, seed=3))
    go = tmp_path / "go"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path / machine / "warehouse.duckdb"), str(go), str(version)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for version, machine in ((1, "first"), (2, "second"))]
    time.sleep(2.0)  # both processes are up and waiting
    go.touch()
    outputs = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=300)
        assert racer.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    for index in range(len(WAVES)):
        assert sorted(output[index][1] for output in outputs) == ["refused", "released"]
    with psycopg.connect(lake[LAKE_CATALOG_ENV]) as database:
        spent = database.execute("SELECT period, epsilon_spent, releases FROM mkbvm_ledger.budget ORDER BY period").fetchall()
        summed = database.execute("SELECT period, SUM(epsilon) FROM mkbvm_ledger.ledger GROUP BY period ORDER BY period").fetchall()
    assert [(p, round(e, 9), n) for p, e, n in spent] == [(w, 1.0, 1) for w in WAVES]
    assert [(p, round(e, 9)) for p, e in summed] == [(w, 1.0) for w in WAVES]
    with connect(tmp_path / "second" / "warehouse.duckdb", read_only=True) as connection:
        cells = connection.execute("SELECT COUNT(DISTINCT release_id), COUNT(*) FROM releases.cgc_balance").fetchone()
        distinct_rows = connection.execute("SELECT COUNT(*) FROM (SELECT DISTINCT * FROM releases.cgc_balance)").fetchone()[0]
    assert cells[0] == 3 and distinct_rows == cells[1]  # each released cell copied into the lake once


def _mkbvm(*arguments: str, environment: dict[str, str], **options) -> subprocess.Popen:
    return subprocess.Popen([MKBVM, *arguments], cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **options)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_two_pipeline_processes_share_one_lake(lake, tmp_path):
    """Two installations (two machines) got the same deliveries; both run the whole pipeline at once on one lake.

    Every file is loaded once, the marts are built, every release is made once (the other process serves it: its
    export has the same bytes) and no period's budget is overspent.
    """
    first, second = tmp_path / "first", tmp_path / "second"
    environment = {**os.environ, "MKB_DATA_DIR": str(first)}
    for arguments in (("keygen",), ("generate", "--firms", "1500")):
        made = _mkbvm(*arguments, environment=environment)
        output = made.communicate(timeout=300)[0]
        assert made.returncode == 0, output
    shutil.copytree(first, second, symlinks=True)  # the same keys, proposals and deliveries on the second machine
    runs = [_mkbvm("run", environment={**os.environ, "MKB_DATA_DIR": str(folder)}) for folder in (first, second)]
    for run in runs:
        output = run.communicate(timeout=1200)[0]
        assert run.returncode == 0, output[-5000:]

    with connect(first / "warehouse.duckdb", read_only=True) as connection:
        files = connection.execute("SELECT source, file_hash, COUNT(*) FROM meta.ingest_manifest GROUP BY ALL HAVING COUNT(*) > 1").fetchall()
        assert files == []
        loaded = dict(connection.execute("SELECT source, SUM(rows_raw) FROM meta.ingest_manifest GROUP BY ALL").fetchall())
        for declared in sources().values():
            rows, distinct = connection.execute(
                f"SELECT COUNT(*), COUNT(DISTINCT (file_hash, row_number)) FROM {declared.raw_table}").fetchone()
            assert rows == distinct == loaded[declared.name] > 0, declared.name
        assert connection.execute("SELECT COUNT(*) FROM marts.cgc_firm_wave").fetchone()[0] > 0
        release_tables = [t for (t,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'warehouse' AND schema_name = 'releases'").fetchall()]
        assert release_tables
        for table in release_tables:
            rows, distinct = connection.execute(f"SELECT COUNT(*), (SELECT COUNT(*) FROM (SELECT DISTINCT * FROM releases.{table})) "
                                                f"FROM releases.{table}").fetchone()
            assert rows == distinct, table

    budgets = {name: (d.budget_per_period.epsilon, d.budget_per_period.delta) for name, d in privacy_settings().datasets.items()}
    with psycopg.connect(lake[LAKE_CATALOG_ENV]) as database:
        rows = database.execute("SELECT dataset, period, release_name, epsilon, delta, rho FROM mkbvm_ledger.ledger").fetchall()
    assert rows
    per_period: dict[tuple[str, str], list] = {}
    for dataset, period, name, epsilon, delta, rho in rows:
        per_period.setdefault((dataset, period), []).append((name, (epsilon, delta, rho)))
    for (dataset, period), entries in per_period.items():
        epsilon, delta = ledger.composed([loss for _, loss in entries], budgets[dataset][1])  # as the ledger composes them
        assert epsilon <= budgets[dataset][0] + ledger.TOLERANCE, (dataset, period, epsilon)
        names = [name for name, _ in entries]
        assert len(names) == len(set(names)), (dataset, period)  # one version of each release: made once, served to the other

    exported = sorted(p.relative_to(first / "exports") for p in (first / "exports").rglob("*.parquet"))
    assert exported
    for relative in exported:
        assert (first / "exports" / relative).read_bytes() == (second / "exports" / relative).read_bytes(), relative
