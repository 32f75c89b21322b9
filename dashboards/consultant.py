"""An MKB consultant's own cases on 'Mijn trajecten', and the sessions and stage decisions it enters for them.

The web app never reads the warehouse. The pipeline writes one caseload file
per consultant (`data/operational/consultants/<code>/caseload.parquet`,
programme/caseload.py); this module opens only the file of the account's own
consultant code (bound to the account, checked against the public domain
again, never a page's input) through an in-memory DuckDB locked to that one
folder, as the creditors' page does (dashboards/creditor.py).

A session or decision becomes a landing file of `programme_sessions` or
`programme_decisions`, through the same contract and atomic write as the
respondents' forms (dashboards/submissions.py), so the pipeline ingests it
like a partner's delivery. The consultant code comes from the account; the
case must be one of the consultant's own cases. The source needs the firm's
KvK number (its unit, pseudonymised at ingestion) and the caseload file
holds none, so the consultant types it from the case file: the form checks
it is 8 digits, and the pipeline leaves a record whose firm is not the
case's firm out of every count (programme/caseload.py, programme/pipeline.py).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import polars as pl

from accounts.service import Account, own_consultant
from core.contracts import KVK_PATTERN, SubmissionError
from core.private_parquet import read_private_parquet
from core.reference import domain_labels
from core.settings import paths
from core.sources import source
from dashboards.creditor import locked_to
from dashboards.formatting import nl_date
from dashboards.groups import group_name
from dashboards.submissions import submit
from programme.caseload import CASELOAD_COLUMNS, CASELOAD_FILE, PHASE_LABELS, consultant_folder

SESSIONS, DECISIONS = "programme_sessions", "programme_decisions"
KVK_FIELD = "KvK-nummer van het bedrijf"
CASE_FIELD = "Dossiernummer"


def own_caseload(account: Account, operational: Path | None = None) -> pl.DataFrame:
    """The rows of the account's own caseload file (one per case); empty when there is none yet."""
    folder = consultant_folder((operational or paths().operational).resolve(), own_consultant(account))
    if not (folder / CASELOAD_FILE).is_file():
        return pl.DataFrame(schema=CASELOAD_COLUMNS)
    connection = locked_to(folder)
    try:
        return read_private_parquet(connection, folder / CASELOAD_FILE)
    finally:
        connection.close()


def phase_summary(caseload: pl.DataFrame) -> pl.DataFrame:
    """Cases per current phase, in the order of the process (phases without cases left out).

    >>> phase_summary(pl.DataFrame({"phase": ["analyse", "verkenning", "analyse"]})).rows()
    [('Verkenning van de ambitie', 1), ('Analyse van bedrijf en markt', 2)]
    """
    counts = dict(caseload.group_by("phase").len().iter_rows()) if caseload.height else {}
    rows = [(label, counts[code]) for code, label in PHASE_LABELS.items() if code in counts]
    return pl.DataFrame(rows, schema={"Fase": pl.Utf8, "Trajecten": pl.Int64}, orient="row")


def _day(value: date | None) -> str:
    return nl_date(value) if value is not None else ""


def _plan(delivered_on: date | None, financeable: bool | None) -> str:
    """'nee' without a plan; else the day it was delivered and whether it is financeable.

    >>> _plan(date(2026, 9, 30), True), _plan(None, None)
    ('ja, 30 september 2026 (financierbaar)', 'nee')
    """
    if delivered_on is None:
        return "nee"
    return f"ja, {nl_date(delivered_on)} ({'financierbaar' if financeable else 'niet financierbaar'})"


def caseload_table(caseload: pl.DataFrame) -> pl.DataFrame:
    """The caseload as the page shows and downloads it: Dutch column names, names instead of codes, dates written out."""
    outcomes = source("programme_intakes").fields["outcome"].labels()
    decisions = source(DECISIONS).fields
    phases, verdicts, reasons = decisions["phase"].labels(), decisions["decision"].labels(), decisions["stop_reason"].labels()
    regions, partners = domain_labels("programme_region"), domain_labels("programme_partner")
    rows = []
    for case in caseload.sort("registration_id").iter_rows(named=True):
        last = ""
        if case["last_decision"]:
            last = f"{verdicts.get(case['last_decision'], case['last_decision'])} na {phases.get(case['last_decision_phase'], '')}".strip()
            last += f" ({_day(case['last_decision_on'])})"
            if case["stop_reason"]:
                last += f": {reasons.get(case['stop_reason'], case['stop_reason'])}"
        rows.append({
            CASE_FIELD: case["registration_id"],
            "Regio": regions.get(case["region"], case["region"] or ""),
            "Partner": partners.get(case["partner"], case["partner"] or ""),
            "Sector": group_name("sector", case["sector"]) if case["sector"] else "",
            "Grootte": group_name("size_class", case["size_class"]) if case["size_class"] else "",
            "Intake": f"{_day(case['intake_on'])}: {outcomes.get(case['intake_outcome'], case['intake_outcome'])}" if case["intake_outcome"] else "nog niet",
            "Fase nu": PHASE_LABELS.get(case["phase"], case["phase"]),
            "Laatste besluit": last,
            "Sessies gehouden": case["sessions_held"],
            "Niet verschenen": case["no_shows"],
            "Laatste sessie": _day(case["last_session_on"]),
            "Bedrijfsplan": _plan(case["plan_delivered_on"], case["financeable"]),
        })
    schema = {CASE_FIELD: pl.Utf8, "Regio": pl.Utf8, "Partner": pl.Utf8, "Sector": pl.Utf8, "Grootte": pl.Utf8, "Intake": pl.Utf8,
              "Fase nu": pl.Utf8, "Laatste besluit": pl.Utf8, "Sessies gehouden": pl.Int64, "Niet verschenen": pl.Int64,
              "Laatste sessie": pl.Utf8, "Bedrijfsplan": pl.Utf8}
    return pl.DataFrame(rows, schema=schema, orient="row")


# --------------------------------------------------------------------------- entering a session or a decision


def _own_case(caseload: pl.DataFrame, case: str | None, problems: list[str]) -> None:
    if not case:
        problems.append(f"{CASE_FIELD}: ontbreekt; kies een van uw eigen trajecten")
    elif case not in set(caseload["registration_id"].to_list()):
        problems.append(f"{CASE_FIELD}: '{case}' is geen traject van u; kies een van uw eigen trajecten")


def clean_kvk(typed: str | None, problems: list[str]) -> str:
    """The typed KvK number without spaces or dots (as people copy it: '1234 5678'); a Dutch problem when it is not 8 digits.

    >>> problems = []; clean_kvk(" 1234 5678 ", problems), clean_kvk("1234", problems), problems
    ('12345678', '1234', ["KvK-nummer van het bedrijf: '1234' moet uit precies 8 cijfers bestaan"])
    """
    kvk = re.sub(r"[\s.]", "", typed or "")
    if not kvk:
        problems.append(f"{KVK_FIELD}: ontbreekt; neem het over uit het dossier van het bedrijf")
    elif not re.fullmatch(KVK_PATTERN, kvk):
        problems.append(f"{KVK_FIELD}: '{kvk[:20]}' moet uit precies 8 cijfers bestaan")
    return kvk


def _past_day(label: str, day: date | None, today: date, problems: list[str]) -> None:
    if day is None:
        problems.append(f"{label}: ontbreekt (verplicht veld)")
    elif day > today:
        problems.append(f"{label}: {nl_date(day)} ligt in de toekomst; vul de datum in waarop het gebeurde")


def session_answers(caseload: pl.DataFrame, case: str | None, kvk: str | None, held_on: date | None, minutes: int | None,
                    status: str | None, today: date | None = None) -> tuple[dict, str]:
    """The answers of one session for `programme_sessions` (without the consultant: that comes from the account) and the
    cleaned KvK number; `SubmissionError` with every problem (field, value, rule) in Dutch."""
    today, problems = today or date.today(), []
    _own_case(caseload, case, problems)
    kvk_number = clean_kvk(kvk, problems)
    _past_day("Datum van de sessie", held_on, today, problems)
    if minutes is None:
        problems.append("Duur in minuten: ontbreekt (verplicht veld)")
    elif not 0 <= minutes <= 480:
        problems.append(f"Duur in minuten: {minutes} ligt buiten het bereik van 0 tot en met 480 minuten")
    elif status == "gehouden" and minutes == 0:
        problems.append("Duur in minuten: 0 kan niet bij een gehouden sessie; vul in hoe lang de sessie duurde")
    if status not in ("gehouden", "niet_verschenen"):
        problems.append("Gehouden of niet: kies 'Gehouden' of 'Niet verschenen'")
    if problems:
        raise SubmissionError(problems)
    return {"registration_id": case, "session_on": held_on.isoformat(), "duration_minutes": int(minutes), "status": status,
            "month": f"{held_on:%Y-%m}"}, kvk_number


def decision_answers(caseload: pl.DataFrame, case: str | None, kvk: str | None, decided_on: date | None, phase: str | None,
                     decision: str | None, stop_reason: str | None, today: date | None = None) -> tuple[dict, str]:
    """The answers of one stage decision for `programme_decisions` and the cleaned KvK number; `SubmissionError` else."""
    today, problems = today or date.today(), []
    fields = source(DECISIONS).fields
    _own_case(caseload, case, problems)
    kvk_number = clean_kvk(kvk, problems)
    _past_day("Datum van het besluit", decided_on, today, problems)
    if phase not in fields["phase"].labels():
        problems.append("Fase die afgerond is: ontbreekt; kies de fase waarover u besluit")
    if decision not in ("doorgaan", "stoppen"):
        problems.append("Besluit: kies 'Doorgaan' of 'Stoppen'")
    elif decision == "stoppen" and not stop_reason:
        problems.append("Reden om te stoppen: ontbreekt; bij het besluit 'Stoppen' is een reden verplicht")
    elif decision == "doorgaan" and stop_reason:
        reason = fields["stop_reason"].labels().get(stop_reason, stop_reason)
        problems.append(f"Reden om te stoppen: '{reason}' hoort niet bij het besluit 'Doorgaan'; laat de reden leeg")
    if problems:
        raise SubmissionError(problems)
    return {"registration_id": case, "decided_on": decided_on.isoformat(), "phase": phase, "decision": decision,
            "stop_reason": stop_reason if decision == "stoppen" else None, "month": f"{decided_on:%Y-%m}"}, kvk_number


def enter(account: Account, name: str, answers: dict, kvk_number: str, landing: Path | None = None,
          now: datetime | None = None) -> dict:
    """Write one session or decision of the account's own consultant code durably to the landing zone; the stored record.

    The record's own key (`web-<random>`) and delivery time come from `submit`, the consultant code from the account,
    and the contract of the source checks everything again (`SubmissionError` naming field, value and rule).
    """
    if name not in (SESSIONS, DECISIONS):
        raise ValueError(f"{name}: a consultant enters sessions and decisions only")
    return submit(name, {**answers, "consultant": own_consultant(account)}, kvk_number, landing, now)
