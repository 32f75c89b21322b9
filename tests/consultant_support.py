"""A small programme warehouse with the caseloads of two consultants, and a web-app installation that reads them (for
test_consultant.py and test_browser_consultant.py; independent of the session pipeline)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from conftest import demo_accounts
from programme_support import case, source_marts

from accounts.service import create_account, new_totp_secret
from accounts.store import store
from programme.caseload import write_caseload_files

OTHER_CONSULTANT = "mc02"
OWN_CASES = ["R-f1", "R-f2"]  # the demo consultant's (mc01)
OTHER_CASES = ["R-f3"]  # mc02's: it held the latest session


def _session(number: str, firm: str, consultant: str, on: date, status: str = "gehouden") -> dict:
    return {"session_id": f"S-{number}", "firm_id": firm, "registration_id": f"R-{firm}", "consultant": consultant, "session_on": on,
            "duration_minutes": 60, "status": status}


def _decision(number: str, firm: str, consultant: str, on: date, phase: str, decision: str, reason: str | None = None) -> dict:
    return {"decision_id": f"D-{number}", "firm_id": firm, "registration_id": f"R-{firm}", "consultant": consultant, "decided_on": on,
            "phase": phase, "decision": decision, "stop_reason": reason}


def caseload_warehouse() -> duckdb.DuckDBPyConnection:
    """Four cases: f1 and f2 of mc01, f3 moved from mc01 to mc02 (its latest step is mc02's), f4 without any step; and a
    session of mc01 delivered with another firm's KvK number (f9) for f3's case, which counts for no case."""
    connection = duckdb.connect()
    source_marts(connection, {
        "programme_registrations": [case("f1", date(2026, 3, 2)), case("f2", date(2026, 4, 1), region="noord", sector="C"),
                                    case("f3", date(2026, 4, 9)), case("f4", date(2026, 5, 1))],
        "programme_intakes": [{"registration_id": f"R-{f}", "firm_id": f, "intake_on": date(2026, 4, 20), "outcome": "toegelaten"}
                              for f in ("f1", "f2", "f3")],
        "programme_sessions": [
            _session("1", "f1", "mc01", date(2026, 5, 4)), _session("2", "f1", "mc01", date(2026, 6, 1), "niet_verschenen"),
            _session("3", "f1", "mc01", date(2026, 7, 6)),
            _session("4", "f2", "mc01", date(2026, 5, 11)),
            _session("5", "f3", "mc01", date(2026, 5, 12)), _session("6", "f3", "mc02", date(2026, 8, 3)),
            {**_session("7", "f9", "mc01", date(2026, 9, 1)), "registration_id": "R-f3"},  # wrong firm for R-f3
        ],
        "programme_decisions": [
            _decision("1", "f1", "mc01", date(2026, 6, 15), "verkenning", "doorgaan"),
            _decision("2", "f2", "mc01", date(2026, 6, 20), "verkenning", "stoppen", "geen_tijd"),
        ],
        "programme_plans": [{"registration_id": "R-f1", "firm_id": "f1", "delivered_on": date(2026, 9, 30), "financeable": True}],
    })
    return connection


def consultant_installation(root: Path) -> tuple[Path, dict[str, dict]]:
    """A data folder with the demo accounts, a second consultant (mc02, key 'other_consultant') and every consultant's
    caseload file from `caseload_warehouse`; returns it and the logins by role."""
    data = root / "data"
    write_caseload_files(caseload_warehouse(), data / "operational")
    logins = demo_accounts(data)
    secret = new_totp_secret()
    with store(data / "accounts" / "accounts.sqlite") as connection:
        other = create_account(connection, {"name": "Co Consultant", "email": "co@mkblimburg.nl", "role": "consultant",
                                            "consultant": OTHER_CONSULTANT}, "een lang wachtwoord 42", secret)
    return data, {**logins, "other_consultant": {"id": other.id, "email": other.email, "password": "een lang wachtwoord 42",
                                                 "totp_secret": secret}}
