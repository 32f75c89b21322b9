"""The policy pipeline: proposals (wetsvoorstellen and beleidsmaatregelen) that administrators enter and edit.

A proposal is public content, not data about firms: it needs no noise. It
lives in the web app's own SQLite store (beside the accounts, so a change and
its audit entry are one transaction) and every change is in the audit trail
with who made it and each field's old and new value. Respondents simulate its
impact (DIS) while its simulation window is open; the pipeline reads the list
to know which proposals exist and when each one closes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accounts import audit
from accounts.service import Account, require_role
from accounts.store import transaction
from core.messages import dutch_problems

PHASES: dict[str, str] = {
    "concept": "Concept",
    "internetconsultatie": "Internetconsultatie",
    "tweede_kamer": "Tweede Kamer",
    "eerste_kamer": "Eerste Kamer",
    "aangenomen": "Aangenomen",
    "verworpen": "Verworpen",
    "ingetrokken": "Ingetrokken",
}
KINDS = {"wetsvoorstel": "Wetsvoorstel", "beleidsmaatregel": "Beleidsmaatregel"}
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Article(_Strict):
    """An article or section of a proposal that respondents can react to, with at most one question of its own."""

    number: str = Field(min_length=1, max_length=40, description="e.g. 'Artikel 2' or '§ 3.1'")
    title: str = Field(min_length=2, max_length=200)
    summary: str = Field(default="", max_length=2000, description="what the article does, in plain language")
    question: str = Field(default="", max_length=300, description="a question about this article for the consultation")
    options: str = Field(default="", max_length=500, description="its answer options, separated by ';' (empty: a short text answer)")

    @model_validator(mode="after")
    def _options_need_a_question(self) -> Article:
        if self.options.strip() and not self.question.strip():
            raise ValueError(f"{self.number}: antwoordopties zonder vraag; vul ook de vraag in")
        choices = self.choices()
        if len(choices) != len(set(choices)):
            raise ValueError(f"{self.number}: twee antwoordopties zijn gelijk")
        return self

    def choices(self) -> list[str]:
        return [option.strip() for option in self.options.split(";") if option.strip()]

    @property
    def slug(self) -> str:
        return slug(self.number) or "onderdeel"


def article_code(proposal_id: str, article: Article) -> str:
    """The public code of an article: '<proposal>/<article>' (what a consultation reaction is about).

    >>> article_code("minimumloon-2027", Article(number="Artikel I", title="Hoogte"))
    'minimumloon-2027/artikel-i'
    """
    return f"{proposal_id}/{article.slug}"


class Proposal(_Strict):
    """A proposal as an administrator enters it."""

    id: str = Field(pattern=SLUG, min_length=3, max_length=32)  # it becomes a release period, part of file names
    kind: Literal["wetsvoorstel", "beleidsmaatregel"] = "wetsvoorstel"
    title: str = Field(min_length=5, max_length=200)
    summary: str = Field(min_length=20, max_length=3000, description="core points and intended impact, B1 Dutch")
    ministry: str = Field(min_length=2, max_length=200, description="the ministry or other source")
    link: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s]+$")
    phase: Literal["concept", "internetconsultatie", "tweede_kamer", "eerste_kamer", "aangenomen", "verworpen", "ingetrokken"]
    phase_dates: dict[str, date] = Field(default_factory=dict, description="phase -> the day it began")
    simulation_opens: date
    simulation_closes: date
    articles: list[Article] = Field(default_factory=list)

    @field_validator("phase_dates")
    @classmethod
    def _known_phases(cls, dates: dict[str, date]) -> dict[str, date]:
        unknown = sorted(set(dates) - set(PHASES))
        if unknown:
            raise ValueError(f"onbekende fase(n): {', '.join(unknown)} (kies uit: {', '.join(PHASES)})")
        return dates

    @model_validator(mode="after")
    def _window(self) -> Proposal:
        if self.simulation_closes < self.simulation_opens:
            raise ValueError("de simulatie sluit voordat hij opent: kies een einddatum op of na de begindatum")
        numbers = [article.slug for article in self.articles]
        if len(numbers) != len(set(numbers)):
            raise ValueError("twee artikelen hebben hetzelfde nummer")
        return self

    def is_open(self, day: date) -> bool:
        return self.simulation_opens <= day <= self.simulation_closes

    def is_closed(self, day: date) -> bool:
        """Closed for simulations: its figures may be released."""
        return day > self.simulation_closes

    @property
    def phase_name(self) -> str:
        return PHASES[self.phase]


FIELD_NAMES = {
    "id": "korte naam", "kind": "soort", "title": "titel", "summary": "uitleg", "ministry": "ministerie of bron", "link": "link",
    "phase": "fase", "phase_dates": "data van de fasen", "simulation_opens": "simulatie open vanaf",
    "simulation_closes": "simulatie open tot en met", "articles": "artikelen", "number": "nummer", "title_": "titel",
}


class ProposalError(ValueError):
    """A proposal breaks a rule; `problems` holds Dutch lines naming the field and the rule."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _rule(field: str, item: dict) -> str:
    kind = item["type"]
    if kind == "missing":
        return "ontbreekt"
    if kind == "string_too_short":
        return f"is te kort (minstens {item['ctx']['min_length']} tekens)"
    if kind == "string_too_long":
        return f"is te lang (hoogstens {item['ctx']['max_length']} tekens)"
    if kind == "string_pattern_mismatch":
        return "gebruik kleine letters, cijfers en streepjes (bijvoorbeeld minimumloon-2027)" if field == "id" else "moet beginnen met https://"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return "is geen geldige datum (JJJJ-MM-DD)"
    if kind == "literal_error":
        return f"kies uit: {str(item.get('ctx', {}).get('expected', '')).replace(' or ', ', ')}"
    if kind == "value_error":
        return str(item.get("msg", "")).removeprefix("Value error, ")
    return "heeft een ongeldige waarde"


def check(data: dict) -> Proposal:
    """A valid proposal, or `ProposalError` naming each field and rule in Dutch."""
    try:
        return Proposal.model_validate(data)
    except ValidationError as error:
        raise ProposalError(dutch_problems(error, lambda f: FIELD_NAMES.get(f, f), _rule, model_label="voorstel")) from None


def _proposal(row: sqlite3.Row) -> Proposal:
    return Proposal.model_validate(json.loads(row["content"]))


def list_proposals(connection: sqlite3.Connection) -> list[Proposal]:
    """Every proposal, the soonest to close first."""
    rows = connection.execute("SELECT content FROM proposals ORDER BY simulation_closes, id").fetchall()
    return [_proposal(row) for row in rows]


def get_proposal(connection: sqlite3.Connection, proposal_id: str) -> Proposal | None:
    row = connection.execute("SELECT content FROM proposals WHERE id = ?", [proposal_id]).fetchone()
    return _proposal(row) if row else None


def _changes(old: Proposal | None, new: Proposal) -> dict[str, list]:
    """Field -> [old value, new value] for every field that changed (all fields for a new proposal)."""
    before = json.loads(old.model_dump_json()) if old else {}
    after = json.loads(new.model_dump_json())
    return {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}


def save_proposal(connection: sqlite3.Connection, actor: Account, data: dict, now: datetime | None = None) -> Proposal:
    """Add a proposal or change one (administrators only); the audit trail gets each field's old and new value."""
    require_role(actor, "administrator")
    proposal, now = check(data), now or datetime.now()
    with transaction(connection):
        old = get_proposal(connection, proposal.id)
        changes = _changes(old, proposal)
        if not changes:
            return proposal
        connection.execute(
            "INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET content = excluded.content, "
            "simulation_opens = excluded.simulation_opens, simulation_closes = excluded.simulation_closes, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            [proposal.id, proposal.model_dump_json(), proposal.simulation_opens.isoformat(), proposal.simulation_closes.isoformat(),
             now.isoformat(timespec="seconds"), actor.email],
        )
        audit.record(connection, actor.email, "proposal_changed" if old else "proposal_added", proposal.id, {"changes": changes}, now)
    return proposal


def open_proposals(connection: sqlite3.Connection, day: date) -> list[Proposal]:
    """Proposals respondents can simulate today."""
    return [proposal for proposal in list_proposals(connection) if proposal.is_open(day)]


def proposal_codes() -> list[str]:
    """The ids of every proposal in this installation's store: the public domain of a DIS answer's proposal.

    Read fresh on every call (administrators add proposals at any moment).
    """
    from accounts.store import store

    with store() as connection:
        return [proposal.id for proposal in list_proposals(connection)]


def closed_proposals(today: date) -> list[str]:
    """Proposals whose simulation window has ended: their figures may be released."""
    from accounts.store import store

    with store() as connection:
        return [proposal.id for proposal in list_proposals(connection) if proposal.is_closed(today)]


def open_proposal_codes(today: date) -> list[str]:
    from accounts.store import store

    with store() as connection:
        return [proposal.id for proposal in open_proposals(connection, today)]


def article_codes() -> list[str]:
    """Every article of every proposal as '<proposal>/<article>': the public domain of a consultation reaction's article."""
    from accounts.store import store

    with store() as connection:
        return [article_code(p.id, a) for p in list_proposals(connection) for a in p.articles]


def article_titles() -> dict[str, str]:
    from accounts.store import store

    with store() as connection:
        return {article_code(p.id, a): f"{a.number}: {a.title}" for p in list_proposals(connection) for a in p.articles}


def proposal_titles() -> dict[str, str]:
    from accounts.store import store

    with store() as connection:
        return {proposal.id: proposal.title for proposal in list_proposals(connection)}


def slug(title: str) -> str:
    """A short name made from a title.

    >>> slug("Minimumloon 2027!")
    'minimumloon-2027'
    """
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:32].strip("-")
