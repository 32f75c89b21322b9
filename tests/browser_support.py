"""A real Streamlit server and headless Chromium (Debian's) for the browser tests, and logging in through the page."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyotp

from core.processes import stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(data_dir: Path, umask: int | None = None, **environment: str) -> Iterator[str]:
    """`streamlit run dashboards/app.py` on a free port of 127.0.0.1 for this data folder; stopped by its own process group.

    `umask` starts the server with that umask (the app must make its files owner-only whatever it is).
    """
    port = free_port()
    env = {**os.environ, "MKB_DATA_DIR": str(data_dir), **environment}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("Streamlit did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_groups([process])


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


_USED_STEPS: dict[str, int] = {}  # the platform accepts each app code once: log in twice within 30 s with the next one


def fresh_code(totp_secret: str) -> str:
    """An app code this test run has not used yet (the current one, or the next, which the server also accepts)."""
    totp = pyotp.TOTP(totp_secret)
    step = max(totp.timecode(datetime.now()), _USED_STEPS.get(totp_secret, -1) + 1)
    while step > totp.timecode(datetime.now()) + 1:  # both spent: wait for the clock
        time.sleep(1)
    _USED_STEPS[totp_secret] = step
    return totp.generate_otp(step)


def log_in(page, email: str, password: str, totp_secret: str | None = None) -> None:
    """Fill in the login form (and the app code, when a secret is given) as a person would."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible(timeout=30_000)
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    if totp_secret:
        code_field = page.get_by_label("Code uit de app of herstelcode")
        expect(code_field).to_be_visible(timeout=30_000)
        code_field.fill(fresh_code(totp_secret))
        page.get_by_role("button", name="Verder").click()


def open_from_menu(page, title: str) -> None:
    """Go to a page through the sidebar (the session stays; a typed URL would start a new one).

    A click that lands while Streamlit is still rerunning the previous page (just after logging in) can be lost: the
    page stays where it was. So wait until the address shows the link's page, and click once more if it does not.
    """
    import re

    from playwright.sync_api import expect

    link = page.get_by_test_id("stSidebar").get_by_role("link", name=title)  # a page may link to another page too
    target = re.compile(re.escape((link.get_attribute("href", timeout=30_000) or "").rstrip("/")) + r"/?([?#].*)?$")
    for attempt in range(3):
        link.click()
        try:
            expect(page).to_have_url(target, timeout=10_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def upload(page, path: Path, shown: str = "KB") -> None:
    """Choose a file in the page's file uploader and wait until Streamlit shows it as uploaded (its size).

    A file chosen while the page is still rerunning (a text field that just lost focus) can be dropped with the old
    widget: choose it once more when its size does not appear.
    """
    from playwright.sync_api import expect

    uploader = page.get_by_test_id("stFileUploader")
    for attempt in range(3):
        page.locator("input[type=file]").set_input_files(str(path))
        try:
            expect(uploader).to_contain_text(shown, timeout=15_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # package.json pins it; `bash run.sh test` runs `npm ci`
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")


def wait_until_rendered(page, heading: str | None = None, timeout: int = 30_000) -> None:
    """Streamlit has finished running the page's script, nothing is faded as stale, every chart is drawn (and the heading shows)."""
    from playwright.sync_api import expect

    if heading is not None:
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=timeout)
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=timeout)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=timeout)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every(chart => chart.querySelector('canvas, svg'))""", timeout=timeout)


def axe_violations(page, name: str) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA rules on the page as it is now; the whole result is saved as test-artifacts/axe/<name>.json."""
    import json

    if not AXE_SCRIPT.is_file():
        raise RuntimeError(f"{AXE_SCRIPT.relative_to(ROOT)} is missing: the accessibility check needs axe-core; run `npm ci` "
                           "in the repository root (Node.js 20 or newer; `bash run.sh test` does it)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate("options => axe.run(document, options)", {"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    folder = ROOT / "test-artifacts" / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return result["violations"]


def accessibility_problems(page, name: str, heading: str | None = None) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 AA violations on the page once it has rendered, one line per rule.

    Each line names the page, the rule with its impact and help text, and the selectors of (at most five of) the elements it
    failed on.
    """
    wait_until_rendered(page, heading)
    lines = []
    for rule in axe_violations(page, name):
        if rule["impact"] not in BLOCKING_IMPACTS:
            continue
        # a target is a list of CSS selectors, one per frame (a selector inside a shadow DOM is itself a list)
        targets = [" >> ".join(" ".join(part) if isinstance(part, list) else part for part in node["target"]) for node in rule["nodes"]]
        more = f" and {len(targets) - 5} more" if len(targets) > 5 else ""
        lines.append(f"{name}: {rule['id']} ({rule['impact']}, {len(targets)}x): {rule['help']} -> {' | '.join(targets[:5])}{more}")
    return lines


def check_accessibility(page, name: str, heading: str | None = None) -> None:
    """Fail on any serious or critical WCAG 2.1 AA violation axe-core finds on the page (test-artifacts/axe/<name>.json has them all)."""
    problems = accessibility_problems(page, name, heading)
    assert not problems, "WCAG 2.1 AA (axe-core):\n" + "\n".join(problems)


# What Streamlit or Python would show in English when a page breaks (the app shows a Dutch message instead).
ENGLISH_FRAMEWORK_MESSAGES = ("Traceback", "Exception", "Error running app", "Connection error", "Is Streamlit still running",
                              "Page not found", "You have requested page")


def no_error_shown(page) -> None:
    """The page shows neither the app's Dutch error message nor a traceback or an English framework message."""
    from playwright.sync_api import expect

    expect(page.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    for message in ENGLISH_FRAMEWORK_MESSAGES:
        expect(page.get_by_text(message, exact=False)).to_have_count(0)
