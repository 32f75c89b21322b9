"""The CGC questionnaire, read from `config/cgc_survey.yaml`.

Questions live in configuration so a new answer option is a YAML change; the
contracts, the vectorised checks, the form and the release all read them here.
"""

from __future__ import annotations

from functools import cache

import yaml
from pydantic import BaseModel, Field, model_validator

from core.settings import CONFIG_DIR


class SingleChoiceQuestion(BaseModel):
    """A closed question with one answer; `positive`/`negative` define its balance."""

    label: str
    short_label: str
    options: dict[str, str] = Field(min_length=2)
    positive: list[str]
    negative: list[str]

    @model_validator(mode="after")
    def sides_are_options(self) -> SingleChoiceQuestion:
        for side in ("positive", "negative"):
            unknown = set(getattr(self, side)) - set(self.options)
            if unknown:
                raise ValueError(f"{side}: {sorted(unknown)} staan niet in options")
        return self


class MultiSelectQuestion(BaseModel):
    label: str
    short_label: str
    options: dict[str, str] = Field(min_length=1)


class FreeTextQuestion(BaseModel):
    label: str
    max_length: int = Field(gt=0)


class Survey(BaseModel):
    survey: str
    questions: dict[str, SingleChoiceQuestion]
    multi_select: dict[str, MultiSelectQuestion]
    free_text: FreeTextQuestion


@cache
def cgc_survey() -> Survey:
    """The CGC questionnaire (validated at load time)."""
    with open(CONFIG_DIR / "cgc_survey.yaml", encoding="utf-8") as handle:
        return Survey.model_validate(yaml.safe_load(handle))


PROFILE_FIELDS = ("response_id", "submitted_at", "wave", "kvk_number", "sector", "size_class", "province")
"""Fields every submission must carry, in export order."""


def answer_fields() -> tuple[str, ...]:
    survey = cgc_survey()
    return (*survey.questions, *survey.multi_select, "free_text")


def landing_columns() -> tuple[str, ...]:
    """Column order of a CGC export file as the survey tool writes it."""
    return (*PROFILE_FIELDS, *answer_fields())
