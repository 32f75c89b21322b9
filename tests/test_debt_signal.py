"""Debt signals (`sources/debt_signal`): the eleven-test and exact money in both rule paths, row by row into raw or
quarantine with a Dutch reason, Parquet like CSV, the synthetic deliveries, and the mart's grain (one row per claim per month)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.nl import bsn as stdnum_bsn

from core.archive import delivered_files
from core.contracts import invalid_fields, passes_elfproef, validate_row
from core.ingest import ingest_bytes
from core.sources import source
from core.synthetic_debts import DEFECT_KINDS, failing_bsn, valid_bsns
from core.validation import normalise, with_reasons
from core.validation import passes_elfproef as polars_elfproef
from core.warehouse import connect as warehouse_connect
from tests.conftest import TEST_KEY

NAME = "debt_signal"
COLUMNS = source(NAME).landing_columns()
TODAY = date.today()
LAST_MONTH = f"{TODAY.replace(day=1) - timedelta(days=1):%Y-%m}"
VALID = {
    "claim_id": "CJIB-1", "delivered_at": f"{LAST_MONTH}-20T20:00:00", "month": LAST_MONTH, "bsn": "111222333",
    "creditor": "cjib", "creditor_type": "cjib", "debt_type": "verkeersboete", "original_amount": "106.00",
    "current_amount": "168,00", "costs_so_far": "62", "stage": "aanmaning", "reminders_sent": "2",
    "opened_on": f"{LAST_MONTH}-01", "last_action_on": f"{LAST_MONTH}-15", "in_debt_counselling": "nee",
    "under_administration": None, "payment_problems": "true", "municipality": "GM0599",
}


def polars_reason(record: dict) -> str | None:
    frame = pl.DataFrame([record], schema={c: pl.Utf8 for c in COLUMNS})
    return with_reasons(normalise(frame, NAME), NAME)["reason"][0]


def polars_invalid_fields(record: dict) -> set[str]:
    reason = polars_reason(record)
    labels = {source(NAME).label(c): c for c in COLUMNS}
    return set() if reason is None else {labels[part.split(": ")[0]] for part in reason.split("; ")}


# ---------------------------------------------------------------------------- the two rule paths agree


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
bsn_candidates = st.one_of(
    nine_digits,
    st.integers(0, 2**32).map(lambda seed: valid_bsns(1, np.random.default_rng(seed))[0]),
    st.integers(0, 2**32).map(lambda seed: failing_bsn(valid_bsns(1, np.random.default_rng(seed))[0])),
    st.text(alphabet="0123456789 .-x٣", min_size=0, max_size=11),  # separators, an Arabic-Indic digit, wrong lengths
)


@settings(max_examples=200, deadline=None)
@given(bsn_candidates)
def test_contract_and_polars_rules_agree_on_the_eleven_test(number):
    record = {**VALID, "bsn": number}
    assert ("bsn" in invalid_fields(record, NAME)) == ("bsn" in polars_invalid_fields(record))
    if len(number) == 9 and number.isascii() and number.isdigit():  # both follow python-stdnum on 9 digits
        assert passes_elfproef(number) == stdnum_bsn.is_valid(number)
        assert pl.DataFrame({"b": [number]}).select(polars_elfproef("b"))[0, 0] == stdnum_bsn.is_valid(number)


def test_generated_bsns_pass_and_their_typos_fail():
    numbers = valid_bsns(2_000, np.random.default_rng(1))
    assert len(set(numbers)) == 2_000 and all(stdnum_bsn.is_valid(n) and len(n) == 9 for n in numbers)
    assert not any(stdnum_bsn.is_valid(failing_bsn(n)) for n in numbers)


money_text = st.decimals(min_value=0, max_value=999_999, places=2, allow_nan=False, allow_infinity=False).flatmap(
    lambda amount: st.sampled_from([f"{amount:.2f}", f"{amount:.2f}".replace(".", ","), f"{amount:.2f}".rstrip("0").rstrip(".,") or "0"])
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(money_text, st.sampled_from(["65.005", "-1", "-0,01", "1.234,56", "€ 5", "5 euro", "1e3", "12 000", "+5", ".5", "5.",
                                              "1000000.01", "99999999999", "0x10", "٣"])))
def test_contract_and_polars_rules_agree_on_money(text):
    record = {**VALID, "original_amount": text}
    assert ("original_amount" in invalid_fields(record, NAME)) == ("original_amount" in polars_invalid_fields(record))


@pytest.mark.parametrize(("text", "rule"), [
    ("65.005", "'65.005' is geen bedrag in euro's met hoogstens 2 decimalen"),
    ("-12.50", "'-12.50' is negatief: een bedrag mag hier niet onder 0 liggen"),
    ("1.234,56", "'1.234,56' is geen bedrag"),
    ("€ 65", "'€ 65' is geen bedrag"),
    ("1000000.01", "'1000000.01' ligt buiten het bereik van 0 tot en met 1000000 euro"),
])
def test_refused_amounts_have_the_same_dutch_reason_in_both_paths(text, rule):
    record = {**VALID, "original_amount": text}
    reason = polars_reason(record)
    assert reason.startswith(f"Oorspronkelijk bedrag (original_amount): {rule}")
    with pytest.raises(Exception) as refused:
        validate_row(NAME, record)
    assert refused.value.problems == [reason]


def test_accepted_amounts_are_exact_decimals():
    row = validate_row(NAME, {**VALID, "original_amount": "8,5", "current_amount": "1234.56", "costs_so_far": "0"})
    assert (row.original_amount, row.current_amount, row.costs_so_far) == (Decimal("8.50"), Decimal("1234.56"), Decimal("0.00"))


# ---------------------------------------------------------------------------- a delivery with every kind of defect


def _delivery() -> tuple[list[dict], dict[int, str]]:
    """Valid rows and one row per kind of defect; row number -> the start of the reason it must get."""
    future = (TODAY + timedelta(days=10)).isoformat()
    rows = [
        VALID,
        {**VALID, "claim_id": "CJIB-2", "bsn": "111222334"},
        {**VALID, "claim_id": "CJIB-3", "current_amount": "-5.00"},
        {**VALID, "claim_id": "CJIB-4", "original_amount": "65.005"},
        {**VALID, "claim_id": "CJIB-5", "stage": "betalingsregeling"},
        {**VALID, "claim_id": "CJIB-6", "last_action_on": future},
        {**VALID, "claim_id": "CJIB-7", "opened_on": f"{LAST_MONTH}-20", "last_action_on": f"{LAST_MONTH}-15"},
        {**VALID, "claim_id": "CJIB-8", "bsn": "12345678"},
        {**VALID, "claim_id": "CJIB-9", "municipality": "GM9999"},
        {**VALID, "claim_id": "CJIB-10", "in_debt_counselling": "misschien"},
        {**VALID, "claim_id": "CJIB-11", "delivered_at": f"{future}T08:00:00"},
        {**VALID, "claim_id": "CJIB-12", "opened_on": "2026-02-30"},
        {**VALID, "claim_id": "CJIB-13", "bsn": None},
        VALID,  # the same row again: a duplicate
        {**VALID, "current_amount": "170.00"},  # the same claim and delivery time, other content: a conflict
        {**VALID, "claim_id": "DUO-1", "creditor": "duo", "creditor_type": "duo", "debt_type": "studieschuld", "bsn": "123456782",
         "original_amount": "8.5", "current_amount": "1234,56", "costs_so_far": "0.00", "last_action_on": None,
         "in_debt_counselling": "1", "under_administration": "ja", "payment_problems": "False"},
    ]
    expected = {
        2: "BSN: voldoet niet aan de elfproef",
        3: "Openstaand bedrag (current_amount): '-5.00' is negatief",
        4: "Oorspronkelijk bedrag (original_amount): '65.005' is geen bedrag in euro's met hoogstens 2 decimalen",
        5: "Invorderingsfase (stage): 'betalingsregeling' is geen geldige keuze",
        6: f"Laatste actie op (last_action_on): '{future}' ligt in de toekomst",
        7: f"Laatste actie op (last_action_on): '{LAST_MONTH}-15' ligt vóór Geopend op (opened_on) '{LAST_MONTH}-20'",
        8: "BSN: moet uit precies 9 cijfers bestaan",
        9: "Woongemeente (municipality): 'GM9999' is geen geldige keuze",
        10: "In schuldhulpverlening (in_debt_counselling): 'misschien' is geen ja/nee-waarde",
        11: f"Tijdstip van levering (delivered_at): '{future}T08:00:00' ligt in de toekomst",
        12: "Geopend op (opened_on): '2026-02-30' is geen geldige datum (verwacht JJJJ-MM-DD)",
        13: "BSN: ontbreekt (verplicht veld)",
        14: "Dubbele inzending: gelijk aan rij 1 van dit bestand",
        15: "Vorderingsnummer (claim_id) en Tijdstip van levering (delivered_at): al gebruikt in rij 1 van dit bestand",
    }
    return rows, expected


def _csv(rows: list[dict]) -> bytes:
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in COLUMNS}).write_csv().encode()


def test_a_delivery_with_every_kind_of_defect_lands_row_by_row_in_raw_or_quarantine():
    rows, expected = _delivery()
    with duckdb.connect() as connection:
        result = ingest_bytes(connection, _csv(rows), "cjib_delivery.csv", TEST_KEY.encode(), name=NAME)
        raw = connection.execute("SELECT claim_id, row_number FROM raw.debt_signals ORDER BY row_number").fetchall()
        quarantined = dict(connection.execute("SELECT row_number, reason FROM quarantine.debt_signals").fetchall())
        payloads = " ".join(p for (p,) in connection.execute("SELECT payload FROM quarantine.debt_signals").fetchall())
    assert (result.rows_in, result.rows_raw, result.rows_quarantined + result.rows_duplicate) == (16, 2, 14)
    assert raw == [("CJIB-1", 1), ("DUO-1", 16)]
    assert set(quarantined) == set(expected)
    for row, reason in expected.items():
        assert quarantined[row].startswith(reason), (row, quarantined[row])
    for number in ("111222333", "111222334", "12345678", "123456782"):  # no BSN, valid or not, in quarantine
        assert number not in payloads and not any(number in reason for reason in quarantined.values())


def test_a_parquet_delivery_lands_exactly_like_its_csv():
    rows, _ = _delivery()
    good = [rows[0], rows[-1]]
    typed = pl.DataFrame(good, schema={c: pl.Utf8 for c in COLUMNS}).with_columns(
        pl.col("delivered_at").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S"),
        pl.col("opened_on", "last_action_on").str.strptime(pl.Date, "%Y-%m-%d"),
        pl.Series("original_amount", [Decimal("106.00"), Decimal("8.50")], pl.Decimal(12, 2)),
        pl.Series("current_amount", [Decimal("168.00"), Decimal("1234.56")], pl.Decimal(12, 2)),
        pl.Series("costs_so_far", [Decimal("62.00"), Decimal("0.00")], pl.Decimal(12, 2)),
        pl.col("reminders_sent").cast(pl.Int64),
        pl.Series("in_debt_counselling", [False, True]), pl.Series("under_administration", [None, True], pl.Boolean),
        pl.Series("payment_problems", [True, False]),
    )
    buffer = io.BytesIO()
    typed.write_parquet(buffer)
    landed = {}
    for name, data in (("d.csv", _csv(good)), ("d.parquet", buffer.getvalue())):
        with duckdb.connect() as connection:
            ingest_bytes(connection, data, name, TEST_KEY.encode(), name=NAME)
            landed[name] = connection.execute("SELECT * EXCLUDE (file_hash, loaded_at) FROM raw.debt_signals ORDER BY row_number").fetchall()
    assert landed["d.csv"] == landed["d.parquet"] and len(landed["d.csv"]) == 2
    assert landed["d.csv"][1][7:10] == (Decimal("8.50"), Decimal("1234.56"), Decimal("0.00"))


def test_a_file_named_parquet_that_is_not_parquet_is_quarantined_whole():
    with duckdb.connect() as connection:
        result = ingest_bytes(connection, _csv([VALID]), "d.parquet", TEST_KEY.encode(), name=NAME)
    assert result.status == "quarantined" and result.reason.startswith("Bestand: heet .parquet maar is geen Parquet-bestand")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=999_999, places=2, allow_nan=False, allow_infinity=False), min_size=1, max_size=30),
       st.booleans())
def test_amounts_keep_their_cents_exactly_through_ingestion(amounts, comma):
    rows = [{**VALID, "claim_id": f"c{i}", "original_amount": f"{a:.2f}".replace(".", ",") if comma else f"{a:.2f}",
             "current_amount": f"{a:.2f}".rstrip("0").rstrip(".") or "0"} for i, a in enumerate(amounts)]
    with duckdb.connect() as connection:
        ingest_bytes(connection, _csv(rows), "amounts.csv", TEST_KEY.encode(), name=NAME)
        stored = connection.execute(
            "SELECT original_amount, current_amount, typeof(original_amount) FROM raw.debt_signals ORDER BY row_number").fetchall()
    assert [(o, c) for o, c, _ in stored] == [(a.quantize(Decimal("0.01")),) * 2 for a in amounts]
    assert {kind for *_, kind in stored} == {"DECIMAL(12,2)"}


# ---------------------------------------------------------------------------- the synthetic deliveries and the pipeline


def test_the_generator_makes_about_one_percent_defects_and_every_one_is_quarantined(pipeline):
    defects = pl.read_parquet(pipeline.synthetic / "debt_defects.parquet")
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        rows_in = connection.execute("SELECT SUM(rows_in) FROM meta.ingest_manifest WHERE source = ?", [NAME]).fetchone()[0]
        quarantined = connection.execute("SELECT file_name, row_number, reason_code, reason FROM quarantine.debt_signals").pl()
        files = connection.execute("SELECT DISTINCT file_format FROM meta.ingest_manifest WHERE source = ?", [NAME]).fetchall()
    assert 0.005 <= defects.height / rows_in <= 0.02, (defects.height, rows_in)
    assert set(defects["kind"]) == set(DEFECT_KINDS)
    assert {kind for (kind,) in files} == {"csv", "parquet"}
    found = defects.join(quarantined, on=["file_name", "row_number"], how="full", coalesce=True)
    assert found.filter(pl.col("reason").is_null() | pl.col("kind").is_null()).height == 0, found  # exactly the defects
    starts = {"bad_bsn": "BSN: voldoet niet aan de elfproef", "negative_amount": "Openstaand bedrag (current_amount): '-",
              "unknown_stage": "Invorderingsfase (stage): 'betalingsregeling'", "future_date": "Laatste actie op (last_action_on): ",
              "three_decimals": "Oorspronkelijk bedrag (original_amount): "}
    for row in found.iter_rows(named=True):
        assert row["reason"].startswith(starts[row["kind"]]), row


def test_the_mart_has_one_row_per_claim_per_month_from_its_latest_delivery(pipeline):
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        types = dict(connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = 'debt_claim_month'"
        ).fetchall())
        grain = connection.execute("SELECT COUNT(*), COUNT(DISTINCT (claim_id, month)) FROM marts.debt_claim_month").fetchone()
        raw_pairs = connection.execute("SELECT COUNT(DISTINCT (claim_id, month)) FROM raw.debt_signals").fetchone()[0]
        later_wins = connection.execute("""
            SELECT COUNT(*) FILTER (m.delivered_at = r.latest), COUNT(*)
            FROM marts.debt_claim_month m
            JOIN (SELECT claim_id, month, MAX(delivered_at) AS latest, COUNT(*) AS deliveries FROM raw.debt_signals GROUP BY 1, 2) r
              USING (claim_id, month)
            WHERE r.deliveries > 1""").fetchone()
        cross = connection.execute(
            "SELECT COUNT(*) FROM (SELECT person_id FROM marts.debt_claim_month GROUP BY person_id, month HAVING COUNT(DISTINCT creditor_type) > 1)"
        ).fetchone()[0]
    assert {k: types[k] for k in ("claim_id", "month", "person_id", "original_amount", "current_amount", "costs_so_far",
                                  "opened_on", "reminders_sent", "payment_problems")} == {
        "claim_id": "VARCHAR", "month": "VARCHAR", "person_id": "VARCHAR", "original_amount": "DECIMAL(12,2)",
        "current_amount": "DECIMAL(12,2)", "costs_so_far": "DECIMAL(12,2)", "opened_on": "DATE", "reminders_sent": "BIGINT",
        "payment_problems": "BOOLEAN"}
    assert "bsn" not in types
    assert grain[0] == grain[1] == raw_pairs > 1_000
    assert later_wins[1] > 0 and later_wins[0] == later_wins[1]  # the correction delivery counts where a claim came twice
    assert cross > 50  # persons known at several kinds of creditor: the cross-organisation rules have work


def test_mart_amounts_equal_the_delivered_text_to_the_cent(pipeline):
    files = delivered_files(pipeline.landing, NAME, "gemeente_*.csv")
    delivered = pl.read_csv(files[max(files)], separator=";", infer_schema=False).head(200)
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        mart = connection.execute(
            "SELECT claim_id, original_amount, costs_so_far FROM marts.debt_claim_month WHERE month = ?", [delivered["month"][0]]
        ).fetchall()
    by_claim = {claim: (original, costs) for claim, original, costs in mart}
    checked = 0
    for row in delivered.iter_rows(named=True):
        if row["claim_id"] in by_claim and "," in row["original_amount"]:
            assert by_claim[row["claim_id"]][0] == Decimal(row["original_amount"].replace(",", "."))
            checked += 1
    assert checked > 20


def test_generated_valid_rows_pass_the_contract_too(pipeline):
    files = delivered_files(pipeline.landing, NAME, "zorgverzekeraar_*.csv")
    name = min(files)
    rows = pl.read_csv(files[name], infer_schema=False).head(300).to_dicts()
    defects = set(pl.read_parquet(pipeline.synthetic / "debt_defects.parquet").filter(pl.col("file_name") == name)["row_number"])
    refused = [i + 1 for i, row in enumerate(rows) if invalid_fields(row, NAME)]
    assert set(refused) == {r for r in defects if r <= 300}


def test_delivered_at_and_periods_are_not_in_the_future(pipeline):
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        latest, last_month = connection.execute("SELECT MAX(delivered_at), MAX(month) FROM raw.debt_signals").fetchone()
    assert latest.date() <= TODAY and last_month == LAST_MONTH and isinstance(latest, datetime)
