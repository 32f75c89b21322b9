"""Free text the form accepts comes back from `raw` as it was accepted (issue 8: "an answer lost after 'Bedankt'").

The real path: `dashboards.cgc.submit_cgc` writes the landing file, `core.ingest.ingest_landing`
loads it into a real DuckDB file, and we read `raw.cgc_responses.free_text` back.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.contracts import (
    EDGE_WHITESPACE,
    FORBIDDEN_TEXT_CHARACTERS,
    SubmissionError,
    first_forbidden_character,
    forbidden_character_rule,
    validate_submission,
)
from core.ingest import ingest_bytes, ingest_landing
from core.jsonlines import LINE_BREAKS, json_line
from core.scrub import scrub_text
from core.survey import cgc_survey, landing_columns
from core.synthetic import _to_json_lines
from core.warehouse import connect as warehouse_connect
from dashboards.cgc import submit_cgc
from tests.conftest import TEST_KEY

KVK = "12345678"
NOW = datetime(2025, 3, 4, 10, 11, 12)  # a fixed moment in a known wave
PROFILE = {"sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown"}
LIMIT = cgc_survey().free_text.max_length
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# Characters and fragments that broke or could break a line, a parser or the scrubber.
SPECIAL = [
    "\u2028", "\u2029", "\u0085", "\u202e", "\u2066", "\r", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x07",
    "\x00", "\x7f", "\x9f", " ", "\u00a0", "\u3000", "\ufeff", "\u200b", "\u200f", "\ufffd", "\U0010ffff",
    "😀", "👩🏽‍🌾", "é", "ë", "ĳ", "€", '"', "\\", "\\u2028", "{}", ";",
    "jan@bakkerij.nl", "1234 5678", "KvK 12345678", "NL91ABNA0417164300", "06-12345678", "+32 470 12 34 56", "123456782",
    "1234 AB 12", "Dorpsstraat 5", "mevrouw Jansen", "Met vriendelijke groet, Jan", "ik ben Piet", "[naam]", "€ 12.500", "2026",
]
ALLOWED_SPECIAL = [s for s in SPECIAL if first_forbidden_character(s) is None]

any_text = st.lists(st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=20), st.sampled_from(SPECIAL)), max_size=12)
# Half the examples avoid refused characters, so the accepted path is driven as hard as the refused one.
clean_text = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=BIDI), max_size=20),
        st.sampled_from(ALLOWED_SPECIAL),
    ),
    max_size=12,
)
long_text = st.sampled_from(["é" * LIMIT, "x" * (LIMIT - 1) + "\u2028", "x" * (LIMIT + 1), " " * 5 + "y" * LIMIT + "\n"])
free_texts = st.one_of(any_text.map("".join), clean_text.map("".join), long_text)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """One DuckDB file for the module; every submission is its own landing folder, file and response_id."""
    root = tmp_path_factory.mktemp("free-text")
    with warehouse_connect(root / "warehouse.duckdb") as connection:
        yield root, connection, itertools.count()


def submit_and_ingest(warehouse, text: str) -> tuple[dict, Path]:
    """Submit through the form's function and ingest the landing folder; raises SubmissionError when refused."""
    root, connection, counter = warehouse
    landing = root / f"landing-{next(counter)}"
    try:
        record = submit_cgc({**PROFILE, "free_text": text}, KVK, landing=landing, now=NOW)
    except SubmissionError:
        assert not (landing / "cgc").exists() or not any((landing / "cgc").iterdir()), "a refused submission was written"
        raise
    (path,) = (landing / "cgc").iterdir()
    content = path.read_bytes()
    # One record is one line, whatever line splitter reads it (the reported bug: str.splitlines()).
    assert content.endswith(b"\n") and content.count(b"\n") == 1 and len(content.decode("utf-8").splitlines()) == 1
    (result,) = ingest_landing(connection, landing, TEST_KEY.encode())
    assert (result.rows_in, result.rows_raw, result.rows_quarantined, result.rows_duplicate) == (1, 1, 0, 0)
    return record, path


def stored_free_text(warehouse, record: dict, path: Path) -> str | None:
    _, connection, _ = warehouse
    quarantined = connection.execute("SELECT COUNT(*) FROM quarantine.cgc_responses WHERE file_name = ?", [path.name]).fetchone()[0]
    assert quarantined == 0
    rows = connection.execute("SELECT free_text FROM raw.cgc_responses WHERE response_id = ?", [record["response_id"]]).fetchall()
    assert len(rows) == 1
    return rows[0][0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=free_texts)
def test_accepted_free_text_comes_back_identical_from_raw(warehouse, text):
    """Whatever the form accepts is in `raw` exactly as accepted, after only the documented transformations.

    Those are: the contract strips whitespace from both ends and turns blank text into no text
    (`core.contracts.EDGE_WHITESPACE`; for accepted text this equals Python's `str.strip()`,
    because the whitespace it leaves out, U+000B/U+000C/U+001C..U+001F/U+0085, is refused), and
    personal data is scrubbed with `core.scrub.scrub_text` (e-mail addresses, phone numbers, IBANs,
    BSN and KvK numbers, addresses, names), by the form before it writes the landing file and
    again, changing nothing, by ingestion. So the landing file and the stored text must both
    equal `scrub_text(text.strip() or None)`.
    What the form refuses must be refused before anything is written, naming the field
    ("Toelichting") and the rule, with the character as a code point, never raw.
    """
    refused = first_forbidden_character(text)
    too_long = len(text.strip(EDGE_WHITESPACE)) > LIMIT
    try:
        record, path = submit_and_ingest(warehouse, text)
    except SubmissionError as error:
        event("refused")
        assert refused is not None or too_long, f"refused without a reason: {error.problems}"
        assert all(problem.startswith("Toelichting: ") for problem in error.problems)
        if too_long:
            assert error.problems == [f"Toelichting: is te lang (maximaal {LIMIT} tekens)"]
        else:
            assert error.problems == [f"Toelichting: {forbidden_character_rule(refused)}"]
            assert f"U+{ord(refused):04X}" in error.problems[0]
        assert not set(" ".join(error.problems)) & set(FORBIDDEN_TEXT_CHARACTERS)
        return
    event("accepted")
    assert refused is None and not too_long
    accepted = validate_submission(record).free_text
    expected = scrub_text(text.strip() or None)
    assert accepted == expected
    assert json.loads(path.read_text(encoding="utf-8"))["free_text"] == (expected or "")
    assert stored_free_text(warehouse, record, path) == expected


def test_the_reported_case_is_refused_before_bedankt(warehouse):
    """U+0085 (NEL, a C1 control character) is refused with a Dutch message; nothing is stored."""
    with pytest.raises(SubmissionError) as refused:
        submit_and_ingest(warehouse, "regel een\u2028regel twee\u2029en\u0085drie")
    assert refused.value.problems == [
        "Toelichting: bevat een teken dat niet is toegestaan (U+0085, een onzichtbaar stuurteken), haal het weg en verstuur opnieuw"
    ]


def test_the_reported_line_and_paragraph_separators_round_trip(warehouse):
    text = "regel een\u2028regel twee\u2029en drie"
    record, path = submit_and_ingest(warehouse, text)
    assert "\u2028" not in path.read_text(encoding="utf-8") and "\\u2028" in path.read_text(encoding="utf-8")
    assert stored_free_text(warehouse, record, path) == text


def test_the_synthetic_json_lines_use_the_same_writer(warehouse):
    _, connection, _ = warehouse
    record = {
        "response_id": "synthetic-ls-1", "submitted_at": "2025-03-04T10:11:12", "wave": "2025-03", "kvk_number": KVK,
        "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", "investment": "up",
        "staff_shortage": "none", "sentiment": "4", "challenges": "energie;regeldruk", "free_text": "een\u2028twee\u2029drie",
    }
    content = _to_json_lines(pl.DataFrame([record], schema={c: pl.Utf8 for c in landing_columns()}))
    assert len(content.decode("utf-8").splitlines()) == 1
    result = ingest_bytes(connection, content, "cgc_export_line_separators.jsonl", TEST_KEY.encode())
    assert (result.rows_raw, result.rows_quarantined) == (1, 0)
    stored = connection.execute("SELECT free_text FROM raw.cgc_responses WHERE response_id = 'synthetic-ls-1'").fetchone()[0]
    assert stored == "een\u2028twee\u2029drie"


def test_line_breaks_lists_every_character_splitlines_breaks_on():
    breaks = {chr(c) for c in range(0x110000) if len(f"a{chr(c)}b".splitlines()) > 1}
    assert set(LINE_BREAKS) == breaks
    every = "".join(breaks)
    line = json_line({"t": every})
    assert len(line.splitlines()) == 1 and json.loads(line)["t"] == every
