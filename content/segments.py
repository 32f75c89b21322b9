"""Segments of respondents for updates and working groups, and counts that never single out a firm.

Where a respondent's segment comes from. The web app has no pseudonym key and
reads no warehouse table (README "Security"), so it cannot look a firm up in
`raw` or `marts`. Instead, each time a respondent sends a form, the page notes
on its own account's firm what the firm entered there (`note_submission`):
its profile as last entered (sector, size class, province) and which proposals
it simulated (DIS) or reacted to (consultation). This is operational data of
the firm's own account, kept beside it in the account store under the same
keyed firm reference (`firm_ref`, accounts key), not a release and not read
by the pipeline. A firm that never sent a form through the web app (a bulk
delivery) has no profile: it is only in the segment "all respondents".

What a sender learns. The recipients of a message are fixed when it is sent
and kept in the store, but the sender's functions return only a
`RoundedCount`: the number of firms rounded to a multiple of 5 and, below 10,
only "minder dan 10" (`config/communication.yaml`). Counts are of firms, the
privacy unit, not of accounts. No name, e-mail address, account id, KvK number
or firm reference of a recipient ever leaves this module's internal
`matching_accounts`. Rounding does not make counts of overlapping segments
useless for someone who compares very many of them near a rounding boundary;
what that could reveal is that a firm with some profile uses the platform,
never which firm.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accounts.service import Account, require_role
from accounts.store import transaction
from content.own_work import note_own_answer
from core import reference
from core.messages import dutch_problems
from core.settings import CONFIG_DIR

SENDERS = ("analyst", "administrator")  # policymakers (analysts) and administrators write updates and propose groups
VIDEO_BASE_URL_ENV = "MKB_VIDEO_BASE_URL"
COMMUNICATION_CONFIG_ENV = "MKB_COMMUNICATION_CONFIG"
PARTICIPATION = {"dis": "simulated", "consultation": "reacted"}  # source -> the segment criterion it feeds


class CommunicationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count_threshold: int = Field(ge=2, le=1000)
    count_rounding: int = Field(ge=1, le=1000)
    video_base_url: str = Field(pattern=r"^https://[^\s/?#]+(/[^\s?#]*)?$")


@cache
def _settings_at(path: str) -> CommunicationSettings:
    with open(path, encoding="utf-8") as handle:
        return CommunicationSettings.model_validate(yaml.safe_load(handle))


def communication_settings() -> CommunicationSettings:
    """`config/communication.yaml` (or MKB_COMMUNICATION_CONFIG), with MKB_VIDEO_BASE_URL overriding the video address."""
    settings = _settings_at(os.environ.get(COMMUNICATION_CONFIG_ENV) or str(CONFIG_DIR / "communication.yaml"))
    override = os.environ.get(VIDEO_BASE_URL_ENV)
    if override:
        settings = CommunicationSettings.model_validate({**settings.model_dump(), "video_base_url": override})
    return settings


@dataclass(frozen=True)
class RoundedCount:
    """How many firms a message reached, as its sender may see it: rounded, or only 'fewer than the threshold'.

    `shown` is the rounded number (None when suppressed); the exact number is not kept here.
    """

    shown: int | None
    threshold: int

    @property
    def label(self) -> str:
        return f"minder dan {self.threshold}" if self.shown is None else f"ongeveer {self.shown}"


def rounded_count(firms: int, settings: CommunicationSettings | None = None) -> RoundedCount:
    """The count a sender sees: below the threshold only 'minder dan ...', else rounded to the nearest multiple of the step.

    >>> [rounded_count(n, CommunicationSettings(count_threshold=10, count_rounding=5, video_base_url="https://x.nl")).label
    ...  for n in (0, 1, 9, 10, 12, 13, 101)]
    ['minder dan 10', 'minder dan 10', 'minder dan 10', 'ongeveer 10', 'ongeveer 10', 'ongeveer 15', 'ongeveer 100']
    """
    settings = settings or communication_settings()
    if firms < settings.count_threshold:
        return RoundedCount(None, settings.count_threshold)
    step = settings.count_rounding
    shown = max(settings.count_threshold, (firms + step // 2) // step * step)  # round half up, never below the threshold
    return RoundedCount(shown, settings.count_threshold)


# --------------------------------------------------------------------------- segments


class SegmentError(ValueError):
    """A message or its segment breaks a rule; `problems` holds Dutch lines naming the field."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


SEGMENT_FIELDS = {"sector": "sector", "province": "provincie", "size_class": "bedrijfsgrootte",
                  "simulated": "heeft dit voorstel ingeschat", "reacted": "heeft gereageerd op dit voorstel"}


class Segment(BaseModel):
    """Which respondents a message is for: every criterion given must hold (all empty: every respondent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sector: str | None = None  # SBI section code
    province: str | None = None  # province code (PVxx)
    size_class: str | None = None  # '0-1', '2-9', ...
    simulated: str | None = None  # a proposal id: firms that sent an impact estimate (DIS) for it
    reacted: str | None = None  # a proposal id: firms that reacted to its consultation

    @field_validator("sector", "province", "size_class", "simulated", "reacted", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("sector")
    @classmethod
    def _known_sector(cls, value: str | None) -> str | None:
        if value is not None and value not in reference.sector_codes():
            raise ValueError("is geen bekende sector (kies een SBI-sectie uit de lijst)")
        return value

    @field_validator("province")
    @classmethod
    def _known_province(cls, value: str | None) -> str | None:
        if value is not None and value not in reference.province_codes():
            raise ValueError("is geen bekende provincie (kies er een uit de lijst)")
        return value

    @field_validator("size_class")
    @classmethod
    def _known_size(cls, value: str | None) -> str | None:
        if value is not None and value not in reference.size_class_codes():
            raise ValueError(f"is geen bekende grootteklasse (kies uit {', '.join(reference.size_class_codes())})")
        return value

    def describe(self, proposal_titles: dict[str, str] | None = None) -> str:
        """In plain Dutch, for the sender's list: 'Alle ondernemers' or 'sector I – ..., provincie Limburg'."""
        titles = proposal_titles or {}
        parts = []
        if self.sector:
            parts.append(f"sector {self.sector} – {reference.sector_names().get(self.sector, '')}")
        if self.province:
            parts.append(f"provincie {reference.province_names().get(self.province, self.province)}")
        if self.size_class:
            parts.append(f"{self.size_class} werkzame personen")
        if self.simulated:
            parts.append(f"schatte de impact in van '{titles.get(self.simulated, self.simulated)}'")
        if self.reacted:
            parts.append(f"reageerde op '{titles.get(self.reacted, self.reacted)}'")
        return ", ".join(parts) if parts else "Alle ondernemers"


def field_rule(field: str, item: dict) -> str:
    if item["type"] == "missing":
        return "ontbreekt"
    if item["type"] == "string_too_short":
        return f"is te kort (minstens {item['ctx']['min_length']} tekens)"
    if item["type"] == "string_too_long":
        return f"is te lang (hoogstens {item['ctx']['max_length']} tekens)"
    if item["type"] == "extra_forbidden":
        return "is een onbekend veld"
    if item["type"] == "value_error":
        return str(item.get("msg", "")).removeprefix("Value error, ")
    return "heeft een ongeldige waarde"


def check_segment(connection: sqlite3.Connection, data: dict | Segment) -> Segment:
    """A valid segment (proposals must exist in the store), or `SegmentError` naming each field in Dutch."""
    if isinstance(data, Segment):
        segment = data
    else:
        try:
            segment = Segment.model_validate(data)
        except ValidationError as error:
            raise SegmentError(dutch_problems(error, lambda f: SEGMENT_FIELDS.get(f, f), field_rule, model_label="doelgroep")) from None
    known = {row["id"] for row in connection.execute("SELECT id FROM proposals")}
    problems = [f"{SEGMENT_FIELDS[name]}: is geen bekend voorstel" for name in ("simulated", "reacted")
                if getattr(segment, name) is not None and getattr(segment, name) not in known]
    if problems:
        raise SegmentError(problems)
    return segment


def segment_json(segment: Segment) -> str:
    return segment.model_dump_json(exclude_none=True)


def segment_from_json(text: str) -> Segment:
    return Segment.model_validate(json.loads(text))


@dataclass(frozen=True)
class _Recipient:
    """Internal only: never returned to a sender."""

    account_id: int
    firm_ref: str


def matching_accounts(connection: sqlite3.Connection, segment: Segment) -> list[_Recipient]:
    """The active respondent accounts whose firm is in the segment (internal: for delivering, never for showing).

    A profile criterion needs the firm's own last-entered profile to have that value; a proposal criterion needs
    the firm to have sent that kind of answer for that proposal (any of the firm's accounts may have sent it).
    """
    conditions, parameters = ["a.role = 'respondent'", "a.active = 1", "a.firm_ref IS NOT NULL"], []
    for column in ("sector", "province", "size_class"):
        value = getattr(segment, column)
        if value is not None:
            conditions.append(f"p.{column} = ?")
            parameters.append(value)
    for kind, criterion in PARTICIPATION.items():
        proposal = getattr(segment, criterion)
        if proposal is not None:
            conditions.append("EXISTS (SELECT 1 FROM firm_proposals f WHERE f.firm_ref = a.firm_ref AND f.proposal_id = ? AND f.kind = ?)")
            parameters += [proposal, kind]
    rows = connection.execute(
        f"SELECT a.id, a.firm_ref FROM accounts a LEFT JOIN firm_profiles p ON p.firm_ref = a.firm_ref WHERE {' AND '.join(conditions)} "
        "ORDER BY a.id", parameters,
    )
    return [_Recipient(row["id"], row["firm_ref"]) for row in rows]


def firms_in(recipients: list[_Recipient]) -> int:
    """How many firms (not accounts: a firm may have several) the recipients are."""
    return len({recipient.firm_ref for recipient in recipients})


def segment_size(connection: sqlite3.Connection, actor: Account, data: dict | Segment) -> RoundedCount:
    """How many firms a message to this segment would reach now, as the sender may see it (rounded or suppressed)."""
    require_role(actor, *SENDERS)
    return rounded_count(firms_in(matching_accounts(connection, check_segment(connection, data))))


# --------------------------------------------------------------------------- what a firm entered about itself


def note_submission(connection: sqlite3.Connection, actor: Account, source_name: str, record: dict, now: datetime | None = None) -> None:
    """After a respondent's form was stored: keep its firm's profile (as entered now) and the proposal it answered for.

    Only the respondent's own firm (from the account), only what the form itself holds; an empty profile field keeps
    the value entered before.
    """
    require_role(actor, "respondent")
    when = (now or datetime.now()).isoformat(timespec="seconds")
    profile = {column: record.get(column) or None for column in ("sector", "size_class", "province")}
    with transaction(connection):
        if any(profile.values()):
            connection.execute(
                "INSERT INTO firm_profiles VALUES (?, ?, ?, ?, ?) ON CONFLICT (firm_ref) DO UPDATE SET "
                "sector = COALESCE(excluded.sector, sector), size_class = COALESCE(excluded.size_class, size_class), "
                "province = COALESCE(excluded.province, province), updated_at = excluded.updated_at",
                [actor.firm_ref, profile["sector"], profile["size_class"], profile["province"], when],
            )
        if source_name in PARTICIPATION and record.get("proposal"):
            connection.execute("INSERT OR IGNORE INTO firm_proposals VALUES (?, ?, ?, ?)", [actor.firm_ref, record["proposal"], source_name, when])
        note_own_answer(connection, actor, source_name, record, when)  # the firm's own list on 'Mijn overzicht' (content/own_work.py)


def proposal_titles(connection: sqlite3.Connection) -> dict[str, str]:
    """Proposal id -> title (public content), to describe a segment."""
    return {row["id"]: json.loads(row["content"]).get("title", row["id"]) for row in connection.execute("SELECT id, content FROM proposals")}
