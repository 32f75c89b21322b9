"""The privacy ledger: budgets enforced atomically (also when two processes race), releases stored and re-served."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from privacy import ledger
from privacy.engine import SpecChanged, release, stored_release
from privacy.loading import release_specs
from tests.privacy_support import cgc_spec, firms_frame, settings, warehouse_with

ROOT = Path(__file__).resolve().parent.parent
WAVES = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture()
def warehouse(tmp_path) -> Path:
    return warehouse_with(tmp_path / "warehouse.duckdb", firms_frame(600, WAVES, seed=3))


def test_a_release_is_stored_and_served_again_without_new_noise_or_charge(warehouse):
    spec = cgc_spec(epsilon=1.0)
    with duckdb.connect(str(warehouse)) as connection:
        first = release(connection, spec, WAVES[:1], settings=settings())
        cells = stored_release(connection, spec, first[0].release_id)
        again = release(connection, spec, WAVES[:1], settings=settings())
        assert [o.status for o in first] == ["released"] and [o.status for o in again] == ["reused"]
        assert stored_release(connection, spec, first[0].release_id).equals(cells)
        assert ledger.spent(connection, "cgc", WAVES[0]) == pytest.approx((1.0, 0.0))
        assert connection.execute("SELECT COUNT(*) FROM privacy.ledger").fetchone()[0] == 1


def test_a_changed_spec_needs_a_new_version_which_is_charged_again(warehouse):
    spec = cgc_spec(epsilon=1.0)
    stricter = spec.model_copy(update={"suppression_threshold": 20})
    with duckdb.connect(str(warehouse)) as connection:
        release(connection, spec, WAVES[:1], settings=settings())
        with pytest.raises(SpecChanged, match="release version 2 to use the new one"):
            release(connection, stricter, WAVES[:1], settings=settings())
        (second,) = release(connection, stricter, WAVES[:1], version=2, settings=settings())
        assert second.status == "released" and second.release_id == "cgc_balance/2025-01/v2"
        assert ledger.spent(connection, "cgc", WAVES[0])[0] == pytest.approx(2.0)
        versions = connection.execute("SELECT DISTINCT version FROM releases.cgc_balance ORDER BY 1").fetchall()
    assert versions == [(1,), (2,)]


def test_the_budget_is_enforced_and_a_refusal_says_what_is_left_and_asked(warehouse):
    spec = cgc_spec(epsilon=1.0)
    budget = settings(epsilon=2.5)
    with duckdb.connect(str(warehouse)) as connection:
        outcomes = [release(connection, spec, WAVES, version=v, settings=budget) for v in (1, 2, 3)]
        assert [[o.status for o in batch] for batch in outcomes] == [["released"] * 3, ["released"] * 3, ["refused"] * 3]
        message = outcomes[2][0].message
        assert "dataset 'cgc'" in message and "period 2025-01" in message
        assert "epsilon 0.5 left, 1 requested" in message
        for wave in WAVES:
            assert ledger.spent(connection, "cgc", wave)[0] == pytest.approx(2.0)
        # the ledger and the budget agree, and nothing of a refused release was stored
        totals = connection.execute("SELECT period, SUM(epsilon) FROM privacy.ledger GROUP BY period ORDER BY period").fetchall()
        assert [round(t[1], 9) for t in totals] == [2.0, 2.0, 2.0]
        assert connection.execute("SELECT COUNT(*) FROM releases.cgc_balance WHERE version = 3").fetchone()[0] == 0


def test_charge_refuses_atomically_inside_a_transaction(tmp_path):
    """The conditional UPDATE is the check: a second charge in the same period sees the first."""
    with duckdb.connect(str(tmp_path / "l.duckdb")) as connection:
        ledger.ensure_ledger(connection)
        entry = _entry("cgc_balance/2025-01/v1", 0.8)
        connection.execute("BEGIN TRANSACTION")
        ledger.charge(connection, entry, (1.0, 0.0))
        with pytest.raises(ledger.BudgetExceeded) as refused:
            ledger.charge(connection, _entry("cgc_balance/2025-01/v2", 0.3), (1.0, 0.0))
        connection.execute("COMMIT")
        assert refused.value.remaining[0] == pytest.approx(0.2) and refused.value.requested[0] == 0.3
        assert ledger.spent(connection, "cgc", "2025-01")[0] == pytest.approx(0.8)


def test_two_connections_charging_the_same_period_cannot_both_commit(tmp_path):
    """DuckDB's write-write conflict on the period's budget row is what makes check-and-charge atomic."""
    database = duckdb.connect(str(tmp_path / "l.duckdb"))
    ledger.ensure_ledger(database)
    database.execute("INSERT INTO privacy.budget VALUES ('cgc', '2025-01', 0, 0, 0, now())")
    first, second = database.cursor(), database.cursor()
    first.execute("BEGIN TRANSACTION")
    second.execute("BEGIN TRANSACTION")
    ledger.charge(first, _entry("cgc_balance/2025-01/v1", 0.6), (1.0, 0.0))
    with pytest.raises(duckdb.TransactionException):  # each alone fits; together they would not
        ledger.charge(second, _entry("cgc_balance/2025-01/v2", 0.6), (1.0, 0.0))
        second.execute("COMMIT")
    first.execute("COMMIT")
    assert ledger.spent(database, "cgc", "2025-01")[0] == pytest.approx(0.6)
    database.close()


def test_threads_racing_for_one_budget_never_overspend(warehouse):
    """Two releases per wave at once in one process (two cursors): one per wave wins, the other is refused."""
    spec = cgc_spec(epsilon=1.0)
    budget = settings(epsilon=1.5)
    database = duckdb.connect(str(warehouse))
    barrier, results = threading.Barrier(2), {}

    def run(version: int) -> None:
        cursor = database.cursor()
        barrier.wait()
        results[version] = release(cursor, spec, WAVES, version=version, settings=budget)

    threads = [threading.Thread(target=run, args=(v,)) for v in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, wave in enumerate(WAVES):
        statuses = sorted(results[v][index].status for v in (1, 2))
        assert statuses == ["refused", "released"], (wave, statuses)
        assert ledger.spent(database, "cgc", wave)[0] == pytest.approx(1.0)
    database.close()


RACER = """
import json, sys, time
from pathlib import Path
from core.warehouse import connect
from privacy.engine import release
from tests.privacy_support import cgc_spec, settings

warehouse, go, version = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
with connect(warehouse) as connection:
    outcomes = release(connection, cgc_spec(epsilon=1.0), ["2025-01", "2025-02", "2025-03"], version=version, settings=settings(epsilon=1.5))
print(json.dumps([[o.period, o.status, o.message] for o in outcomes]))
"""


def test_two_processes_releasing_against_one_budget_never_overspend(warehouse, tmp_path):
    go = tmp_path / "go"
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, str(warehouse), str(go), str(version)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for version in (1, 2)
    ]
    time.sleep(1.5)  # both processes are up and waiting
    go.touch()
    outputs = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=180)
        assert racer.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    for index in range(len(WAVES)):
        assert sorted(output[index][1] for output in outputs) == ["refused", "released"]
    refusal = next(o[0] for o in outputs if o[0][1] == "refused")[2]
    assert "epsilon 0.5 left, 1 requested" in refusal
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        spent = connection.execute("SELECT period, epsilon_spent, releases FROM privacy.budget ORDER BY period").fetchall()
        cells = connection.execute("SELECT COUNT(DISTINCT release_id) FROM releases.cgc_balance").fetchone()[0]
    assert [(p, round(e, 9), n) for p, e, n in spent] == [(w, 1.0, 1) for w in WAVES]
    assert cells == 3


def _entry(release_id: str, epsilon: float) -> ledger.Entry:
    return ledger.Entry(
        release_id=release_id, release_name="cgc_balance", dataset="cgc", period="2025-01", version=int(release_id[-1]),
        query="test", privacy_unit="firm", epsilon=epsilon, delta=0.0, mechanism="test", components="[]",
        bounding="test", spec_hash="x", created_at=datetime(2025, 2, 1),
    )


def test_the_ledger_is_readable_and_lists_what_was_released(warehouse):
    spec = cgc_spec(epsilon=1.0)
    with duckdb.connect(str(warehouse)) as connection:
        release(connection, spec, WAVES[:2], settings=settings())
        entries = connection.execute("SELECT * FROM privacy.ledger ORDER BY release_id").pl()
    assert entries["release_id"].to_list() == ["cgc_balance/2025-01/v1", "cgc_balance/2025-02/v1"]
    entry = entries.row(0, named=True)
    assert entry["privacy_unit"] == "firm (pseudonymised KvK number)" and entry["delta"] == 0.0
    assert entry["query"].startswith("count respondents, balance order_book") and "from marts.cgc_firm_wave" in entry["query"]
    components = pl.DataFrame(json.loads(entry["components"]))
    assert components["epsilon"].sum() == pytest.approx(entry["epsilon"])
    assert entry["bounding"].endswith("checked exactly by the release itself")


def test_the_pipeline_relies_on_the_grain_check_of_its_own_run(pipeline):
    """In a full run the blocking check passed right after the build, so the release did not check again."""
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        routes = {row[0] for row in connection.execute("SELECT bounding FROM privacy.ledger").fetchall()}
    assert routes == {f"source grain: one row per firm_id per {spec.period} in {spec.source}, checked exactly by the blocking check "
                      "after the mart's build in the same run" for spec in release_specs().values()}
