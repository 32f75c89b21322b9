"""staging.<source>_latest: per key per period the latest row, whole, one view per source declared with `latest: row`.

A delivery source (the debt signals) sends a record again with every new
state: a claim appears in each monthly delivery, and may appear twice in a
month (a correction, a second delivery). Per key (the claim) per period (the
month) the row from the latest delivery counts, all of it (by the
declaration's `submitted_at`, then the load time): unlike a survey, fields
are not merged answer by answer, because a claim's amount, costs and stage
belong together. Columns keep their raw types (money as DECIMAL(12,2),
dates as DATE, yes/no as BOOLEAN); free text and the load columns stay out.

One blueprint per such source in `sources/*/source.yaml`.
"""

from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from core.sources import Source, sources
from core.sqlmesh_project import column_comments, columns, grain_audits, row_columns


def blueprint(declared: Source) -> dict:
    comments = column_comments(declared)
    kept = row_columns(declared)
    return {
        "source": declared.name,
        "raw": declared.raw_table,
        "key": declared.key,
        "period": declared.period.field,
        "submitted_at": declared.submitted_at,
        "kept": kept,
        "comments": {column: comments[column] for column in kept},
        "description": (
            f"The latest row per {declared.key} per {declared.period.field} of the {declared.title} ({declared.name}), whole: "
            f"the state from the latest delivery (by {declared.submitted_at}, then load time). "
            f"The privacy unit ({declared.unit}) is {declared.unit_column}."
        ),
        "not_null_columns": columns(declared.key, declared.period.field, declared.unit_column),
        "grain_columns": columns(declared.key, declared.period.field),
    }


BLUEPRINTS = [blueprint(declared) for declared in sources().values() if declared.latest == "row"]


def latest_rows(evaluator: MacroEvaluator) -> str:
    key = evaluator.blueprint_var("key")
    period = evaluator.blueprint_var("period")
    submitted_at = evaluator.blueprint_var("submitted_at")
    comments = evaluator.blueprint_var("comments")
    selected = ",\n".join(f'  "{column}" /* {comments[column]} */' for column in evaluator.blueprint_var("kept"))
    return f"""
SELECT
{selected}
FROM {evaluator.blueprint_var("raw")}
QUALIFY ROW_NUMBER() OVER (PARTITION BY "{key}", "{period}" ORDER BY "{submitted_at}" DESC, loaded_at DESC, file_hash DESC, row_number DESC) = 1
"""


# Only with a blueprint: a model without any would be one model of the literal name (and its variables undefined).
if BLUEPRINTS:
    latest_rows = model(
        "staging.@{source}_latest",
        is_sql=True,
        kind="VIEW",
        grains=["@{key}", "@{period}"],
        owner="data_engineering",
        description="@description",
        audits=grain_audits(answer_rules=False),
        blueprints=BLUEPRINTS,
    )(latest_rows)
