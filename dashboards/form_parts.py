"""Parts of the respondents' forms that every declared source shares: the firm's profile and sending one answer."""

from __future__ import annotations

import logging

import streamlit as st

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


def send(name: str, record: dict, kvk_number: str, noun: str) -> dict | None:
    """Submit one answer of source `name`; the stored record, or None after showing why not (in Dutch, never a traceback).

    `noun` names the answer as the page does ("reactie", "inschatting").
    """
    try:
        return submit(name, record, kvk_number)
    except SubmissionError as error:
        st.error(f"Uw {noun} is nog niet verstuurd. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))
    except Exception:
        logging.getLogger(__name__).exception("saving a %s submission failed", name)
        st.error(f"Uw {noun} kon niet worden opgeslagen. Probeer het over een paar minuten opnieuw.")
    return None
