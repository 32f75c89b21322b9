"""Thematic working groups on a signalled problem: proposed by staff, the platform invites the matching firms itself.

A policymaker (analyst) or administrator proposes a group with a title, the
problem it is about (a theme or an alert, by name), a segment as for updates,
an agenda and optionally the date and time of its brainstorm session. The
platform invites the respondent accounts in the segment (an invitation on
their home page, an e-mail for those who asked for one); the sender never
learns who they are: the staff functions return rounded counts of invited and
accepting firms only (`content.segments.rounded_count`).

A respondent accepts or declines. On accepting it chooses whether the other
members see its firm's name and a contact (e-mail or phone); the group's page
lists only the members who chose that, and counts the others. Only members
see that page's member list. The brainstorm is a video meeting on an outside
service: its base address is configuration (`config/communication.yaml`,
`MKB_VIDEO_BASE_URL`), the room name is random per group, so only those who
were given the link find the room.

The audit trail has the proposal, the invitations (segment and rounded count,
no recipient) and every change of agenda or session. A respondent's own
answer is not in it: the trail is read by administrators, who may be the
sender, and an entry with the respondent's address would tell them who was
invited and joined.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accounts import audit
from accounts.mail import Mailer
from accounts.service import Account, require_role
from accounts.settings import AccountSettings, account_settings
from accounts.store import transaction
from content.segments import (
    SENDERS,
    RoundedCount,
    SegmentError,
    check_segment,
    communication_settings,
    field_rule,
    firms_in,
    matching_accounts,
    proposal_titles,
    rounded_count,
    segment_from_json,
    segment_json,
)
from content.updates import mail_opted_in, plain_text
from core.messages import dutch_problems

GROUPS_PAGE = "werkgroepen"
FIELD_NAMES = {"title": "titel", "topic": "signaal of thema", "description": "toelichting", "agenda": "agenda",
               "session_at": "datum en tijd van de brainstorm", "display_name": "naam van uw bedrijf", "contact": "contactgegevens"}
# A firm's name as members see it: letters, digits, spaces and & ' . , - ( ) /, starting with a letter or digit.
FIRM_NAME = re.compile(r"^[^\W_][\w &'\u2019.,()/-]*$")
CONTACT = re.compile(r"^[\w .@+()/-]*$")


class GroupProposal(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=5, max_length=120)
    topic: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=2000)
    agenda: str = Field(default="", max_length=5000)
    session_at: datetime | None = None

    @field_validator("title", "topic")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return plain_text(value, one_line=True)

    @field_validator("description", "agenda")
    @classmethod
    def _plain(cls, value: str) -> str:
        return plain_text(value, one_line=False)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agenda: str = Field(default="", max_length=5000)
    session_at: datetime | None = None

    @field_validator("agenda")
    @classmethod
    def _plain(cls, value: str) -> str:
        return plain_text(value, one_line=False)


class Membership(BaseModel):
    """What an accepting respondent shows the other members (only when `visible`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    visible: bool = False
    display_name: str = Field(default="", max_length=100)
    contact: str = Field(default="", max_length=100)

    @field_validator("display_name")
    @classmethod
    def _firm_name(cls, value: str) -> str:
        if value and not FIRM_NAME.match(plain_text(value, one_line=True)):
            raise ValueError("gebruik letters, cijfers, spaties en & ' . , - ( ) / en begin met een letter of cijfer")
        return value

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if value and not CONTACT.match(plain_text(value, one_line=True)):
            raise ValueError("vul een e-mailadres of telefoonnummer in (letters, cijfers, spaties en . @ + ( ) / -)")
        return value


def _check(model: type[BaseModel], data: dict, label: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SegmentError(dutch_problems(error, lambda f: FIELD_NAMES.get(f, f), _rule, model_label=label)) from None


def _rule(field: str, item: dict) -> str:
    if field == "session_at" and item["type"].startswith("datetime"):
        return "is geen geldige datum en tijd (JJJJ-MM-DD UU:MM)"
    return field_rule(field, item)


def video_link(room: str) -> str:
    """The brainstorm's address on the configured video service."""
    return f"{communication_settings().video_base_url.rstrip('/')}/{room}"


@dataclass(frozen=True)
class GroupSummary:
    """A working group as staff see it: its content, and only rounded counts of who was invited and who joined."""

    id: int
    title: str
    topic: str
    description: str
    segment: str  # in Dutch
    agenda: str
    session_at: datetime | None
    video_link: str
    invited: RoundedCount
    accepted: RoundedCount
    created_by: str


@dataclass(frozen=True)
class Invitation:
    """An open invitation, as the invited respondent sees it."""

    group_id: int
    title: str
    topic: str
    description: str
    session_at: datetime | None


@dataclass(frozen=True)
class VisibleMember:
    display_name: str
    contact: str


@dataclass(frozen=True)
class GroupPage:
    """A group as its member sees it: who of the members chose to be seen, how many others, agenda and brainstorm."""

    id: int
    title: str
    topic: str
    description: str
    agenda: str
    session_at: datetime | None
    video_link: str
    members: list[VisibleMember]
    other_members: int  # members who chose not to be seen (oneself included, when so)
    own: Membership


def _summary(connection: sqlite3.Connection, row: sqlite3.Row, titles: dict[str, str]) -> GroupSummary:
    def firms(condition: str) -> int:
        return connection.execute(
            f"SELECT COUNT(DISTINCT a.firm_ref) FROM working_group_members m JOIN accounts a ON a.id = m.account_id "
            f"WHERE m.group_id = ? {condition}", [row["id"]]).fetchone()[0]

    return GroupSummary(row["id"], row["title"], row["topic"], row["description"], segment_from_json(row["segment"]).describe(titles),
                        row["agenda"], _when(row["session_at"]), video_link(row["room"]), rounded_count(firms("")),
                        rounded_count(firms("AND m.status = 'accepted'")), row["created_by"])


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _invitation_text(name: str, group: GroupProposal, public_url: str, link: str) -> str:
    when = f"\nDe eerste online brainstorm is op {group.session_at:%d-%m-%Y om %H:%M} uur.\n" if group.session_at else ""
    return (
        f"Beste {name},\n\n"
        f"U bent uitgenodigd voor de werkgroep '{group.title}' over {group.topic}.\n"
        f"{group.description}\n{when}\n"
        f"Doet u mee? Log in op {public_url}/{GROUPS_PAGE} en kies 'Ik doe mee' of 'Nee, bedankt'. "
        "U kiest zelf of andere leden de naam van uw bedrijf zien.\n\n"
        "Wilt u deze berichten niet meer per e-mail krijgen? Klik dan op deze link (u hoeft niet in te loggen):\n"
        f"{link}\n"
    )


def propose_group(connection: sqlite3.Connection, actor: Account, data: dict, mailer: Mailer, settings: AccountSettings | None = None,
                  now: datetime | None = None) -> GroupSummary:
    """Propose a working group and invite the firms in its segment (analysts and administrators only).

    Raises `SegmentError` (Dutch lines naming the field) for a bad field or segment, or a session in the past.
    """
    require_role(actor, *SENDERS)
    settings, now = settings or account_settings(), (now or datetime.now()).replace(microsecond=0)
    problems = []
    try:
        group = _check(GroupProposal, {k: v for k, v in data.items() if k != "segment"}, "werkgroep")
    except SegmentError as error:
        group, problems = None, error.problems
    try:
        segment = check_segment(connection, data.get("segment") or {})
    except SegmentError as error:
        problems += error.problems
    if group is not None and group.session_at is not None and group.session_at < now:
        problems.append(f"{FIELD_NAMES['session_at']}: ligt in het verleden; kies een moment na nu")
    if problems:
        raise SegmentError(problems)
    with transaction(connection):
        recipients = matching_accounts(connection, segment)
        group_id = connection.execute(
            "INSERT INTO working_groups (title, topic, description, segment, agenda, session_at, room, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [group.title, group.topic, group.description, segment_json(segment), group.agenda,
             group.session_at.isoformat(timespec="minutes") if group.session_at else None, f"mkbvm-werkgroep-{secrets.token_urlsafe(12)}",
             now.isoformat(), actor.email],
        ).lastrowid
        connection.executemany("INSERT INTO working_group_members (group_id, account_id, status, invited_at) VALUES (?, ?, 'invited', ?)",
                               [(group_id, r.account_id, now.isoformat()) for r in recipients])
        invited = rounded_count(firms_in(recipients))
        audit.record(connection, actor.email, "working_group_proposed", f"werkgroep-{group_id}",
                     {"title": group.title, "topic": group.topic, "session_at": group.session_at.isoformat() if group.session_at else None}, now)
        audit.record(connection, actor.email, "working_group_invitations_sent", f"werkgroep-{group_id}",
                     {"segment": segment.model_dump(exclude_none=True), "invited": invited.label}, now)
    mail_opted_in(connection, [r.account_id for r in recipients], f"Uitnodiging werkgroep: {group.title}",
                  lambda name, link: _invitation_text(name, group, settings.public_url(), link), mailer, settings, now)
    return _summary(connection, connection.execute("SELECT * FROM working_groups WHERE id = ?", [group_id]).fetchone(), proposal_titles(connection))


def group_summaries(connection: sqlite3.Connection, actor: Account) -> list[GroupSummary]:
    """Every working group, newest first, with rounded counts (staff only)."""
    require_role(actor, *SENDERS)
    titles = proposal_titles(connection)
    return [_summary(connection, row, titles) for row in connection.execute("SELECT * FROM working_groups ORDER BY id DESC").fetchall()]


def plan_group(connection: sqlite3.Connection, actor: Account, group_id: int, data: dict, now: datetime | None = None) -> GroupSummary:
    """Change a group's agenda or brainstorm moment (staff only); the audit trail keeps the old and new values."""
    require_role(actor, *SENDERS)
    plan, now = _check(Plan, data, "werkgroep"), (now or datetime.now()).replace(microsecond=0)
    session = plan.session_at.isoformat(timespec="minutes") if plan.session_at else None
    with transaction(connection):
        row = connection.execute("SELECT * FROM working_groups WHERE id = ?", [group_id]).fetchone()
        if row is None:
            raise SegmentError(["werkgroep: bestaat niet"])
        changes = {field: [row[field], new] for field, new in (("agenda", plan.agenda), ("session_at", session)) if row[field] != new}
        if changes:
            connection.execute("UPDATE working_groups SET agenda = ?, session_at = ? WHERE id = ?", [plan.agenda, session, group_id])
            audit.record(connection, actor.email, "working_group_planned", f"werkgroep-{group_id}", {"changes": changes}, now)
    return _summary(connection, connection.execute("SELECT * FROM working_groups WHERE id = ?", [group_id]).fetchone(), proposal_titles(connection))


# --------------------------------------------------------------------------- the respondent's side


def invitations_for(connection: sqlite3.Connection, actor: Account) -> list[Invitation]:
    """The respondent's own open invitations, newest first."""
    require_role(actor, "respondent")
    rows = connection.execute(
        "SELECT g.* FROM working_groups g JOIN working_group_members m ON m.group_id = g.id "
        "WHERE m.account_id = ? AND m.status = 'invited' ORDER BY g.id DESC", [actor.id],
    )
    return [Invitation(row["id"], row["title"], row["topic"], row["description"], _when(row["session_at"])) for row in rows]


def answer_invitation(connection: sqlite3.Connection, actor: Account, group_id: int, accept: bool, membership: dict | None = None,
                      now: datetime | None = None) -> None:
    """Accept (with what other members may see) or decline an invitation of one's own; a member may change or leave later.

    Only an account that was invited can answer: nobody joins a group by its number.
    """
    require_role(actor, "respondent")
    chosen = _check(Membership, membership or {}, "deelname") if accept else Membership()
    if chosen.visible and not chosen.display_name:
        raise SegmentError([f"{FIELD_NAMES['display_name']}: vul de naam in die andere leden zien, of kies dat u niet zichtbaar bent"])
    now = (now or datetime.now()).replace(microsecond=0)
    with transaction(connection):
        changed = connection.execute(
            "UPDATE working_group_members SET status = ?, visible = ?, display_name = ?, contact = ?, answered_at = ? "
            "WHERE group_id = ? AND account_id = ?",
            [("accepted" if accept else "declined"), int(chosen.visible), chosen.display_name if chosen.visible else None,
             chosen.contact if chosen.visible else None, now.isoformat(), group_id, actor.id],
        ).rowcount
    if not changed:
        raise SegmentError(["werkgroep: u bent voor deze werkgroep niet uitgenodigd"])


def my_groups(connection: sqlite3.Connection, actor: Account) -> list[GroupPage]:
    """The groups the respondent joined, each with its visible members, the number of other members, agenda and brainstorm."""
    require_role(actor, "respondent")
    pages = []
    for row in connection.execute("SELECT g.*, m.visible AS own_visible, m.display_name AS own_name, m.contact AS own_contact "
                                  "FROM working_groups g JOIN working_group_members m ON m.group_id = g.id "
                                  "WHERE m.account_id = ? AND m.status = 'accepted' ORDER BY g.id DESC", [actor.id]).fetchall():
        members = connection.execute("SELECT visible, display_name, contact FROM working_group_members WHERE group_id = ? AND status = 'accepted' "
                                     "ORDER BY display_name", [row["id"]]).fetchall()
        visible = [VisibleMember(m["display_name"], m["contact"] or "") for m in members if m["visible"]]
        own = Membership(visible=bool(row["own_visible"]), display_name=row["own_name"] or "", contact=row["own_contact"] or "")
        pages.append(GroupPage(row["id"], row["title"], row["topic"], row["description"], row["agenda"], _when(row["session_at"]),
                               video_link(row["room"]), visible, len(members) - len(visible), own))
    return pages
