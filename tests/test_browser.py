"""End to end in a real browser: the analyst and privacy pages render their charts, a respondent
fills in the form in headless Chromium, the landing-zone sensor starts the pipeline, and the
answer is in `raw` exactly once. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import (  # pytest puts tests/ on sys.path (as `pytest` and `python -m pytest`)
    ARTIFACTS,
    TEST_KEY,
    make_installation,
    run_pipeline,
)

from pipelines.definitions import cgc_pipeline
from pipelines.sensors import build_automation

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def installation(pipeline, tmp_path):
    """A copy of the session installation, so this test's submission stays its own."""
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    return target


@pytest.fixture()
def streamlit_server(installation):
    port = _free_port()
    env = {**os.environ, "MKB_DATA_DIR": str(installation.data_dir), "MKB_PSEUDONYM_KEY": TEST_KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("Streamlit did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def _raw_count(installation, kvk_hash_prefix_filter: str = "web-%") -> int:
    with duckdb.connect(str(installation.warehouse), read_only=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE response_id LIKE ?", [kvk_hash_prefix_filter]).fetchone()[0]


def test_form_submission_reaches_raw_exactly_once(installation, streamlit_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    sensor, _ = build_automation(cgc_pipeline, landing=installation.landing)
    cursor = sensor(dg.build_sensor_context()).cursor  # everything generated so far is known

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 2400})  # Streamlit scrolls inside: show whole pages
        page.goto(streamlit_server)  # the default page: the analysts' Gezondheidscheck
        expect(page.get_by_role("heading", name="Gezondheidscheck van het MKB")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Saldo orderportefeuille", exact=False).first).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("duidelijke daling", exact=False)).to_be_visible()
        expect(page.get_by_text("x = dit cijfer tonen we niet", exact=False)).to_be_visible(timeout=30_000)  # the last element
        expect(page.get_by_role("cell", name="Bouwnijverheid")).to_be_visible()  # the table per sector
        page.screenshot(path=str(ARTIFACTS / "analyst_gezondheidscheck.png"), full_page=True)

        page.goto(f"{streamlit_server}/sentiment")
        expect(page.get_by_role("heading", name="Sentiment en uitdagingen")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Een bedrijf kan meer uitdagingen noemen", exact=False)).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").nth(1)).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "analyst_sentiment.png"), full_page=True)

        page.goto(f"{streamlit_server}/privacy")
        expect(page.get_by_role("heading", name="Verbruikt privacybudget per meting")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("van het budget van 3,0 gebruikt", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Alle publicaties")).to_be_visible()
        expect(page.get_by_role("cell", name="Saldo's van de Gezondheidscheck").first).to_be_visible()
        expect(page.get_by_text("De marge is de helft van het 95%-interval", exact=False)).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "privacy_budget.png"), full_page=True)

        page.goto(f"{streamlit_server}/invullen")
        page.get_by_role("textbox", name="KvK-nummer").fill("12345678")
        for label, option in (("Sector", "C – Industrie"), ("Bedrijfsgrootte", "2-9"), ("Provincie", "Limburg")):
            page.get_by_role("combobox", name=label).click()
            page.get_by_role("option", name=option, exact=True).click()
        page.get_by_text("Gegroeid", exact=True).click()
        page.get_by_text("Positief", exact=True).click()
        page.get_by_role("button", name="Versturen").click()
        expect(page.get_by_text("Bedankt! Uw antwoorden zijn veilig opgeslagen.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Uw antwoorden naast die van vergelijkbare bedrijven", exact=True)).to_be_visible()
        expect(page.get_by_text("Vergelijking met", exact=False)).to_be_visible()
        expect(page.get_by_role("cell", name="Orderportefeuille")).to_be_visible()
        expect(page.get_by_role("cell", name="Gegroeid")).to_be_visible()  # the respondent's own answer
        page.screenshot(path=str(ARTIFACTS / "respondent_comparison.png"), full_page=True)
        browser.close()

    submissions = list((installation.landing / "cgc").glob("form_*.jsonl"))
    assert len(submissions) == 1  # durable before the respondent was thanked
    tick = sensor(dg.build_sensor_context(cursor=cursor))
    assert len(tick.run_requests) == 1
    instance = dg.DagsterInstance.ephemeral()
    run_pipeline(installation, instance)
    assert _raw_count(installation) == 1
    assert isinstance(sensor(dg.build_sensor_context(cursor=tick.cursor)), dg.SkipReason)
    run_pipeline(installation, instance)  # a rerun is idempotent
    assert _raw_count(installation) == 1
    with duckdb.connect(str(installation.warehouse), read_only=True) as connection:
        firm_id = connection.execute("SELECT firm_id FROM raw.cgc_responses WHERE response_id LIKE 'web-%'").fetchone()[0]
    assert firm_id != "12345678" and len(firm_id) == 64
