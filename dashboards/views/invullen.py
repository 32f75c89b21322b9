"""Respondent page: the CGC form, then the respondent's answers beside released figures of similar firms."""

import logging
from datetime import date

import streamlit as st

from accounts.service import firm_kvk_number
from accounts.store import store
from core import reference
from core.contracts import SubmissionError
from core.survey import cgc_survey
from dashboards import auth
from dashboards.cgc import (
    MAX_PEER_HALF_WIDTH,
    balance_releases,
    peer_challenges,
    peer_figures,
    peer_table,
    profile_releases,
    submit_cgc,
)
from dashboards.consultation import show_open_work
from dashboards.formatting import wave_name

account = auth.require("respondent")  # every page checks the role itself, not only the menu
survey = cgc_survey()
sector_names = reference.sector_names()
province_names = reference.province_names()


def show_comparison(record: dict) -> None:
    """The respondent's answers beside the latest released figures of similar firms."""
    balances = balance_releases()
    if balances.is_empty():
        st.info("Er zijn nog geen gepubliceerde cijfers om mee te vergelijken.")
        return
    peers = peer_figures(balances, record["sector"], record["size_class"])
    st.write(f"Vergelijking met **{peers.label}**, meting {wave_name(peers.period)} (de laatste gepubliceerde meting).")
    st.table(peer_table(peers, record), hide_index=True)
    st.caption(
        "Positief en negatief: het deel van de bedrijven met dat antwoord. Saldo = % positief min % negatief; "
        "tussen haakjes het 95%-interval. De cijfers van anderen zijn anoniem gemaakt met een beetje ruis."
    )
    if not peers.precise:
        st.info(
            f"Let op: voor kleinere groepen zijn de cijfers te onzeker (marge groter dan {MAX_PEER_HALF_WIDTH:.0f} punten). "
            "Daarom vergelijken we met alle bedrijven in Nederland. Ook deze cijfers hebben nog een ruime marge."
        )
    chosen = record.get("challenges") or []
    profiles = profile_releases() if chosen else None
    if profiles is not None and not profiles.is_empty():
        table, label = peer_challenges(profiles, record["sector"], chosen)
        st.header("Uw uitdagingen naast die van anderen")
        st.write(f"Zoveel procent van **{label}** noemt dezelfde uitdaging:")
        st.table(table, hide_index=True)


st.title("Gezondheidscheck invullen")
st.write("Vul de korte vragenlijst in. Het kost ongeveer twee minuten. Daarna ziet u uw antwoorden naast die van vergelijkbare bedrijven.")
show_open_work(date.today())  # the open consultations and impact estimates, on the respondent's home page

with store() as connection:
    kvk_number = firm_kvk_number(connection, account)  # the firm comes from the account, never from the form

with st.form("cgc_form"):
    st.header("Uw bedrijf")
    st.write(f"U vult in voor uw bedrijf met KvK-nummer eindigend op **{kvk_number[-3:]}** (zo staat het in uw account).")
    sector = st.selectbox("Sector", reference.sector_codes(), index=None, placeholder="Kies uw sector",
                          format_func=lambda s: f"{s} – {sector_names[s]}", key="sector")
    size_class = st.selectbox("Bedrijfsgrootte (werkzame personen, inclusief uzelf)", reference.size_class_codes(), index=None,
                              placeholder="Kies de grootte", key="size_class")
    province = st.selectbox("Provincie", reference.province_codes(), index=None, placeholder="Kies uw provincie",
                            format_func=lambda p: province_names[p], key="province")
    st.header("Vragen")
    answers = {}
    for name, question in survey.questions.items():
        answers[name] = st.radio(question.label, list(question.options), index=None, format_func=question.options.get,
                                 horizontal=True, key=name)
    for name, question in survey.multi_select.items():
        answers[name] = st.multiselect(question.label, list(question.options), format_func=question.options.get, key=name,
                                       placeholder="Kies een of meer")
    answers["free_text"] = st.text_area(survey.free_text.label, max_chars=survey.free_text.max_length, key="free_text")
    sent = st.form_submit_button("Versturen", type="primary")

if sent:
    profile = {"sector": sector, "size_class": size_class, "province": province}
    try:
        record = submit_cgc({**profile, **answers}, kvk_number)
    except SubmissionError as error:
        st.error("Uw antwoorden zijn nog niet verstuurd. Controleer deze punten:\n\n" + "\n".join(f"- {p}" for p in error.problems))
    except Exception:  # noqa: BLE001 - a respondent never sees a traceback
        logging.getLogger(__name__).exception("saving a CGC submission failed")
        st.error("Uw antwoorden konden niet worden opgeslagen. Probeer het over een paar minuten opnieuw.")
    else:
        st.session_state["cgc_submission"] = record

record = st.session_state.get("cgc_submission")
if record:
    st.success("Bedankt! Uw antwoorden zijn veilig opgeslagen.")
    st.header("Uw antwoorden naast die van vergelijkbare bedrijven")
    try:
        show_comparison(record)
    except Exception:  # noqa: BLE001 - the answers are saved; only the comparison failed
        logging.getLogger(__name__).exception("showing the CGC comparison failed")
        st.error("Uw antwoorden zijn opgeslagen, maar de vergelijking kan nu niet worden getoond. Probeer het later opnieuw.")
