"""The anti-escalation rules (debts.rules): the seed's examples, every rule's boundary, the precedence and minimal disclosure.

Most tests use the explicit rules and costs below, so a change to the
production YAML does not move them; the seed's examples also run on the
configured rules. Collection costs are switched off (`QUIET`, bailiff 0) where
a test is about a threshold, so the cost-benefit rule stays out of its way.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debts.labels import ACTION_LABELS, REASONS
from debts.rules import evaluate_claims
from debts.schema import ACTIONS, ADVICE_SCHEMA, CLAIMS_SCHEMA, REASON_CODES, claims_ddl
from debts.settings import EscalationSettings, RulesSettings, load_escalation

DAY = date(2026, 2, 1)
RULES = RulesSettings.model_validate(
    {
        "defaults": {"bagatelle_threshold": "50.00", "cost_ratio": "3", "costs_already_ratio": "2", "reminders_before_write_off": 2,
                     "payment_plan_limit": "250.00", "small_claim_limit": "100.00"},
        "organisation_types": {"cjib": {"bagatelle_threshold": "25.00", "max_claims_in_collection": 3}},
        "organisations": {"GM0599": {"creditor_type": "gemeente", "crisis": {"bagatelle_threshold": "150.00", "start": "2026-01-01",
                                                                            "end": "2026-03-31", "reason": "test"}}},
    }
)
QUIET = EscalationSettings.model_validate(load_escalation().model_dump() | {"bailiff": {"entry_cost": "0", "execution_cost": "0"}})


def claim(claim_id: str, **overrides) -> dict:
    row = {
        "claim_id": claim_id, "person_id": "p1", "creditor": "GM0935", "creditor_type": "gemeente", "debt_type": "parkeerboete",
        "original_amount": None, "current_amount": Decimal("500.00"), "costs_so_far": Decimal("0.00"), "stage": "herinnering",
        "reminders_sent": 0, "opened_on": date(2025, 1, 1), "last_action_on": date(2025, 2, 1), "in_debt_counselling": False,
        "under_administration": False, "payment_problems": False, "municipality": "GM0935",
    }
    row |= {key: Decimal(value) if key.endswith(("amount", "so_far")) else value for key, value in overrides.items()}
    row["original_amount"] = row["original_amount"] or row["current_amount"]
    return row


def advise(rows: list[dict], on: date = DAY, rules: RulesSettings = RULES, escalation: EscalationSettings | None = QUIET) -> dict[str, dict]:
    frame = pl.DataFrame(rows, schema=CLAIMS_SCHEMA)
    return {row["claim_id"]: row for row in evaluate_claims(frame, on, rules, escalation).collect().iter_rows(named=True)}


# --- the seed's examples ---------------------------------------------------------------------------------------------


def test_three_parking_fines_of_65_euros_in_all_give_one_letter():
    fines = [claim(f"f{index}", current_amount=amount) for index, amount in enumerate(("21.67", "21.67", "21.66"))]
    other_person = claim("g1", person_id="p2", current_amount="21.67")
    advice = advise([*fines, other_person], escalation=None)  # the configured costs
    letters = {advice[f"f{index}"]["letter_group"] for index in range(3)}
    assert len(letters) == 1 and None not in letters
    assert advice["g1"]["letter_group"] not in letters


def test_small_fines_that_go_on_are_bundled_in_one_letter():
    no_bagatelle = RulesSettings.model_validate(RULES.model_dump() | {"defaults": RULES.defaults.model_dump() | {"bagatelle_threshold": 0}})
    fines = [claim(f"f{index}", current_amount="65.00") for index in range(3)]
    advice = advise(fines, rules=no_bagatelle)
    assert {row["action"] for row in advice.values()} == {"bundelen"}
    assert {tuple(row["reasons"]) for row in advice.values()} == {("meerdere_vorderingen",)}
    assert len({row["letter_group"] for row in advice.values()}) == 1


def test_a_wmo_contribution_of_8_50_gets_a_friendly_reminder_not_collection():
    wmo = claim("w1", creditor="cak", creditor_type="cak", debt_type="wmo_eigen_bijdrage", current_amount="8.50", stage="aanmaning",
                reminders_sent=1)
    advice = advise([wmo], escalation=None)["w1"]
    assert advice["action"] == "vriendelijke_herinnering"
    assert "onder_bagatelgrens" in advice["reasons"]
    assert advice["projected_saving_cents"] > 0  # the friendly reminder avoids the costs of collection


def test_after_two_reminders_a_claim_not_worth_collecting_is_proposed_for_write_off():
    wmo = claim("w1", creditor="cak", creditor_type="cak", current_amount="8.50", stage="aanmaning", reminders_sent=2)
    advice = advise([wmo], escalation=None)["w1"]
    assert advice["action"] == "afschrijven"
    assert {"onder_bagatelgrens", "herinneringen_verstuurd"} <= set(advice["reasons"])


def test_cost_benefit_rule_marks_a_claim_not_worth_collecting():
    escalation = load_escalation()  # with bailiff costs: a 90 euro claim would cost 40 + bailiff to collect
    future = 4000 + int((escalation.bailiff.entry_cost + escalation.bailiff.execution_cost) * 100)
    amount_cents = 9000
    advice = advise([claim("c1", current_amount="90.00")], escalation=escalation)["c1"]
    assert (future > 3 * amount_cents) == ("niet_rendabel" in advice["reasons"])
    assert advice["projected_cost_cents"] == future


# --- boundaries of each rule -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "below"), [("49.99", True), ("50.00", False)])
def test_bagatelle_threshold_is_strict(amount, below):
    advice = advise([claim("c1", current_amount=amount)])["c1"]
    assert (advice["action"] == "vriendelijke_herinnering") == below


@pytest.mark.parametrize(
    ("on", "crisis"),
    [(date(2025, 12, 31), False), (date(2026, 1, 1), True), (date(2026, 3, 31), True), (date(2026, 4, 1), False)],
)
def test_crisis_threshold_applies_only_within_its_dates(on, crisis):
    advice = advise([claim("c1", creditor="GM0599", current_amount="120.00")], on=on)["c1"]
    assert (advice["action"] == "vriendelijke_herinnering") == crisis
    assert ("tijdelijke_crisisgrens" in advice["reasons"]) == crisis


def test_crisis_threshold_of_one_organisation_leaves_others_alone():
    advice = advise([claim("c1", creditor="GM0363", current_amount="120.00")], on=date(2026, 2, 1))["c1"]
    assert advice["action"] == "doorgaan"


@pytest.mark.parametrize(("owed", "stage", "plan"), [("249.99", "aanmaning", True), ("250.00", "aanmaning", False),
                                                      ("249.99", "herinnering", False), ("200.00", "deurwaarder", True)])
def test_payment_plan_below_the_limit_after_the_first_reminder(owed, stage, plan):
    advice = advise([claim("c1", current_amount=owed, stage=stage)])["c1"]
    assert (advice["action"] == "betalingsregeling_aanbieden") == plan


def test_payment_plan_limit_counts_all_small_claims_in_the_letter():
    claims = [claim(f"c{index}", current_amount="90.00", stage="aanmaning") for index in range(3)]  # 270 in one letter
    assert {row["action"] for row in advise(claims).values()} == {"bundelen"}
    assert {row["action"] for row in advise(claims[:2]).values()} == {"betalingsregeling_aanbieden"}


def cjib_fine(claim_id: str, person: str = "p1", opened: int = 0, stage: str = "incasso", **overrides) -> dict:
    fine = {"person_id": person, "creditor": "cjib", "creditor_type": "cjib", "debt_type": "verkeersboete", "current_amount": "250.00",
            "costs_so_far": "375.00", "stage": stage, "reminders_sent": 2, "opened_on": date(2025, 1, 1) + timedelta(days=opened)}
    return claim(claim_id, **(fine | overrides))


def test_stacking_lets_the_three_oldest_cjib_fines_go_on_and_pauses_the_rest():
    fines = [cjib_fine(f"j{index}", opened=10 - index) for index in range(5)]  # j4 is the oldest
    fines += [cjib_fine("k1", person="p2"), cjib_fine("a1", stage="aanmaning")]  # another person; not in collection yet
    advice = advise(fines)
    assert {cid for cid, row in advice.items() if row["action"] == "pauzeren"} == {"j0", "j1"}
    assert all(advice[cid]["action"] == "doorgaan" for cid in ("j2", "j3", "j4", "k1"))
    assert advice["j0"]["reasons"] == ["stapeling"]
    assert advice["a1"]["action"] != "pauzeren"


def test_stacking_breaks_ties_on_claim_id():
    advice = advise([cjib_fine(cid) for cid in ("j3", "j1", "j4", "j2")])
    assert [cid for cid in sorted(advice) if advice[cid]["action"] == "pauzeren"] == ["j4"]


def test_stacking_does_not_cap_other_organisation_types():
    advice = advise([claim(f"c{index}", stage="incasso", costs_so_far="75.00") for index in range(5)])
    assert {row["action"] for row in advice.values()} == {"doorgaan"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(("aanmaning", "incasso", "deurwaarder")), st.integers(0, 30)),
                min_size=1, max_size=12))
def test_never_more_than_three_cjib_fines_of_a_person_go_on_in_collection(fines):
    rows = [cjib_fine(f"j{index:02d}", person=f"p{person}", opened=opened, stage=stage) for index, (person, stage, opened) in enumerate(fines)]
    advice = advise(rows)
    for person in {row["person_id"] for row in rows}:
        own = [row for row in rows if row["person_id"] == person and row["stage"] != "aanmaning"]
        going_on = [row for row in own if advice[row["claim_id"]]["action"] in ("doorgaan", "bundelen")]
        paused = [row for row in own if advice[row["claim_id"]]["action"] == "pauzeren"]
        assert len(going_on) == min(3, len(own))
        assert len(going_on) + len(paused) == len(own)
        key = lambda row: (row["opened_on"], row["claim_id"])
        assert all(key(kept) < key(waiting) for kept in going_on for waiting in paused)


@pytest.mark.parametrize(("flag", "reason"), [("in_debt_counselling", "in_schuldhulp"), ("under_administration", "onder_bewind")])
def test_counselling_or_administration_anywhere_means_coordination_everywhere(flag, reason):
    known_here = claim("c1", **{flag: True})
    elsewhere = claim("e1", creditor="energie_1", creditor_type="energieleverancier", current_amount="800.00", stage="incasso")
    advice = advise([known_here, elsewhere])
    for cid in ("c1", "e1"):
        assert advice[cid]["action"] == "afstemmen_met_schuldhulp"
        assert advice[cid]["reasons"] == [reason]
        assert advice[cid]["letter_group"] is None  # no letter to the person: the counsellor or administrator is contacted
    assert advice["e1"]["in_debt_counselling_anywhere"] == (flag == "in_debt_counselling")


# --- write-off criteria and precedence -------------------------------------------------------------------------------


@pytest.mark.parametrize(("below", "costs_high", "problems", "counselling"), list(itertools.product((False, True), repeat=4)))
def test_write_off_needs_a_disproportionate_claim_and_a_person_who_cannot_pay(below, costs_high, problems, counselling):
    amount = Decimal("10.00") if below else Decimal("500.00")
    costs = amount * Decimal("2.5") if costs_high else Decimal(0)
    advice = advise([claim("c1", current_amount=amount, costs_so_far=costs, stage="incasso", payment_problems=problems,
                           in_debt_counselling=counselling)])["c1"]
    disproportionate, cannot_pay = below or costs_high, problems or counselling
    assert (advice["action"] == "afschrijven") == (disproportionate and cannot_pay)
    if disproportionate and cannot_pay:
        expected = {"onder_bagatelgrens": below, "kosten_al_hoog": costs_high, "betalingsproblemen": problems, "in_schuldhulp": counselling}
        assert {code for code, holds in expected.items() if holds} <= set(advice["reasons"])
    elif counselling:
        assert advice["action"] == "afstemmen_met_schuldhulp"


@pytest.mark.parametrize(
    ("rows", "claim_id", "action"),
    [
        # write-off beats coordination
        ([claim("c1", current_amount="10.00", payment_problems=True, in_debt_counselling=True)], "c1", "afschrijven"),
        # coordination beats the friendly reminder (not worth collecting, but not disproportionate: no write-off) ...
        ([cjib_fine("j1", current_amount="30.00", costs_so_far="60.00", stage="herinnering", reminders_sent=0)], "j1", "vriendelijke_herinnering"),
        ([cjib_fine("j1", current_amount="30.00", costs_so_far="60.00", stage="herinnering", reminders_sent=0, in_debt_counselling=True)],
         "j1", "afstemmen_met_schuldhulp"),
        # ... and the payment plan
        ([claim("c1", current_amount="200.00", stage="aanmaning", under_administration=True)], "c1", "afstemmen_met_schuldhulp"),
        # the friendly reminder beats the payment plan
        ([claim("c1", current_amount="10.00", stage="aanmaning")], "c1", "vriendelijke_herinnering"),
        # the payment plan beats stacking: a fine under a plan does not go on in collection
        ([cjib_fine(f"j{index}", costs_so_far="0.00", current_amount="200.00") for index in range(5)], "j4", "betalingsregeling_aanbieden"),
        # stacking beats bundling
        ([cjib_fine(f"j{index}", current_amount="80.00", costs_so_far="0.00", opened=index) for index in range(5)], "j4", "pauzeren"),
        ([cjib_fine(f"j{index}", current_amount="80.00", costs_so_far="0.00", opened=index) for index in range(5)], "j0", "bundelen"),
        # costs already high alone (the person can pay) is no write-off
        ([claim("c1", current_amount="500.00", costs_so_far="1250.00", stage="incasso")], "c1", "doorgaan"),
    ],
)
def test_precedence(rows, claim_id, action):
    assert advise(rows)[claim_id]["action"] == action


def test_paused_fines_share_the_letter_of_the_person_at_that_organisation():
    advice = advise([cjib_fine(f"j{index}", current_amount="80.00", costs_so_far="0.00", opened=index) for index in range(5)])
    assert len({row["letter_group"] for row in advice.values()}) == 1


@pytest.mark.parametrize(("action_claim", "saves"), [(claim("c1", current_amount="10.00", stage="aanmaning"), True),
                                                     (claim("c1", current_amount="900.00", stage="aanmaning"), False)])
def test_saving_is_the_cost_still_to_come_when_escalation_stops(action_claim, saves):
    escalation = load_escalation()
    advice = advise([action_claim], escalation=escalation)["c1"]
    still_to_come = advice["projected_cost_cents"] - 0  # no costs so far
    assert advice["projected_saving_cents"] == (still_to_come if saves else 0)


# --- across organisations: minimal disclosure ------------------------------------------------------------------------


def test_small_debts_elsewhere_says_only_whether_another_organisation_holds_small_claims():
    rows = [
        claim("a1", current_amount="30.00"),  # p1: small here (GM0935) ...
        claim("b1", creditor="cak", creditor_type="cak", current_amount="20.00"),  # ... and small at the CAK
        claim("c1", person_id="p2", current_amount="30.00"),  # p2: small here ...
        claim("d1", person_id="p2", creditor="duo", creditor_type="duo", current_amount="900.00"),  # ... large elsewhere
        claim("e1", person_id="p3", current_amount="30.00"), claim("e2", person_id="p3", current_amount="40.00"),  # p3: small, one place
    ]
    advice = advise(rows)
    assert {cid: row["small_debts_elsewhere"] for cid, row in advice.items()} == {
        "a1": True, "b1": True, "c1": False, "d1": True, "e1": False, "e2": False,
    }


def test_output_has_only_the_advice_columns():
    advice = evaluate_claims(pl.DataFrame([claim("c1")], schema=CLAIMS_SCHEMA), DAY, RULES, QUIET).collect()
    assert advice.schema == ADVICE_SCHEMA


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("cak", "duo", "cjib")), st.integers(1, 9999), st.booleans()), min_size=1, max_size=6),
       st.integers(1, 9999), st.integers(0, 2**31))
def test_other_organisations_amounts_and_names_do_not_change_our_advice(elsewhere, small_cents, shift):
    """Only 'small elsewhere or not' and 'in counselling anywhere' may cross: other small amounts and creditor codes change nothing."""
    ours = [claim("o1", current_amount="60.00", stage="aanmaning"), claim("o2", current_amount="700.00", stage="incasso")]

    def theirs(amount_shift: int, prefix: str) -> list[dict]:
        return [claim(f"t{index}", creditor=f"{prefix}{kind}", creditor_type=kind, current_amount=Decimal((cents + amount_shift) % 9999 + 1) / 100,
                      payment_problems=problems) for index, (kind, cents, problems) in enumerate(elsewhere)]

    first = advise(ours + theirs(0, ""))
    second = advise(ours + theirs(shift + small_cents, "x"))
    assert {cid: first[cid] for cid in ("o1", "o2")} == {cid: second[cid] for cid in ("o1", "o2")}


# --- interfaces ------------------------------------------------------------------------------------------------------


def test_a_duckdb_relation_gives_the_same_advice_as_a_polars_frame():
    rows = [claim("c1", current_amount="10.00"), *[cjib_fine(f"j{index}", opened=index) for index in range(4)]]
    frame = pl.DataFrame(rows, schema=CLAIMS_SCHEMA)
    connection = duckdb.connect()
    connection.execute(claims_ddl())
    connection.register("incoming", frame.with_columns(pl.col("creditor_type", "stage").cast(pl.String)).to_arrow())
    connection.execute("INSERT INTO claims SELECT * FROM incoming")
    from_duckdb = evaluate_claims(connection.sql("SELECT * FROM claims"), DAY, RULES, QUIET).collect().sort("claim_id")
    assert from_duckdb.equals(evaluate_claims(frame, DAY, RULES, QUIET).collect().sort("claim_id"))


def test_configured_rules_load_and_run():
    advice = evaluate_claims(pl.DataFrame([claim("c1")], schema=CLAIMS_SCHEMA), DAY).collect()
    assert advice["action"].to_list() == ["doorgaan"]


def test_every_action_and_reason_has_one_dutch_explanation():
    assert tuple(ACTION_LABELS) == ACTIONS
    assert tuple(REASONS) == REASON_CODES
    assert all(reason.explains <= set(ACTIONS) and reason.label for reason in REASONS.values())


def test_benchmark_runs_on_a_small_population(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "debt_rules_benchmark.py"
    spec = importlib.util.spec_from_file_location("debt_rules_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(["--claims", "20000", "--repeats", "1"])
    printed = capsys.readouterr().out
    for start in ("claims: 20,000 synthetic", "rules engine: ", "baseline group_by: ", "ratio: ", "peak memory: ", "actions: "):
        assert any(line.startswith(start) for line in printed.splitlines()), start


def test_an_organisation_may_switch_off_its_types_cap_but_a_null_threshold_is_inherited():
    rules = RulesSettings.model_validate(
        RULES.model_dump() | {"organisations": {"cjib": {"creditor_type": "cjib", "max_claims_in_collection": None, "bagatelle_threshold": None}}}
    )
    resolved = rules.resolve(DAY, "cjib", "cjib")
    assert resolved.max_claims_in_collection is None
    assert resolved.bagatelle_threshold_cents == 2500  # the type's
    assert {row["action"] for row in advise([cjib_fine(f"j{index}") for index in range(5)], rules=rules).values()} == {"doorgaan"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("p1", "p2", "p3")), st.sampled_from(("cjib", "cak", "0363")), st.integers(0, 3),
                          st.integers(0, 10_000)), min_size=1, max_size=40, unique_by=lambda row: row[3]),
       st.randoms(use_true_random=False))
def test_the_fast_grouping_orders_each_person_at_a_creditor_as_the_full_sort_does(rows, rng):
    """`_grouped` (one sort on a 128-bit key) keeps each person's and each person-at-creditor's claims together, oldest
    first and then by claim_id, as a sort on the strings does, whatever order the claims come in (ties on the day included)."""
    from debts.rules import SORT_KEYS, _grouped

    rng.shuffle(rows)
    frame = pl.DataFrame({"person_id": [r[0] for r in rows], "creditor": [r[1] for r in rows],
                          "opened_on": [date(2025, 1, 1) + timedelta(days=r[2]) for r in rows], "claim_id": [f"c{r[3]}" for r in rows]})
    fast, full = _grouped(frame), frame.sort(*SORT_KEYS)
    assert fast.height == frame.height and set(fast["claim_id"]) == set(frame["claim_id"])
    runs = fast.select(((pl.col("person_id") != pl.col("person_id").shift(1)).fill_null(True)).sum()).item()
    assert runs == frame["person_id"].n_unique()  # every person's claims adjacent
    for (person, creditor), group in full.group_by(["person_id", "creditor"]):
        in_fast = fast.with_row_index("at").filter((pl.col("person_id") == person) & (pl.col("creditor") == creditor))
        assert in_fast["claim_id"].to_list() == group["claim_id"].to_list()  # the same claims in the same order
        assert in_fast["at"].diff().drop_nulls().eq(1).all()  # and adjacent
