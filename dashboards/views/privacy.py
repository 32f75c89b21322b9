"""Privacy page: what each release cost in privacy budget, per wave (the public ledger)."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards.data import privacy_ledger
from privacy.config import privacy_config

st.title("Privacy en nauwkeurigheid")
st.write(
    "Elke publicatie van cijfers kost een deel van het **privacybudget** (epsilon). Per meting is het budget begrensd. "
    "Een publicatie wordt één keer gemaakt en daarna steeds opnieuw getoond, zodat de ruis niet 'weg te middelen' is."
)
ledger = privacy_ledger()
if ledger.is_empty():
    st.info("Er zijn nog geen publicaties.")
    st.stop()
budget = privacy_config().datasets["cgc"].budget_per_period.epsilon
spent = ledger.group_by("period").agg(pl.col("epsilon").sum().alias("verbruikt")).sort("period")
chart = alt.Chart(spent.to_pandas()).mark_bar().encode(
    x=alt.X("period:N", title="Meting"), y=alt.Y("verbruikt:Q", title="Verbruikt epsilon", scale=alt.Scale(domain=[0, budget]))
)
rule = alt.Chart().mark_rule(color="red").encode(y=alt.datum(budget))
st.altair_chart((chart + rule).properties(height=280, title=f"Verbruikt privacybudget per meting (rode lijn: budget {budget})"), width="stretch")
st.dataframe(
    ledger.select(
        pl.col("release_id").alias("Publicatie"), pl.col("period").alias("Meting"), pl.col("epsilon").alias("Epsilon"),
        pl.col("delta").alias("Delta"), pl.col("mechanism").alias("Mechanisme"), pl.col("privacy_unit").alias("Beschermde eenheid"),
        pl.col("created_at").alias("Gemaakt op"),
    ),
    hide_index=True,
    width="stretch",
)
