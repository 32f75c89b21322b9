"""Parts of the respondents' forms that every declared source shares: the firm's profile and sending one answer."""

from __future__ import annotations

import logging

import streamlit as st

from accounts.service import Account
from core.contracts import SubmissionError
from core.sources import Source
from dashboards.groups import group_name
from dashboards.safe import md
from dashboards.submissions import submit


def profile_inputs(declared: Source, prefix: str) -> tuple[str | None, str | None, str | None]:
    """Sector, size class and province side by side, from the source's own allowed values (nothing chosen at first)."""
    left, middle, right = st.columns(3)
    sector = left.selectbox("Sector", declared.fields["sector"].allowed(), index=None, placeholder="Kies uw sector",
                            format_func=lambda s: f"{s} – {group_name('sector', s)}", key=f"{prefix}_sector")
    size_class = middle.selectbox("Bedrijfsgrootte (werkzame personen)", declared.fields["size_class"].allowed(), index=None,
                                  placeholder="Kies de grootte", key=f"{prefix}_size_class")
    province = right.selectbox("Provincie", declared.fields["province"].allowed(), index=None, placeholder="Kies uw provincie",
                               format_func=lambda p: group_name("province", p), key=f"{prefix}_province")
    return sector, size_class, province


def note_profile(account: Account, name: str, stored: dict) -> None:
    """After a stored answer: keep the firm's profile and the proposal it answered for on its account (what updates and
    working groups target, content/segments.py). The answer is safe already, so a failure here is logged, not shown."""
    from accounts.store import store
    from content.segments import note_submission

    try:
        with store() as connection:
            note_submission(connection, account, name, stored)
    except Exception:
        logging.getLogger(__name__).exception("noting the profile of a %s submission failed", name)


def send(name: str, record: dict, kvk_number: str, noun: str, account: Account | None = None) -> dict | None:
    """Submit one answer of source `name`; the stored record, or None after showing why not (in Dutch, never a traceback).

    `noun` names the answer as the page does ("reactie", "inschatting"); with the respondent's `account`, its firm's
    profile and the proposal are noted on the account afterwards (`note_profile`).
    """
    try:
        stored = submit(name, record, kvk_number)
    except SubmissionError as error:
        st.error(f"Uw {noun} is nog niet verstuurd. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))
    except Exception:
        logging.getLogger(__name__).exception("saving a %s submission failed", name)
        st.error(f"Uw {noun} kon niet worden opgeslagen. Probeer het over een paar minuten opnieuw.")
    else:
        if account is not None:
            note_profile(account, name, stored)
        return stored
    return None
