"""Respondent page: estimate what an open proposal would do to the firm (DIS), then see it beside similar firms."""

from datetime import date

import streamlit as st

from accounts.service import firm_kvk_number
from accounts.store import store
from content.proposals import list_proposals, open_proposals
from core.sources import source
from dashboards import auth
from dashboards.comparisons import show_dis_comparison
from dashboards.dis import (
    comparison_table,
    impact_releases,
    peer_impact,
    position_labels,
    released_proposals,
)
from dashboards.form_parts import profile_inputs, send
from dashboards.formatting import nl_date, nl_number
from dashboards.safe import md

account = auth.require("respondent")  # every page checks the role itself
dis = source("dis")
st.title("Impact van een voorstel inschatten")
st.write("Wat betekent een wetsvoorstel of beleidsmaatregel voor uw bedrijf? Vul in wat u verwacht. "
         "Daarna ziet u uw antwoorden naast die van vergelijkbare bedrijven. U kunt later opnieuw invullen: dan telt uw nieuwste antwoord.")

with store() as connection:
    proposals = open_proposals(connection, date.today())
    titles = {p.id: p.title for p in list_proposals(connection)}
    kvk_number = firm_kvk_number(connection, account)  # the firm comes from the account, never from the form
cells = impact_releases()


def closed_results(sector: str | None, size_class: str | None) -> None:
    """Released figures of closed proposals, for firms like the respondent's (what the comparison shows once a proposal closed)."""
    closed = [pid for pid in released_proposals(cells) if pid in titles]
    if not closed:
        return
    st.header("Uitkomsten van gesloten voorstellen")
    st.write("Van deze voorstellen is de simulatie gesloten. Dit verwachten de bedrijven die meededen.")
    pick = st.selectbox("Gesloten voorstel", closed, format_func=titles.get, key="dis_closed_proposal")
    peers = peer_impact(cells, pick, sector or "", size_class or "")
    if peers is not None:
        st.write(f"Cijfers van **{md(peers.label)}**.")
        st.table(comparison_table(peers, None), hide_index=True)
        st.caption("Het 95%-interval laat zien hoe zeker een cijfer is: de echte waarde ligt met grote zekerheid tussen die twee getallen. "
                   "x = dit cijfer tonen we niet, omdat er te weinig antwoorden zijn.")


if not proposals:
    st.info("Er staan op dit moment geen voorstellen open om in te schatten. U krijgt bericht als er een nieuw voorstel is.")
    closed_results(None, None)
    st.stop()

chosen = st.selectbox("Voorstel", proposals, format_func=lambda p: p.title, key="dis_proposal")
with st.container(border=True):
    st.markdown(f"**{md(chosen.title)}** · {md(chosen.ministry)} · fase: {chosen.phase_name}")
    st.write(md(chosen.summary))
    st.caption(f"U kunt dit voorstel inschatten tot en met {nl_date(chosen.simulation_closes)}.")
    if chosen.link:
        st.link_button("Lees het voorstel", chosen.link)

st.header("Uw bedrijf")
st.write(f"U vult in voor uw bedrijf met KvK-nummer eindigend op **{kvk_number[-3:]}** (zo staat het in uw account).")
sector, size_class, province = profile_inputs(dis, "dis")


def number_field(name: str, container=st):
    """A number field with the range and step the declaration gives for this firm's size (empty = not answered)."""
    field = dis.fields[name]
    low, high = (field.form_range or {}).get(size_class or "", (field.minimum, field.maximum))
    step = field.step or 1.0
    decimals = max(0, len(f"{step:g}".split(".")[1]) if "." in f"{step:g}" else 0)
    return container.number_input(f"{field.question} ({field.unit})", min_value=float(low), max_value=float(high), value=None,
                                  step=float(step), format=f"%.{decimals}f", key=f"dis_{name}",
                                  help=f"Van {nl_number(low, decimals)} tot {nl_number(high, decimals)} {field.unit}. Leeg laten als u het niet weet.")


st.header("Wat verwacht u?")
with st.form("dis_form"):
    st.write("Vul de kosten in euro of in procenten in (één van beide is genoeg). Laat leeg wat u niet weet.")
    left, right = st.columns(2)
    answers = {"cost_change_euro": number_field("cost_change_euro", left), "cost_change_percent": number_field("cost_change_percent", right)}
    answers["fte_change"] = number_field("fte_change")
    left, right = st.columns(2)
    answers["revenue_change_percent"] = number_field("revenue_change_percent", left)
    answers["profit_change_percent"] = number_field("profit_change_percent", right)
    answers["admin_hours_per_month"] = number_field("admin_hours_per_month")
    labels = position_labels()
    answers["competitive_position"] = st.radio(dis.fields["competitive_position"].question, list(labels), index=None,
                                               format_func=labels.get, horizontal=True, key="dis_competitive_position")
    answers["free_text"] = st.text_area(dis.fields["free_text"].question, max_chars=dis.fields["free_text"].max_length, key="dis_free_text")
    sent = st.form_submit_button("Versturen", type="primary")

if sent:
    record = {"proposal": chosen.id, "sector": sector, "size_class": size_class, "province": province, **answers}
    stored = send("dis", record, kvk_number, "inschatting", account)
    if stored is not None:
        st.session_state["dis_submission"] = stored

stored = st.session_state.get("dis_submission")
if stored and stored["proposal"] == chosen.id:
    st.success("Bedankt! Uw inschatting is veilig opgeslagen.")
    st.header("Uw inschatting naast die van vergelijkbare bedrijven")
    show_dis_comparison(stored, chosen.simulation_closes)

closed_results(sector, size_class)
