"""Vectorised validation of bulk CGC files (polars), the twin of `core.contracts`.

A million rows are checked in well under a second: each rule is one polars
expression that yields a Dutch message ('Veld: regel') or null, and a row's
reason is its messages joined with '; '. `tests/test_contracts.py` checks
that these rules and the pydantic contract agree field by field.
"""

from __future__ import annotations

import polars as pl

from core import reference
from core.contracts import (
    EDGE_WHITESPACE,
    FORBIDDEN_TEXT_CHARACTERS,
    KVK_PATTERN,
    NO_ANSWER_RULE,
    PATTERN_RULES,
    RESPONSE_ID_PATTERN,
    TIMESTAMP_FORMAT,
    field_label,
    forbidden_character_rule,
)
from core.survey import PROFILE_FIELDS, cgc_survey, landing_columns

REASON_SEPARATOR = "; "


def char_class(characters: str) -> str:
    r"""A regex character class (Rust syntax, as polars uses) matching any of `characters`.

    >>> char_class("\t\u2028")
    '[\\x{9}\\x{2028}]'
    """
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in characters) + "]"


_FORBIDDEN_CLASS = char_class(FORBIDDEN_TEXT_CHARACTERS)
_FORBIDDEN_RULES = {c: forbidden_character_rule(c) for c in FORBIDDEN_TEXT_CHARACTERS}


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """All landing columns as trimmed strings, blanks as null, missing columns added as null."""
    columns = []
    for name in landing_columns():
        if name in frame.columns:
            value = pl.col(name).cast(pl.Utf8).str.strip_chars(EDGE_WHITESPACE)  # exactly what the contract strips
            columns.append(pl.when(value == "").then(None).otherwise(value).alias(name))
        else:
            columns.append(pl.lit(None, dtype=pl.Utf8).alias(name))
    return frame.select(columns)


def _message(field: str, rule: pl.Expr | str) -> pl.Expr:
    prefix = f"{field_label(field)}: "
    if isinstance(rule, str):
        return pl.lit(prefix + rule)
    return pl.concat_str([pl.lit(prefix), rule])


def _fail_when(condition: pl.Expr, field: str, rule: pl.Expr | str) -> pl.Expr:
    return pl.when(condition).then(_message(field, rule)).otherwise(None)


def _choice_rule(field: str, allowed: list[str]) -> pl.Expr:
    value = pl.col(field)
    rule = pl.format("'{}' is geen geldige keuze (toegestaan: {})", value, pl.lit(", ".join(f"'{a}'" for a in allowed)))
    return _fail_when(value.is_not_null() & ~value.is_in(allowed), field, rule)


def parsed_timestamp() -> pl.Expr:
    return pl.col("submitted_at").str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)


def rule_expressions() -> list[pl.Expr]:
    """One expression per rule; each yields a message for rows that break it, else null."""
    survey = cgc_survey()
    rules: list[pl.Expr] = [_fail_when(pl.col(f).is_null(), f, "ontbreekt (verplicht veld)") for f in PROFILE_FIELDS]
    for field, pattern in (("response_id", RESPONSE_ID_PATTERN), ("kvk_number", KVK_PATTERN)):
        broken = pl.col(field).is_not_null() & ~pl.col(field).str.contains(pattern)
        rules.append(_fail_when(broken, field, PATTERN_RULES[field]))
    bad_time = pl.col("submitted_at").is_not_null() & parsed_timestamp().is_null()
    rules.append(
        _fail_when(
            bad_time,
            "submitted_at",
            pl.format("'{}' is geen geldige datum en tijd (verwacht JJJJ-MM-DDTuu:mm:ss)", pl.col("submitted_at")),
        )
    )
    rules.append(_choice_rule("wave", reference.wave_codes()))
    rules.append(_choice_rule("sector", reference.sector_codes()))
    rules.append(_choice_rule("size_class", reference.size_class_codes()))
    rules.append(_choice_rule("province", reference.province_codes()))
    for name, question in survey.questions.items():
        rules.append(_choice_rule(name, list(question.options)))
    for name, question in survey.multi_select.items():
        allowed = list(question.options)
        parts = pl.col(name).str.split(";").list.eval(pl.element().str.strip_chars(EDGE_WHITESPACE)).list.eval(
            pl.element().filter(pl.element() != "")
        )
        unknown = parts.list.eval(pl.element().filter(~pl.element().is_in(allowed))).list.join(", ")
        rule = pl.format("'{}' is geen geldige keuze (toegestaan: {})", unknown, pl.lit(", ".join(f"'{a}'" for a in allowed)))
        rules.append(_fail_when(pl.col(name).is_not_null() & (unknown != ""), name, rule))
    limit = survey.free_text.max_length
    rules.append(_fail_when(pl.col("free_text").str.len_chars() > limit, "free_text", f"is te lang (maximaal {limit} tekens)"))
    refused = pl.col("free_text").str.extract(f"({_FORBIDDEN_CLASS})", 1)  # the first one, as the contract names it
    rules.append(_fail_when(refused.is_not_null(), "free_text", refused.replace_strict(_FORBIDDEN_RULES, default=None, return_dtype=pl.Utf8)))
    answers = [*survey.questions, *survey.multi_select]
    no_answer = pl.all_horizontal([_answer_missing(name) for name in answers])
    rules.append(pl.when(no_answer).then(pl.lit(f"Antwoorden: {NO_ANSWER_RULE}")).otherwise(None))
    return rules


def _answer_missing(name: str) -> pl.Expr:
    value = pl.col(name)
    if name in cgc_survey().multi_select:
        return value.is_null() | (value.str.replace_all(char_class(";" + EDGE_WHITESPACE), "") == "")
    return value.is_null()


def with_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `reason`: null for a valid row, else every broken rule as 'Veld: regel; ...'."""
    reason = pl.concat_str(rule_expressions(), separator=REASON_SEPARATOR, ignore_nulls=True)
    return frame.with_columns(pl.when(reason == "").then(None).otherwise(reason).alias("reason"))
