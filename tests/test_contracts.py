"""The pydantic contract (single submissions) and the vectorised checks (bulk files) agree."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.contracts import (
    EDGE_WHITESPACE,
    FORBIDDEN_TEXT_CHARACTERS,
    SubmissionError,
    field_label,
    invalid_fields,
    validate_submission,
)
from core.survey import landing_columns
from core.validation import normalise, with_reasons

VALID = {
    "response_id": "r-1", "submitted_at": "2025-03-04T10:11:12", "wave": "2025-03", "kvk_number": "12345678",
    "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", "investment": "up",
    "staff_shortage": "none", "sentiment": "4", "challenges": "energie;regeldruk", "free_text": "Prima maand.",
}
CANDIDATES = {
    # "r-2\x1c": Python's str.strip() drops U+001C, polars' strip_chars() did not; both now strip the same set.
    "response_id": ["r-2", "bad id!", "", None, " r-2\u3000", "r-2\x1c"],
    "submitted_at": ["2025-03-04T10:11:12", "04-03-2025 10:11", "", None],
    "wave": ["2025-03", "2031-01", None],
    "kvk_number": ["12345678", "1234567", "12ab5678", None],
    "sector": ["C", "Z", "99", None],
    "size_class": ["2-9", "250+", None],
    "province": ["PV31", "PV99", None],
    "order_book": ["grown", "misschien", None],
    "investment": ["down", "heel veel", None],
    "staff_shortage": ["severe", "x", None],
    "sentiment": ["1", "5", "0", "7", None],
    "challenges": ["energie", "energie;onbekend", "", None, "energie;\u2028", "\u3000;\x0b"],
    "free_text": [
        "kort", "x" * 2001, None,
        "mis\u202eleid",  # bidirectional override: refused
        "een\u0085twee",  # NEL, a C1 control character: refused
        "bel\u0007",  # BEL: refused
        "x" * 2001 + "\u2066",  # too long and refused character: both rules
        "regel een\u2028regel twee\u2029",  # line and paragraph separators are text: allowed
        "regel een\nregel twee\r\n",  # newlines: allowed
        "kolom\tkolom",  # tab: allowed
        "\u3000\u00a0 ",  # only whitespace: blank, so no free text
        "kort\x1c",  # a control character at the end is refused, not stripped
    ],
}


def vectorised_invalid_fields(record: dict) -> set[str]:
    frame = with_reasons(normalise(pl.DataFrame([record], schema={c: pl.Utf8 for c in landing_columns()})))
    reason = frame["reason"][0]
    if reason is None:
        return set()
    labels = {field_label(f): f for f in landing_columns()}
    found = set()
    for part in reason.split("; "):
        label = part.split(": ")[0]
        found.add(labels.get(label, "*"))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({field: st.sampled_from(values) for field, values in CANDIDATES.items()}))
def test_contract_and_vectorised_checks_agree(record):
    expected = invalid_fields(record)
    found = vectorised_invalid_fields(record)
    if expected - {"*"}:
        # pydantic runs the model-level rule (at least one answer) only when every field is valid
        found.discard("*")
    assert expected == found


def test_valid_record_passes_both():
    assert invalid_fields(VALID) == set() == vectorised_invalid_fields(VALID)


@pytest.mark.parametrize(
    ("text", "code_point", "kind"),
    [("mis\u202eleid", "U+202E", "leesrichting"), ("een\u0085twee\u0007", "U+0085", "stuurteken"), ("\u2067x", "U+2067", "leesrichting")],
)
def test_a_refused_character_is_named_by_code_point_in_both(text, code_point, kind):
    record = {**VALID, "free_text": text}
    with pytest.raises(SubmissionError) as refused:
        validate_submission(record)
    vectorised = with_reasons(normalise(pl.DataFrame([record], schema={c: pl.Utf8 for c in landing_columns()})))["reason"][0]
    expected = f"Toelichting: bevat een teken dat niet is toegestaan ({code_point}, "
    assert refused.value.problems == [vectorised]
    assert vectorised.startswith(expected) and kind in vectorised and vectorised.endswith("haal het weg en verstuur opnieuw")
    assert not set(vectorised) & set(FORBIDDEN_TEXT_CHARACTERS)  # the character itself is never echoed


def test_both_strip_exactly_the_same_characters_from_the_ends():
    every = [chr(c) for c in range(0x3001) if not 0xD800 <= c <= 0xDFFF]
    padded = [f"{c}r-2{c}" for c in every]
    python = [value.strip(EDGE_WHITESPACE) for value in padded]
    polars = normalise(pl.DataFrame({"response_id": padded}))["response_id"].to_list()
    assert python == polars
    # Unicode whitespace, except the control characters free text refuses anywhere.
    assert set(EDGE_WHITESPACE) == {c for c in every if c.isspace() and c not in FORBIDDEN_TEXT_CHARACTERS}


@given(year=st.integers(min_value=0, max_value=9999), month=st.integers(min_value=1, max_value=12))
def test_a_calendar_month_period_is_one_an_incremental_mart_can_hold(year, month):
    """The marts of calendar-month sources are incremental from 1900-01 (`core.sqlmesh_project.FIRST_MONTH`) and fill
    every month up to 2099-12 at most: each such source refuses a period outside those years at ingestion, with its
    rule, so no row stays out of its mart unsaid."""
    import re

    from core.sources import sources
    from core.sqlmesh_project import FIRST_MONTH

    value = f"{year:04d}-{month:02d}"
    holdable = FIRST_MONTH <= value <= "2099-12"
    for declared in sources().values():
        if declared.period.calendar != "month":
            continue
        field = declared.fields[declared.period.field]
        accepted = value in field.allowed() if field.domain else bool(re.fullmatch(field.pattern, value))
        assert not accepted or holdable, f"{declared.name}.{declared.period.field} accepts {value}"
        if field.pattern:
            assert accepted == holdable and "1900-01 tot en met 2099-12" in field.pattern_rule
