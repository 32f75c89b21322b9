"""Respondent page: the CGC form, then the respondent's answers beside released figures of similar firms."""

import logging

import streamlit as st

from accounts.service import firm_kvk_number
from accounts.store import store
from core import reference
from core.contracts import SubmissionError
from core.survey import cgc_survey
from dashboards import auth
from dashboards.cgc import submit_cgc
from dashboards.comparisons import show_comparison
from dashboards.form_parts import note_profile

account = auth.require("respondent")  # every page checks the role itself, not only the menu
survey = cgc_survey()
sector_names = reference.sector_names()
province_names = reference.province_names()


st.title("Gezondheidscheck invullen")
st.write("Vul de korte vragenlijst in. Het kost ongeveer twee minuten. Daarna ziet u uw antwoorden naast die van vergelijkbare bedrijven.")

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
    except Exception:
        logging.getLogger(__name__).exception("saving a CGC submission failed")
        st.error("Uw antwoorden konden niet worden opgeslagen. Probeer het over een paar minuten opnieuw.")
    else:
        st.session_state["cgc_submission"] = record
        note_profile(account, "cgc", record)

record = st.session_state.get("cgc_submission")
if record:
    st.success("Bedankt! Uw antwoorden zijn veilig opgeslagen.")
    st.header("Uw antwoorden naast die van vergelijkbare bedrijven")
    try:
        show_comparison(record)
    except Exception:
        logging.getLogger(__name__).exception("showing the CGC comparison failed")
        st.error("Uw antwoorden zijn opgeslagen, maar de vergelijking kan nu niet worden getoond. Probeer het later opnieuw.")
