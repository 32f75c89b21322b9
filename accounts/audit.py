"""The audit trail: append-only, each entry chained to the one before by an HMAC.

chain_n = HMAC(key, chain_{n-1} | at | actor | action | subject | details).
Triggers in the store refuse UPDATE and DELETE; whoever edits the file
around them cannot compute a valid chain without the accounts key, so
`verify_chain` finds the first entry that was changed, removed or inserted.
A sealed head (entry count and newest chain value, HMAC'd) shows when the
newest entries were cut off. Deleting the whole log and its head leaves an
empty log, which is only suspicious while accounts exist: an external,
write-once copy of the head (e.g. shipped to the central log) would close
that last gap.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from accounts.crypto import chain_key

GENESIS = "0" * 64


def _link(previous: str, at: str, actor: str, action: str, subject: str, details: str) -> str:
    message = "\x1f".join((previous, at, actor, action, subject, details)).encode()
    return hmac.new(chain_key(), message, "sha256").hexdigest()


def record(connection: sqlite3.Connection, actor: str, action: str, subject: str = "", details: dict | None = None,
           at: datetime | None = None) -> None:
    """Append one entry; call inside the transaction of the change it records (or alone)."""
    when = (at or datetime.now()).isoformat(timespec="seconds")
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True)
    row = connection.execute("SELECT chain FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    chain = _link(row["chain"] if row else GENESIS, when, actor, action, subject, text)
    connection.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details, chain) VALUES (?, ?, ?, ?, ?, ?)",
        [when, actor, action, subject, text, chain],
    )
    entries = connection.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    connection.execute("INSERT OR REPLACE INTO audit_head VALUES (1, ?, ?, ?)", [entries, chain, _seal(entries, chain)])


def _seal(entries: int, chain: str) -> str:
    return hmac.new(chain_key(), f"head\x1f{entries}\x1f{chain}".encode(), "sha256").hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    broken_at: int | None  # seq of the first entry whose chain does not hold
    tail_cut: bool = False  # the newest entries (or the sealed head) are gone

    @property
    def intact(self) -> bool:
        return self.broken_at is None and not self.tail_cut


def verify_chain(connection: sqlite3.Connection) -> ChainCheck:
    """Recompute every link; the first entry that does not match is where the log was tampered with."""
    previous, count = GENESIS, 0
    for row in connection.execute("SELECT * FROM audit_log ORDER BY seq"):
        count += 1
        expected = _link(previous, row["at"], row["actor"], row["action"], row["subject"], row["details"])
        if not hmac.compare_digest(expected, row["chain"]):
            return ChainCheck(count, row["seq"])
        previous = row["chain"]
    head = connection.execute("SELECT * FROM audit_head WHERE id = 1").fetchone()
    has_accounts = connection.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] > 0
    if head is None:
        return ChainCheck(count, None, tail_cut=count > 0 or has_accounts)
    sealed = hmac.compare_digest(_seal(head["entries"], head["chain"]), head["seal"])
    return ChainCheck(count, None, tail_cut=not sealed or head["entries"] != count or head["chain"] != previous)


def entries(connection: sqlite3.Connection, limit: int = 500) -> list[dict]:
    """The newest entries first."""
    rows = connection.execute("SELECT seq, at, actor, action, subject, details FROM audit_log ORDER BY seq DESC LIMIT ?", [limit])
    return [dict(row) for row in rows]
