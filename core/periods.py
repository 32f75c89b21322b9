"""Period calendars: when a period is closed, so that its figures may be released.

* `wave`: a monthly survey wave closes on its last day (`reference/cgc_waves.csv`);
* `month`: a calendar month ('YYYY-MM') is closed once it is over;
* `proposal`: a proposal of the policy pipeline closes when its simulation
  window ends (`content/proposals.py`, set by the administrator). Its figures
  are released once, after it closed; while it is open, only running figures
  under their own fixed budget are released (see the DIS release specs).
"""

from __future__ import annotations

from datetime import date

from core import reference

CALENDARS = ("wave", "month", "proposal")


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
    if calendar == "proposal":
        from content.proposals import closed_proposals  # the administrators' content, read fresh

        closed = set(closed_proposals(today))
        return [period for period in present if period in closed]
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
