"""marts.<mart>: one row per unit per period, the profile plus one column per answer, one table per declared source.

The private mart: the bounded contribution of one privacy unit to every
release of that period (one answer per question). Never shown to anyone:
releases read it through privacy/. Answers come back in their own type:
integer and decimal numbers as BIGINT and DOUBLE, integer-coded choices as
INT, multi-select answers as the ';'-joined codes (releases split them), other
choices as their code. Free text is left out: no release reads it, and the
mart is the privacy engine's input. A unit without an answer to a question
gets null there (it does not count in that question's release).

A source whose periods are calendar months (the CGC waves) has an
incremental mart (INCREMENTAL_BY_TIME_RANGE on its period, as 'YYYY-MM'):
SQLMesh replaces the months a run restates and keeps the others
(`core.sqlmesh_project.plan_and_refresh` says which months changed). Other
sources (one period per proposal or article) are rebuilt whole.

One blueprint per source in `sources/*/source.yaml`. Checks (`core.sqlmesh_project.register_marts`): not_null on the
unit, the period and the profile, one row per unit per period, and per answer
its own options, integer codes or number bounds (one `forall`: a blueprint
shares the audit list of its model, see `core.sqlmesh_project.answer_rules`).
"""

from sqlmesh.core.macros import MacroEvaluator

from core.sources import Source, sources
from core.sqlmesh_project import answer_rules, column_comments, columns, month_filter, register_marts

# What a declared type becomes in the mart (text where not named).
NUMBER_TYPES = {"integer": "BIGINT", "decimal": "DOUBLE", "timestamp": "TIMESTAMP"}


def mart_type(declared: Source, name: str) -> str | None:
    field = declared.fields[name]
    if field.type == "choice" and field.integer_codes:
        return "INT"
    return NUMBER_TYPES.get(field.type)


def blueprint(declared: Source, mart_variable: str = "mart") -> dict:
    unit, period, comments = declared.unit_column, declared.period.field, column_comments(declared, joined=True)
    profiles = list(declared.of_role("profile"))
    answers = [[name, mart_type(declared, name)] for name, field in declared.questions().items() if field.type != "free_text"]
    return {
        mart_variable: declared.mart,
        "monthly": declared.period.calendar == "month",
        "answers_model": f"staging.{declared.name}_answers",
        "profiles_model": f"staging.{declared.name}_profiles",
        "unit": unit,
        "period": period,
        "profiles": profiles,
        "answers": answers,
        "comments": {column: comments[column] for column in (unit, period, *profiles, *(name for name, _ in answers))},
        "description": (
            f"Private mart of the {declared.title} ({declared.name}): one row per {declared.unit} per {period}, "
            f"the profile plus one column per answer (numbers as numbers, free text left out). "
            f"Never shown to anyone: releases read it through privacy/."
        ),
        "not_null_columns": columns(unit, period, *profiles),
        "grain_columns": columns(unit, period),
        "answer_rules": answer_rules(declared),
    }


def unit_period(evaluator: MacroEvaluator) -> str:
    unit = evaluator.blueprint_var("unit")
    period = evaluator.blueprint_var("period")
    profiles = evaluator.blueprint_var("profiles")
    comments = evaluator.blueprint_var("comments")

    def pivot(question: str, cast_to: str | None) -> str:
        answer = f"MAX(CASE WHEN question = '{question}' THEN answer END)"
        return f"CAST({answer} AS {cast_to})" if cast_to else answer

    questions = [question for question, _ in evaluator.blueprint_var("answers")]
    pivoted = [f'  {pivot(question, cast_to)} AS "{question}"' for question, cast_to in evaluator.blueprint_var("answers")]
    selected = [f'  p."{column}" /* {comments[column]} */' for column in [unit, period, *profiles]]
    selected += [f'  a."{question}" /* {comments[question]} */' for question in questions]
    newline = ",\n"
    # Incremental (calendar months): only the months SQLMesh fills or restates, on both sides of the join.
    monthly = evaluator.blueprint_var("monthly")
    answers_where = f"WHERE {month_filter(evaluator, period)}" if monthly else ""
    profiles_where = f"WHERE {month_filter(evaluator, period, table='p')}" if monthly else ""
    # Pivot the answers on (unit, period) alone, then join the profile: grouping the joined rows by the profile
    # columns too holds more than DuckDB can spill (300,000 firms: out of memory at 500 MB, where this form needs no more).
    return f"""
WITH answers AS (
  SELECT
  "{unit}",
  "{period}",
{newline.join(pivoted)}
  FROM {evaluator.blueprint_var("answers_model")}
  {answers_where}
  GROUP BY "{unit}", "{period}"
)
SELECT
{newline.join(selected)}
FROM {evaluator.blueprint_var("profiles_model")} AS p
LEFT JOIN answers AS a
  ON a."{unit}" = p."{unit}" AND a."{period}" = p."{period}"
{profiles_where}
"""


register_marts(unit_period, [declared for declared in sources().values() if declared.latest == "answer"], blueprint,
               grains=["@{unit}", "@{period}"])
