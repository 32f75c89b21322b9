"""Period calendars: when a period is closed, so that its figures may be released.

* `wave`: a monthly survey wave closes on its last day (`reference/cgc_waves.csv`);
* `month`: a calendar month ('YYYY-MM') is closed once it is over;
* `quarter`: a calendar quarter ('YYYY-Qn', e.g. '2026-Q3') is closed once it is over (the support programme);
* `proposal`: a proposal of the policy pipeline closes when its simulation
  window ends (`content/proposals.py`, set by the administrator). Its figures
  are released once, after it closed; while it is open, only running figures
  under their own fixed budget are released (see the DIS release specs).
"""

from __future__ import annotations

import calendar as _calendar
import re
import sqlite3
from datetime import date

from core import reference

CALENDARS = ("wave", "month", "quarter", "proposal")


def closed_periods(calendar: str, today: date, present: list[str]) -> list[str]:
    """Those of `present` (periods with data) that are closed on `today`, in the order given.

    >>> closed_periods("month", date(2026, 12, 1), ["2026-11", "2026-12"])
    ['2026-11']
    """
    if calendar == "wave":
        closed = set(reference.closed_waves(today))
        return [period for period in present if period in closed]
    if calendar == "month":
        return [period for period in present if period < f"{today:%Y-%m}"]
    if calendar == "quarter":
        return [period for period in present if period < quarter_of(today)]
    if calendar == "proposal":
        from content.proposals import closed_proposals  # the administrators' content, read fresh

        closed = set(closed_proposals(today))
        return [period for period in present if period in closed]
    raise ValueError(f"unknown period calendar '{calendar}' (known: {', '.join(CALENDARS)})")


MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^[0-9]{4}-Q[1-4]$")


def quarter_of(day: date | str) -> str:
    """The quarter code of a day or a month ('YYYY-MM').

    >>> quarter_of(date(2026, 11, 30)), quarter_of("2026-01")
    ('2026-Q4', '2026-Q1')
    """
    year, month = (day.year, day.month) if isinstance(day, date) else (int(day[:4]), int(day[5:7]))
    return f"{year:04d}-Q{(month - 1) // 3 + 1}"


def next_quarter(quarter: str) -> str:
    """>>> next_quarter("2025-Q4"), next_quarter("2026-Q1")
    ('2026-Q1', '2026-Q2')
    """
    year, number = int(quarter[:4]), int(quarter[-1])
    return f"{year + 1:04d}-Q1" if number == 4 else f"{year:04d}-Q{number + 1}"
PROPOSAL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # content.proposals.SLUG


def is_canonical(calendar: str, period: str) -> bool:
    """Whether `period` is a period code of `calendar` exactly as the calendar writes it ('2025-01', not '2025-1' or '202501').

    >>> is_canonical("wave", "2025-01"), is_canonical("wave", "2025-1"), is_canonical("month", "2025-13")
    (True, False, False)
    """
    if calendar == "wave":
        return period in set(reference.waves()["wave"].to_list())
    if calendar == "month":
        return bool(MONTH.match(period))
    if calendar == "quarter":
        return bool(QUARTER.match(period))
    if calendar == "proposal":
        return len(period) <= 32 and bool(PROPOSAL.match(period))
    raise ValueError(f"unknown period calendar '{calendar}' (known: {', '.join(CALENDARS)})")


def calendar_closed_periods(calendar: str, today: date, present: list[str]) -> list[str]:
    """Every closed period of the calendar between the first and the last one with data, with data or not, oldest first.

    A period without answers between two with answers is released too (its
    figures are mostly 'x'): leaving it out would say that nobody answered.
    Proposals are public, so every closed proposal counts, answered or not.
    Waves and months run from the first to the last with data (the survey's
    start is public; a closed period after the last one with answers follows
    once a later period has answers).

    >>> calendar_closed_periods("month", date(2026, 12, 1), ["2026-08", "2026-10", "2026-12"])
    ['2026-08', '2026-09', '2026-10']
    """
    if calendar == "proposal":
        from content.proposals import closed_proposals

        return sorted(set(closed_proposals(today)))
    present = sorted(p for p in present if is_canonical(calendar, p))
    closed = closed_periods(calendar, today, present)
    if not closed:
        return []
    first, last = closed[0], closed[-1]
    if calendar == "wave":
        return [wave for wave in reference.closed_waves(today) if first <= wave <= last]
    if calendar == "month":
        year, month = int(first[:4]), int(first[5:])
        months = []
        while f"{year:04d}-{month:02d}" <= last:
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months
    if calendar == "quarter":
        quarters = [first]
        while quarters[-1] < last:
            quarters.append(next_quarter(quarters[-1]))
        return quarters
    raise ValueError(f"unknown period calendar '{calendar}' (known: {', '.join(CALENDARS)})")


def period_end(calendar: str, period: str) -> date | None:
    """The last day of a period (a wave's closing day, a month's last day, a proposal's last simulation day); None if unknown.

    The ledger counts a release in the 12 months that hold this day.

    >>> period_end("month", "2024-02"), period_end("wave", "2025-01")
    (datetime.date(2024, 2, 29), datetime.date(2025, 1, 31))
    """
    if calendar == "wave":
        frame = reference.waves()
        closes = frame.filter(frame["wave"] == period)["closes"].to_list()
        return closes[0] if closes else None
    if calendar == "month":
        if not MONTH.match(period):
            return None
        year, month = int(period[:4]), int(period[5:])
        return date(year, month, _calendar.monthrange(year, month)[1])
    if calendar == "quarter":
        if not QUARTER.match(period):
            return None
        year, month = int(period[:4]), 3 * int(period[-1])
        return date(year, month, _calendar.monthrange(year, month)[1])
    if calendar == "proposal":
        try:
            window = proposal_windows().get(period)
        except (OSError, sqlite3.Error):  # no content store here (a test warehouse): the ledger counts the release day
            return None
        return window[1] if window else None
    raise ValueError(f"unknown period calendar '{calendar}' (known: {', '.join(CALENDARS)})")


def open_periods(calendar: str, today: date, present: list[str]) -> list[str]:
    """Those of `present` still open on `today` (only proposals have running figures while open)."""
    if calendar != "proposal":
        return []
    from content.proposals import open_proposal_codes

    still_open = set(open_proposal_codes(today))
    return [period for period in present if period in still_open]


def proposal_windows() -> dict[str, tuple[date, date]]:
    """The simulation window (first day, last day; both open) of every proposal, by id, read fresh.

    Running figures (`privacy.continual`) split a proposal's window into its
    days; the window is public content set by the administrator.
    """
    from accounts.store import store
    from content.proposals import list_proposals

    with store() as connection:
        return {proposal.id: (proposal.simulation_opens, proposal.simulation_closes) for proposal in list_proposals(connection)}
