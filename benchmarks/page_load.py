"""Page load and interaction times of the app in a real browser, against the login page measured in the same run.

    .venv/bin/python benchmarks/page_load.py [--data-dir data] [--repeats 5]

Needs an installation with released figures and the demo accounts (`bash
run.sh demo`, or `mkbvm demo`). Starts `streamlit run dashboards/app.py` on
that data folder, logs in as each demo role (respondent, analyst,
administrator, creditor) in headless Chromium (Debian's), and opens every page
of that role's menu `--repeats` times through the menu, as a person would.

A page is loaded when its heading is visible and Streamlit reports the script
run as finished (`stApp[data-test-script-state=notRunning]`): what the person
sees is complete. An interaction is a change of the first choice box of a
page with one (a question, a month), timed the same way. Printed per page:
median and 95th percentile in milliseconds, and the ratio to the login
page's median load (the baseline: the same server, browser and machine, a
page that reads no data). Targets (issue 13): every page under 1 second after
login, interactions under 300 ms at the 95th percentile; with the demo at
national scale (1.2 million firms) for the real figure.

Measured on the quiet 2-core development machine, on the test installation
(1,500 firms, 12 waves), 3 loads per page, with released figures kept in
memory per set of files: pages 0.07-1.1 s (median; most 0.3-0.6 s, the
privacy page 0.85-1.1 s, the slowest), interactions 0.08-0.42 s (p95; most
0.28-0.34 s). At national scale (2026-12-04, `national_scale.py --keep`, then `--data-dir
data/benchmarks/national-full --repeats 3`): pages 0.26-0.92 s median (the privacy page the slowest; p95 up
to 1.33 s), interactions p95 0.08-0.46 s (the analysts' pages with a choice box 0.33-0.46 s: above target).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import launch, log_in, streamlit_server  # after the path insert

from core.processes import sigterm_as_ctrl_c
from dashboards.pages import all_pages

DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TARGET_LOAD_MS, TARGET_INTERACTION_MS = 1000.0, 300.0


def _settled(page) -> None:
    page.wait_for_selector(DONE, timeout=60_000)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _choose_another(page, box) -> float | None:
    """Pick the second option of a choice box and time the rerun (ms); None when the box has no second option to pick."""
    from playwright.sync_api import Error

    box.click()
    option = page.get_by_role("option").nth(1)
    try:
        option.wait_for(timeout=5_000)
        started = time.perf_counter()
        option.click(timeout=5_000)
    except Error:  # one option only, or the list closed again: no interaction to time here
        page.keyboard.press("Escape")
        return None
    page.wait_for_timeout(50)  # let the rerun start before waiting for its end
    _settled(page)
    return (time.perf_counter() - started) * 1000 - 50


def measure(data_dir: Path, repeats: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from tests.conftest import demo_accounts

    logins = demo_accounts(data_dir)
    rows = []
    with sync_playwright() as playwright, streamlit_server(data_dir) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        login_times = []
        for _ in range(repeats):
            started = time.perf_counter()
            page.goto(url)
            page.get_by_role("heading", name="Inloggen").wait_for(timeout=60_000)
            _settled(page)
            login_times.append((time.perf_counter() - started) * 1000)
        rows.append({"role": "-", "page": "Inloggen (basislijn)", "load_ms": login_times, "interaction_ms": []})
        baseline = statistics.median(login_times)
        for role, login in logins.items():
            page.goto(url)
            log_in(page, login["email"], login["password"], login.get("totp_secret"))
            page.get_by_role("button", name="Uitloggen").wait_for(timeout=60_000)  # logged in (a refused login stops the run here)
            _settled(page)
            for info in all_pages():
                if info.roles is None or role not in info.roles:
                    continue
                link = page.get_by_test_id("stSidebar").get_by_role("link", name=info.title, exact=False).first
                if link.count() == 0:
                    continue
                loads, interactions = [], []
                for _ in range(repeats):
                    started = time.perf_counter()
                    link.click()
                    page.wait_for_url(re.compile(rf"/{re.escape(info.url)}/?([?#].*)?$"), timeout=60_000)
                    page.locator("h1").first.wait_for(timeout=60_000)
                    _settled(page)
                    loads.append((time.perf_counter() - started) * 1000)
                    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] [role="combobox"]').first
                    if box.count():
                        interaction = _choose_another(page, box)
                        if interaction is not None:
                            interactions.append(interaction)
                    page.get_by_test_id("stSidebar").get_by_role("link", name="Mijn account").first.click()  # away, to load it again
                    _settled(page)
                rows.append({"role": role, "page": info.title, "load_ms": loads, "interaction_ms": interactions})
            page.get_by_role("button", name="Uitloggen").click()
            _settled(page)
        browser.close()
    for row in rows:
        row["ratio"] = statistics.median(row["load_ms"]) / baseline
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="installation with released figures (default data/)")
    parser.add_argument("--repeats", type=int, default=5, help="loads per page (default 5)")
    arguments = parser.parse_args(argv)
    if not (arguments.data_dir / "exports").is_dir():
        sys.exit(f"{arguments.data_dir}: geen gepubliceerde cijfers (exports/); draai eerst `bash run.sh demo` of `mkbvm demo`")
    rows = measure(arguments.data_dir, arguments.repeats)
    print(f"{'rol':<14}{'pagina':<40}{'laden p50':>10}{'p95':>8}{'x basis':>9}{'klik p95':>10}")
    slow = []
    for row in rows:
        load50, load95 = statistics.median(row["load_ms"]), _p95(row["load_ms"])
        click95 = _p95(row["interaction_ms"]) if row["interaction_ms"] else float("nan")
        print(f"{row['role']:<14}{row['page'][:38]:<40}{load50:>10.0f}{load95:>8.0f}{row['ratio']:>9.2f}{click95:>10.0f}")
        if row["role"] != "-" and (load95 > TARGET_LOAD_MS or click95 > TARGET_INTERACTION_MS):
            slow.append(row["page"])
    print(f"targets: page load < {TARGET_LOAD_MS:.0f} ms, interaction p95 < {TARGET_INTERACTION_MS:.0f} ms; "
          + (f"above target: {', '.join(dict.fromkeys(slow))}" if slow else "all pages within target"))


if __name__ == "__main__":
    sigterm_as_ctrl_c()  # `kill` stops the Streamlit server this started, as Ctrl-C does
    main()
