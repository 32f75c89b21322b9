"""staging.<source>_profiles: the unit's profile per period from its latest submission, one view per declared source.

The profile fields (role `profile`: for the CGC sector, size class and
province) are the groups a unit counts in; when a unit submits more than
once in a period, its latest submission (by `submitted_at`, then the key)
decides them. One blueprint per source in `sources/*/source.yaml`.
"""

from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from core.sources import Source, sources
from core.sqlmesh_project import column_comments, columns, grain_audits


def blueprint(declared: Source) -> dict:
    unit, period, comments = declared.unit_column, declared.period.field, column_comments(declared)
    profiles = list(declared.of_role("profile"))
    labels = ", ".join(field.label for field in declared.of_role("profile").values()) or "none"
    return {
        "source": declared.name,
        "raw": declared.raw_table,
        "unit": unit,
        "period": period,
        "key": declared.key,
        "submitted_at": declared.submitted_at,
        "profiles": profiles,
        "comments": {
            **{column: comments[column] for column in (unit, period, *profiles)},
            declared.submitted_at: "the submission the profile comes from",
        },
        "description": (
            f"The {declared.unit}'s profile ({labels}) per {period} in the {declared.title} ({declared.name}), "
            f"from its latest submission in that {period}: the groups it counts in."
        ),
        "not_null_columns": columns(unit, period, *profiles),
        "grain_columns": columns(unit, period),
    }


@model(
    "staging.@{source}_profiles",
    is_sql=True,
    kind="VIEW",
    grains=["@{unit}", "@{period}"],
    owner="data_engineering",
    description="@description",
    audits=grain_audits(answer_rules=False),
    blueprints=[blueprint(declared) for declared in sources().values() if declared.latest == "answer"],
)
def profiles(evaluator: MacroEvaluator) -> str:
    raw = evaluator.blueprint_var("raw")
    unit = evaluator.blueprint_var("unit")
    period = evaluator.blueprint_var("period")
    key = evaluator.blueprint_var("key")
    submitted_at = evaluator.blueprint_var("submitted_at")
    comments = evaluator.blueprint_var("comments")
    selected = "".join(f'  "{column}" /* {comments[column]} */,\n' for column in [unit, period, *evaluator.blueprint_var("profiles")])
    return f"""
SELECT
{selected}  "{submitted_at}" AS "profile_{submitted_at}" /* {comments[submitted_at]} */
FROM {raw}
QUALIFY ROW_NUMBER() OVER (PARTITION BY "{unit}", "{period}" ORDER BY "{submitted_at}" DESC, "{key}" DESC) = 1
"""
