"""The anti-escalation rules: per claim, what an organisation should do instead of escalating (seed section 8).

`evaluate_claims` takes claims in the contract of `debts.schema` (a polars
frame or a DuckDB relation) and returns one row of advice per claim in
`ADVICE_SCHEMA`: an action, the reasons behind it, the letter it goes in, the
projected collection costs and the costs the action avoids, and two flags
computed across organisations. It is one lazy polars plan: no Python runs
per claim.

Precedence: the first action whose rule holds wins.

1. `afschrijven` (propose write-off), seed 8.E, read as: (a) the claim is
   disproportionate to collect (criterion 1, below the bagatelle threshold,
   or criterion 2, costs so far > 2x the debt) AND the person cannot pay
   (criterion 3, payment problems known to this organisation, or criterion 4,
   in debt counselling anywhere); or (b) it is below the bagatelle threshold
   or not worth collecting (seed 8.A, projected costs > 3x the debt) and the
   reminders before write-off (2) have been sent. The seed lists the four
   criteria without saying how they combine; a small claim alone is not
   enough, because the seed's own example (8.F: 8.50 euros of Wmo
   contribution) gets a friendly reminder, not a write-off.
2. `afstemmen_met_schuldhulp`: the person is in debt counselling or under
   administration (known to any organisation): no collection; coordinate.
3. `vriendelijke_herinnering`: below the bagatelle threshold or not worth
   collecting, fewer reminders than needed for write-off: a friendly
   reminder without legal threats or costs.
4. `betalingsregeling_aanbieden`: the first reminder went unanswered (stage
   aanmaning or later) and the total owed to this organisation in this letter
   is below the payment-plan limit (250 euros): offer a plan, no intake.
5. `pauzeren`: stacking prevention. Of one person's claims at one
   organisation that would go on in collection (incasso or deurwaarder), only
   the oldest `max_claims_in_collection` (3 for the CJIB) go on; the others wait.
6. `bundelen`: the claim goes on, and it is one of several small claims of this
   person at this organisation that go in one letter.
7. `doorgaan`: collection goes on as usual.

Write-off comes before coordination: a claim that meets the write-off
criteria of a person in counselling is better proposed for write-off (the
counsellor is told by the reason `in_schuldhulp`) than kept open.

Letters: all small claims (below `small_claim_limit`) of one person at one
organisation share one `letter_group` (a paused claim too: the letter says
it waits); a larger claim has its own; a coordinated claim has none (the
counsellor or administrator is contacted, not the person).

Savings: an action that stops escalation (write-off, coordination, friendly
reminder, payment plan, pause: as long as it lasts) avoids the costs still
to come; bundling and going on avoid none in this model (bundling saves
postage and handling, which it does not price; the WIK and the Wahv charge
per claim).

Minimal disclosure: the only facts that cross organisations are two booleans
per claim (`small_debts_elsewhere`, `in_debt_counselling_anywhere`) and the
coordination decision (under administration anywhere); never an amount, a
count or the name of another organisation.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from debts.escalation import DEURWAARDER, INCASSO, future_cost_cents, with_cents
from debts.labels import REASONS
from debts.schema import ACTIONS, ADVICE_SCHEMA, CREDITOR_TYPES, REASON_CODES, claims_frame
from debts.settings import EscalationSettings, ResolvedRules, RulesSettings, rules_settings

ACTION = pl.Enum(ACTIONS)
STOPPING_ACTIONS = ("afschrijven", "afstemmen_met_schuldhulp", "vriendelijke_herinnering", "betalingsregeling_aanbieden", "pauzeren")
"""Actions that stop escalation, so they avoid the projected costs still to come (a pause: as long as it lasts)."""
PARAMETERS = tuple(name for name in ResolvedRules.__dataclass_fields__)


def parameter_table(rules: RulesSettings, on: date) -> pl.DataFrame:
    """The rules on day `on`: one row per creditor type (in `CREDITOR_TYPES` order), then one per organisation with overrides."""
    rows = [vars(rules.resolve(on, kind)) for kind in CREDITOR_TYPES]
    rows += [vars(rules.resolve(on, override.creditor_type, code)) for code, override in rules.organisations.items()]
    return pl.DataFrame(rows, schema={name: pl.Int64 for name in PARAMETERS})


def _with_parameters(claims: pl.LazyFrame, rules: RulesSettings, on: date) -> pl.LazyFrame:
    """Each claim with the rules of its organisation (overrides) or else of its type, looked up by row number."""
    table = parameter_table(rules, on)
    own_rows = {code: len(CREDITOR_TYPES) + index for index, code in enumerate(rules.organisations)}
    type_row = pl.col("creditor_type").to_physical()
    row = pl.col("creditor").replace_strict(own_rows, default=type_row, return_dtype=pl.UInt32) if own_rows else type_row
    return claims.with_columns(rules_row=row).with_columns(pl.lit(table[name]).gather("rules_row").alias(name) for name in PARAMETERS)


def _facts() -> list[pl.Expr]:
    """Facts about one claim alone (cents, costs, thresholds), once `future_cost_cents` is known."""
    debt, costs, future = pl.col("current_cents"), pl.col("costs_cents"), pl.col("future_cost_cents")
    return [
        (costs + future).alias("projected_cost_cents"),
        (debt < pl.col("bagatelle_threshold_cents")).alias("below_bagatelle"),
        (debt >= pl.col("ordinary_bagatelle_threshold_cents")).alias("only_in_crisis"),
        ((costs + future) * 100 > pl.col("cost_ratio_hundredths") * debt).alias("not_profitable"),
        (costs * 100 > pl.col("costs_already_ratio_hundredths") * debt).alias("costs_already_high"),
        (pl.col("reminders_sent") >= pl.col("reminders_before_write_off")).alias("reminded_enough"),
        (debt < pl.col("small_claim_limit_cents")).alias("small"),
    ]


SORT_KEYS = ("person_id", "creditor", "opened_on", "claim_id")
"""How the rules group claims: each person's, and each person-at-creditor's, claims adjacent, the oldest claim first
within a person at a creditor (stacking lets the oldest go on), then the lowest claim_id. (`_grouped` may put the
persons, and the creditors within a person, in another order: the rules only need the groups.)"""

_HALF = pl.lit(1 << 32, pl.Int128)


def _grouped(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` in the order of `SORT_KEYS`, fast: one sort on a 128-bit key instead of a sort on four columns.

    The key is (hash of the person, creditor's category code, day opened):
    integers, so one radix-like sort of one column does what a multi-column
    sort of strings does at a third of its time. The creditor's code is
    exact; a person's hash is 63 bits, so two persons could in theory share
    one (about 1e-6 at 5 million persons): that is checked on the sorted rows,
    and then the frame is sorted on the strings themselves. Claims of one
    person at one creditor opened on the same day are put in claim_id order.
    """
    if frame.is_empty():
        return frame
    day = pl.col("opened_on").cast(pl.Int64)
    key = ((pl.col("person_id").hash().floordiv(2).cast(pl.Int128) * _HALF
            + pl.col("creditor").cast(pl.Categorical).to_physical().cast(pl.Int128)) * _HALF
           + (day - day.min()).cast(pl.Int128)).alias("_key")
    order = frame.select(key).with_row_index("_row").sort("_key", maintain_order=True)
    keys, rows = order["_key"], order["_row"]
    del order
    person, same_hash = frame["person_id"].gather(rows), keys // (1 << 64)
    if ((same_hash == same_hash.shift(1)) & (person != person.shift(1))).any():  # two persons, one hash
        return frame.sort(*SORT_KEYS)
    del person, same_hash
    tied = ((keys == keys.shift(1)) | (keys == keys.shift(-1))).fill_null(False)
    if tied.any():  # each run of equal keys is contiguous, and the runs are in key order: put each run in claim_id order
        at = rows.filter(tied)
        fixed = pl.DataFrame({"_key": keys.filter(tied), "claim_id": frame["claim_id"].gather(at), "_row": at}).sort("_key", "claim_id")
        rows = rows.scatter(tied.arg_true(), fixed["_row"])
    return frame[rows]  # one gather of the wide frame


WORKING_COLUMNS = (
    "claim_id", "person_id", "creditor", "stage_index", "opened_on", "current_cents", "costs_cents", "future_cost_cents",
    "projected_cost_cents", "below_bagatelle", "only_in_crisis", "not_profitable", "costs_already_high", "reminded_enough", "small",
    "in_debt_counselling", "under_administration", "payment_problems", "payment_plan_limit_cents", "max_claims_in_collection",
)
"""What the rules need after the per-claim facts; only these are sorted (the frame's other columns are left behind)."""


def _run_total(values: pl.Expr, first: str, last: str) -> pl.Expr:
    """The total of `values` over each run of adjacent rows (from a `first` row to a `last` row), on every row of the run.

    A running sum at the run's last row, minus the running sum just before its
    first row: two fills instead of a hash aggregation per group.
    """
    values = values.cast(pl.Int64)
    running = values.cum_sum()
    at_end = pl.when(pl.col(last)).then(running).fill_null(strategy="backward")
    before_start = pl.when(pl.col(first)).then(running - values).fill_null(strategy="forward")
    return at_end - before_start


def _run_bounds() -> list[pl.Expr]:
    """Where each person's run, and each person-at-creditor's run, starts and ends (on the sorted frame)."""
    person, creditor = pl.col("person_id"), pl.col("creditor")
    new_person, last_person = (person != person.shift(1)).fill_null(True), (person != person.shift(-1)).fill_null(True)
    return [
        new_person.alias("new_person"),
        last_person.alias("last_person"),
        (new_person | (creditor != creditor.shift(1)).fill_null(True)).alias("new_here"),
        (last_person | (creditor != creditor.shift(-1)).fill_null(True)).alias("last_here"),
    ]


def _across_claims() -> list[pl.Expr]:
    """Facts about the person (across organisations) and about the person at this organisation ('here')."""
    small, owed = pl.col("small"), pl.col("current_cents") + pl.col("costs_cents")
    return [
        (_run_total(pl.col("in_debt_counselling"), "new_person", "last_person") > 0).alias("in_debt_counselling_anywhere"),
        (_run_total(pl.col("under_administration"), "new_person", "last_person") > 0).alias("under_administration_anywhere"),
        _run_total(small, "new_here", "last_here").alias("small_claims_here"),
        (_run_total(pl.col("payment_problems"), "new_here", "last_here") > 0).alias("payment_problems_here"),
        _run_total(pl.when(small).then(owed).otherwise(0), "new_here", "last_here").alias("small_owed_here"),
    ]


def _creditors_with_small_claims() -> pl.Expr:
    """How many organisations hold small claims on the person: one count per person-at-creditor run that has any."""
    return _run_total(pl.col("new_here") & (pl.col("small_claims_here") > 0), "new_person", "last_person").alias("creditors_with_small_claims")


def _first_actions() -> pl.Expr:
    """Rules 1-4, 6 and 7 of the precedence; stacking (5) needs these first."""
    below, worth_nothing = pl.col("below_bagatelle"), pl.col("below_bagatelle") | pl.col("not_profitable")
    cannot_pay = pl.col("payment_problems_here") | pl.col("in_debt_counselling_anywhere")
    write_off = ((below | pl.col("costs_already_high")) & cannot_pay) | (worth_nothing & pl.col("reminded_enough"))
    letter_total = pl.when(pl.col("small")).then(pl.col("small_owed_here")).otherwise(pl.col("current_cents") + pl.col("costs_cents"))
    plan = (letter_total < pl.col("payment_plan_limit_cents")) & (pl.col("stage_index") >= 1)
    # Only a coordinated person's claims have no letter, and none of them goes on, so every small claim that goes on
    # shares its letter with all the person's other small claims here.
    bundled = pl.col("small") & (pl.col("small_claims_here") > 1)
    return (
        pl.when(write_off).then(pl.lit("afschrijven", ACTION))
        .when(pl.col("in_debt_counselling_anywhere") | pl.col("under_administration_anywhere")).then(pl.lit("afstemmen_met_schuldhulp", ACTION))
        .when(worth_nothing).then(pl.lit("vriendelijke_herinnering", ACTION))
        .when(plan).then(pl.lit("betalingsregeling_aanbieden", ACTION))
        .when(bundled).then(pl.lit("bundelen", ACTION))
        .otherwise(pl.lit("doorgaan", ACTION))
        .alias("action")
    )


def _stacking() -> pl.Expr:
    """Rule 5: beyond the cap, claims that would go on in collection wait; the oldest (then lowest claim_id) go on.

    The frame is sorted oldest first within a person at a creditor, so a
    claim's place is the running count of capped claims in its run.
    """
    goes_on = pl.col("action").is_in(("bundelen", "doorgaan"))
    capped = goes_on & pl.col("stage_index").is_between(INCASSO, DEURWAARDER) & pl.col("max_claims_in_collection").is_not_null()
    running = capped.cast(pl.Int64).cum_sum()
    place = running - pl.when(pl.col("new_here")).then(running - capped.cast(pl.Int64)).fill_null(strategy="forward")
    return pl.when(capped & (place > pl.col("max_claims_in_collection"))).then(pl.lit("pauzeren", ACTION)).otherwise("action").alias("action")


def _reason_facts() -> dict[str, pl.Expr]:
    """The fact behind each reason code (a reason is given when its fact holds and it explains the action)."""
    return {
        "onder_bagatelgrens": pl.col("below_bagatelle"),
        "tijdelijke_crisisgrens": pl.col("below_bagatelle") & pl.col("only_in_crisis"),
        "kosten_al_hoog": pl.col("costs_already_high"),
        "niet_rendabel": pl.col("not_profitable"),
        "herinneringen_verstuurd": pl.col("reminded_enough"),
        "betalingsproblemen": pl.col("payment_problems_here"),
        "in_schuldhulp": pl.col("in_debt_counselling_anywhere"),
        "onder_bewind": pl.col("under_administration_anywhere"),
        "klein_totaal": pl.lit(True),
        "stapeling": pl.lit(True),
        "meerdere_vorderingen": pl.lit(True),
    }


_REASON_LISTS = pl.Series(
    "reasons", [[code for bit, code in enumerate(REASON_CODES) if mask >> bit & 1] for mask in range(1 << len(REASON_CODES))],
    pl.List(pl.Enum(REASON_CODES)),
)
"""Every set of reasons, indexed by its bit mask: a claim's list is looked up, not built string by string."""


_EXPLAINED_BY_ACTION = pl.Series(
    [sum(1 << bit for bit, code in enumerate(REASON_CODES) if action in REASONS[code].explains) for action in ACTIONS], dtype=pl.UInt32
)
"""Per action (by its index in `ACTIONS`), the bit mask of the reasons that can explain it."""


def _reasons() -> pl.Expr:
    """The reason codes whose fact holds and which explain the claim's action, in the order of `REASON_CODES`."""
    facts = _reason_facts()
    holds = pl.sum_horizontal(pl.when(facts[code]).then(1 << bit).otherwise(0) for bit, code in enumerate(REASON_CODES)).cast(pl.UInt32)
    explains = pl.lit(_EXPLAINED_BY_ACTION).gather(pl.col("action").to_physical())
    return pl.lit(_REASON_LISTS).gather(holds & explains).alias("reasons")


def _letter_group() -> pl.Expr:
    """One letter for all small claims of a person at an organisation; a larger claim has its own; coordination: none.

    A letter is named by its first claim's claim_id (the oldest small claim of
    the person there; claim ids are the source's key, so unique): an existing
    string filled forward, not a new string per claim.
    """
    small = pl.col("small").cast(pl.Int64)
    running = small.cum_sum()
    before_run = pl.when(pl.col("new_here")).then(running - small).fill_null(strategy="forward")
    first_small = pl.col("small") & (running - before_run == 1)
    letter_of_small = pl.when(first_small).then(pl.col("claim_id")).fill_null(strategy="forward")
    return (
        pl.when(pl.col("action") == "afstemmen_met_schuldhulp").then(None)
        .when(pl.col("small")).then(letter_of_small)
        .otherwise(pl.col("claim_id"))
        .alias("letter_group")
    )


def evaluate_claims(claims: pl.LazyFrame | pl.DataFrame | object, on: date, rules: RulesSettings | None = None,
                    escalation: EscalationSettings | None = None) -> pl.LazyFrame:
    """Advice per claim (`ADVICE_SCHEMA`) for claims in `CLAIMS_SCHEMA`, on evaluation day `on` (crisis periods).

    `claims` is a polars LazyFrame or DataFrame, or a DuckDB relation (read as
    Arrow batches). The result is lazy; `.collect()` it, or hand
    `.collect().to_arrow()` to DuckDB. All claims of a person must be in the
    same call: the cross-organisation flags and the caps look across them.
    Rows come out grouped by person, not in input order: join on `claim_id`.
    """
    rules = rules or rules_settings()
    frame = _with_parameters(with_cents(claims_frame(claims)), rules, on).with_columns(future_cost_cents=future_cost_cents(escalation))
    frame = _grouped(frame.with_columns(_facts()).select(WORKING_COLUMNS).collect()).lazy().with_columns(_run_bounds())
    frame = frame.with_columns(_across_claims()).with_columns(_creditors_with_small_claims(), _first_actions()).with_columns(_stacking())
    elsewhere = (pl.col("creditors_with_small_claims") - (pl.col("small_claims_here") > 0).cast(pl.UInt32)) > 0
    saving = pl.when(pl.col("action").is_in(STOPPING_ACTIONS)).then(pl.col("future_cost_cents")).otherwise(0)
    return frame.select(
        "claim_id", "person_id", "creditor", "action", _reasons(), _letter_group(), "projected_cost_cents",
        saving.cast(pl.Int64).alias("projected_saving_cents"), elsewhere.alias("small_debts_elsewhere"), "in_debt_counselling_anywhere",
    ).cast(dict(ADVICE_SCHEMA))
