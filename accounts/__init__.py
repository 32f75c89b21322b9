"""Accounts, roles, two-factor login and the audit trail: who may do what.

A plain library (no Streamlit), used by the dashboards and the `mkbvm` CLI.
Accounts live in their own SQLite file (`data/accounts/accounts.sqlite`),
not in the warehouse: logins, lockouts and the audit trail are written by
the web process and the CLI at any time, while the DuckDB warehouse has one
writer, the pipeline (DESIGN.md).
"""
