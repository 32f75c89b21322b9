"""Vectorised validation of bulk files (polars), the twin of `core.contracts`, built from the same declaration.

A million rows are checked in well under a second: each rule is one polars
expression that yields a Dutch message ('Veld: regel') or null, and a row's
reason is its messages joined with '; '. `tests/test_contracts.py` checks
that these rules and the pydantic contract agree field by field, for every
declared source.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from core.contracts import (
    DATE_RULE,
    DATE_SHAPE,
    EDGE_WHITESPACE,
    ELFPROEF_RULE,
    FLAG_RULE,
    FORBIDDEN_TEXT_CHARACTERS,
    FUTURE_RULE,
    MONEY,
    MONEY_RULE,
    NEGATIVE_RULE,
    NO_ANSWER_RULE,
    NUMBER,
    NUMBER_RULE,
    forbidden_character_rule,
    range_rule,
)
from core.messages import ANSWERS_LABEL
from core.sources import DATE_FORMAT, FLAG_VALUES, MONEY_PRECISION, MONEY_SCALE, TIMESTAMP_FORMAT, Source, SourceField, source

REASON_SEPARATOR = "; "


def char_class(characters: str) -> str:
    r"""A regex character class (Rust syntax, as polars uses) matching any of `characters`.

    >>> char_class("\t\u2028")
    '[\\x{9}\\x{2028}]'
    """
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in characters) + "]"


_FORBIDDEN_CLASS = char_class(FORBIDDEN_TEXT_CHARACTERS)
_FORBIDDEN_RULES = {c: forbidden_character_rule(c) for c in FORBIDDEN_TEXT_CHARACTERS}


def normalise(frame: pl.DataFrame, name: str = "cgc") -> pl.DataFrame:
    """All landing columns of source `name` as trimmed strings, blanks as null, missing columns added as null."""
    columns = []
    for column in source(name).landing_columns():
        if column in frame.columns:
            value = pl.col(column).cast(pl.Utf8).str.strip_chars(EDGE_WHITESPACE)  # exactly what the contract strips
            columns.append(pl.when(value == "").then(None).otherwise(value).alias(column))
        else:
            columns.append(pl.lit(None, dtype=pl.Utf8).alias(column))
    return frame.select(columns)


def _fail_when(condition: pl.Expr, label: str, rule: pl.Expr | str) -> pl.Expr:
    message = pl.lit(f"{label}: {rule}") if isinstance(rule, str) else pl.concat_str([pl.lit(f"{label}: "), rule])
    return pl.when(condition).then(message).otherwise(None)


def parsed_timestamp(column: str = "submitted_at") -> pl.Expr:
    return pl.col(column).str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)


def _allowed_list(allowed: list[str]) -> pl.Expr:
    return pl.lit(", ".join(f"'{a}'" for a in allowed))


def _multi_parts(column: str) -> pl.Expr:
    return pl.col(column).str.split(";").list.eval(pl.element().str.strip_chars(EDGE_WHITESPACE)).list.eval(
        pl.element().filter(pl.element() != "")
    )


def parsed_date(column: str) -> pl.Expr:
    """A date exactly as the contract reads it ('JJJJ-MM-DD', a real calendar day); null otherwise."""
    value = pl.col(column)
    return pl.when(value.str.contains(DATE_SHAPE)).then(value.str.strptime(pl.Date, DATE_FORMAT, strict=False))


def parsed_money(column: str) -> pl.Expr:
    """An amount in euros as the contract reads it, exactly: a Decimal of scale 2 (never a float); null where it is no amount."""
    value = pl.col(column)
    return pl.when(value.str.contains(MONEY)).then(
        value.str.replace(",", ".").cast(pl.Decimal(MONEY_PRECISION, MONEY_SCALE), strict=False)
    )


def parsed_flag(column: str) -> pl.Expr:
    """A yes/no value as the contract reads it (`core.sources.FLAG_VALUES`); null otherwise."""
    return pl.col(column).replace_strict(FLAG_VALUES, default=None, return_dtype=pl.Boolean)


def passes_elfproef(column: str) -> pl.Expr:
    """The BSN's eleven-test on 9 digits, set-wise: 9*d1 + 8*d2 + ... + 2*d8 - d9 is a multiple of 11, and the
    number is not 0 (exactly `stdnum.nl.bsn.is_valid` on 9 digits; the hypothesis test found the 0).

    Anything but 9 ASCII digits fails (as `core.contracts.passes_elfproef`).
    """
    digits = [pl.col(column).str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(9)]
    weighted = sum(((9 - i) * digit for i, digit in enumerate(digits[:8])), -digits[8])
    nine_digits = pl.col(column).str.contains(r"^[0-9]{9}$")
    return (nine_digits & ((weighted % 11) == 0) & (pl.col(column) != "000000000")).fill_null(False)


def _money_decimal(bound: float) -> pl.Expr:
    return pl.lit(str(round(bound, MONEY_SCALE))).cast(pl.Decimal(MONEY_PRECISION, MONEY_SCALE))


def parsed_number(column: str) -> pl.Expr:
    """A number as the contract reads it ('-3,5' is -3.5); null where it is no number."""
    text = pl.col(column).str.replace_all(" ", "")
    return pl.when(text.str.contains(NUMBER)).then(text.str.replace(",", ".").cast(pl.Float64, strict=False))


def _field_rules(column: str, field: SourceField) -> list[pl.Expr]:
    value, label = pl.col(column), field.label
    rules = []
    if field.required:
        rules.append(_fail_when(value.is_null(), label, "ontbreekt (verplicht veld)"))
    if field.pattern:
        rules.append(_fail_when(value.is_not_null() & ~value.str.contains(field.pattern), label, field.pattern_rule))
        if field.check == "elfproef":
            rules.append(_fail_when(value.is_not_null() & value.str.contains(field.pattern) & ~passes_elfproef(column), label, ELFPROEF_RULE))
    elif field.check == "elfproef":
        rules.append(_fail_when(value.is_not_null() & ~passes_elfproef(column), label, ELFPROEF_RULE))
    if field.type == "timestamp":
        bad = value.is_not_null() & parsed_timestamp(column).is_null()
        rules.append(_fail_when(bad, label, pl.format("'{}' is geen geldige datum en tijd (verwacht JJJJ-MM-DDTuu:mm:ss)", value)))
        if field.not_in_future:
            future = parsed_timestamp(column).dt.date() > pl.lit(date.today())
            rules.append(_fail_when(future.fill_null(False), label, pl.format(f"'{{}}' {FUTURE_RULE}", value)))
    elif field.type == "date":
        parsed = parsed_date(column)
        rules.append(_fail_when(value.is_not_null() & parsed.is_null(), label, pl.format(f"'{{}}' {DATE_RULE}", value)))
        if field.not_in_future:
            rules.append(_fail_when((parsed > pl.lit(date.today())).fill_null(False), label, pl.format(f"'{{}}' {FUTURE_RULE}", value)))
    elif field.type == "money":
        amount = parsed_money(column)
        rules.append(_fail_when(value.is_not_null() & amount.is_null(), label, pl.format(f"'{{}}' {MONEY_RULE}", value)))
        negative = amount < _money_decimal(0) if field.minimum >= 0 else pl.lit(False)
        rules.append(_fail_when(negative.fill_null(False), label, pl.format(f"'{{}}' {NEGATIVE_RULE}", value)))
        outside = ~negative & ((amount < _money_decimal(field.minimum)) | (amount > _money_decimal(field.maximum)))
        rules.append(_fail_when(outside.fill_null(False), label, pl.format(range_rule(field, "{}"), value)))
    elif field.type == "flag":
        rules.append(_fail_when(value.is_not_null() & parsed_flag(column).is_null(), label, pl.format(f"'{{}}' {FLAG_RULE}", value)))
    elif field.type == "choice":
        allowed = field.allowed()
        rule = pl.format("'{}' is geen geldige keuze (toegestaan: {})", value, _allowed_list(allowed))
        rules.append(_fail_when(value.is_not_null() & ~value.is_in(allowed), label, rule))
    elif field.type == "multi_choice":
        allowed = field.allowed()
        unknown = _multi_parts(column).list.eval(pl.element().filter(~pl.element().is_in(allowed))).list.join(", ")
        rule = pl.format("'{}' is geen geldige keuze (toegestaan: {})", unknown, _allowed_list(allowed))
        rules.append(_fail_when(value.is_not_null() & (unknown != ""), label, rule))
    elif field.type in ("integer", "decimal"):
        number = parsed_number(column)
        rules.append(_fail_when(value.is_not_null() & number.is_null(), label, pl.format("'{}' " + NUMBER_RULE, value)))
        if field.type == "integer":
            rules.append(_fail_when(number.is_not_null() & (number != number.round()), label, pl.format("'{}' is geen geheel getal", value)))
        outside = number.is_not_null() & (number == number.round() if field.type == "integer" else number.is_not_null()) & (
            (number < field.minimum) | (number > field.maximum)
        )
        rules.append(_fail_when(outside, label, pl.format(range_rule(field, "{}"), value)))
    elif field.type == "free_text":
        rules.append(_fail_when(value.str.len_chars() > field.max_length, label, f"is te lang (maximaal {field.max_length} tekens)"))
        refused = value.str.extract(f"({_FORBIDDEN_CLASS})", 1)  # the first one, as the contract names it
        rules.append(_fail_when(refused.is_not_null(), label, refused.replace_strict(_FORBIDDEN_RULES, default=None, return_dtype=pl.Utf8)))
    return rules


def _valid_date(column: str, field: SourceField) -> pl.Expr:
    """A date that passes its own rules (the contract compares two dates only then)."""
    parsed = parsed_date(column)
    return parsed.is_not_null() & (parsed <= pl.lit(date.today()) if field.not_in_future else parsed.is_not_null())


def _answer_missing(column: str, field: SourceField) -> pl.Expr:
    value = pl.col(column)
    if field.type == "multi_choice":
        return value.is_null() | (value.str.replace_all(char_class(";" + EDGE_WHITESPACE), "") == "")
    return value.is_null()


def rule_expressions(name: str = "cgc") -> list[pl.Expr]:
    """One expression per rule of source `name`; each yields a message for rows that break it, else null."""
    declared: Source = source(name)
    rules = [rule for column, field in declared.fields.items() for rule in _field_rules(column, field)]
    for column, field in declared.fields.items():
        if field.part_of:
            value, whole = pl.col(column).cast(pl.Utf8), pl.col(field.part_of).cast(pl.Utf8)
            wrong = value.is_not_null() & whole.is_not_null() & ~value.str.starts_with(whole + pl.lit("/"))
            label = declared.fields[field.part_of].label.lower()
            rules.append(pl.when(wrong).then(pl.format(f"{field.label}: '{{}}' hoort niet bij {label} '{{}}'", value, whole)).otherwise(None))
        if field.not_before:  # a cross-field rule: as the contract, only once both dates are valid
            value, earliest = parsed_date(column), parsed_date(field.not_before)
            earlier = _valid_date(column, declared.fields[column]) & _valid_date(field.not_before, declared.fields[field.not_before]) & (value < earliest)
            rule = pl.format(f"{field.label}: '{{}}' ligt vóór {declared.fields[field.not_before].label} '{{}}'", pl.col(column), pl.col(field.not_before))
            rules.append(pl.when(earlier.fill_null(False)).then(rule).otherwise(None))
    if declared.at_least_one_answer:
        no_answer = pl.all_horizontal([_answer_missing(column, declared.fields[column]) for column in declared.answers_counted()])
        rules.append(pl.when(no_answer).then(pl.lit(f"{ANSWERS_LABEL}: {NO_ANSWER_RULE}")).otherwise(None))
    return rules


def with_reasons(frame: pl.DataFrame, name: str = "cgc") -> pl.DataFrame:
    """Add `reason`: null for a valid row, else every broken rule as 'Veld: regel; ...'."""
    reason = pl.concat_str(rule_expressions(name), separator=REASON_SEPARATOR, ignore_nulls=True)
    return frame.with_columns(pl.when(reason == "").then(None).otherwise(reason).alias("reason"))
