"""A respondent's form submission, for any declared source: validated, then durable in the landing zone before thanks.

The firm comes from the logged-in account, never from the form; the answer
becomes one file `landing/<source>/form_<id>.jsonl` (written atomically) that
the pipeline ingests like any other delivery. Its free text is scrubbed of
personal data (`core.scrub`) before the file is written, so no landing file
the platform writes holds an e-mail address, phone number or name typed in
a comment.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from core import reference
from core.contracts import EDGE_WHITESPACE, SubmissionError, validate_row
from core.jsonlines import json_lines
from core.landing import write_atomically
from core.scrub import scrub_text
from core.settings import paths
from core.sources import TIMESTAMP_FORMAT, source


def submit(name: str, answers: dict[str, object], identifier: str, landing: Path | None = None, now: datetime | None = None) -> dict:
    """Validate one submission of source `name` for the account's own unit and write it durably; returns the stored record.

    `identifier` is the unit's identifier from the account (the KvK number of the respondent's firm); answers that
    try to name a unit themselves are refused. Raises `SubmissionError` (Dutch lines naming field, value and rule).
    """
    declared = source(name)
    unit = declared.fields[declared.unit_field]
    if declared.unit_field in answers or unit.pseudonym in answers:
        raise SubmissionError([f"{unit.label}: komt uit uw account; u kunt niet voor een ander bedrijf invullen"])
    now = (now or datetime.now()).replace(microsecond=0)
    record = {declared.key: f"web-{uuid.uuid4().hex}", declared.submitted_at: now.strftime(TIMESTAMP_FORMAT)}
    if declared.period.calendar == "month":  # the wave is the month of the answer
        record[declared.period.field] = reference.wave_of(now.date())
    record = {**record, declared.unit_field: identifier, **answers}
    validate_row(name, record)
    record = _scrubbed(name, record)
    # One record, one line, whatever the free text holds: ingestion reads a line as a submission.
    write_atomically((landing or paths().landing) / name, f"form_{record[declared.key]}.jsonl", json_lines([record]))
    return record


def _scrubbed(name: str, record: dict) -> dict:
    """The record with personal data scrubbed from its free text; refused when a placeholder makes a text too long.

    A placeholder can be longer than what it replaces ('a@b.nl' -> '[e-mailadres]'), and ingestion checks the
    length again, so a text that grows past its limit is refused here, with the reason, before anything is written.
    """
    declared = source(name)
    scrubbed = dict(record)
    for column, field in declared.fields.items():
        if field.type == "free_text" and isinstance(record.get(column), str):
            scrubbed[column] = scrub_text(record[column].strip(EDGE_WHITESPACE))
            if field.max_length is not None and len(scrubbed[column]) > field.max_length:
                raise SubmissionError([(
                    f"{field.label}: is te lang (maximaal {field.max_length} tekens) nu e-mailadressen, telefoonnummers en "
                    "namen erin zijn vervangen door bijvoorbeeld [e-mailadres]; maak de tekst wat korter"
                )])
    return scrubbed
