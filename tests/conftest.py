"""Shared fixtures: a small synthetic data set run once through the real pipeline.

Everything is real (DuckDB file, SQLMesh plan, OpenDP, Dagster execution);
only the sizes are small. The session runs in a temporary data folder.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

TEST_KEY = "test-key-" + "k" * 40
os.environ["MKB_PSEUDONYM_KEY"] = TEST_KEY
ACCOUNTS_TEST_KEY = "dGVzdC1hY2NvdW50cy1rZXktMzItYnl0ZXMtbG9uZyE="  # Fernet: 32 bytes, url-safe base64
os.environ["MKB_ACCOUNTS_KEY"] = ACCOUNTS_TEST_KEY
WAREHOUSE_TEST_KEY = "test-warehouse-key-" + "w" * 32
os.environ["MKB_WAREHOUSE_KEY"] = WAREHOUSE_TEST_KEY
ARCHIVE_TEST_KEY = "AGE-SECRET-KEY-1EHTQJD5AK0UQL0ZYS947JLFYKNP2P3VRRVKRDZ8R7QXKQW032GRSVAT86P"  # an age identity made for the tests only
os.environ["MKB_ARCHIVE_KEY"] = ARCHIVE_TEST_KEY
# the small installation's display rule (its file says why); child processes (Streamlit in the browser tests) inherit it
os.environ.setdefault("MKB_DISPLAY_CONFIG", str(Path(__file__).resolve().parent / "display_small_installation.yaml"))

from stop_on_sigterm import pytest_configure  # noqa: F401 - the hook: SIGTERM stops the run as Ctrl-C does

from assets.resources import Folders, PseudonymKey, Warehouse
from core.synthetic import generate
from core.warehouse import connect as warehouse_connect
from pipelines.definitions import ALL_ASSETS, ALL_CHECKS

LAST_WAVE = "2026-10"
FIRST_WAVE = "2026-07"  # the fixture's 4 waves


def released_waves() -> int:
    """Waves the pipeline fixture releases: every closed wave from its first to its last with answers."""
    from core.periods import calendar_closed_periods

    return len(calendar_closed_periods("wave", date.today(), [FIRST_WAVE, LAST_WAVE]))


def released_quarters(installation) -> int:
    """Quarters of the support programme an installation released: its closed quarters with data (the generator makes two
    years of the programme, so 8 or 9)."""

    from core.periods import calendar_closed_periods, quarter_of

    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        quarters = connection.execute("SELECT quarter FROM marts.programme_firm_quarter UNION SELECT quarter FROM marts.programme_firm_platform"
                                      " ORDER BY 1").fetchall()
    closed = [quarter for (quarter,) in quarters if quarter < quarter_of(date.today())]
    return len(calendar_closed_periods("quarter", date.today(), closed))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass(frozen=True)
class Installation:
    data_dir: Path
    warehouse: Path
    landing: Path
    exports: Path
    synthetic: Path

    def resources(self) -> dict:
        return {
            "warehouse": Warehouse(path=str(self.warehouse)),
            "folders": Folders(landing=str(self.landing), exports=str(self.exports), accounts=str(self.data_dir / "accounts" / "accounts.sqlite"),
                               operational=str(self.data_dir / "operational")),
            "pseudonym_key": PseudonymKey(key=TEST_KEY),
        }


def make_installation(root: Path) -> Installation:
    return Installation(root, root / "warehouse.duckdb", root / "landing", root / "exports", root / "synthetic")


def run_pipeline(installation: Installation, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    with data_dir(installation.data_dir):  # the proposals live in the installation's own store
        result = dg.materialize([*ALL_ASSETS, *ALL_CHECKS], resources=installation.resources(), instance=instance)
    assert result.success
    return result


@contextmanager
def data_dir(path: Path):
    """MKB_DATA_DIR set to `path` for a while: code that reads the installation's own stores (the proposals) finds them."""
    before = os.environ.get("MKB_DATA_DIR")
    os.environ["MKB_DATA_DIR"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("MKB_DATA_DIR", None)
        else:
            os.environ["MKB_DATA_DIR"] = before


DEBT_PERSONS = 800  # the fixture's persons with debt signals (about 1,000 claims in 2,400 rows over 3 monthly deliveries)
PROGRAMME_FIRMS = 300  # the fixture's support programme: about 140 admitted, 45 plans, 11,000 rows in 70 files


def generate_installation(installation: Installation, firms: int, waves: int, seed: int = 7) -> None:
    """Synthetic CGC waves, the demo proposals (three closed, two open), the firms' DIS estimates and consultation reactions,
    a few documents sent with those reactions, the creditors' monthly debt-signal deliveries and the support programme's
    quarterly deliveries."""
    from accounts.store import store
    from content.demo import ensure_demo_proposals
    from content.demo_uploads import ensure_demo_uploads
    from core.synthetic_consultation import generate_consultations
    from core.synthetic_debts import generate_debts
    from core.synthetic_dis import generate_dis
    from core.synthetic_programme import generate_programme

    generate(installation.landing, installation.synthetic, firms=firms, waves=waves, last_wave=LAST_WAVE, seed=seed)
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        proposals = ensure_demo_proposals(connection, date.today())
    population = pl.read_parquet(installation.synthetic / "firms.parquet")
    generate_dis(installation.landing, population, date.today(), seed=seed)
    reactions = generate_consultations(installation.landing, installation.synthetic, population,
                                       [json.loads(p.model_dump_json()) for p in proposals], seed=seed)
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        ensure_demo_uploads(connection, reactions, proposals, seed=seed)  # stored under MKB_DATA_DIR/uploads: callers set it
    generate_debts(installation.landing, installation.synthetic, date.today(), persons=DEBT_PERSONS, seed=seed)
    generate_programme(installation.landing, installation.synthetic, population, date.today(), firms=PROGRAMME_FIRMS, seed=seed)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Installation:
    """Small synthetic data (1,500 firms, 4 waves, 5 proposals) after one full pipeline run."""
    installation = make_installation(tmp_path_factory.mktemp("installation"))
    with data_dir(installation.data_dir):
        generate_installation(installation, firms=1_500, waves=4)
        run_pipeline(installation)
    return installation


@pytest.fixture(scope="session")
def firms(pipeline) -> pl.DataFrame:
    return pl.read_parquet(pipeline.synthetic / "firms.parquet")


def demo_accounts(data_dir: Path) -> dict[str, dict]:
    """The demo accounts (one per role) in an installation's account store, by role: id, e-mail, password, TOTP secret."""
    from accounts.demo import ensure_demo_accounts
    from accounts.service import find_account
    from accounts.store import store

    with store(data_dir / "accounts" / "accounts.sqlite") as connection:
        logins = ensure_demo_accounts(connection, data_dir / "secrets" / "demo_accounts.json")
        return {login["role"]: {**login, "id": find_account(connection, login["email"]).id} for login in logins}


@pytest.fixture(scope="session")
def accounts(pipeline) -> dict[str, dict]:
    return demo_accounts(pipeline.data_dir)


@pytest.fixture()
def store(tmp_path):
    """An empty account store of this test's own (SQLite in tmp_path)."""
    from accounts.store import connect_store

    connection = connect_store(tmp_path / "accounts.sqlite")
    yield connection
    connection.close()


@pytest.fixture()
def admin(store):
    """An administrator in that store (with an app code, as the role requires)."""
    from datetime import datetime

    from accounts.service import create_account, new_totp_secret

    return create_account(store, {"name": "Beheer", "email": "beheer@example.nl", "role": "administrator"}, "een lang wachtwoord 42",
                          totp_secret=new_totp_secret(), now=datetime(2026, 11, 23, 10, 0, 0))


def invitation_code(outbox: Path, to: str | None = None) -> str:
    """The one-time code in the newest invitation (to `to`), read from its .eml file as the recipient's mail would show it
    (the administrator's outbox page masks it)."""
    from email import policy
    from email.parser import BytesParser

    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if to is None or str(message["To"]) == to:
            return message.get_body(preferencelist=("plain",)).get_content().split("code=")[1].split()[0]
    raise LookupError(f"no invitation to {to} in {outbox}")


def logged_in(login: dict, app_path: str = "../dashboards/app.py"):
    """The Streamlit app (AppTest) in a session of this account, as after a login through the form."""
    import time

    from streamlit.testing.v1 import AppTest

    from accounts.service import get_account
    from accounts.store import store
    from dashboards.auth import ACCOUNT_ID, CREDENTIALS, LAST_SEEN

    with store() as connection:
        account = get_account(connection, login["id"])
    app = AppTest.from_file(app_path, default_timeout=60)
    app.session_state[ACCOUNT_ID] = login["id"]
    app.session_state[CREDENTIALS] = account.credential_version
    app.session_state[LAST_SEEN] = time.time()
    app.run()
    return app


@pytest.fixture()
def pages(pipeline, tmp_path, monkeypatch):
    """The session pipeline's released files, creditors' files and proposals, with demo accounts, as the web app sees them."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(pipeline.exports, data / "exports")
    shutil.copytree(pipeline.data_dir / "operational", data / "operational")  # the creditors' own files (debts/creditor_files.py)
    shutil.copytree(pipeline.data_dir / "accounts", data / "accounts")  # the proposals (and any demo accounts made already)
    if (pipeline.data_dir / "secrets").exists():  # ... with the demo logins, if another test made them first
        shutil.copytree(pipeline.data_dir / "secrets", data / "secrets")
    monkeypatch.setenv("MKB_DATA_DIR", str(data))
    return data, demo_accounts(data)
