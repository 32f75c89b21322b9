"""The demo's policy pipeline: the five synthetic proposals (`core.synthetic_dis`), entered as a demo administrator would."""

from __future__ import annotations

import sqlite3
from datetime import date

from accounts.service import Account
from content.proposals import Proposal, get_proposal, save_proposal
from core.synthetic_dis import demo_proposals

DEMO_EDITOR = Account(0, "demo", "Demo", "administrator", None, True, True)


def ensure_demo_proposals(connection: sqlite3.Connection, today: date) -> list[Proposal]:
    """Add the demo proposals that are not in the store yet (dates relative to `today`); existing ones stay as they are."""
    saved = []
    for data in demo_proposals(today):
        existing = get_proposal(connection, data["id"])
        saved.append(existing or save_proposal(connection, DEMO_EDITOR, data))
    return saved
