"""marts.<mart>: one row per key per period (for the debt signals: per claim per month), for sources declared with `latest: row`.

The private mart of a delivery source: each record's (claim's) current state
in each period, from its latest delivery of that period
(`staging.<source>_latest`), every column in its own type (money as
DECIMAL(12,2), dates as DATE, yes/no as BOOLEAN). A claim not delivered in a
month has no row for that month. The privacy unit (a person, `person_id`)
may have many rows per period: releases bound that (at most N claims per
person) through privacy/. Never shown to anyone.

A source whose periods are calendar months (all of them today) has an
incremental mart (INCREMENTAL_BY_TIME_RANGE on its period, as 'YYYY-MM'):
SQLMesh replaces the months a run restates and keeps the others
(`core.sqlmesh_project.plan_and_refresh` says which months changed).

One blueprint per such source. Checks: not_null on the key, the period, the
unit and every required field; one row per key per period; and per field its
own options, integer codes or bounds (one `forall`, see
`core.sqlmesh_project.answer_rules`).
"""

from sqlmesh.core.macros import MacroEvaluator

from core.sources import Source, sources
from core.sqlmesh_project import (
    answer_rules,
    column_comments,
    columns,
    month_filter,
    register_marts,
    row_columns,
)


def blueprint(declared: Source, mart_variable: str = "delivery_mart") -> dict:
    comments = column_comments(declared)
    kept = row_columns(declared)
    required = [field.pseudonym or name for name, field in declared.fields.items() if field.required and field.type != "free_text"]
    return {
        # not "mart": SQLMesh names a model by its template, and unit_period.py has "marts.@{mart}"
        mart_variable: declared.mart,
        "monthly": declared.period.calendar == "month",
        "latest_model": f"staging.{declared.name}_latest",
        "key": declared.key,
        "period": declared.period.field,
        "kept": kept,
        "comments": {column: comments[column] for column in kept},
        "description": (
            f"Private mart of the {declared.title} ({declared.name}): one row per {declared.key} per {declared.period.field}, "
            f"the state from its latest delivery in that {declared.period.field}; the privacy unit ({declared.unit}) is "
            f"{declared.unit_column}. Never shown to anyone: releases read it through privacy/."
        ),
        "not_null_columns": columns(*required),
        "grain_columns": columns(declared.key, declared.period.field),
        "answer_rules": answer_rules(declared, roles=("answer", "profile")),
    }


def key_period(evaluator: MacroEvaluator) -> str:
    comments = evaluator.blueprint_var("comments")
    selected = ",\n".join(f'  "{column}" /* {comments[column]} */' for column in evaluator.blueprint_var("kept"))
    # Incremental (calendar months): only the months SQLMesh fills or restates.
    where = f"WHERE {month_filter(evaluator, evaluator.blueprint_var('period'))}" if evaluator.blueprint_var("monthly") else ""
    return f"""
SELECT
{selected}
FROM {evaluator.blueprint_var("latest_model")}
{where}
"""


register_marts(key_period, [declared for declared in sources().values() if declared.latest == "row"], blueprint,
               grains=["@{key}", "@{period}"], prefix="delivery")
