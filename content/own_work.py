"""A respondent firm's own work on the platform, for its home page ('Mijn overzicht'): what it sent, and what is still open.

When a respondent sends a form, `note_own_answer` keeps one row on its own
firm (`firm_submissions`, keyed by the accounts' `firm_ref`): which source,
the answer's key, its period (wave, proposal or article) and when. This is
the firm's own operational data, like its profile (content/segments.py): no
release, nothing about other firms, and never read by the pipeline.

`own_answer` reads an answer back from the landing zone (the file the form
wrote, `landing/<source>/form_<key>.jsonl`) only for a key on the firm's own
list, and only when the file's KvK number is the account's own: an account
can never open another firm's answers, even with a key it guessed.

`open_tasks` is what waits for the firm: this wave's Gezondheidscheck when
it has not answered it yet, open proposals it has not estimated yet, and
open consultations it has not reacted to yet.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from accounts.service import Account, firm_kvk_number, require_role
from core import reference
from core.settings import paths
from core.sources import source

OWN_SOURCES = ("cgc", "dis", "consultation")


def note_own_answer(connection: sqlite3.Connection, actor: Account, source_name: str, record: dict, when: str | None = None) -> None:
    """Keep one stored answer of the respondent's own firm on its list (inside the caller's transaction)."""
    require_role(actor, "respondent")
    if source_name not in OWN_SOURCES:
        return
    declared = source(source_name)
    key, period = record.get(declared.key), record.get(declared.period.field)
    if not key or not period:
        return
    connection.execute(
        "INSERT OR IGNORE INTO firm_submissions VALUES (?, ?, ?, ?, ?, ?)",
        [actor.firm_ref, source_name, key, str(period), record.get("proposal"),
         when or datetime.now().isoformat(timespec="seconds")],
    )


@dataclass(frozen=True)
class OwnAnswer:
    source: str
    key: str
    period: str
    proposal_id: str | None
    submitted_at: datetime


def own_answers(connection: sqlite3.Connection, actor: Account, limit: int | None = None) -> list[OwnAnswer]:
    """The firm's own answers, newest first (any of the firm's accounts may have sent them)."""
    require_role(actor, "respondent")
    rows = connection.execute(
        "SELECT source, record_key, period, proposal_id, submitted_at FROM firm_submissions WHERE firm_ref = ? "
        "ORDER BY submitted_at DESC, record_key DESC" + (" LIMIT ?" if limit else ""),
        [actor.firm_ref, *([limit] if limit else [])],
    ).fetchall()
    return [OwnAnswer(r["source"], r["record_key"], r["period"], r["proposal_id"], datetime.fromisoformat(r["submitted_at"])) for r in rows]


def own_answer(connection: sqlite3.Connection, actor: Account, answer: OwnAnswer, landing: Path | None = None) -> dict | None:
    """The stored answer itself, from its landing file: only the firm's own, checked by its KvK number; None if gone."""
    listed = connection.execute("SELECT 1 FROM firm_submissions WHERE firm_ref = ? AND source = ? AND record_key = ?",
                                [actor.firm_ref, answer.source, answer.key]).fetchone()
    if listed is None:
        return None
    path = (landing or paths().landing) / answer.source / f"form_{answer.key}.jsonl"
    try:
        record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    except (OSError, IndexError, ValueError):  # removed under the retention rules, or unreadable: say it is not there
        return None
    declared = source(answer.source)
    if record.get(declared.unit_field) != firm_kvk_number(connection, actor) or record.get(declared.key) != answer.key:
        return None
    return record


@dataclass(frozen=True)
class Task:
    kind: str  # cgc, dis, consultation
    text: str
    page: str  # the page's url path
    proposal_id: str | None = None


def open_tasks(connection: sqlite3.Connection, actor: Account, today: date) -> list[Task]:
    """What waits for the firm: this wave's Gezondheidscheck, open proposals to estimate, open consultations to react to."""
    from content.proposals import open_proposals

    require_role(actor, "respondent")
    done = {(row["source"], row["period"]) for row in connection.execute(
        "SELECT source, period FROM firm_submissions WHERE firm_ref = ?", [actor.firm_ref])}
    done |= {(row["kind"], row["proposal_id"]) for row in connection.execute(
        "SELECT kind, proposal_id FROM firm_proposals WHERE firm_ref = ?", [actor.firm_ref])}
    tasks = []
    wave = reference.wave_of(today)
    if ("cgc", wave) not in done:
        tasks.append(Task("cgc", "Vul de Gezondheidscheck van deze maand in (ongeveer twee minuten).", "invullen"))
    for proposal in open_proposals(connection, today):
        if ("dis", proposal.id) not in done:
            tasks.append(Task("dis", f"Schat in wat '{proposal.title}' voor uw bedrijf betekent.", "dis-invullen", proposal.id))
        if proposal.articles and ("consultation", proposal.id) not in done:
            tasks.append(Task("consultation", f"Reageer op de onderdelen van '{proposal.title}'.", "consultatie", proposal.id))
    return tasks
