"""`mkbvm`: the command line of the MKB Vitaliteitsmonitor.

    mkbvm keygen      create the local keys: pseudonyms, accounts, the warehouse's encryption (data/secrets/, git-ignored)
    mkbvm rotate-key  new keys for the warehouse and the archive, everything re-encrypted
    mkbvm backup      an encrypted backup (warehouse, ledger, accounts, uploads, landing files); restore: mkbvm restore
    mkbvm generate    write synthetic CGC survey exports into data/landing/
    mkbvm run         run the whole pipeline once (recorded in the Dagster instance)
    mkbvm serve       start the Dagster UI and the Streamlit app on 127.0.0.1
    mkbvm demo        all of the above, in order
    mkbvm release     make a release (or a new version of one) through Dagster, recorded in its instance
    mkbvm budget      the privacy budget per dataset and period: spent, left; one unit's loss per 12 months
    mkbvm invite      invite someone (e.g. the first administrator); the link goes to the outbox
    mkbvm code        the current app code of a demo account (for trying the demo without a phone app)
    mkbvm alerts      early warnings for any series in a CSV (period, value, optionally ci_low, ci_high)
    mkbvm nginx-config  the nginx configuration of production: the web app and the Dagster UI over TLS only
    mkbvm erase       erase one firm (--kvk), person (--bsn) or account (--email) everywhere (AVG), then rebuild the marts
    mkbvm retention   apply the retention periods (config/retention.yaml) now and carry out waiting AVG requests
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.files import private_dir, restrict_new_files
from core.processes import STOP_SIGNALS, Stopped, StopSignals, default_stop_signals, stop_process_groups
from core.settings import PROJECT_ROOT, PSEUDONYM_KEY_ENV, WAREHOUSE_KEY_ENV, paths

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False, help="MKB Vitaliteitsmonitor: data pipeline and dashboards.")
console = Console()


@app.callback()
def _owner_only_files() -> None:
    """Everything this command and the servers it starts create under data/ is owner-only (see core.files)."""
    restrict_new_files()


def key_file() -> Path:
    return paths().secrets / "pseudonym.key"


def dagster_home() -> Path:
    """DAGSTER_HOME under data/, holding a copy of the repository's dagster.yaml."""
    home = private_dir(paths().data_dir / "dagster")
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def accounts_key_file() -> Path:
    return paths().secrets / "accounts.key"


def prepare_environment() -> dict[str, str]:
    """Environment for pipeline processes: data dir, Dagster home and the keys (from the key files if unset)."""
    from core.archive import ARCHIVE_KEY_ENV, archive_key_file
    from core.warehouse import warehouse_key_file

    for variable, source in ((PSEUDONYM_KEY_ENV, key_file()), ("MKB_ACCOUNTS_KEY", accounts_key_file()),
                             (WAREHOUSE_KEY_ENV, warehouse_key_file()), (ARCHIVE_KEY_ENV, archive_key_file())):
        if not os.environ.get(variable):
            with contextlib.suppress(OSError):  # absent, or not ours to read: the command says which key it misses
                os.environ[variable] = source.read_text().strip()
    os.environ.setdefault("MKB_DATA_DIR", str(paths().data_dir))
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    return dict(os.environ)


@app.command()
def keygen(force: bool = typer.Option(False, help="Replace existing keys (earlier firm_ids and accounts will no longer match).")) -> None:
    """Create the local keys outside git: pseudonyms, accounts, the archive of landing files and the warehouse (data/secrets/)."""
    from accounts.crypto import new_key, write_secret_file
    from core.archive import ARCHIVE_KEY_ENV, archive_key_file, new_archive_key

    for target, make, variable in ((key_file(), lambda: secrets.token_urlsafe(48), PSEUDONYM_KEY_ENV),
                                   (accounts_key_file(), new_key, "MKB_ACCOUNTS_KEY")):
        if target.exists() and not force:
            console.print(f"Key exists: {target}")
            continue
        if target == key_file() and target.exists() and not target.with_name("pseudonym.previous.key").exists():  # for `mkbvm rekey`
            os.replace(target, target.with_name("pseudonym.previous.key"))
            console.print("[yellow]The warehouse was loaded under the old key (kept as pseudonym.previous.key): run `mkbvm rekey` next; ingestion refuses the new key until then.[/yellow]")
        write_secret_file(target, make())
        console.print(f"New key written to {target}. In production set {variable} from a secret store instead.")
    if not os.environ.get(ARCHIVE_KEY_ENV) and not archive_key_file().exists():  # never replaced: sealed files need it
        write_secret_file(archive_key_file(), new_archive_key())
        console.print(f"New archive key written to {archive_key_file()}. In production set {ARCHIVE_KEY_ENV} from a secret store instead.")
    _warehouse_key()


def _warehouse_key() -> None:
    """The warehouse key is made once and never replaced by `keygen` (that would lock the warehouse): see `rotate-key`."""
    from accounts.crypto import write_secret_file
    from core.warehouse import is_encrypted, reencrypt, warehouse_key_file

    target, warehouse = warehouse_key_file(), paths().warehouse
    if os.environ.get(WAREHOUSE_KEY_ENV) or target.exists():
        console.print(f"Warehouse key exists ({WAREHOUSE_KEY_ENV} or {target}); `mkbvm rotate-key` replaces it.")
    else:
        write_secret_file(target, secrets.token_urlsafe(48))
        console.print(f"New warehouse key written to {target}. In production set {WAREHOUSE_KEY_ENV} from a secret store instead.")
    if warehouse.exists() and not is_encrypted(warehouse):  # a warehouse made before encryption: encrypt it now
        from core.warehouse import warehouse_key

        tables = reencrypt(warehouse, warehouse_key(), old_key=None)
        console.print(f"The warehouse was not encrypted: it is now ({len(tables)} tables copied and checked).")


@app.command("rotate-key")
def rotate_key() -> None:
    """New keys for the warehouse and the archive of landing files, everything re-encrypted (stop the services first)."""
    from accounts.crypto import write_secret_file
    from core.archive import (
        ARCHIVE_KEY_ENV,
        ArchiveKeyError,
        archive_key_file,
        archive_of,
        identity,
        new_archive_key,
        next_archive_key_file,
        rotate_archive,
    )
    from core.warehouse import WarehouseKeyError, next_key_file, reencrypt, warehouse_key, warehouse_key_file

    warehouse = paths().warehouse
    try:
        old_key = warehouse_key()
        identity()
    except (WarehouseKeyError, ArchiveKeyError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if not warehouse.exists():
        console.print(f"[red]There is no warehouse at {warehouse}.[/red]")
        raise typer.Exit(2)
    new_key, new_identity = secrets.token_urlsafe(48), new_archive_key()
    write_secret_file(next_key_file(), new_key)  # first, so a stop after the swaps below can be finished (core.warehouse, core.archive)
    write_secret_file(next_archive_key_file(), new_identity)
    with console.status("Warehouse en archief opnieuw versleutelen ..."):
        tables = reencrypt(warehouse, new_key, old_key)
        files = rotate_archive(archive_of(paths().landing), new_identity)
    console.print(f"Re-encrypted the warehouse ({len(tables)} tables checked) and {files} archived landing files.")
    for variable, next_file, key_file_ in ((WAREHOUSE_KEY_ENV, next_key_file(), warehouse_key_file()),
                                           (ARCHIVE_KEY_ENV, next_archive_key_file(), archive_key_file())):
        if os.environ.get(variable):
            console.print(f"Set {variable} to the new key in {next_file} in your secret store, restart the services, then delete that file.")
        else:
            os.replace(next_file, key_file_)
            console.print(f"The new key is in {key_file_}.")


DEMO_DEBT_PERSONS = 6_000  # persons with debt signals in the demo: about 7,500 claims in 17,000 rows, 3 monthly deliveries
DEMO_PROGRAMME_FIRMS = 600  # firms scouted for the support programme: about 280 admitted, 90 plans, 23,000 rows in 70 files


@app.command()
def generate(
    firms: int = typer.Option(20_000, min=100, max=1_500_000, help="Number of firms in the population."),
    waves: int = typer.Option(24, min=1, max=48, help="Number of monthly waves."),
    last_wave: str = typer.Option(None, help="Last wave (YYYY-MM); default: last month."),
    seed: int = typer.Option(20261122, help="Random seed (same seed, same files)."),
    debt_persons: int = typer.Option(DEMO_DEBT_PERSONS, min=0, max=2_000_000, help="Persons with debt signals (about 2.5 claims each)."),
    programme_firms: int = typer.Option(DEMO_PROGRAMME_FIRMS, min=0, max=100_000,
                                        help="Firms scouted for the Limburg SME support programme (0: none)."),
) -> None:
    """Synthetic data: CGC exports (CSV and JSON lines, about 1 % defects) into data/landing/cgc/, the five demo
    proposals into the policy pipeline, the firms' impact estimates (DIS) into data/landing/dis/, the creditors'
    monthly debt-signal deliveries (CSV and Parquet, about 1 % defects) into data/landing/debt_signal/, and two years of
    the Limburg SME support programme's quarterly deliveries (about 1 % defects) into data/landing/programme_*/."""
    from datetime import date

    import polars as pl

    from accounts.store import store
    from content.demo import ensure_demo_proposals
    from core.synthetic import generate as generate_data
    from core.synthetic_consultation import generate_consultations
    from core.synthetic_dis import generate_dis

    prepare_environment()  # the proposals' audit entries need the accounts key
    current = paths()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("Golven genereren", total=waves)
        result = generate_data(
            current.landing, current.synthetic, firms=firms, waves=waves, last_wave=last_wave, seed=seed,
            progress=lambda wave, rows: bar.update(task, advance=1, description=f"Golf {wave}: {rows} rijen"),
        )
    console.print(f"{len(result.files)} files, {result.rows} rows ({result.defects} defective) for {result.firms} firms in {current.landing / 'cgc'}")
    with store() as connection:
        proposals = ensure_demo_proposals(connection, date.today())
    population = pl.read_parquet(current.synthetic / "firms.parquet")
    files = generate_dis(current.landing, population, date.today(), seed=seed)
    reactions = generate_consultations(current.landing, current.synthetic, population, [json.loads(p.model_dump_json()) for p in proposals], seed=seed)
    console.print(f"{len(proposals)} proposals in the policy pipeline; {len(files)} DIS files in {current.landing / 'dis'}, "
                  f"{len(reactions)} consultation files in {current.landing / 'consultation'}")
    from content.demo_uploads import ensure_demo_uploads

    with store() as connection:
        letters = ensure_demo_uploads(connection, reactions, proposals, seed=seed)
    console.print(f"{len(letters)} documents (PDF, Word) sent with consultation reactions, in {current.data_dir / 'uploads'}")
    if debt_persons:
        from core.synthetic_debts import generate_debts

        deliveries = generate_debts(current.landing, current.synthetic, date.today(), persons=debt_persons, seed=seed)
        console.print(f"{len(deliveries)} debt-signal deliveries for {debt_persons} persons in {current.landing / 'debt_signal'}")
    if programme_firms:
        from core.synthetic_programme import generate_programme

        deliveries = generate_programme(current.landing, current.synthetic, population, date.today(), firms=programme_firms, seed=seed)
        console.print(f"{len(deliveries)} MKB-aanpak deliveries (support programme) for {programme_firms} firms in {current.landing / 'programme_*'}")


@app.command()
def run() -> None:
    """Run the whole pipeline once in this process; the run shows up in the Dagster UI."""
    prepare_environment()
    if not os.environ.get(PSEUDONYM_KEY_ENV):
        console.print(f"[red]{PSEUDONYM_KEY_ENV} is not set and there is no key file: run `mkbvm keygen` first.[/red]")
        raise typer.Exit(2)
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    started = time.monotonic()
    with console.status("Pipeline draait: inlezen, SQLMesh, privacy-releases, export ..."), DagsterInstance.get() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        shown = {k: v.value for k, v in materialization.metadata.items() if not isinstance(v.value, str) or len(v.value) < 60}
        console.print(f"  {materialization.asset_key.to_user_string():28} {shown}")
    if not result.success:
        console.print("[red]The pipeline failed; open the run in the Dagster UI for the step and its error.[/red]")
        raise typer.Exit(1)
    console.print(f"Pipeline finished in {time.monotonic() - started:.1f} s.")


@app.command("release")
def release_command(
    name: str = typer.Argument(..., help="Release spec, e.g. cgc_balance (config/releases/<name>.yaml)."),
    period: list[str] = typer.Option(None, "--period", help="Period to release (repeat the option); default: every closed one."),
    version: int = typer.Option(1, min=1, help="Version; a new version draws new noise and is charged again."),
) -> None:
    """Release (or serve again) one spec through Dagster; the run and its ledger entry show up in the UI."""
    prepare_environment()
    import dagster as dg

    from assets.releases.factory import RELEASE_ASSETS
    from pipelines.resources import default_resources
    from privacy.loading import release_specs

    if name not in release_specs():
        console.print(f"[red]Unknown release '{name}'; known: {', '.join(release_specs())}.[/red]")
        raise typer.Exit(2)
    asset = next(a for a in RELEASE_ASSETS if a.key == dg.AssetKey(["releases", name]))
    run_config = {
        "ops": {f"releases__{name}": {"config": {"version": version, "periods": list(period or [])}}},
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},  # we print the outcome ourselves
    }
    with dg.DagsterInstance.get() as instance:  # resources resolved now, from this installation's paths
        result = dg.materialize([asset], resources=default_resources(), instance=instance, run_config=run_config, raise_on_error=False)
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        error = failure.step_failure_data.error if failure else None
        while error is not None and error.cause is not None:  # the innermost error says what went wrong
            error = error.cause
        message = error.message.strip() if error else "The release failed; see the run in the Dagster UI."
        console.print(f"[red]{message.split('Failure: ', 1)[-1]}[/red]")
        raise typer.Exit(1)
    metadata = result.asset_materializations_for_node(f"releases__{name}")[0].metadata
    console.print(f"{name} v{version}: {metadata['periods_released'].value} released, {metadata['periods_reused'].value} served again "
                  f"(epsilon {metadata['epsilon_per_period'].value:.3g} per released period)")
    refused = metadata["periods_refused"].value
    for message in refused:
        console.print(f"[red]refused: {message}[/red]")
    if refused:
        raise typer.Exit(1)


COMMAND_LINE = "mkbvm (commandoregel)"


@app.command()
def invite(
    email: str = typer.Option(..., help="E-mail address of the person to invite."),
    name: str = typer.Option(..., help="Their name."),
    role: str = typer.Option("administrator", help="respondent, analyst, administrator, creditor or consultant."),
    kvk: str = typer.Option(None, help="KvK number of the firm (respondents only)."),
    organisation: str = typer.Option(None, help="Code of the organisation in reference/creditors.csv (creditors' staff only)."),
    consultant: str = typer.Option(None, help="Own code in reference/programme_consultants.csv (MKB consultants only, e.g. mc01)."),
) -> None:
    """Invite someone from the command line (whoever runs this has the server: it acts as an administrator)."""
    prepare_environment()
    from accounts.mail import mailer
    from accounts.service import Account, AccountError
    from accounts.service import invite as invite_member
    from accounts.store import store

    operator = Account(0, COMMAND_LINE, "Commandoregel", "administrator", None, True, True)
    with store() as connection:
        try:
            invited = invite_member(connection, operator, {"name": name, "email": email, "role": role, "kvk_number": kvk,
                                                                "organisation": organisation, "consultant": consultant}, mailer())
        except AccountError as error:
            console.print(f"[red]Not invited: {error}[/red]")
            raise typer.Exit(2) from None
    console.print(f"Invitation for {invited.email} ({invited.role_name}) written to {paths().data_dir / 'outbox'} (or sent, with MKB_SMTP_HOST).")


def demo_secrets_file() -> Path:
    return paths().secrets / "demo_accounts.json"


def print_demo_logins(streamlit_port: int) -> None:
    """Create the demo accounts if needed and show how to log in with each role."""
    prepare_environment()
    from accounts.demo import ensure_demo_accounts
    from accounts.store import store

    with store() as connection:
        logins = ensure_demo_accounts(connection, demo_secrets_file())
        demo_messages(connection)
    names = {"respondent": "ondernemer", "analyst": "analist", "administrator": "beheerder", "creditor": "schuldeiser", "consultant": "consultant"}
    console.print(f"\nDemo-accounts, inloggen op http://127.0.0.1:{streamlit_port} :")
    for login in logins:
        line = f"  {names[login['role']]:11} {login['email']:27} wachtwoord {login['password']}"
        if login["totp_secret"]:
            line += f"   app-sleutel {login['totp_secret']}"
        console.print(line, soft_wrap=True, highlight=False)
    console.print("Analist, beheerder, schuldeiser (Gemeente Amsterdam) en MKB-consultant (mc01) loggen in met wachtwoord en een code: "
                  "voeg de sleutel toe aan een authenticator-app, "
                  "of vraag de code van dit moment op met `.venv/bin/mkbvm code <e-mailadres>`.")


def demo_messages(connection) -> None:
    """The demo's example update and working group, sent by the demo policymaker (analyst) to every respondent."""
    from accounts.mail import mailer
    from accounts.service import find_account
    from content.demo_messages import ensure_demo_messages

    sender = find_account(connection, "analist@demo.mkbvm.nl")
    if sender is not None:
        ensure_demo_messages(connection, sender, mailer())


@app.command()
def code(email: str = typer.Argument(..., help="E-mail address of a demo account.")) -> None:
    """The app code of a demo analyst or administrator right now (demo only: real users have their own app)."""
    from accounts.demo import current_code

    current = current_code(demo_secrets_file(), email)
    if current is None:
        console.print(f"[red]{email} is no demo account with an app code.[/red]")
        raise typer.Exit(2)
    console.print(current)


@app.command()
def budget() -> None:
    """The privacy budget per dataset and period: spent, budget, left; and one unit's loss per 12 months (from the ledger file)."""
    from rich.table import Table

    from core.warehouse import connect
    from privacy.ledger import budget_overview, yearly_loss
    from privacy.loading import privacy_settings

    budgets = {name: (d.budget_per_period.epsilon, d.budget_per_period.delta) for name, d in privacy_settings().datasets.items()}
    with connect(paths().warehouse, read_only=True) as connection:
        exists = connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = 'privacy' AND table_name = 'budget'").fetchone()[0]
        overview = budget_overview(connection, budgets) if exists else None
        loss = yearly_loss(connection, privacy_settings()) if exists else None
    if overview is None or overview.is_empty():
        console.print("Nothing released yet.")
        return
    table = Table("dataset", "period", "epsilon spent", "budget", "left", "releases")
    for row in overview.iter_rows(named=True):
        table.add_row(row["dataset"], row["period"], f"{row['epsilon_spent']:.3f}", f"{row['epsilon_budget']:.3f}", f"{row['epsilon_left']:.3f}", str(row["releases"]))
    console.print(table)
    yearly = Table("unit", "12 months up to", "releases", "datasets", "epsilon (composed)", "delta", "yearly cap", "left",
                   title="One unit's loss over 12 months, across datasets")
    for row in loss.sort("unit_kind", "window_end").iter_rows(named=True):
        yearly.add_row(row["unit_kind"], str(row["window_end"]), str(row["releases"]), row["datasets"], f"{row['epsilon']:.3f}",
                       f"{row['delta']:.2g}", f"{row['epsilon_cap']:.1f}", f"{row['epsilon_left']:.3f}")
    console.print(yearly)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _wait_for(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def start_servers(dagster_port: int, streamlit_port: int | None) -> list[subprocess.Popen]:
    """Start the Dagster daemon, the guarded Dagster UI and `streamlit run`, each in its own process group, on 127.0.0.1.

    The daemon runs sensors, schedules and the run queue (what `dagster dev` added to the UI); the UI is
    Dagster's webserver inside `pipelines.dagster_ui`, which lets only browsers with the login link in.
    Call it with the stop signals held (`core.processes.StopSignals.held`), so a stop cannot lose a started server.
    """
    env = prepare_environment()
    _create_instance_storage()
    logs = private_dir(paths().data_dir / "logs")
    binaries = Path(sys.executable).parent
    commands = {
        "dagster-daemon": [str(binaries / "dagster-daemon"), "run", "-m", "pipelines.definitions"],
        "dagster-ui": [sys.executable, "-m", "pipelines.dagster_ui", "--port", str(dagster_port)],  # reads data/secrets/dagster_ui.token
        "streamlit": [
            str(binaries / "streamlit"), "run", str(PROJECT_ROOT / "dashboards" / "app.py"),
            "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(streamlit_port),
            "--browser.gatherUsageStats", "false",
        ],
    }
    if streamlit_port is None:  # production: the web app runs as its own user (README, "Production")
        commands.pop("streamlit")
    processes: list[subprocess.Popen] = []
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "ab") as log:  # the server keeps its own copy of the descriptor
                processes.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True, preexec_fn=default_stop_signals))  # noqa: PLW1509 - only sigaction
    except BaseException:
        stop_servers(processes)  # one did not start: neither do the others
        raise
    return processes


def _create_instance_storage() -> None:
    """Create the Dagster instance's SQLite storage (runs, schedules, event log) before the daemon and the UI start.

    On an empty installation both would create it at the same moment; a daemon thread that loses that race dies,
    and the daemon stops with it ("threads no longer running").
    """
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()


def stop_servers(processes: list[subprocess.Popen]) -> None:
    """Stop the servers and everything they started (Dagster's code servers, a running pipeline); SIGKILL after 10 s."""
    stop_process_groups(processes)


@app.command()
def serve(
    dagster_port: int = typer.Option(3000, help="Port of the Dagster UI."),
    streamlit_port: int = typer.Option(8501, help="Port of the Streamlit app."),
    dashboards: bool = typer.Option(True, "--dashboards/--no-dashboards", help="Also start the Streamlit app (not when it runs as its own user)."),
) -> None:
    """Start the Dagster UI (behind a login link), the Dagster daemon (sensor, schedule, run queue) and the dashboards; Ctrl-C stops all.

    SIGTERM (systemd, `kill`) and SIGHUP (a closed terminal) stop them as Ctrl-C does, at any moment, also while they start.
    """
    from pipelines.dagster_ui import new_login_token

    processes: list[subprocess.Popen] = []
    with StopSignals() as stop_signals:
        try:
            for port in (dagster_port, *([streamlit_port] if dashboards else [])):
                if not _port_free(port):
                    console.print(f"[red]Port {port} on 127.0.0.1 is in use; choose another with --dagster-port/--streamlit-port.[/red]")
                    raise typer.Exit(2)
            token = new_login_token()  # a new one per start: links and cookies of an earlier start stop working
            with stop_signals.held():
                processes = start_servers(dagster_port, streamlit_port if dashboards else None)
            _report_when_up(dagster_port, streamlit_port if dashboards else None, token)
            while all(p.poll() is None for p in processes):
                time.sleep(1)
            console.print(f"[red]A server stopped; see {paths().data_dir / 'logs'}.[/red]")
            raise typer.Exit(1)
        except (Stopped, KeyboardInterrupt):
            console.print("Stopping ...")
        finally:
            stop_servers(processes)
    for stop_signal in STOP_SIGNALS:  # all stopped: a late Ctrl-C while Python exits must not turn this into an interrupted exit
        signal.signal(stop_signal, signal.SIG_IGN)
    console.print("Stopped.")


def _report_when_up(dagster_port: int, streamlit_port: int | None, token: str) -> None:
    """Wait until the UIs answer, then print their addresses (the Dagster UI's as its login link)."""
    from pipelines.dagster_ui import PUBLIC_HOST_ENV, login_link

    with console.status("Dagster UI en dashboards starten ..."):
        dagster_up = _wait_for(f"http://127.0.0.1:{dagster_port}/server_info", 120)
        streamlit_up = streamlit_port is None or _wait_for(f"http://127.0.0.1:{streamlit_port}/_stcore/health", 60)
    if not (dagster_up and streamlit_up):
        console.print(f"[red]A server did not start; see {paths().data_dir / 'logs'}.[/red]")
        raise typer.Exit(1)
    console.print(f"Dagster UI:  {login_link(f'http://127.0.0.1:{dagster_port}', token)}", soft_wrap=True, highlight=False)
    if os.environ.get(PUBLIC_HOST_ENV):
        console.print(f"   via proxy: {login_link(f'https://{os.environ[PUBLIC_HOST_ENV]}', token)}", soft_wrap=True, highlight=False)
    console.print("   (open deze link om in te loggen; zonder de link weigert de Dagster UI elk verzoek)", soft_wrap=True)
    if streamlit_port is not None:
        console.print(f"Dashboards:  http://127.0.0.1:{streamlit_port}")
    console.print("Press Ctrl-C to stop all.")


@app.command()
def demo(
    firms: int = typer.Option(20_000, help="Firms in the synthetic population."),
    dagster_port: int = typer.Option(3000),
    streamlit_port: int = typer.Option(8501),
    serve_uis: bool = typer.Option(True, "--serve/--no-serve", help="Start the UIs after the run."),
) -> None:
    """Key, synthetic data, one full pipeline run, then both UIs on 127.0.0.1."""
    keygen(force=False)
    if not any((paths().landing / "cgc").glob("cgc_export_*")):
        generate(firms=firms, waves=24, last_wave=None, seed=20261122, debt_persons=DEMO_DEBT_PERSONS,
                 programme_firms=DEMO_PROGRAMME_FIRMS)
    else:
        console.print("Synthetic data already present in data/landing/cgc (delete data/ to start afresh).")
    run()
    print_demo_logins(streamlit_port)
    if serve_uis:
        serve(dagster_port=dagster_port, streamlit_port=streamlit_port, dashboards=True)


@app.command("backup")
def backup_command(target: Path = typer.Argument(..., help="A new (or empty) folder for the backup.")) -> None:
    """Back up the warehouse, the ledger, the account store, uploads and landing files, encrypted (keys are not included)."""
    prepare_environment()
    from core.archive import ArchiveKeyError
    from core.backup import BackupError, backup
    from core.warehouse import WarehouseBusy, WarehouseKeyError

    try:
        with console.status("Back-up maken ..."):
            manifest = backup(paths(), target)
    except (BackupError, WarehouseKeyError, ArchiveKeyError, WarehouseBusy) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    console.print(f"Backup in {target}: {len(manifest['files'])} files, {size / 1e6:.1f} MB, {len(manifest['warehouse'])} warehouse tables "
                  f"checked. Keep the keys (secrets/ or your secret store) apart from it: without them it cannot be read.")


@app.command("restore")
def restore_command(source: Path = typer.Argument(..., help="A folder made by `mkbvm backup`.")) -> None:
    """Restore a backup into this installation's (empty) data folder, every file checked; the keys must be those of the backup."""
    prepare_environment()
    from core.archive import ArchiveKeyError
    from core.backup import BackupError, restore
    from core.warehouse import WarehouseKeyError

    try:
        with console.status("Back-up terugzetten ..."):
            manifest = restore(source, paths())
    except (BackupError, WarehouseKeyError, ArchiveKeyError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Restored the backup of {manifest['made_at']} into {paths().data_dir}; run `mkbvm run` to make the exports again.")


@app.command("rekey")
def rekey_command(
    old_key_file: Path = typer.Option(None, help="File holding the key the warehouse was loaded with (default: data/secrets/pseudonym.previous.key, kept by `keygen --force`)."),
) -> None:
    """Re-key the warehouse to the current pseudonym key: every stored pseudonym recomputed from the landing files, in one transaction."""
    prepare_environment()
    from core.rekey import RekeyRefused, rekey
    from core.warehouse import connect

    previous = old_key_file or key_file().with_name("pseudonym.previous.key")
    new_key = os.environ.get(PSEUDONYM_KEY_ENV, "")
    if not previous.is_file() or not new_key:
        console.print(f"[red]Need the old key in {previous} (or --old-key-file) and the new one in {PSEUDONYM_KEY_ENV} or {key_file()}.[/red]")
        raise typer.Exit(2)
    with connect(paths().warehouse) as connection:
        try:
            result = rekey(connection, paths().landing, previous.read_text().strip().encode(), new_key.encode())
        except RekeyRefused as refused:
            console.print(f"[red]Not re-keyed: {refused}[/red]")
            raise typer.Exit(1) from None
    console.print(f"Re-keyed {result.files} landing files: {result.raw_rows} raw and {result.quarantine_rows} quarantined rows, "
                  f"key fingerprint {result.old_fingerprint} -> {result.new_fingerprint}. The next `mkbvm run` rebuilds the marts.")
    if old_key_file is None:
        previous.unlink()  # the old key has done its last job; a rotated key should not linger
        console.print(f"Removed {previous}.")


@app.command()
def alerts(
    input_file: str = typer.Option(..., "--input", help="CSV with the columns period (YYYY-MM or a date) and value, optionally ci_low and ci_high."),
    output_file: str = typer.Option(..., "--output", help="CSV to write: period, level (empty, signaal or alarm), reason."),
    worse: str = typer.Option("lower", help="Which direction is a deterioration: lower (a confidence series) or higher (a burden)."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Confidence level of ci_low/ci_high."),
) -> None:
    """Early warnings for one series: a fall is flagged only when noise and normal movement cannot explain it (privacy/alerts.py)."""
    from core.alert_csv import SeriesFileError, alerts_for_file

    if worse not in ("lower", "higher"):
        console.print(f"[red]--worse: '{worse}' kan niet: kies lower (lager is slechter) of higher (hoger is slechter).[/red]")
        raise typer.Exit(2)
    try:
        outcome = alerts_for_file(Path(input_file), Path(output_file), worse=worse, confidence=confidence)
    except SeriesFileError as error:
        console.print(f"[red]Fout in {input_file}: {error}[/red]", soft_wrap=True, markup=True, highlight=False)
        raise typer.Exit(2) from None
    except OSError as error:
        console.print(f"[red]Kan niet lezen of schrijven: {error.strerror or error} ({error.filename or input_file}).[/red]", highlight=False,
                      soft_wrap=True)
        raise typer.Exit(2) from None
    levels = outcome.alerts["level"].to_list()
    console.print(f"{len(levels)} perioden gelezen; {levels.count('signaal')} signalen en {levels.count('alarm')} alarmen. "
                  f"Geschreven naar {outcome.output}.", highlight=False, soft_wrap=True)
    for period, level, reason in outcome.alerts.filter(outcome.alerts["level"] == "alarm").tail(10).iter_rows():
        console.print(f"  {period}  {reason}", highlight=False, markup=False, soft_wrap=True)


@app.command("nginx-config")
def nginx_config(
    app_host: str = typer.Option(..., help="Public host name of the web app, e.g. monitor.example.nl."),
    dagster_host: str = typer.Option(..., help="Public host name of the Dagster UI, e.g. dagster.example.nl."),
    certificate: Path = typer.Option(..., help="TLS certificate for both names (PEM, the full chain)."),
    certificate_key: Path = typer.Option(..., help="Its private key (PEM)."),
    htpasswd: Path = typer.Option(Path("/etc/nginx/mkbvm-dagster.htpasswd"), help="Users and passwords of the Dagster UI (htpasswd -B)."),
    app_port: int = typer.Option(8501, help="Port of the web app on 127.0.0.1."),
    dagster_port: int = typer.Option(3000, help="Port of the Dagster UI on 127.0.0.1."),
    https_port: int = typer.Option(443),
    http_port: int = typer.Option(80, help="Plain HTTP: only a redirect to HTTPS."),
) -> None:
    """Print the nginx configuration that serves the web app and the Dagster UI only over TLS (deploy/nginx/)."""
    from pipelines.deploy import ProxySettings, render_nginx

    try:
        settings = ProxySettings(app_host=app_host, dagster_host=dagster_host, certificate=certificate, certificate_key=certificate_key,
                                 htpasswd=htpasswd, app_port=app_port, dagster_port=dagster_port, https_port=https_port, http_port=http_port)
    except ValueError as error:
        console.print(f"Not written: {error}.", style="red", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(2) from None
    typer.echo(render_nginx(settings), nl=False)


def _run_avg_job(apply_retention: bool):
    """The job `avg` in this process (recorded in the Dagster instance): waiting AVG requests, retention, then the rebuild."""
    import dagster as dg

    from pipelines.definitions import ALL_CHECKS, AVG_JOB_ASSETS, avg
    from pipelines.resources import default_resources

    definitions = dg.Definitions(assets=AVG_JOB_ASSETS, asset_checks=ALL_CHECKS, jobs=[avg], resources=default_resources())  # this installation's paths
    with dg.DagsterInstance.get() as instance:
        return definitions.resolve_job_def("avg").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": {"meta__deletion_log": {"config": {"apply_retention": apply_retention}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}})


def _deleted_lines(summary: dict) -> list[str]:
    from avg.deletions import WHAT

    return [f"  {WHAT.get(what, what)}: {count}" for what, count in summary.get("verwijderd", {}).items()]


@app.command()
def erase(
    kvk: str = typer.Option(None, "--kvk", help="KvK number of a firm: its answers, deliveries, uploads and accounts."),
    bsn: str = typer.Option(None, "--bsn", help="BSN of a person: the debt signals about them."),
    email: str = typer.Option(None, "--email", help="E-mail address of one account: the account and what hangs on it."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask to type the identifier again (scripts)."),
) -> None:
    """Erase one firm, person or account everywhere (recht op verwijdering), audited; releases and the ledger stay (they are
    differentially private). Then the marts and everything made from raw are rebuilt without it (the Dagster job `avg`)."""
    prepare_environment()
    from accounts.service import Account
    from accounts.store import store
    from avg.requests import RequestError, request_erasure
    from avg.subjects import KINDS, SubjectError, subject

    given = {kind: value for kind, value in (("kvk", kvk), ("bsn", bsn), ("email", email)) if value}
    if len(given) != 1:
        console.print("[red]Geef precies een van --kvk, --bsn of --email.[/red]")
        raise typer.Exit(2)
    (kind, value), = given.items()
    try:
        subject(kind, value)
    except SubjectError as error:
        console.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(2) from None
    confirmation = value if yes else typer.prompt(f"Typ het {KINDS[kind]} nogmaals ter bevestiging (dit kan niet ongedaan worden gemaakt)")
    if not os.environ.get(PSEUDONYM_KEY_ENV):
        console.print(f"[red]{PSEUDONYM_KEY_ENV} is not set and there is no key file: run `mkbvm keygen` first.[/red]")
        raise typer.Exit(2)
    operator = Account(0, COMMAND_LINE, "Commandoregel", "administrator", None, True, True)
    with store() as connection:
        try:
            request_id = request_erasure(connection, operator, kind, value, confirmation)
        except RequestError as error:
            console.print(f"[red]Niet aangevraagd: {error}.[/red]", highlight=False)
            raise typer.Exit(1) from None
    with console.status(f"Verzoek {request_id}: verwijderen, daarna de marts opnieuw opbouwen ..."):
        result = _run_avg_job(apply_retention=False)
    with store() as connection:
        row = connection.execute("SELECT status, summary FROM avg_requests WHERE id = ?", [request_id]).fetchone()
    summary = json.loads(row["summary"] or "{}")
    if row["status"] != "done":
        console.print(f"[red]Verzoek {request_id} is niet uitgevoerd ({row['status']}); zie het logboek van de run in de Dagster UI.[/red]")
        raise typer.Exit(1)
    console.print(f"Verzoek {request_id} uitgevoerd. Verwijderd:", highlight=False)
    for line in _deleted_lines(summary) or ["  niets (er was niets meer van)"]:
        console.print(line, highlight=False)
    if not result.success:
        console.print("[red]Het opnieuw opbouwen van de marts is mislukt; draai `mkbvm run` of `mkbvm retention`.[/red]")
        raise typer.Exit(1)
    console.print("De marts zijn opnieuw opgebouwd. Gepubliceerde cijfers en het privacy-grootboek blijven zoals ze zijn.")


@app.command()
def retention() -> None:
    """Apply the retention periods (config/retention.yaml) now, carry out waiting AVG requests, rebuild the marts (job `avg`)."""
    prepare_environment()
    if not os.environ.get(PSEUDONYM_KEY_ENV):
        console.print(f"[red]{PSEUDONYM_KEY_ENV} is not set and there is no key file: run `mkbvm keygen` first.[/red]")
        raise typer.Exit(2)
    with console.status("Bewaartermijnen toepassen, daarna de marts opnieuw opbouwen ..."):
        result = _run_avg_job(apply_retention=True)
    materialization = next((e.event_specific_data.materialization for e in result.get_asset_materialization_events()
                            if e.event_specific_data.materialization.asset_key.to_user_string() == "meta/deletion_log"), None)
    deleted = materialization.metadata["deleted"].value if materialization else {}
    lines = [line.strip() for line in _deleted_lines({"verwijderd": deleted})]
    console.print("Verwijderd: " + (", ".join(lines) if lines else "niets"), highlight=False)
    if not result.success:
        console.print("[red]The job failed; open the run in the Dagster UI for the step and its error.[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
