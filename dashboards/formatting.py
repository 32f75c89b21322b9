"""Released figures in Dutch notation: numbers, intervals, percentages and waves ('x' when not published)."""

from __future__ import annotations

import re

SUPPRESSED = "x"
# One plain line under every figure with an interval (the rule for 'x' is in config/display.yaml).
INTERVAL_LINE = (
    "Het 95%-interval telt twee onzekerheden mee: de ruis die bedrijven anoniem houdt, en het toeval van welke "
    "bedrijven meededen. Is het interval te breed om iets te zeggen, dan staat er een x."
)


def nl_number(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A number the Dutch way: decimal comma, thousands point.

    >>> nl_number(1234.56), nl_number(-3.26, 1, signed=True), nl_number(-0.2, 0, signed=True)
    ('1.234,6', '-3,3', '0')
    """
    if value is None:
        return SUPPRESSED
    rounded = round(value, decimals) or 0.0  # no '-0'
    text = f"{rounded:{'+' if signed and rounded != 0 else ''},.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def nl_interval(low: float | None, high: float | None, decimals: int = 1, signed: bool = False) -> str:
    """'low tot high' in Dutch notation."""
    return f"{nl_number(low, decimals, signed)} tot {nl_number(high, decimals, signed)}"


MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


def wave_name(period: str) -> str:
    """A wave the way people say it.

    >>> wave_name("2026-10")
    'okt 2026'
    """
    match = re.fullmatch(r"(\d{4})-(\d{2})", period or "")
    return f"{MONTHS[int(match[2]) - 1]} {match[1]}" if match and 1 <= int(match[2]) <= 12 else str(period)


def nl_percent(value: float | None) -> str:
    return SUPPRESSED if value is None else f"{nl_number(value, 0)}%"


FULL_MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"]


def nl_date(day) -> str:
    """A date the way people write it.

    >>> from datetime import date
    >>> nl_date(date(2027, 1, 5))
    '5 januari 2027'
    """
    return f"{day.day} {FULL_MONTHS[day.month - 1]} {day.year}"


def nl_euro(value: float | None, decimals: int = 0) -> str:
    """An amount in euros.

    >>> nl_euro(12345.6), nl_euro(-250)
    ('€ 12.346', '€ -250')
    """
    return SUPPRESSED if value is None else f"€ {nl_number(value, decimals)}"
