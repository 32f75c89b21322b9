"""The privacy ledger: budgets enforced atomically (also when two processes race), releases stored and re-served."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from core.warehouse import attach_sql
from core.warehouse import connect as warehouse_connect
from core.warehouse import open_connection as open_warehouse
from privacy import ledger
from privacy.engine import SpecChanged, release, stored_release
from privacy.export import ExportConflict, export_release
from privacy.loading import release_specs
from tests.conftest import WAREHOUSE_TEST_KEY, make_installation, run_pipeline
from tests.privacy_support import RACER, cgc_spec, firms_frame, settings, warehouse_with

ROOT = Path(__file__).resolve().parent.parent
WAVES = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture()
def warehouse(tmp_path) -> Path:
    return warehouse_with(tmp_path / "warehouse.duckdb", firms_frame(600, WAVES, seed=3))


def test_a_release_is_stored_and_served_again_without_new_noise_or_charge(warehouse):
    spec = cgc_spec(epsilon=1.0)
    with warehouse_connect(warehouse) as connection:
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
    with warehouse_connect(warehouse) as connection:
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
    with warehouse_connect(warehouse) as connection:
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
    """The check reads the sum of the ledger inside the write transaction: a second charge in the same period sees the first."""
    with warehouse_connect(tmp_path / "l.duckdb") as connection:
        limits = ledger.Limits((1.0, 0.0), "firm", (100.0, 0.0))
        with pytest.raises(ledger.BudgetExceeded) as refused, ledger.book(connection) as book:
            book.charge(_entry("cgc_balance/2025-01/v1", 0.8), limits)
            book.charge(_entry("cgc_balance/2025-01/v2", 0.3), limits)
        assert refused.value.remaining[0] == pytest.approx(0.2) and refused.value.requested[0] == 0.3
        assert ledger.spent(connection, "cgc", "2025-01")[0] == 0.0  # the whole transaction rolled back
        with ledger.book(connection) as book:
            book.charge(_entry("cgc_balance/2025-01/v1", 0.8), limits)
        assert ledger.spent(connection, "cgc", "2025-01")[0] == pytest.approx(0.8)


def test_the_ledger_file_is_owner_only_append_only_and_must_add_up(warehouse):
    spec = cgc_spec(epsilon=1.0)
    with warehouse_connect(warehouse) as connection:
        release(connection, spec, WAVES[:1], settings=settings())
        path = Path(ledger.ledger_path(connection))
    assert path == warehouse.parent / "ledger" / "ledger.sqlite" and oct(path.stat().st_mode & 0o777) == "0o600"
    raw = sqlite3.connect(path)
    for statement in ("UPDATE ledger SET epsilon = 0", "DELETE FROM ledger", "DELETE FROM cells", "UPDATE cells SET row_count = 0"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)
    raw.execute("UPDATE budget SET epsilon_spent = 0")  # the budget table is a running total; someone talks it round ...
    raw.commit()
    raw.close()
    with warehouse_connect(warehouse) as connection:
        (outcome,) = release(connection, spec, WAVES[:1], version=2, settings=settings())
        assert ledger.mismatches(connection) == ["cgc/2025-01: budget 0.0, ledger 1.0"]
    assert outcome.status == "refused" and "does not add up" in outcome.message  # ... and nothing is released any more


def test_threads_racing_for_one_budget_never_overspend(warehouse):
    """Two releases per wave at once in one process (two cursors): one per wave wins, the other is refused."""
    spec = cgc_spec(epsilon=1.0)
    budget = settings(epsilon=1.5)
    database = open_warehouse(warehouse)
    barrier, results = threading.Barrier(2), {}

    def run(version: int) -> None:
        cursor = database.cursor()
        cursor.execute("USE warehouse")  # a cursor starts in the in-memory catalog; the warehouse is attached (core.warehouse)
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
    with warehouse_connect(warehouse, read_only=True) as connection:
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
    with warehouse_connect(warehouse) as connection:
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
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        routes = {row[0] for row in connection.execute("SELECT bounding FROM privacy.ledger").fetchall()}
    specs = release_specs().values()
    assert routes == {f"source grain: one row per {spec.privacy_unit.column} per {spec.period} in {spec.source}, checked exactly by the "
                      "blocking check after the mart's build in the same run" for spec in specs if spec.contribution.source_grain is not None} | {
        f"at most {spec.contribution.max_rows_per_unit} rows per {spec.privacy_unit.column} per {spec.period}, kept by {spec.contribution.keep}"
        for spec in specs if spec.contribution.source_grain is None}


# --------------------------------------------------------------------------- a unit's loss over 12 months


def test_the_yearly_cap_refuses_a_release_that_would_exceed_it_in_any_12_months(warehouse):
    """Cap 2.0 a year: two waves of 1.0 fit, a third in the same 12 months is refused, a wave 14 months on fits again."""
    spec = cgc_spec(epsilon=1.0)
    capped = settings(epsilon=3.0, annual_epsilon=2.0)
    with warehouse_connect(warehouse) as connection:
        outcomes = release(connection, spec, [*WAVES, "2026-03"], settings=capped)
        assert [o.status for o in outcomes] == ["released", "released", "refused", "released"]
        assert "yearly privacy cap of a firm" in outcomes[2].message and "epsilon 3 (delta 0) over all datasets" in outcomes[2].message
        assert ledger.spent(connection, "cgc", "2025-03") == (0.0, 0.0)
        loss = ledger.yearly_loss(connection, capped)
    assert loss.filter(pl.col("unit_kind") == "firm")["epsilon"].to_list() == [1.0, 2.0, 1.0]  # windows up to 2025-01, 2025-02, 2026-03
    assert loss["epsilon_cap"].unique().to_list() == [2.0]


def test_the_yearly_cap_holds_across_datasets_of_one_kind_of_unit(tmp_path):
    """A firm in two datasets loses both; a person dataset has its own cap. zCDP's rho adds, converted by OpenDP."""
    cgc, other = ledger.Limits((3.0, 0.0), "firm", (3.0, 1e-5)), ledger.Limits((3.0, 0.0), "firm", (3.0, 1e-5))
    people = ledger.Limits((3.0, 0.0), "person", (3.0, 1e-5))
    with warehouse_connect(tmp_path / "w.duckdb") as connection:
        with ledger.book(connection) as book:
            book.charge(_entry("cgc_balance/2025-01/v1", 2.0), cgc)
            book.charge(replace(_entry("debt/2025-01/v1", 2.5), dataset="debt"), people)  # persons: their own cap
        with pytest.raises(ledger.AnnualCapExceeded, match="one firm would lose epsilon 3.5"), ledger.book(connection) as book:
            book.charge(replace(_entry("copy/2025-01/v1", 1.5), dataset="cgc_copy", release_name="copy"), other)
        with ledger.book(connection) as book:
            book.charge(replace(_entry("copy/2025-01/v1", 1.0), dataset="cgc_copy", release_name="copy"), other)
    rows = [(date(2025, 1, 31), 2.0, 0.0, 0.0), (date(2025, 6, 30), 0.0, 0.0, 0.1), (date(2025, 7, 31), 0.0, 0.0, 0.2)]
    assert ledger.composed([r[1:] for r in rows], 1e-5) == pytest.approx((2.0 + ledger.zcdp_epsilon(0.3, 1e-5), 1e-5))
    # OpenDP's conversion is at least as tight as Bun & Steinke's rho + 2 sqrt(rho log(1/delta))
    assert 0.3 < ledger.zcdp_epsilon(0.3, 1e-5) <= 0.3 + 2 * math.sqrt(0.3 * math.log(1e5))
    window, loss = ledger.worst_window(rows, date(2025, 7, 31), 1e-5)
    assert window == (date(2024, 7, 31), date(2025, 7, 31)) and loss[0] == pytest.approx(2.0 + ledger.zcdp_epsilon(0.3, 1e-5))


CAP_RACER = """
import json, sys, time
from pathlib import Path
from core.warehouse import connect
from privacy.engine import release
from tests.privacy_support import cgc_spec, settings

warehouse, go, version = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
with connect(warehouse) as connection:
    while not go.exists():
        time.sleep(0.001)
    outcomes = release(connection, cgc_spec(epsilon=1.0), ["2025-01", "2025-02", "2025-03"], version=version,
                       settings=settings(epsilon=3.0, annual_epsilon=4.0))
print(json.dumps([[o.period, o.status, o.message] for o in outcomes]))
"""


def test_two_processes_racing_for_the_yearly_cap_never_exceed_it(warehouse, tmp_path):
    """Two warehouses beside one ledger, each releasing 3 waves at 1.0 at once: per wave they fit, the yearly cap of 4.0 does not."""
    second = warehouse.parent / "second.duckdb"
    shutil.copy(warehouse, second)
    go = tmp_path / "go"
    racers = [
        subprocess.Popen([sys.executable, "-c", CAP_RACER, str(path), str(go), str(version)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for path, version in ((warehouse, 1), (second, 2))
    ]
    time.sleep(1.5)  # both processes hold their own warehouse and wait
    go.touch()
    outputs = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=180)
        assert racer.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    statuses = [o[1] for output in outputs for o in output]
    assert sorted(statuses) == ["refused"] * 2 + ["released"] * 4
    assert all("yearly privacy cap" in o[2] for output in outputs for o in output if o[1] == "refused")
    with warehouse_connect(warehouse) as connection:
        assert sum(ledger.spent(connection, "cgc", w)[0] for w in WAVES) == pytest.approx(4.0)
        assert ledger.yearly_loss(connection, settings(annual_epsilon=4.0))["epsilon"].max() == pytest.approx(4.0)


# --------------------------------------------------------------------------- a ledger that outlives the warehouse


def _export_bytes(connection, spec, exports: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in export_release(connection, spec, exports)}


def test_a_rebuilt_warehouse_serves_the_recorded_releases_with_the_same_bytes(tmp_path):
    """The warehouse is lost and rebuilt from the landing files (here: the same mart, then one with changed answers):
    the releases come back from the ledger file, the exports keep their bytes, nothing is charged or noised again."""
    spec, frame = cgc_spec(epsilon=1.0), firms_frame(600, WAVES, seed=3)
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", frame)
    with warehouse_connect(warehouse) as connection:
        first = release(connection, spec, WAVES, settings=settings())
        cells = {o.release_id: stored_release(connection, spec, o.release_id) for o in first}
        exported = _export_bytes(connection, spec, tmp_path / "exports")
    for rebuilt_from in (frame, firms_frame(600, WAVES, seed=4)):
        warehouse.unlink()
        warehouse_with(warehouse, rebuilt_from)
        with warehouse_connect(warehouse) as connection:
            again = release(connection, spec, WAVES, settings=settings())
            assert [o.status for o in again] == ["reused"] * 3
            for o in again:
                assert stored_release(connection, spec, o.release_id).equals(cells[o.release_id])
            assert _export_bytes(connection, spec, tmp_path / "exports") == exported
            assert [ledger.spent(connection, "cgc", w)[0] for w in WAVES] == [1.0, 1.0, 1.0]
            assert connection.execute("SELECT COUNT(*) FROM privacy.ledger").fetchone()[0] == 3


def test_a_recorded_release_whose_cells_are_gone_is_refused_and_an_export_never_changes(tmp_path):
    spec, frame = cgc_spec(epsilon=1.0), firms_frame(300, WAVES, seed=3)
    (tmp_path / "a").mkdir()
    warehouse = warehouse_with(tmp_path / "a" / "warehouse.duckdb", frame)
    with warehouse_connect(warehouse) as connection:
        release(connection, spec, WAVES[:1], settings=settings())
        exported = _export_bytes(connection, spec, tmp_path / "exports")
        path = ledger.ledger_path(connection)
    raw = sqlite3.connect(path)  # an entry without its cells (as a ledger from before cells were kept would have)
    raw.execute("INSERT INTO ledger (release_id, release_name, dataset, period, version, query, privacy_unit, unit_kind, period_end, "
                "epsilon, delta, rho, mechanism, components, bounding, spec_hash, created_at) SELECT 'cgc_balance/2025-02/v1', "
                "release_name, dataset, '2025-02', version, query, privacy_unit, unit_kind, '2025-02-28', epsilon, delta, rho, mechanism, "
                "components, bounding, spec_hash, created_at FROM ledger")
    raw.execute("INSERT INTO budget SELECT dataset, '2025-02', epsilon_spent, delta_spent, releases, updated_at FROM budget")
    raw.commit()
    raw.close()
    with warehouse_connect(warehouse) as connection:
        (outcome,) = release(connection, spec, ["2025-02"], settings=settings())
    assert outcome.status == "refused" and "not made again with new noise" in outcome.message
    # a warehouse somewhere else (no ledger beside it) makes wave 2025-01 anew: its export may not replace the published one
    elsewhere = warehouse_with(tmp_path / "b.duckdb", frame)
    with warehouse_connect(elsewhere) as connection:
        assert release(connection, spec, WAVES[:1], settings=settings())[0].status == "released"
        with pytest.raises(ExportConflict, match="never overwritten"):
            export_release(connection, spec, tmp_path / "exports")
    assert {p.name: p.read_bytes() for p in (tmp_path / "exports" / spec.name).glob("*.parquet")} == exported


def test_the_pipeline_rebuilding_the_warehouse_from_the_landing_files_serves_the_same_bytes(pipeline, tmp_path):
    """A restore on a new server: landing files, account store (proposals), ledger and published exports are kept, the
    warehouse is not. The whole pipeline runs again: every release comes back from the ledger, byte for byte, nothing is
    charged or noised again (an export with other bytes would stop the run)."""
    rebuilt = make_installation(tmp_path / "rebuilt")
    for part in ("landing", "accounts", "ledger", "exports"):
        shutil.copytree(pipeline.data_dir / part, rebuilt.data_dir / part)
    published = {p.relative_to(pipeline.exports): p.read_bytes() for p in pipeline.exports.glob("*/*_v*.parquet")}
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        entries_before = ledger.entries_frame(connection)
    run_pipeline(rebuilt)
    assert not (rebuilt.data_dir / "ledger" / "ledger.sqlite").samefile(pipeline.data_dir / "ledger" / "ledger.sqlite")
    with warehouse_connect(rebuilt.warehouse, read_only=True) as connection:
        assert ledger.entries_frame(connection).equals(entries_before)  # no new entry: nothing charged again
        assert connection.execute("SELECT COUNT(*) FROM privacy.ledger").fetchone()[0] == entries_before.height
    assert published and {p: (rebuilt.exports / p).read_bytes() for p in published} == published


def test_a_warehouse_whose_ledger_was_inside_it_moves_it_into_the_file_once(tmp_path):
    """An installation from before the ledger file: its entries, budget and cells move into the file, nothing is made again."""
    spec, frame = cgc_spec(epsilon=1.0), firms_frame(300, WAVES, seed=3)
    (tmp_path / "new").mkdir()
    made = warehouse_with(tmp_path / "new" / "warehouse.duckdb", frame)
    with warehouse_connect(made) as connection:
        release(connection, spec, WAVES[:2], settings=settings())
        cells = stored_release(connection, spec, "cgc_balance/2025-01/v1")
    old = warehouse_with(tmp_path / "old.duckdb", frame)
    with warehouse_connect(old) as connection:  # the tables as the warehouse held them before
        connection.execute(attach_sql(made, WAREHOUSE_TEST_KEY, alias="made", read_only=True))
        connection.execute("CREATE SCHEMA privacy; CREATE SCHEMA releases")
        connection.execute("CREATE TABLE privacy.ledger AS SELECT * EXCLUDE (unit_kind, period_end, rho, sequence) FROM made.privacy.ledger")
        connection.execute("CREATE TABLE privacy.budget AS SELECT * FROM made.privacy.budget")
        connection.execute("CREATE TABLE releases.cgc_balance AS SELECT * FROM made.releases.cgc_balance")
        connection.execute("DETACH made")
        outcomes = release(connection, spec, WAVES, settings=settings(epsilon=1.5))
        assert [o.status for o in outcomes] == ["reused", "reused", "released"]
        assert stored_release(connection, spec, "cgc_balance/2025-01/v1").equals(cells)
        assert release(connection, spec, WAVES[:1], version=2, settings=settings(epsilon=1.5))[0].status == "refused"  # 1.0 spent already
        assert [ledger.spent(connection, "cgc", w)[0] for w in WAVES] == [1.0, 1.0, 1.0] and ledger.mismatches(connection) == []
        assert connection.execute("SELECT COUNT(*) FROM releases.cgc_balance").fetchone()[0] == 3 * cells.height


@settings_hypothesis(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 729), st.sampled_from([0.5, 1.0, 2.5, 4.0])), min_size=1, max_size=30))
def test_whatever_is_charged_no_12_months_exceed_the_cap_and_only_what_would_is_refused(charges):
    """Charges at random days in any order: every 12-month window stays within the cap, and each refusal was needed.
    (Days in 2025-2026, so no window holds a 29 February and 12 months are 365 days for the brute force.)"""
    cap, start = 6.0, date(2025, 1, 1)
    limits = ledger.Limits((100.0, 0.0), "firm", (cap, 0.0))
    accepted: list[tuple[date, float]] = []
    with duckdb.connect() as connection:
        for index, (offset, epsilon) in enumerate(charges):
            day = start + timedelta(days=offset)
            entry = replace(_entry(f"r/{index}/v1", epsilon), period=str(index), period_end=day)
            window_fits = all(
                sum(e for d, e in [*accepted, (day, epsilon)] if end - timedelta(days=365) < d <= end) <= cap + 1e-9
                for end in [day + timedelta(days=k) for k in range(366)]
            )  # brute force: every window of 365 days that holds the day
            try:
                with ledger.book(connection) as book:
                    book.charge(entry, limits)
                accepted.append((day, epsilon))
                assert window_fits
            except ledger.AnnualCapExceeded:
                assert not window_fits
        loss = ledger.yearly_loss(connection, settings(annual_epsilon=cap))
    assert (loss["epsilon"] <= cap + 1e-9).all() and loss["releases"].max() <= len(accepted)

