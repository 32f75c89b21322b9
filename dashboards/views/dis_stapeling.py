"""Analyst page: the cumulative burden of all proposals per segment (sector x size class, province), per phase."""

import polars as pl
import streamlit as st

from accounts.store import store
from content.proposals import PHASES, list_proposals
from dashboards import auth
from dashboards.alerts import stored_alerts, top_alerts
from dashboards.dis import SEGMENT_LEVELS, burden_releases, cost_model, cumulative_burden, segment_name
from dashboards.formatting import SUPPRESSED, nl_euro, nl_number
from dashboards.groups import group_name
from dashboards.safe import md

auth.require(*auth.STAFF)  # every page checks the role itself
st.title("Stapeling van regeldruk")
st.write("Wat betekenen alle voorstellen in de beleidspijplijn samen voor een groep bedrijven? Hier tellen we de verwachte "
         "gevolgen per bedrijf op over alle voorstellen waarvan cijfers zijn gepubliceerd, per fase van het voorstel. "
         "Zo ziet u de stapeling die per voorstel apart niet opvalt.")

with store() as connection:
    proposals = {p.id: p for p in list_proposals(connection)}
cells = burden_releases()
model = cost_model()
if cells.is_empty():
    st.info("Er zijn nog geen gepubliceerde cijfers. De cijfers van een voorstel verschijnen nadat de simulatie is gesloten.")
    st.stop()

level = st.radio("Segment", list(SEGMENT_LEVELS), format_func=SEGMENT_LEVELS.get, horizontal=True, key="burden_level")
phase_names = {**PHASES, "alle fasen": "Alle fasen samen"}
phase = st.selectbox("Fase van de voorstellen", ["alle fasen", *PHASES], format_func=phase_names.get, key="burden_phase")
burden = cumulative_burden(cells, {pid: p.phase for pid, p in proposals.items()}, level, model)
burden = burden.filter(pl.col("phase") == phase) if not burden.is_empty() else burden
if level == "sector_size":
    sector = st.selectbox("Sector", sorted(burden["sector"].unique().to_list()) if not burden.is_empty() else [],
                          format_func=lambda s: f"{s} – {group_name('sector', s)}", key="burden_sector")
    burden = burden.filter(pl.col("sector") == sector) if not burden.is_empty() else burden
if burden.is_empty():
    st.info("Voor deze keuze zijn er geen gepubliceerde voorstellen.")
    st.stop()

# The burden first: on a narrow screen the grid scrolls sideways, and these are what the page is about.
COLUMNS = ["Segment", "Regeldruk per bedrijf (euro per jaar)", "Regeldruk alle bedrijven (miljoen euro per jaar)",
           "Kosten per bedrijf (euro per jaar)", "Administratie per bedrijf (uur per maand)", "Voorstellen"]
rows = {}
for row in burden.iter_rows(named=True):
    # The sector is chosen above: a row names its size class only.
    name = group_name("size_class", row["size_class"]) if level == "sector_size" else segment_name(level, row)
    entry = rows.setdefault(name, {"Segment": name, "Voorstellen": row["proposals"]})
    shown = row["shown"] and row["estimate"] is not None
    if row["measure"] == "cost_change_mean":
        entry["Kosten per bedrijf (euro per jaar)"] = f"{nl_euro(row['estimate'])} ± {nl_number(row['half_width'], 0)}" if shown else SUPPRESSED
    elif row["measure"] == "admin_hours_mean":
        entry["Administratie per bedrijf (uur per maand)"] = f"{nl_number(row['estimate'], 1, signed=True)} ± {nl_number(row['half_width'], 1)}" if shown else SUPPRESSED
    else:
        entry["Regeldruk per bedrijf (euro per jaar)"] = f"{nl_euro(row['estimate'])} ± {nl_number(row['half_width'], 0)}" if shown else SUPPRESSED
        firms = row["firms"] or 0
        entry["Regeldruk alle bedrijven (miljoen euro per jaar)"] = (
            f"{nl_number(row['estimate'] * firms / 1e6, 1, signed=True)} ± {nl_number(row['half_width'] * firms / 1e6, 1)}" if shown else SUPPRESSED)
st.dataframe(pl.DataFrame(list(rows.values()), schema=COLUMNS, orient="row"), hide_index=True, width="stretch",
             height=36 * (len(rows) + 1) + 2)  # every segment in view, no scrolling inside the table
st.caption(
    "± is de marge van het 95%-interval: de echte waarde ligt met grote zekerheid tussen het getal min en plus de marge. "
    "De marges van de voorstellen tellen op als onafhankelijke fouten (de wortel uit de som van de kwadraten). "
    "x = dit cijfer tonen we niet, omdat het cijfer van ten minste één voorstel te onzeker is."
)
st.caption(  # the sources in config/regeldruk.yaml are notes for maintainers, in English: the page says them in Dutch
    f"Regeldruk in euro = uren per maand × {model.frequency_per_year} maanden × € {nl_number(model.hourly_tariff_euro, 0)} per uur "
    "(het standaardkostenmodel). Het uurtarief komt uit het Handboek Meting Regeldrukkosten van de Rijksoverheid. "
    f"Het aantal bedrijven per segment is een schatting: ongeveer {nl_number(model.mkb_firms / 1e6, 1)} miljoen mkb-bedrijven "
    "(CBS), verdeeld naar hun aandeel per sector, grootteklasse en provincie."
)
st.info("Ter vergelijking: de MKB-toets van de overheid raadpleegt per voorstel een panel van ongeveer tien ondernemers "
        "en telt de voorstellen niet bij elkaar op.")

st.subheader("Waarschuwingen")
burden_warnings = top_alerts(stored_alerts(), "dis", level)
if burden_warnings.is_empty():
    st.caption("Geen waarschuwingen: geen voorstel voegde voor een segment meer regeldruk toe dan de onzekerheid van het cijfer verklaart.")
else:
    st.write("Voorstellen die voor een segment duidelijk meer regeldruk toevoegen dan de onzekerheid verklaart (alarmen eerst):")
    st.markdown("\n".join(f"- **{row['alert'].capitalize()}**: {md(row['reason'])}" for row in burden_warnings.iter_rows(named=True)))
    st.caption("Een signaal: één voorstel voegt meer toe dan de ruis en de steekproef verklaren. Een alarm: een grote toename, "
               "of twee voorstellen na elkaar die allebei regeldruk toevoegen.")
