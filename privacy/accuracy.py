"""Confidence intervals for released numbers, from OpenDP's accuracy reporting.

Intervals cover the differential-privacy noise only: they say where the
exact figure among the respondents lies, not how well respondents
represent all firms (sampling error is a separate matter).
"""

from __future__ import annotations

import opendp.prelude as dp

dp.enable_features("contrib")


def count_half_width(noise_scale: float, alpha: float) -> float:
    """Half-width of the (1 - alpha) interval of one count with discrete Laplace noise.

    >>> round(count_half_width(9.0, 0.05), 2)
    27.45
    """
    return float(dp.discrete_laplacian_scale_to_accuracy(scale=noise_scale, alpha=alpha))


def balance(positive: float, neutral: float, negative: float) -> float | None:
    """Balance indicator in percentage points: % positive minus % negative.

    >>> balance(30, 50, 20)
    10.0
    """
    total = positive + neutral + negative
    if total <= 0:
        return None
    return max(-100.0, min(100.0, 100.0 * (positive - negative) / total))


def balance_interval(positive: float, neutral: float, negative: float, half_width: float) -> tuple[float, float]:
    """Interval of the balance when each true count lies within +-`half_width` of its noisy value.

    Derivation: with probability >= 1 - alpha all three true counts lie in
    their boxes when `half_width` is each count's accuracy at alpha/3 (union
    bound). The balance f(P, U, N) = (P - N) / (P + U + N) rises with P,
    falls with N, and moves with U against the sign of P - N, so its extremes
    over the box are at corners, computed exactly below. Counts are never
    negative, so lower box ends are clipped at 0.

    >>> balance_interval(60, 30, 10, 0)
    (50.0, 50.0)
    >>> low, high = balance_interval(60, 30, 10, 5); round(low, 1), round(high, 1)
    (38.1, 63.2)
    """

    def box(value: float) -> tuple[float, float]:
        return max(value - half_width, 0.0), max(value + half_width, 0.0)

    (p_low, p_high), (u_low, u_high), (n_low, n_high) = box(positive), box(neutral), box(negative)

    def extreme(p: float, n: float, upper: bool) -> float:
        # Few neutral answers push the balance away from 0, many pull it towards 0.
        away_from_zero = (p - n > 0) if upper else (p - n < 0)
        value = balance(p, u_low if away_from_zero else u_high, n)
        if value is None:  # every count may be 0: nothing is known
            return 100.0 if upper else -100.0
        return value

    return extreme(p_low, n_high, upper=False), extreme(p_high, n_low, upper=True)
