"""What must not be readable on disk, read from a warehouse: free-text answers, pseudonyms, amounts."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path

from core.warehouse import connect


def secrets_of(warehouse: Path) -> dict[str, list[bytes]]:
    """What must not be readable on disk: free-text answers, pseudonyms, amounts (as text and as DuckDB stores them)."""
    with connect(warehouse, read_only=True) as connection:
        texts = [t for (t,) in connection.execute(
            "SELECT DISTINCT free_text FROM raw.cgc_responses WHERE length(free_text) >= 20 LIMIT 30").fetchall()]
        firms = [f for (f,) in connection.execute("SELECT DISTINCT firm_id FROM raw.cgc_responses LIMIT 30").fetchall()]
        persons = [p for (p,) in connection.execute("SELECT DISTINCT person_id FROM raw.debt_signals LIMIT 30").fetchall()]
        amounts = [a for (a,) in connection.execute(
            "SELECT DISTINCT current_amount FROM raw.debt_signals WHERE current_amount > 1000 LIMIT 30").fetchall()]
    assert len(texts) >= 10 and len(firms) >= 10 and len(persons) >= 10 and len(amounts) >= 10  # the scan has something to find
    cents = [int(Decimal(a) * 100) for a in amounts]  # DECIMAL(18,2) is stored as a 64-bit number of cents
    return {
        "answer text": [t.encode() for t in texts],
        "pseudonym": [p.encode() for p in firms + persons],
        "amount": [str(a).encode() for a in amounts] + [struct.pack("<q", c) for c in cents],
    }


def readable_in(path: Path, secrets: dict[str, list[bytes]]) -> list[str]:
    """The kinds of secret whose bytes appear in the file at `path`."""
    content = path.read_bytes()
    return [kind for kind, values in secrets.items() if any(value in content for value in values)]
