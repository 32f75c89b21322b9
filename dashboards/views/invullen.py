"""Respondent page: the CGC form, then the respondent's answers beside released figures of similar firms."""

import logging

import polars as pl
import streamlit as st

from core import reference
from core.contracts import SubmissionError
from core.survey import cgc_survey
from dashboards.data import balance_releases, option_label, peer_figures, submit_cgc

survey = cgc_survey()
sector_names = reference.sector_names()
province_names = reference.province_names()

st.title("Gezondheidscheck invullen")
st.write("Vul de korte vragenlijst in. Het kost ongeveer twee minuten. Daarna ziet u uw antwoorden naast die van vergelijkbare bedrijven.")

with st.form("cgc_form"):
    st.subheader("Uw bedrijf")
    kvk_number = st.text_input("KvK-nummer", max_chars=8, placeholder="8 cijfers", key="kvk_number",
                               help="We slaan uw KvK-nummer niet op: we maken er een code van die niet terug te rekenen is.")
    sector = st.selectbox("Sector", reference.sector_codes(), index=None, placeholder="Kies uw sector",
                          format_func=lambda s: f"{s} – {sector_names[s]}", key="sector")
    size_class = st.selectbox("Bedrijfsgrootte (werkzame personen, inclusief uzelf)", reference.size_class_codes(), index=None,
                              placeholder="Kies de grootte", key="size_class")
    province = st.selectbox("Provincie", reference.province_codes(), index=None, placeholder="Kies uw provincie",
                            format_func=lambda p: province_names[p], key="province")
    st.subheader("Vragen")
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
    profile = {"kvk_number": kvk_number, "sector": sector, "size_class": size_class, "province": province}
    try:
        record = submit_cgc({**profile, **answers})
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
    st.subheader("Uw antwoorden naast die van vergelijkbare bedrijven")
    releases = balance_releases()
    if releases.is_empty():
        st.info("Er zijn nog geen gepubliceerde cijfers om mee te vergelijken.")
    else:
        peers, label = peer_figures(releases, record["sector"], record["size_class"])
        st.write(f"Vergelijking met **{label}**, meting {peers['wave'][0]} (de laatste gepubliceerde meting).")
        rows = []
        for figure in peers.iter_rows(named=True):
            question = figure["question"]
            rows.append(
                {
                    "Vraag": survey.questions[question].short_label,
                    "Uw antwoord": option_label(question, record.get(question)),
                    "Positief (%)": None if figure["suppressed"] else round(figure["pct_positive"]),
                    "Negatief (%)": None if figure["suppressed"] else round(figure["pct_negative"]),
                    "Saldo": None if figure["suppressed"] else f"{figure['balance']:+.0f} ({figure['balance_ci_low']:+.0f} tot {figure['balance_ci_high']:+.0f})",
                }
            )
        st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
        st.caption("Saldo = % positief min % negatief; tussen haakjes het 95%-interval. De cijfers van anderen zijn anoniem gemaakt.")
