"""Differentially private releases: budgets, OpenDP execution, accuracy, export.

A plain library: no Dagster or Streamlit imports. Every number that leaves
the warehouse for an analyst, a respondent or a researcher is made here.
"""
