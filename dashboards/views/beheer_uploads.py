"""Administrators: the documents respondents sent with their reactions, per proposal, each to download; every download is audited.

The download button gets a function, not the bytes: Streamlit runs it when the button is clicked, and it writes the
audit entry before it returns the file (`content.uploads.download`). Showing the list hands out nothing.
"""

import time
from datetime import datetime

import polars as pl
import streamlit as st

from accounts.settings import account_settings
from accounts.store import store
from content import uploads
from content.proposals import list_proposals
from dashboards import auth
from dashboards.formatting import nl_date
from dashboards.safe import md

admin = auth.require("administrator")  # every page checks the role itself
st.title("Documenten bij reacties")
st.write("Ondernemers kunnen bij hun reactie op een voorstel een document of advies meesturen (PDF, Word of OpenDocument). "
         "Elk bestand is gecontroleerd op soort, grootte, macro's en wachtwoorden. Het platform opent de bestanden nooit zelf. "
         "Ze tellen niet mee in de cijfers. Elke download komt in het logboek, met uw naam en het bestand.")

with store() as connection:
    proposals = list_proposals(connection)
    per_proposal = {proposal.id: uploads.list_uploads(connection, admin, proposal.id) for proposal in proposals}
if not proposals:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn, dus ook geen documenten.")
    st.stop()

titles = {proposal.id: proposal.title for proposal in proposals}
chosen = st.selectbox("Voorstel", [proposal.id for proposal in proposals], key="uploads_proposal",
                      format_func=lambda pid: f"{titles[pid]} ({len(per_proposal[pid])} document{'' if len(per_proposal[pid]) == 1 else 'en'})")
listed = per_proposal[chosen]
if not listed:
    st.info("Bij dit voorstel zijn nog geen documenten gestuurd.")
    st.stop()

KINDS = {"pdf": "PDF", "docx": "Word (.docx)", "odt": "OpenDocument (.odt)"}


def received(upload: uploads.Upload) -> str:
    moment = datetime.fromisoformat(upload.uploaded_at)
    return f"{nl_date(moment)} {moment:%H:%M}"


COLUMNS = ["Bestand", "Artikel", "Soort", "Grootte", "Ontvangen", "Bedrijf (pseudoniem)"]
st.table(  # st.table renders Markdown in its cells: every name goes through md()
    pl.DataFrame([[md(u.display_name), md(u.article) if u.article else "het hele voorstel", KINDS[u.kind], uploads.size_text(u.size),
                   received(u), u.firm_ref[:12]] for u in listed], schema=COLUMNS, orient="row"),
    hide_index=True,
)
st.caption("Het pseudoniem is een code voor het bedrijf, geen KvK-nummer: twee documenten met dezelfde code komen van hetzelfde bedrijf.")

st.header("Downloaden")
deadline = time.time() + account_settings().session.inactivity_minutes * 60  # the click must come within this session's time


def handed_out(upload_id: int):
    """What the download button runs at the click: refused once this session would have ended; audited, then the bytes."""
    def data() -> bytes:
        if time.time() > deadline:
            raise PermissionError("session idle")
        return uploads.download(admin.id, admin.credential_version, upload_id)
    return data


for upload in listed:
    if not (uploads.uploads_dir() / upload.sha256).is_file():
        st.error(f"Bestand '{md(upload.display_name)}' staat niet meer op de schijf; vraag de indiener het opnieuw te sturen.")
        continue
    st.download_button(f"{md(upload.display_name)} ({uploads.size_text(upload.size)}, {received(upload)})", data=handed_out(upload.id),
                       file_name=upload.display_name, mime=upload.media_type, on_click="ignore", icon="📥", key=f"upload_{upload.id}")
