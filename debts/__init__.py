"""Small public debts: what collection will cost (escalation) and what to do instead (the anti-escalation rules).

A plain library with no Dagster or Streamlit imports, like `privacy/`. The
claim contract lives in `debts.schema`, the statutory cost scales in
`debts.escalation`, the per-organisation rules in `debts.rules`, and their
configuration in `config/debts/` (read by `debts.settings`).
"""
