"""Money as integer cents: exact conversion from Decimal euros and percentages rounded half up to the cent.

Money is never a float here. Euros arrive as Decimal(12,2) (DuckDB
DECIMAL(12,2)); `cents` turns them into Int64 cents exactly, and every
percentage is an integer number of basis points (1 % = 100), so a share is
`cents * basis_points / 10 000`, rounded half up to the cent at that step.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

BASIS_POINTS_PER_WHOLE = 10_000  # 100 % = 10 000 basis points


def cents(euros: str | pl.Expr) -> pl.Expr:
    """Int64 cents of a Decimal euro column (scale at most 2), exactly: 266.67 -> 26667.

    >>> frame = pl.DataFrame({"amount": ["266.67", "0.01"]}).select(pl.col("amount").str.to_decimal(scale=2))
    >>> frame.select(cents("amount")).to_series().to_list()
    [26667, 1]
    """
    expression = pl.col(euros) if isinstance(euros, str) else euros
    # A Decimal(p, 2) is stored as its unscaled integer, which is the number of cents: read it, no arithmetic.
    return expression.cast(pl.Decimal(38, 2)).to_physical().cast(pl.Int64)


def euros_to_cents(amount: Decimal) -> int:
    """Cents of a configured euro amount (at most 2 decimals, checked by the configuration models)."""
    return int(amount * 100)


def basis_points(percent: Decimal) -> int:
    """Basis points of a configured percentage (at most 2 decimals): 15 -> 1500, 0.5 -> 50."""
    return int(percent * 100)


def share_half_up(amount_cents: pl.Expr, points: int) -> pl.Expr:
    """`points` basis points of a non-negative cent amount, rounded half up to the cent.

    Half up: 4000.5 cents -> 4001, 4000.49 -> 4000. Integer arithmetic only
    (Int64 holds 15 % of DECIMAL(12,2)'s maximum many times over).

    >>> pl.select(share_half_up(pl.lit(26667), 1500)).item()  # 15 % of 266.67 is 40.0005 euros
    4000
    >>> pl.select(share_half_up(pl.lit(3), 5000)).item()  # 50 % of 3 cents is 1.5 cents
    2
    """
    return (amount_cents * points + BASIS_POINTS_PER_WHOLE // 2) // BASIS_POINTS_PER_WHOLE
