"""Names of the consultation themes that analysts edit: kept in the web app's store, so a new pipeline run keeps them.

A theme's key (`<proposal>/<its most counted word>`, `core/themes.py`) is
fixed once its releases are stored; its default name is that word. An
analyst or administrator may give it a short Dutch name; the name is public
content (no firm's data), every change is a staff action in the audit trail
with the old and new name, and an empty name restores the default.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from accounts import audit
from accounts.service import Account, require_role
from accounts.store import transaction

NAME = re.compile(r"^[0-9A-Za-zÀ-ÖØ-öø-ÿ][0-9A-Za-zÀ-ÖØ-öø-ÿ ,.'()/&-]*$")
MAX_LENGTH = 60
SCHEMA = """
CREATE TABLE IF NOT EXISTS theme_names (
    theme TEXT PRIMARY KEY,      -- <proposal>/<word>
    name TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
)"""


class ThemeNameError(ValueError):
    """A name that breaks a rule; the message is Dutch and names the field, the value's problem and the rule."""


def default_name(theme: str) -> str:
    """The word the key ends in, with a capital: 'p/loonkosten' -> 'Loonkosten'."""
    word = theme.rsplit("/", 1)[-1]
    return word[:1].upper() + word[1:]


def theme_names(connection: sqlite3.Connection) -> dict[str, str]:
    """Theme key -> the name an analyst gave it (themes without one are not listed)."""
    connection.execute(SCHEMA)
    return {row["theme"]: row["name"] for row in connection.execute("SELECT theme, name FROM theme_names")}


def check_name(name: str) -> str:
    """The name as stored (spaces trimmed), or `ThemeNameError` saying which rule it breaks."""
    name = " ".join(name.split())
    if len(name) > MAX_LENGTH:
        raise ThemeNameError(f"Naam van het thema: {len(name)} tekens is te lang; hoogstens {MAX_LENGTH} tekens.")
    if name and not NAME.match(name):
        raise ThemeNameError("Naam van het thema: gebruik alleen letters, cijfers, spaties en , . ' ( ) / & - en begin met een letter of cijfer.")
    return name


def rename_theme(connection: sqlite3.Connection, actor: Account, theme: str, name: str, now: datetime | None = None) -> str:
    """Give a theme a name (analysts and administrators); an empty name restores the default. Returns the name shown now."""
    require_role(actor, "analyst", "administrator")
    name, now = check_name(name), now or datetime.now()
    connection.execute(SCHEMA)
    with transaction(connection):
        row = connection.execute("SELECT name FROM theme_names WHERE theme = ?", [theme]).fetchone()
        old = row["name"] if row else default_name(theme)
        new = name or default_name(theme)
        if old == new:
            return new
        if name:
            connection.execute("INSERT INTO theme_names VALUES (?, ?, ?, ?) ON CONFLICT (theme) DO UPDATE SET name = excluded.name, "
                               "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                               [theme, name, now.isoformat(timespec="seconds"), actor.email])
        else:
            connection.execute("DELETE FROM theme_names WHERE theme = ?", [theme])
        audit.record(connection, actor.email, "theme_renamed", theme, {"old": old, "new": new}, now)
    return new
