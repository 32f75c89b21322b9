"""Pages load while the pipeline writes: the web app reads released and operational files only, each replaced whole.

A real run (`mkbvm run`, its own process, the real Dagster job) ingests new
deliveries into a copy of the test installation: it holds the warehouse's
write lock, rebuilds the marts, serves the releases and rewrites the exports
and the organisations' files. Meanwhile every page of an analyst, a
respondent, a creditor and a consultant is opened again and again (AppTest,
the app's own code): each opens without an exception or an error message,
and without waiting for the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.synthetic import generate
from core.warehouse import WarehouseBusy, connect
from dashboards.pages import all_pages
from tests.conftest import LAST_WAVE, demo_accounts, logged_in

ROOT = Path(__file__).resolve().parent.parent
PAGE_LOAD_SECONDS = 30  # generous on a busy 2-core machine: the point is that no page waits for the run (minutes)


def _pages_of(role: str) -> list[str]:
    return [page.file for page in all_pages() if page.roles and role in page.roles]


def _warehouse_locked(warehouse: Path) -> bool:
    try:
        with connect(warehouse, read_only=True, wait_seconds=0):
            return False
    except WarehouseBusy:
        return True


@pytest.mark.slow
def test_every_page_opens_while_a_run_writes_the_warehouse_and_the_exports(pipeline, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(pipeline.data_dir, data, ignore=shutil.ignore_patterns("*.tmp"))
    generate(data / "landing", tmp_path / "truth", firms=1_500, waves=4, last_wave=LAST_WAVE, seed=99)  # new deliveries to ingest
    monkeypatch.setenv("MKB_DATA_DIR", str(data))
    logins = demo_accounts(data)
    roles = {role: _pages_of(role) for role in ("analyst", "respondent", "creditor", "consultant")}
    run = subprocess.Popen([str(Path(sys.executable).parent / "mkbvm"), "run"], cwd=ROOT, env={**os.environ, "MKB_DATA_DIR": str(data)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    loads, during, slowest = 0, 0, 0.0
    try:
        deadline = time.monotonic() + 600
        while run.poll() is None and time.monotonic() < deadline:
            for role, files in roles.items():
                app = logged_in(logins[role])
                for file in files:
                    locked = _warehouse_locked(data / "warehouse.duckdb")
                    started = time.monotonic()
                    app.switch_page(file).run(timeout=PAGE_LOAD_SECONDS)
                    slowest = max(slowest, time.monotonic() - started)
                    assert not app.exception, (role, file, [e.message for e in app.exception])
                    assert not [e.value for e in app.error if "Er ging iets mis" in e.value], (role, file)
                    loads += 1
                    during += locked and run.poll() is None
        output = run.communicate(timeout=600)[0]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
    errors = [line for line in output.splitlines() if " - ERROR - " in line or "Error" in line]  # the failed step, not only the tail
    assert run.returncode == 0, "\n".join(errors[:40]) + "\n...\n" + output[-2000:]
    assert during >= 10, f"only {during} of {loads} page loads happened while the run held the warehouse"
    assert slowest < PAGE_LOAD_SECONDS
