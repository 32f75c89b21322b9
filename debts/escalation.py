"""What a claim costs the debtor if collection goes on: the WIK scale, the Wahv (Mulder) increments and bailiff costs.

All amounts are Int64 cents and every percentage step is rounded half up to
the cent (`debts.money`). The numbers and their legal sources are in
`config/debts/escalation.yaml`. The functions return polars expressions, so
the rules engine evaluates millions of claims in one vectorised plan.

The projection follows a claim from its current stage to the end of the
road (herinnering -> aanmaning -> incasso -> deurwaarder):

* other creditors: the WIK costs on the open principal when it reaches
  `incasso` (not yet charged before that stage), the bailiff's entry cost
  when it reaches `deurwaarder`, and one attachment (execution cost) there;
* the CJIB (`creditor_type` 'cjib'): the Wahv increments not yet charged
  (+50 % of the original sanction after the first reminder, +100 % after the
  second; `reminders_sent` says how many went out), then the same bailiff
  costs (the dwangbevel is served and executed by a bailiff).

Costs already charged are in `costs_so_far`; a claim with nothing left open
costs nothing more.
"""

from __future__ import annotations

import polars as pl

from debts.money import cents, share_half_up
from debts.schema import STAGES, claims_frame
from debts.settings import EscalationSettings, MulderIncrements, WikScale, escalation_settings

INCASSO, DEURWAARDER = STAGES.index("incasso"), STAGES.index("deurwaarder")


def wik_cost_cents(principal_cents: pl.Expr, scale: WikScale) -> pl.Expr:
    """Buitengerechtelijke incassokosten of a principal (cents), Besluit art. 2: brackets, then minimum and maximum.

    Each bracket's share is rounded half up to the cent. A principal of 0 (or
    less) owes no costs: the minimum of 40 euros applies to a claim above 0.

    >>> from debts.settings import load_escalation
    >>> amounts = pl.Series("principal", [0, 26667, 250000, 1000000, 20000000, 100000000])
    >>> pl.select(wik_cost_cents(pl.lit(amounts), load_escalation().wik)).to_series().to_list()
    [0, 4000, 37500, 87500, 277500, 677500]
    """
    principal = principal_cents.clip(lower_bound=0)
    shares = []
    for lower, upper, points in scale.bands_cents():
        inside = principal - lower if upper is None else principal.clip(upper_bound=upper) - lower
        shares.append(share_half_up(inside.clip(lower_bound=0), points))
    minimum, maximum = int(scale.minimum * 100), int(scale.maximum * 100)
    return pl.when(principal > 0).then(pl.sum_horizontal(shares).clip(minimum, maximum)).otherwise(0).cast(pl.Int64)


def mulder_increments_cents(original_cents: pl.Expr, reminders: pl.Expr, mulder: MulderIncrements) -> pl.Expr:
    """Wahv increments charged after `reminders` reminders (0, 1, 2 or more) on an original sanction (cents).

    >>> from debts.settings import load_escalation
    >>> frame = pl.DataFrame({"original": [9500, 9500, 9500, 9501], "reminders": [0, 1, 2, 1]})
    >>> frame.select(mulder_increments_cents(pl.col("original"), pl.col("reminders"), load_escalation().mulder)).to_series().to_list()
    [0, 4750, 14250, 4751]
    """
    first, second = _mulder_steps(original_cents, mulder)
    return pl.when(reminders >= 2).then(first + second).when(reminders >= 1).then(first).otherwise(0).cast(pl.Int64)


def _mulder_steps(original_cents: pl.Expr, mulder: MulderIncrements) -> tuple[pl.Expr, pl.Expr]:
    original = original_cents.clip(lower_bound=0)
    return (share_half_up(original, int(mulder.first_reminder_percent * 100)),
            share_half_up(original, int(mulder.second_reminder_percent * 100)))


def future_cost_cents(settings: EscalationSettings | None = None) -> pl.Expr:
    """Collection costs still to come if collection goes on to the bailiff (cents), on a frame from `with_cents`."""
    settings = settings or escalation_settings()
    stage, open_cents = pl.col("stage_index"), pl.col("current_cents")
    first, second = _mulder_steps(pl.col("original_cents"), settings.mulder)
    reminders = pl.col("reminders_sent")
    mulder_to_come = pl.when(reminders < 1).then(first).otherwise(0) + pl.when(reminders < 2).then(second).otherwise(0)
    wik_to_come = pl.when(stage < INCASSO).then(wik_cost_cents(open_cents, settings.wik)).otherwise(0)
    entry = int(settings.bailiff.entry_cost * 100)
    bailiff_to_come = pl.when(stage < DEURWAARDER).then(entry).otherwise(0) + int(settings.bailiff.execution_cost * 100)
    to_come = pl.when(pl.col("creditor_type") == "cjib").then(mulder_to_come).otherwise(wik_to_come) + bailiff_to_come
    return pl.when(open_cents > 0).then(to_come).otherwise(0).cast(pl.Int64)


def with_cents(claims: pl.LazyFrame) -> pl.LazyFrame:
    """`claims` (cast to the contract) with the money in cents and the stage as its index in `STAGES`."""
    return claims.with_columns(
        original_cents=cents("original_amount"),
        current_cents=cents("current_amount"),
        costs_cents=cents("costs_so_far"),
        stage_index=pl.col("stage").to_physical().cast(pl.Int8),
    )


def project(claims: pl.LazyFrame | pl.DataFrame | object, settings: EscalationSettings | None = None) -> pl.LazyFrame:
    """Per claim: `future_cost_cents` (still to come) and `projected_cost_cents` (so far + to come) if collection goes on.

    `claims` follows `debts.schema.CLAIMS_SCHEMA` (a polars frame or a DuckDB relation).
    """
    frame = with_cents(claims_frame(claims)).with_columns(future_cost_cents=future_cost_cents(settings))
    return frame.select("claim_id", "future_cost_cents", projected_cost_cents=pl.col("costs_cents") + pl.col("future_cost_cents"))
