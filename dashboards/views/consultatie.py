"""Respondent page: react to the articles of an open proposal (stance, the article's question, a comment, an upload),
then see the released stance shares of the other reactions to that article."""

from datetime import date

import streamlit as st

from accounts.service import firm_kvk_number
from accounts.store import store
from content.proposals import article_code, list_proposals, open_proposals
from core.sources import source
from dashboards import auth
from dashboards.consultation import stance_releases, stance_shares
from dashboards.form_parts import profile_inputs, send
from dashboards.formatting import nl_date, nl_number
from dashboards.safe import md

account = auth.require("respondent")  # every page checks the role itself
declared = source("consultation")
st.title("Reageren op een voorstel")
st.write("Geef per artikel of onderdeel van een voorstel aan wat u ervan vindt. U kunt een document of advies meesturen. "
         "Reageert u later opnieuw op hetzelfde onderdeel, dan telt uw nieuwste reactie.")

with store() as connection:
    proposals = [p for p in open_proposals(connection, date.today()) if p.articles]
    kvk_number = firm_kvk_number(connection, account)  # the firm comes from the account, never from the form
if not proposals:
    st.info("Er staan op dit moment geen voorstellen open voor een consultatie.")
    st.stop()

proposal = st.selectbox("Voorstel", proposals, format_func=lambda p: p.title, key="consultation_proposal")
article = st.selectbox("Artikel of onderdeel", proposal.articles, format_func=lambda a: f"{a.number}: {a.title}", key="consultation_article")
with st.container(border=True):
    st.markdown(f"**{md(article.number)}: {md(article.title)}**")
    if article.summary:
        st.write(md(article.summary))
    st.caption(f"U kunt reageren tot en met {nl_date(proposal.simulation_closes)}.")

sector, size_class, province = profile_inputs(declared, "consultation")

stances = declared.fields["stance"].labels()
with st.form("consultation_form"):
    answers = {"stance": st.radio(declared.fields["stance"].question, list(stances), index=None, format_func=stances.get,
                                  horizontal=True, key="consultation_stance")}
    if article.question and article.choices():
        answers["question_choice"] = st.radio(md(article.question), article.choices(), index=None, key="consultation_question_choice")
    elif article.question:
        answers["question_text"] = st.text_area(md(article.question), max_chars=declared.fields["question_text"].max_length,
                                                key="consultation_question_text")
    answers["comment"] = st.text_area(declared.fields["comment"].question, max_chars=declared.fields["comment"].max_length,
                                      key="consultation_comment")
    consent = st.checkbox("Mijn reactie mag anoniem geciteerd worden (zonder naam, en zonder sector, grootte of regio als die groep klein is)",
                          key="consultation_consent")
    upload = st.file_uploader("Document of advies meesturen (PDF, DOCX of ODT, hoogstens 10 MB; optioneel)", type=["pdf", "docx", "odt"],
                              key="consultation_upload")
    sent = st.form_submit_button("Versturen", type="primary")

if sent:
    record = {"article": article_code(proposal.id, article), "proposal": proposal.id, "sector": sector, "size_class": size_class,
              "province": province, "quote_consent": "yes" if consent else "no", **answers}
    stored = send("consultation", record, kvk_number, "reactie", account)
    if stored is not None:
        st.session_state["consultation_submission"] = stored
        if upload is not None:  # the reaction is safe first; a refused document does not lose it
            from content.uploads import UploadError, store_upload

            with store() as connection:
                try:
                    store_upload(connection, account, proposal.id, stored["article"], upload.name, upload.getvalue())
                except UploadError as error:
                    st.warning(f"Uw reactie is opgeslagen, maar het document niet: {md(error)}")
                else:
                    st.session_state["consultation_upload_ok"] = upload.name


def show_shares(code: str) -> bool:
    """The released stance shares of one article ('<proposal>/<article>'); False when nothing is released for it."""
    shares = stance_shares(stance_releases(), code)
    if shares is None:
        return False
    if shares.reactions is not None:
        st.write(f"Ongeveer {nl_number(shares.reactions, 0)} bedrijven reageerden op dit onderdeel.")
    st.table(shares.table, hide_index=True)
    st.caption("Het 95%-interval laat zien hoe zeker een cijfer is. De cijfers zijn anoniem gemaakt met een beetje ruis. "
               "x = niet getoond, met de reden.")
    return True


stored = st.session_state.get("consultation_submission")
if stored and stored["article"] == article_code(proposal.id, article):
    st.success("Bedankt! Uw reactie is veilig opgeslagen.")
    if st.session_state.pop("consultation_upload_ok", None):
        st.success("Uw document is ook ontvangen.")
    st.header("Wat vinden andere bedrijven van dit onderdeel?")
    if not show_shares(stored["article"]):
        st.info("De uitkomsten van dit onderdeel worden gepubliceerd na de sluitingsdatum "
                f"({nl_date(proposal.simulation_closes)}). U vindt ze dan onderaan deze pagina, bij 'Uitkomsten van gesloten consultaties'.")

st.divider()
st.header("Uitkomsten van gesloten consultaties")
with store() as connection:
    closed = [p for p in list_proposals(connection) if p.is_closed(date.today()) and p.articles]
released = set(stance_releases()["period"].to_list()) if not stance_releases().is_empty() else set()
closed = [p for p in closed if p.id in released]
if not closed:
    st.info("Er zijn nog geen uitkomsten van gesloten consultaties gepubliceerd.")
else:
    done = st.selectbox("Gesloten voorstel", closed, format_func=lambda p: p.title, key="consultation_closed_proposal")
    part = st.selectbox("Onderdeel", done.articles, format_func=lambda a: f"{a.number}: {a.title}", key="consultation_closed_article")
    if not show_shares(article_code(done.id, part)):
        st.info("Voor dit onderdeel zijn geen uitkomsten gepubliceerd: er kwamen te weinig reacties.")
