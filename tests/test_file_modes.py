"""Nothing under data/ is readable by another local user, except released exports (issue 8, point 1).

The demo is run as a user would (`mkbvm demo` in its own process), started
with the common umask 022 on purpose: the project must make its files
owner-only itself. Then the web app, also started with umask 022, takes a
respondent's submission in a real browser (a landing file, the account
store's WAL), with `mkbvm serve` running the Dagster daemon and UI beside it. Every folder and file is then checked: 0700 / 0600, and
0755 / 0644 for released exports.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser_support import free_port, launch, log_in, open_from_menu

from core.archive import ARCHIVE_KEY_ENV, delivered_files
from core.files import file_mode, private_dir, private_file, public_dir, shared_group_bits
from core.settings import WAREHOUSE_KEY_ENV
from core.warehouse import is_encrypted
from tests.encryption_support import readable_in, secrets_of

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _wrong_modes(data: Path) -> list[str]:
    exports = data / "exports"
    wrong = []
    for path in [data, *data.rglob("*")]:
        public = path == exports or exports in path.parents
        expected = (0o755 if public else 0o700) if path.is_dir() else (0o644 if public else 0o600)
        if _mode(path) != expected:
            wrong.append(f"{path.relative_to(data.parent)}: {oct(_mode(path))}, expected {oct(expected)}")
    return wrong


def _with_umask_022():
    os.umask(0o022)


def _read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    """What a process printed up to the line holding `marker` (it must appear within `timeout` seconds)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError("".join(seen) or f"no output within {timeout} s")


@pytest.mark.browser
def test_everything_the_demo_and_the_web_app_create_is_owner_only(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    env = {**os.environ, "MKB_DATA_DIR": str(data)}
    for variable in ("MKB_PSEUDONYM_KEY", "MKB_ACCOUNTS_KEY", WAREHOUSE_KEY_ENV, ARCHIVE_KEY_ENV):  # the demo makes its own keys
        env.pop(variable, None)
    demo = subprocess.run(
        [str(Path(sys.executable).parent / "mkbvm"), "demo", "--firms", "300", "--no-serve"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_with_umask_022,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    for kind in ("warehouse.duckdb", "accounts/accounts.sqlite", "secrets/pseudonym.key", "dagster", "landing/cgc", "exports/cgc_balance"):
        assert (data / kind).exists(), kind  # the check below covers the real thing, not an empty folder

    demo_logins = json.loads((data / "secrets" / "demo_accounts.json").read_text())
    email = next(address for address, login in demo_logins.items() if login["role"] == "respondent")
    password = demo_logins[email]["password"]
    dagster_port, streamlit_port = free_port(), free_port()
    serve = subprocess.Popen(  # the UIs as `mkbvm serve` starts them: Dagster daemon, guarded Dagster UI, Streamlit
        [str(Path(sys.executable).parent / "mkbvm"), "serve", "--dagster-port", str(dagster_port), "--streamlit-port", str(streamlit_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=_with_umask_022,
    )
    try:
        output = _read_until(serve, "Press Ctrl-C", timeout=180)
        assert "Dashboards:" in output, output
        # keep reading what serve prints (the daemon's and the servers' logs): a full pipe would block it, and it could not stop
        threading.Thread(target=serve.stdout.read, daemon=True).start()
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(f"http://127.0.0.1:{streamlit_port}")
            log_in(page, email, password)
            expect(page.get_by_role("heading", name="Mijn overzicht")).to_be_visible(timeout=30_000)  # a respondent's home
            open_from_menu(page, "Gezondheidscheck invullen")
            expect(page.get_by_role("heading", name="Gezondheidscheck invullen")).to_be_visible(timeout=30_000)
            page.get_by_text("Gekrompen", exact=True).click()
            for label, option in (("Sector", "G – Handel"), ("Bedrijfsgrootte", "2-9"), ("Provincie", "Utrecht")):
                page.get_by_role("combobox", name=label).click()
                page.get_by_role("option", name=option, exact=True).click()
            page.get_by_role("button", name="Versturen").click()
            expect(page.get_by_text("Bedankt! Uw antwoorden zijn veilig opgeslagen.")).to_be_visible(timeout=30_000)
            browser.close()
    finally:
        os.killpg(serve.pid, signal.SIGINT)  # as Ctrl-C: serve stops the servers it started
        serve.wait(timeout=120)  # the daemon, the guarded Dagster UI and Streamlit stop in turn; slow on a busy 2-core machine
    assert _wrong_modes(data) == []
    _encrypted_by_default(data)


def _encrypted_by_default(data: Path) -> None:
    """The demo's warehouse and its landing files once ingested are encrypted; no other file it leaves holds an answer or a pseudonym.

    Not searched: released exports (differentially private), the generator's ground truth (`synthetic/`), the keys, and
    the landing zone, where a file waits (plain, owner-only) until the next ingestion seals it.
    """
    assert is_encrypted(data / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as patch:
        for variable, key in ((WAREHOUSE_KEY_ENV, "warehouse.key"), (ARCHIVE_KEY_ENV, "archive.key")):
            patch.setenv(variable, (data / "secrets" / key).read_text().strip())
        assert delivered_files(data / "landing", "cgc", "form_*.jsonl"), "the web app wrote the submission"
        assert not list((data / "landing" / "cgc").glob("cgc_export_*")) and list((data / "archive" / "cgc").glob("*cgc_export_*.age"))
        secrets = secrets_of(data / "warehouse.duckdb")
    secrets["amount"] = [value for value in secrets["amount"] if value.isascii() and b"." in value]  # as text only: 8 bytes of a number occur anywhere
    skipped = [data / folder for folder in ("exports", "synthetic", "secrets", "landing")]
    searched = [path for path in data.rglob("*") if path.is_file() and not any(path.is_relative_to(folder) for folder in skipped)]
    assert any(path.is_relative_to(data / "dagster") for path in searched)  # Dagster's run and event storage is searched too
    leaks = {str(path.relative_to(data)): kinds for path in searched if (kinds := readable_in(path, secrets))}
    assert leaks == {}


def test_folders_and_files_are_owner_only_whatever_the_umask(tmp_path):
    previous = os.umask(0o000)  # the worst case: everything would be world-writable
    try:
        made = private_dir(tmp_path / "a" / "b")
        store = private_file(made / "store.sqlite")
        released = public_dir(tmp_path / "a" / "exports" / "spec", top=tmp_path / "a" / "exports")
    finally:
        os.umask(previous)
    assert [_mode(p) for p in (tmp_path / "a", made, store)] == [0o700, 0o700, 0o600]
    assert [_mode(p) for p in (released.parent, released)] == [0o755, 0o755]


def test_a_zone_an_operator_shared_with_a_group_stays_shared(tmp_path):
    shared = tmp_path / "landing"
    shared.mkdir()
    shared.chmod(0o2770)  # what the README's production section tells the operator to do
    inner = private_dir(shared / "cgc")
    assert _mode(inner) == 0o2770 and shared_group_bits(inner) == 0o070
    assert file_mode(inner) == 0o660 and file_mode(tmp_path) == 0o600
    with pytest.raises(ValueError, match="not inside the exports folder"):
        public_dir(tmp_path / "elsewhere", top=tmp_path / "exports")
