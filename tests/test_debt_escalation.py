"""Collection costs by law (debts.escalation): the WIK scale, the Wahv increments, bailiff costs and exact cents.

Expected amounts come from the Besluit vergoeding voor buitengerechtelijke
incassokosten (art. 2) and the Wahv (art. 23, 27) as stated in the issue, and
from an independent reference in Python's `decimal` (ROUND_HALF_UP per
bracket), never from the code under test.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debts.escalation import mulder_increments_cents, project, wik_cost_cents
from debts.money import cents
from debts.schema import CLAIMS_SCHEMA, ClaimsContractError, claims_ddl, claims_frame
from debts.settings import DebtSettingsError, load_escalation, load_rules

ESCALATION = load_escalation()
MAX_PRINCIPAL_CENTS = 10**12 - 1  # DECIMAL(12,2)


def wik(principal_cents: list[int]) -> list[int]:
    return pl.select(wik_cost_cents(pl.lit(pl.Series(principal_cents, dtype=pl.Int64)), ESCALATION.wik)).to_series().to_list()


def reference_wik(principal: Decimal) -> Decimal:
    """Art. 2 by hand: the brackets of the Besluit, each share rounded half up to the cent, then minimum 40 and maximum 6,775."""
    if principal <= 0:
        return Decimal("0.00")
    brackets = [(Decimal(2500), Decimal("0.15")), (Decimal(2500), Decimal("0.10")), (Decimal(5000), Decimal("0.05")),
                (Decimal(190000), Decimal("0.01")), (None, Decimal("0.005"))]
    left, total = principal, Decimal(0)
    for width, rate in brackets:
        part = left if width is None else min(left, width)
        total += (part * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        left -= part
        if left <= 0:
            break
    return min(max(total, Decimal(40)), Decimal(6775))


@pytest.mark.parametrize(
    ("principal", "costs"),
    [
        ("0.00", "0.00"),  # no claim, no costs: the minimum of 40 applies to a claim above 0
        ("0.01", "40.00"),
        ("266.67", "40.00"),  # 15 % is 40.0005: the minimum
        ("266.70", "40.01"),  # 40.005 rounds half up
        ("2500.00", "375.00"),
        ("5000.00", "625.00"),
        ("10000.00", "875.00"),
        ("200000.00", "2775.00"),
        ("999999.99", "6775.00"),  # 6,774.99995 rounds up to the maximum
        ("1000000.00", "6775.00"),  # the maximum is reached here
        ("9999999999.99", "6775.00"),
    ],
)
def test_wik_scale_at_the_statutory_points(principal, costs):
    assert wik([int(Decimal(principal) * 100)]) == [int(Decimal(costs) * 100)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, MAX_PRINCIPAL_CENTS), min_size=1, max_size=50))
def test_wik_matches_the_decimal_reference(principals):
    expected = [int(reference_wik(Decimal(value) / 100) * 100) for value in principals]
    assert wik(principals) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, MAX_PRINCIPAL_CENTS), min_size=2, max_size=50))
def test_wik_is_monotonic_at_least_40_and_capped(principals):
    ordered = sorted(principals)
    costs = wik(ordered)
    assert all(lower <= higher for lower, higher in itertools.pairwise(costs))
    assert all(4000 <= cost <= 677500 for cost in costs)


def test_wik_maximum_is_reached_at_one_million_and_not_before():
    assert wik([100_000_000 - 1000, 100_000_000, 100_000_001]) == [677495, 677500, 677500]


@pytest.mark.parametrize(
    ("original", "reminders", "increments"),
    [
        ("95.00", 0, "0.00"),
        ("95.00", 1, "47.50"),  # Wahv art. 23: +50 % of the original, so 142.50 in all (1.5x)
        ("95.00", 2, "142.50"),  # art. 27: a further +100 % of the original, so 237.50 in all (2.5x)
        ("95.00", 5, "142.50"),  # no increments after the second reminder
        ("0.03", 1, "0.02"),  # 1.5 cents rounds half up
        ("0.03", 2, "0.05"),
    ],
)
def test_cjib_increments_after_the_first_and_second_reminder(original, reminders, increments):
    frame = pl.DataFrame({"original": [int(Decimal(original) * 100)], "reminders": [reminders]})
    got = frame.select(mulder_increments_cents(pl.col("original"), pl.col("reminders"), ESCALATION.mulder)).item()
    assert got == int(Decimal(increments) * 100)


def claim(**overrides) -> dict:
    row = {
        "claim_id": "c1", "person_id": "p1", "creditor": "GM0935", "creditor_type": "gemeente", "debt_type": "parkeerboete",
        "original_amount": Decimal("65.00"), "current_amount": Decimal("65.00"), "costs_so_far": Decimal("0.00"), "stage": "herinnering",
        "reminders_sent": 0, "opened_on": date(2025, 1, 1), "last_action_on": date(2025, 2, 1), "in_debt_counselling": False,
        "under_administration": False, "payment_problems": False, "municipality": "GM0935",
    }
    return row | {key: Decimal(value) if key.endswith(("amount", "so_far")) else value for key, value in overrides.items()}


def projected_future(**overrides) -> int:
    frame = pl.DataFrame([claim(**overrides)], schema=CLAIMS_SCHEMA)
    return project(frame, ESCALATION).collect()["future_cost_cents"].item()


BAILIFF_ENTRY = int(ESCALATION.bailiff.entry_cost * 100)
BAILIFF_EXECUTION = int(ESCALATION.bailiff.execution_cost * 100)


@pytest.mark.parametrize(
    ("overrides", "expected_without_bailiff", "bailiff_steps"),
    [
        ({"stage": "herinnering"}, 4000, ("entry", "execution")),  # WIK minimum on 65 euros, still to come
        ({"stage": "aanmaning"}, 4000, ("entry", "execution")),
        ({"stage": "incasso", "costs_so_far": "40.00"}, 0, ("entry", "execution")),  # WIK already charged
        ({"stage": "deurwaarder"}, 0, ("execution",)),
        ({"current_amount": "0.00"}, 0, ()),  # nothing open: nothing more to pay
        ({"creditor": "cjib", "creditor_type": "cjib", "original_amount": "95.00", "current_amount": "95.00"}, 14250, ("entry", "execution")),
        ({"creditor": "cjib", "creditor_type": "cjib", "original_amount": "95.00", "reminders_sent": 1, "stage": "aanmaning"}, 9500,
         ("entry", "execution")),
        ({"creditor": "cjib", "creditor_type": "cjib", "original_amount": "95.00", "reminders_sent": 2, "stage": "incasso"}, 0,
         ("entry", "execution")),
    ],
)
def test_projection_from_each_stage(overrides, expected_without_bailiff, bailiff_steps):
    bailiff = {"entry": BAILIFF_ENTRY, "execution": BAILIFF_EXECUTION}
    assert projected_future(**overrides) == expected_without_bailiff + sum(bailiff[step] for step in bailiff_steps)


def test_projected_cost_is_costs_so_far_plus_what_is_to_come():
    frame = pl.DataFrame([claim(stage="incasso", costs_so_far="40.00")], schema=CLAIMS_SCHEMA)
    row = project(frame, ESCALATION).collect().row(0, named=True)
    assert row["projected_cost_cents"] == 4000 + row["future_cost_cents"]


def test_duckdb_decimals_become_exact_cents():
    connection = duckdb.connect()
    connection.execute(claims_ddl())
    connection.execute(
        "INSERT INTO claims VALUES ('c1', 'p1', 'GM0935', 'gemeente', 'parkeerboete', 266.67, 0.10, 9999999999.99, 'herinnering', 0, "
        "DATE '2025-01-01', DATE '2025-02-01', false, false, false, 'GM0935')"
    )
    frame = claims_frame(connection.sql("SELECT * FROM claims")).select(cents("original_amount"), cents("current_amount"), cents("costs_so_far"))
    assert frame.collect().row(0) == (26667, 10, 999999999999)


def test_claims_contract_refuses_float_money_and_missing_columns():
    floats = pl.DataFrame([claim()], schema=CLAIMS_SCHEMA).with_columns(pl.col("current_amount").cast(pl.Float64))
    with pytest.raises(ClaimsContractError, match=r"current_amount: type Float64 \(regel: bedragen zijn Decimal"):
        claims_frame(floats)
    with pytest.raises(ClaimsContractError, match="Kolommen ontbreken: stage"):
        claims_frame(pl.DataFrame([claim()], schema=CLAIMS_SCHEMA).drop("stage"))


def test_unknown_stage_is_refused_when_read():
    frame = pl.DataFrame([claim()], schema=CLAIMS_SCHEMA).with_columns(pl.lit("beslag").alias("stage"))
    with pytest.raises(pl.exceptions.InvalidOperationError, match="beslag"):
        claims_frame(frame).collect()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (("wik: {brackets: [{up_to: 10.00, percent: 15}, {up_to: 5.00, percent: 10}], minimum: 40, maximum: 6775, "
         "rounding: half_up_per_bracket}\nmulder: {first_reminder_percent: 50, second_reminder_percent: 100}\n"
         "bailiff: {entry_cost: 1, execution_cost: 1}"),
         "escalation.yaml: wik.brackets.1.up_to: '5.00' moet hoger zijn dan de vorige grens '10.00'"),
        (("wik: {brackets: [{up_to: null, percent: 15}], minimum: 40.001, maximum: 6775, rounding: half_up_per_bracket}\n"
         "mulder: {first_reminder_percent: 50, second_reminder_percent: 100}\nbailiff: {entry_cost: 1, execution_cost: -1}"),
         "wik.minimum: '40.001' heeft meer dan 2 cijfers achter de komma"),
    ],
)
def test_escalation_settings_errors_are_dutch_and_name_field_and_value(tmp_path, text, message):
    with pytest.raises(DebtSettingsError) as raised:
        load_escalation(write(tmp_path, "escalation.yaml", text))
    assert message in str(raised.value)


def test_bailiff_cost_below_zero_is_named(tmp_path):
    text = ("wik: {brackets: [{up_to: null, percent: 15}], minimum: 40, maximum: 6775, rounding: half_up_per_bracket}\n"
            "mulder: {first_reminder_percent: 50, second_reminder_percent: 100}\nbailiff: {entry_cost: 1, execution_cost: -1}")
    with pytest.raises(DebtSettingsError, match=r"bailiff.execution_cost: '-1' moet 0 of meer zijn"):
        load_escalation(write(tmp_path, "escalation.yaml", text))


@pytest.mark.parametrize(
    ("organisations", "message"),
    [
        (("organisations: {GM0599: {creditor_type: gemeente, crisis: {bagatelle_threshold: 150, start: 2026-03-01, end: 2026-01-01, "
         "reason: x}}}"), "organisations.GM0599.crisis.end: '2026-01-01' ligt vóór start '2026-03-01'"),
        ("organisations: {GM0599: {creditor_type: bank}}", "organisations.GM0599.creditor_type: 'bank' is niet toegestaan (kies uit"),
        ("organisations: {GM0599: {creditor_type: gemeente, bagatelgrens: 10}}", "organisations.GM0599.bagatelgrens: '10' is geen bekend veld"),
        ("organisation_types: {cjib: {max_claims_in_collection: 0}}", "organisation_types.cjib.max_claims_in_collection: '0' moet 1 of meer zijn"),
        ("organisations: {Gemeente Rotterdam: {creditor_type: gemeente}}", "'Gemeente Rotterdam' is geen organisatiecode"),
    ],
)
def test_rules_settings_errors_are_dutch_and_name_field_and_value(tmp_path, organisations, message):
    defaults = ("defaults: {bagatelle_threshold: 50, cost_ratio: 3, costs_already_ratio: 2, reminders_before_write_off: 2, "
                "payment_plan_limit: 250, small_claim_limit: 100}\n")
    with pytest.raises(DebtSettingsError) as raised:
        load_rules(write(tmp_path, "organisations.yaml", defaults + organisations))
    assert str(raised.value).startswith("organisations.yaml: ")
    assert message in str(raised.value)


def test_configured_amounts_are_read_as_decimals_not_floats(tmp_path):
    text = ("defaults: {bagatelle_threshold: 0.10, cost_ratio: 3, costs_already_ratio: 2, reminders_before_write_off: 2, "
            "payment_plan_limit: 250, small_claim_limit: 100}\n")
    rules = load_rules(write(tmp_path, "organisations.yaml", text))
    assert rules.defaults.bagatelle_threshold == Decimal("0.10")
    assert rules.resolve(date(2026, 1, 1), "gemeente").bagatelle_threshold_cents == 10
