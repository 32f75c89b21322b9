"""The questionnaire view of a survey-like source: questions, options, balance sides, free text.

The questions live in the source declaration (`sources/<name>/source.yaml`),
so a new answer option is a YAML change; the form and the release pages read
them here.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field, model_validator

from core.sources import source


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
    """The CGC questionnaire, as the form and the releases see it, from the source declaration `sources/cgc/source.yaml`."""
    return survey_of("cgc")


@cache
def survey_of(name: str) -> Survey:
    """The questionnaire view of a declared source: its closed questions, multi-select questions and free text."""
    declared = source(name)
    questions = {
        key: SingleChoiceQuestion(label=field.question or field.label, short_label=field.label, options=field.labels(),
                                  positive=field.positive, negative=field.negative)
        for key, field in declared.questions().items() if field.type == "choice"
    }
    multi = {
        key: MultiSelectQuestion(label=field.question or field.label, short_label=field.label, options=field.labels())
        for key, field in declared.questions().items() if field.type == "multi_choice"
    }
    (free_text,) = [FreeTextQuestion(label=field.question or field.label, max_length=field.max_length)
                    for field in declared.questions().values() if field.type == "free_text"]
    return Survey(survey=name, questions=questions, multi_select=multi, free_text=free_text)


def answer_fields() -> tuple[str, ...]:
    return tuple(source("cgc").questions())


def landing_columns() -> tuple[str, ...]:
    """Column order of a CGC export file as the survey tool writes it."""
    return source("cgc").landing_columns()


PROFILE_FIELDS = tuple(name for name in source("cgc").landing_columns() if name in source("cgc").required_fields())
"""Fields every CGC submission must carry, in export order."""
