"""The pydantic contract (single submissions) and the vectorised checks (bulk files) agree."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.contracts import field_label, invalid_fields
from core.survey import landing_columns
from core.validation import normalise, with_reasons

VALID = {
    "response_id": "r-1", "submitted_at": "2025-03-04T10:11:12", "wave": "2025-03", "kvk_number": "12345678",
    "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", "investment": "up",
    "staff_shortage": "none", "sentiment": "4", "challenges": "energie;regeldruk", "free_text": "Prima maand.",
}
CANDIDATES = {
    "response_id": ["r-2", "bad id!", "", None],
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
    "challenges": ["energie", "energie;onbekend", "", None],
    "free_text": ["kort", "x" * 2001, None],
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
