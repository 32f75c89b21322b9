"""One file per MKB consultant with the cases of its own caseload: what the consultant sees on 'Mijn trajecten' (issue 14).

    marts.programme_registration_month, _intake_month, _session_month, _decision_month, _plan_month (SQLMesh)
      -> data/operational/consultants/<code>/caseload.parquet   that consultant's own cases only, one row per case

The consultant is staff and the firm is the privacy unit, so a consultant
sees its own cases exactly, not differentially private (as a creditor's staff
member sees its own organisation's claims, debts/creditor_files.py), and
nothing of any other consultant's cases. The web app never reads the
warehouse: the pipeline publishes each caseload as a file.

Each mart has one row per key per month (the latest delivery of that month);
a record's current state is its row of the latest month. A case
(registration_id) belongs to the consultant of its latest session or stage
decision, by date (a decision on the same day as a session counts as later:
it closes the step). A case without any session or decision belongs to no
caseload yet. As in programme/pipeline.py, a case is a registration, and a
session, decision or plan whose firm (firm_id, from the KvK number it was
delivered with) is not the registration's firm is left out: a session typed
with a wrong KvK number counts for no case.

The current phase (PHASE_LABELS) is the consultant's working view, not the
funders' stages of programme/pipeline.py: stopped after a decision
`stoppen`; plan delivered once a plan is (or the phase `plan` was closed with
`doorgaan`); else the phase after the last decision `doorgaan`; else
exploration (verkenning) once admitted or once a session was held.

Minimal disclosure decides what a file holds: the case number the consultant
knows (registration_id), the region, partner, sector and size class of the
registration, the intake's date and outcome, the current phase and the last
decision, sessions held, no-shows and the last session's date, and whether a
plan was delivered and is financeable. No firm_id (the warehouse pseudonym),
no KvK number, no amounts of financing, nothing of other consultants' cases.

Files are private (`core.files`), written atomically (the web app reads the
old file or the new one, never half of one); every consultant of the domain
gets a file, an empty one (with the columns) without cases, so the page never
shows last month's cases of a caseload that moved on.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from core.files import private_dir
from core.private_parquet import private_parquet_writer
from core.reference import domain_codes

CASELOAD_FILE = "caseload.parquet"
CONSULTANTS_FOLDER = "consultants"  # data/operational/consultants/<code>/: beside the creditors' folders, never one of them
CONSULTANT_CODE = re.compile(r"^[A-Za-z0-9_]{2,40}$")  # the codes of reference/programme_consultants.csv: one folder name, no path
MARTS = ("programme_registration_month", "programme_intake_month", "programme_session_month", "programme_decision_month",
         "programme_plan_month")
PHASES = ("verkenning", "analyse", "plan")  # the phases of the support process, in order (sources/programme_decisions)
#: the current phase of a case, beyond the three phases of the process
PHASE_LABELS = {"aangemeld": "Aangemeld, nog geen intake", "niet_toegelaten": "Niet toegelaten bij de intake",
                "verkenning": "Verkenning van de ambitie", "analyse": "Analyse van bedrijf en markt",
                "plan": "Uitwerken van het bedrijfsplan", "plan_opgeleverd": "Bedrijfsplan opgeleverd", "gestopt": "Gestopt"}
CASELOAD_COLUMNS = {
    "registration_id": pl.Utf8,  # the case number (dossiernummer) the consultant knows
    "region": pl.Utf8,  # code of the domain programme_region
    "partner": pl.Utf8,  # code of the domain programme_partner
    "sector": pl.Utf8,  # SBI section
    "size_class": pl.Utf8,
    "registered_on": pl.Date,
    "intake_on": pl.Date,
    "intake_outcome": pl.Utf8,  # toegelaten, doorverwezen, niet_geschikt (sources/programme_intakes); null: no intake yet
    "phase": pl.Utf8,  # the current phase: a code of PHASE_LABELS
    "last_decision_phase": pl.Utf8,  # the phase the last decision closed
    "last_decision": pl.Utf8,  # doorgaan or stoppen
    "last_decision_on": pl.Date,
    "stop_reason": pl.Utf8,  # why the case stopped (sources/programme_decisions), when it did
    "sessions_held": pl.Int64,
    "no_shows": pl.Int64,
    "last_session_on": pl.Date,  # the last session held or missed
    "plan_delivered_on": pl.Date,  # null: no plan delivered yet
    "financeable": pl.Boolean,  # the plan is financeable; null: no plan yet
}


class UnknownConsultant(ValueError):
    """A code that is not a consultant of the public domain `programme_consultant`: it never becomes a folder name."""


def consultant_folder(operational: Path, consultant: str) -> Path:
    """The folder of one consultant's files, for a code of the domain `programme_consultant` only.

    >>> consultant_folder(Path("/data/operational"), "mc01")
    PosixPath('/data/operational/consultants/mc01')
    >>> consultant_folder(Path("/data/operational"), "../mc01")
    Traceback (most recent call last):
    ...
    programme.caseload.UnknownConsultant: consultant: '../mc01' is no consultant of reference/programme_consultants.csv
    """
    if not CONSULTANT_CODE.fullmatch(consultant) or consultant not in set(domain_codes("programme_consultant")):
        raise UnknownConsultant(f"consultant: {consultant!r} is no consultant of reference/programme_consultants.csv")
    return operational / CONSULTANTS_FOLDER / consultant


def caseload_file(operational: Path, consultant: str) -> Path:
    """Where one consultant's caseload is: `<operational>/consultants/<code>/caseload.parquet`."""
    return consultant_folder(operational, consultant) / CASELOAD_FILE


def _current(mart: str, key: str) -> str:
    """Each record's current state: its row of the latest month (and the latest delivery, should a month hold two)."""
    return f"SELECT * FROM marts.{mart} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY month DESC, delivered_at DESC) = 1"


CASES_SQL = f"""
WITH registrations AS ({_current("programme_registration_month", "registration_id")}),
intakes AS ({_current("programme_intake_month", "registration_id")}),
sessions AS (  -- a record whose firm is not the case's firm is left out (as programme/pipeline.py does)
    SELECT sessions.* FROM ({_current("programme_session_month", "session_id")}) AS sessions
    JOIN registrations ON registrations.registration_id = sessions.registration_id AND registrations.firm_id = sessions.firm_id
),
decisions AS (
    SELECT decisions.* FROM ({_current("programme_decision_month", "decision_id")}) AS decisions
    JOIN registrations ON registrations.registration_id = decisions.registration_id AND registrations.firm_id = decisions.firm_id
),
plans AS (
    SELECT plans.* FROM ({_current("programme_plan_month", "registration_id")}) AS plans
    JOIN registrations ON registrations.registration_id = plans.registration_id AND registrations.firm_id = plans.firm_id
),
steps AS (  -- every session and decision of a case, by date; a decision closes its day
    SELECT registration_id, consultant, session_on AS step_on, 0 AS step_order, delivered_at, session_id AS step_id FROM sessions
    UNION ALL
    SELECT registration_id, consultant, decided_on, 1, delivered_at, decision_id FROM decisions
),
owner AS (
    SELECT registration_id, consultant FROM steps
    QUALIFY row_number() OVER (PARTITION BY registration_id ORDER BY step_on DESC, step_order DESC, delivered_at DESC, step_id DESC) = 1
),
session_counts AS (
    SELECT registration_id,
           count(*) FILTER (WHERE status = 'gehouden') AS sessions_held,
           count(*) FILTER (WHERE status = 'niet_verschenen') AS no_shows,
           max(session_on) AS last_session_on
    FROM sessions GROUP BY registration_id
),
last_decision AS (
    SELECT * FROM decisions
    QUALIFY row_number() OVER (PARTITION BY registration_id ORDER BY decided_on DESC, delivered_at DESC, decision_id DESC) = 1
)
SELECT
    owner.consultant,
    owner.registration_id,
    registrations.region, registrations.partner, registrations.sector, registrations.size_class, registrations.registered_on,
    intakes.intake_on, intakes.outcome AS intake_outcome,
    CASE
        WHEN last_decision.decision = 'stoppen' THEN 'gestopt'
        WHEN plans.registration_id IS NOT NULL THEN 'plan_opgeleverd'
        WHEN last_decision.decision = 'doorgaan' AND last_decision.phase = 'verkenning' THEN 'analyse'
        WHEN last_decision.decision = 'doorgaan' AND last_decision.phase = 'analyse' THEN 'plan'
        WHEN last_decision.decision = 'doorgaan' AND last_decision.phase = 'plan' THEN 'plan_opgeleverd'
        WHEN intakes.outcome IN ('doorverwezen', 'niet_geschikt') THEN 'niet_toegelaten'
        WHEN intakes.outcome = 'toegelaten' OR session_counts.registration_id IS NOT NULL THEN 'verkenning'
        ELSE 'aangemeld'
    END AS phase,
    last_decision.phase AS last_decision_phase, last_decision.decision AS last_decision, last_decision.decided_on AS last_decision_on,
    last_decision.stop_reason,
    coalesce(session_counts.sessions_held, 0) AS sessions_held, coalesce(session_counts.no_shows, 0) AS no_shows,
    session_counts.last_session_on,
    plans.delivered_on AS plan_delivered_on, plans.financeable
FROM owner
LEFT JOIN registrations USING (registration_id)
LEFT JOIN intakes USING (registration_id)
LEFT JOIN session_counts USING (registration_id)
LEFT JOIN last_decision USING (registration_id)
LEFT JOIN plans USING (registration_id)
ORDER BY owner.consultant, owner.registration_id
"""


def cases(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every case that has a consultant, one row per case: `consultant` and the columns of CASELOAD_COLUMNS."""
    frame = connection.execute(CASES_SQL).pl()
    return frame.select(pl.col("consultant").cast(pl.Utf8), *[pl.col(name).cast(dtype) for name, dtype in CASELOAD_COLUMNS.items()])


def write_caseload_files(connection: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Write every consultant's caseload file under `folder` (data/operational); returns cases per consultant.

    Every consultant of the domain gets a file, an empty one without cases. A case whose consultant is not of the
    domain (the marts' audits refuse that) goes in no file.
    """
    everyone = cases(connection)
    private_dir(folder / CONSULTANTS_FOLDER)
    written: dict[str, int] = {}
    with private_parquet_writer() as write:
        for consultant in domain_codes("programme_consultant"):
            own = everyone.filter(pl.col("consultant") == consultant).drop("consultant").sort("registration_id")
            write(own, consultant_folder(folder, consultant), CASELOAD_FILE)
            written[consultant] = own.height
    return dict(sorted(written.items()))
