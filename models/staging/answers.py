"""staging.<source>_answers: the latest answer per unit per period per question, one view per declared source.

A unit may submit more than once in a period (a correction, a second visit);
per question its most recent non-empty answer counts (by the declaration's
`submitted_at` field, then its key, descending), so a unit gives at most one
answer per question per period. Every field with role `answer` is a
question (free text included); answers are text here: numbers cast to
VARCHAR, multi-select lists joined with ';'. `marts/unit_period.py` casts
numbers back.

One blueprint per source in `sources/*/source.yaml`: the SQL below reads only
the blueprint's variables, so the declaration is part of the model's
fingerprint and a changed declaration is a changed model.
"""

from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from core.sources import Source, sources
from core.sqlmesh_project import column_comments, columns, grain_audits
from core.warehouse import column_types


def blueprint(declared: Source) -> dict:
    unit, period, types, comments = declared.unit_column, declared.period.field, column_types(declared.name), column_comments(declared)
    questions = [[name, field.pseudonym or name, types[field.pseudonym or name]] for name, field in declared.questions().items()]
    labels = ", ".join(field.label for field in declared.questions().values())
    return {
        "source": declared.name,
        "raw": declared.raw_table,
        "unit": unit,
        "period": period,
        "key": declared.key,
        "submitted_at": declared.submitted_at,
        "questions": questions,
        "comments": {
            unit: comments[unit],
            period: comments[period],
            "question": f"question code of sources/{declared.name}/source.yaml",
            "answer": "answer code or number as text; multi-select codes joined with ';'",
            declared.submitted_at: "when the counted answer was given",
            declared.key: "the submission it came from",
        },
        "description": (
            f"Latest answer per {declared.unit} per {period} per question of the {declared.title} ({declared.name}): "
            f"per question the most recent non-empty answer counts (by {declared.submitted_at}, then {declared.key}). "
            f"Questions: {labels}."
        ),
        "not_null_columns": columns(unit, period, "question", "answer"),
        "grain_columns": columns(unit, period, "question"),
    }


@model(
    "staging.@{source}_answers",
    is_sql=True,
    kind="VIEW",
    grains=["@{unit}", "@{period}", "question"],
    owner="data_engineering",
    description="@description",
    audits=grain_audits(answer_rules=False),
    blueprints=[blueprint(declared) for declared in sources().values() if declared.latest == "answer"],
)
def answers(evaluator: MacroEvaluator) -> str:
    raw = evaluator.blueprint_var("raw")
    unit = evaluator.blueprint_var("unit")
    period = evaluator.blueprint_var("period")
    key = evaluator.blueprint_var("key")
    submitted_at = evaluator.blueprint_var("submitted_at")
    questions = evaluator.blueprint_var("questions")
    comments = evaluator.blueprint_var("comments")

    def as_text(column: str, column_type: str) -> str:
        if column_type == "VARCHAR":
            return f'"{column}"'
        if column_type.endswith("[]"):  # multi-select: an empty list is no answer
            return f"""CASE WHEN LEN("{column}") > 0 THEN ARRAY_TO_STRING("{column}", ';') END"""
        return f'CAST("{column}" AS VARCHAR)'

    branches = "\n  UNION ALL\n  ".join(
        f"""SELECT "{unit}", "{period}", "{submitted_at}", "{key}", '{question}' AS question, {as_text(column, column_type)} AS answer FROM {raw}"""
        for question, column, column_type in questions
    )
    return f"""
WITH answers AS (
  {branches}
)
SELECT
  "{unit}" /* {comments[unit]} */,
  "{period}" /* {comments[period]} */,
  question /* {comments["question"]} */,
  answer /* {comments["answer"]} */,
  "{submitted_at}" /* {comments[submitted_at]} */,
  "{key}" /* {comments[key]} */
FROM answers
WHERE answer IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY "{unit}", "{period}", question ORDER BY "{submitted_at}" DESC, "{key}" DESC) = 1
"""
