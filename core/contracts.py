"""The row contract of every declared source (pydantic), built from its declaration, and its Dutch messages.

One submission is validated here (form entries, JSON lines); bulk files use
the vectorised twin in `core.validation`, built from the same declaration,
and a property test keeps the two in agreement. Both name the field, the
value and the rule that failed, in plain Dutch.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from stdnum.nl import bsn as _bsn

from core import reference
from core.messages import ANSWERS_LABEL, dutch_problems
from core.sources import DATE_FORMAT, FLAG_VALUES, MONEY_PRECISION, MONEY_SCALE, TIMESTAMP_FORMAT, Source, SourceField, source

KVK_PATTERN = source("cgc").fields["kvk_number"].pattern  # accounts check a respondent's KvK number the same way
NO_ANSWER_RULE = "beantwoord ten minste één vraag"


def part_of_rule(value: str, whole_field, whole: str) -> str:
    """"'a/b' hoort niet bij voorstel 'c'": the rule of a `part_of` field (contract and polars rules agree)."""
    return f"'{value}' hoort niet bij {whole_field.label.lower()} '{whole}'"
NUMBER = r"^[+-]?[0-9]+([.,][0-9]+)?$"
NUMBER_RULE = "is geen getal (gebruik cijfers, met een komma of punt voor decimalen)"

# Money: what a sender may deliver is euros with at most two decimals, a point or a comma before them, an optional
# minus sign, no currency sign, no thousands separators, no spaces, no exponent: '65', '65.00', '8.5', '1234,56', '-12.30'.
# Parsed exactly (decimal, never a float); more than two decimals is refused, not rounded.
MONEY = rf"^-?[0-9]{{1,{MONEY_PRECISION - MONEY_SCALE}}}([.,][0-9]{{1,{MONEY_SCALE}}})?$"
MONEY_RULE = ("is geen bedrag in euro's met hoogstens 2 decimalen (bijvoorbeeld 65,00 of 8.5, zonder valutateken, "
              "duizendtallen of spaties)")
NEGATIVE_RULE = "is negatief: een bedrag mag hier niet onder 0 liggen"
DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # strptime alone would take '2025-1-5'
DATE_RULE = "is geen geldige datum (verwacht JJJJ-MM-DD)"
FUTURE_RULE = "ligt in de toekomst"
FLAG_RULE = "is geen ja/nee-waarde (gebruik true/false, ja/nee of 1/0)"
ELFPROEF_RULE = "voldoet niet aan de elfproef (geen geldig BSN, controleer het nummer)"  # never the number itself


def not_before_rule(value: str, other_field: SourceField, other: str) -> str:
    """"'2025-01-02' ligt vóór Geopend op (opened_on) '2025-03-01'": the rule of a `not_before` field (contract and polars rules agree)."""
    return f"'{value}' ligt vóór {other_field.label} '{other}'"


def passes_elfproef(number: str) -> bool:
    """The BSN's eleven-test (python-stdnum's `stdnum.nl.bsn`), on exactly 9 digits (the pattern has said so first).

    >>> passes_elfproef("111222333"), passes_elfproef("111222334")
    (True, False)
    """
    return len(number) == 9 and number.isdigit() and number.isascii() and _bsn.is_valid(number)

EDGE_WHITESPACE = "\t\n\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""What is stripped from both ends of every field, here and in `core.validation`.

An explicit list because Python's `str.strip()` and polars' `strip_chars()`
disagree (Python also strips U+001C..U+001F); both now strip exactly these.
It is Unicode whitespace minus the control characters free text refuses
(U+000B, U+000C, U+0085): those are refused wherever they stand, not
silently dropped at the ends.
"""

_BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))


def _forbidden_in_text(character: str) -> bool:
    # Control characters (C0, DEL, C1: U+0085 breaks lines in some readers) and
    # bidirectional embeddings/overrides/isolates (they make text display in
    # another order than it is stored, e.g. "Trojan Source"); TAB, LF, CR are ordinary text.
    if character in _BIDI_CONTROLS:
        return True
    return unicodedata.category(character) == "Cc" and character not in "\t\n\r"


FORBIDDEN_TEXT_CHARACTERS = "".join(c for c in map(chr, range(0x2070)) if _forbidden_in_text(c))
"""Characters free text may not contain (none lie above U+2069)."""

_FORBIDDEN_SET = frozenset(FORBIDDEN_TEXT_CHARACTERS)


def forbidden_character_rule(character: str) -> str:
    r"""The Dutch rule for a refused character in free text, naming it by code point (never raw).

    >>> forbidden_character_rule("\u202e")
    'bevat een teken dat niet is toegestaan (U+202E, een teken dat de leesrichting verandert), haal het weg en verstuur opnieuw'
    >>> forbidden_character_rule("\x85")
    'bevat een teken dat niet is toegestaan (U+0085, een onzichtbaar stuurteken), haal het weg en verstuur opnieuw'
    """
    kind = "een teken dat de leesrichting verandert" if character in _BIDI_CONTROLS else "een onzichtbaar stuurteken"
    return f"bevat een teken dat niet is toegestaan (U+{ord(character):04X}, {kind}), haal het weg en verstuur opnieuw"


def first_forbidden_character(text: str) -> str | None:
    r"""The first character of `text` that free text may not contain, or None.

    >>> first_forbidden_character("regel een\u2028regel twee\u0085drie")
    '\x85'
    >>> first_forbidden_character("tab\ten\r\nnieuwe regel") is None
    True
    """
    return next((c for c in text if c in _FORBIDDEN_SET), None)


def _allowed_text(value: str) -> str:
    character = first_forbidden_character(value)
    if character is not None:
        raise ValueError(forbidden_character_rule(character))
    return value


def field_label(field: str, name: str = "cgc") -> str:
    """The Dutch name of a field of source `name` as respondents and analysts see it."""
    return source(name).label(field)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip(EDGE_WHITESPACE)
        return value or None
    return value


def _number_to_code(value: Any) -> Any:
    """JSON exports write the sentiment as 4, the CSV as "4": both mean code "4"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return _blank_to_none(value)


def _parse_timestamp(value: Any) -> Any:
    """Accept exactly the export format, as the bulk checks do (no guessing of formats)."""
    value = _blank_to_none(value)
    if isinstance(value, str):
        try:
            return datetime.strptime(value, TIMESTAMP_FORMAT)
        except ValueError:
            raise ValueError(f"'{value}' is geen geldige datum en tijd (verwacht JJJJ-MM-DDTuu:mm:ss)") from None
    return value


def _timestamp(field: SourceField):
    def check(value: Any) -> Any:
        value = _parse_timestamp(value)
        if field.not_in_future and isinstance(value, datetime) and value.date() > date.today():
            raise ValueError(f"'{value.strftime(TIMESTAMP_FORMAT)}' {FUTURE_RULE}")
        return value

    return BeforeValidator(check)


def _date(field: SourceField):
    """Exactly 'JJJJ-MM-DD' (a calendar date), not after today where the field says so."""

    def check(value: Any) -> Any:
        value = _blank_to_none(value)
        if not isinstance(value, str):
            return value
        try:
            if not re.fullmatch(DATE_SHAPE, value):
                raise ValueError
            parsed = datetime.strptime(value, DATE_FORMAT).date()
        except ValueError:
            raise ValueError(f"'{value}' {DATE_RULE}") from None
        if field.not_in_future and parsed > date.today():
            raise ValueError(f"'{value}' {FUTURE_RULE}")
        return parsed

    return BeforeValidator(check)


def _money(field: SourceField):
    """Euros with cents, exactly (a Decimal of scale 2), within the declared bounds."""
    minimum, maximum = Decimal(repr(field.minimum)), Decimal(repr(field.maximum))

    def check(value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None or isinstance(value, bool):
            return value
        text = value if isinstance(value, str) else str(value)
        if not re.fullmatch(MONEY, text):
            raise ValueError(f"'{text}' {MONEY_RULE}")
        amount = Decimal(text.replace(",", "."))
        if amount < 0 <= minimum:
            raise ValueError(f"'{text}' {NEGATIVE_RULE}")
        if not minimum <= amount <= maximum:
            raise ValueError(range_rule(field, text))
        return amount.quantize(Decimal(1).scaleb(-MONEY_SCALE))

    return BeforeValidator(check)


def _flag(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        if value not in FLAG_VALUES:
            raise ValueError(f"'{value}' {FLAG_RULE}")
        return FLAG_VALUES[value]
    return value


def _elfproef(value: str) -> str:
    if not passes_elfproef(value):
        raise ValueError(ELFPROEF_RULE)
    return value


def range_rule(field: SourceField, text: str) -> str:
    """The Dutch rule for a number outside its declared bounds, naming the value as it was typed."""
    unit = f" {field.unit}" if field.unit else ""
    return f"'{text}' ligt buiten het bereik van {_plain(field.minimum)} tot en met {_plain(field.maximum)}{unit}"


def _number(field: SourceField):
    """'12', '-3,5' and '0.5' are numbers (a comma or a point before the decimals, no thousands separators),
    within the declared bounds; an integer field takes whole numbers only."""

    def check(value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None or isinstance(value, bool):
            return value
        text = value if isinstance(value, str) else _plain(value)
        if not re.fullmatch(NUMBER, text.replace(" ", "")):
            raise ValueError(f"'{text}' {NUMBER_RULE}")
        number = float(text.replace(",", "."))
        if field.type == "integer" and not number.is_integer():
            raise ValueError(f"'{text}' is geen geheel getal")
        if not field.minimum <= number <= field.maximum:
            raise ValueError(range_rule(field, text))
        return int(number) if field.type == "integer" else number

    return BeforeValidator(check)


def _split_multi(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip(EDGE_WHITESPACE) for part in value.split(";") if part.strip(EDGE_WHITESPACE)]
    return value


Blank = BeforeValidator(_blank_to_none)


def _one_of(values: list[str]) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


def _annotation(field: SourceField) -> tuple[Any, Any]:
    """The pydantic type and default of one declared field."""
    optional = not field.required
    if field.type in ("text", "identifier"):
        kind: Any = Annotated[str, Blank, StringConstraints(pattern=field.pattern)]
        if field.check == "elfproef":
            kind = Annotated[kind, AfterValidator(_elfproef)]
    elif field.type == "timestamp":
        kind = Annotated[datetime, _timestamp(field)]
    elif field.type == "date":
        kind = Annotated[date, _date(field)]
    elif field.type == "money":
        kind = Annotated[Decimal, _money(field)]
    elif field.type == "flag":
        kind = Annotated[bool, BeforeValidator(_flag)]
    elif field.type == "choice":
        kind = Annotated[_one_of(field.allowed()), BeforeValidator(_number_to_code if field.integer_codes else _blank_to_none)]
    elif field.type == "multi_choice":
        return Annotated[list[_one_of(field.allowed())], BeforeValidator(_split_multi)], []
    elif field.type in ("integer", "decimal"):
        number_type = int if field.type == "integer" else float
        kind = Annotated[number_type, _number(field)]
    else:  # free text
        limited = Annotated[str, StringConstraints(max_length=field.max_length), AfterValidator(_allowed_text)]
        return Annotated[limited | None, Blank], None
    if optional:
        return kind | None, None
    return kind, ...


def _base(declared: Source) -> type[BaseModel]:
    class Row(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        @model_validator(mode="after")
        def at_least_one_answer(self) -> Row:
            answered = [getattr(self, name) for name in declared.answers_counted()]
            if declared.at_least_one_answer and all(value is None or value == [] for value in answered):
                raise ValueError(NO_ANSWER_RULE)
            for name, field in declared.fields.items():
                value, whole = getattr(self, name, None), getattr(self, field.part_of, None) if field.part_of else None
                if field.part_of and value is not None and whole is not None and not str(value).startswith(f"{whole}/"):
                    rule = part_of_rule(str(value), declared.fields[field.part_of], str(whole))
                    raise ValidationError.from_exception_data(
                        declared.name, [InitErrorDetails(type=PydanticCustomError("value_error", rule), loc=(name,), input=value)])
            return self

    return Row


def row_model(name: str) -> type[BaseModel]:
    """The pydantic model of one row of source `name` (a form submission or a line of a bulk file), from its declaration.

    Built once per source, and again when a dynamic domain it uses (the proposals) has changed.
    """
    domains = [field.domain for field in source(name).fields.values() if field.domain]
    return _row_model(name, reference.dynamic_codes(domains))


def _not_before(declared: Source, name: str):
    """A date not before an earlier field's date: checked on the field, once both dates are valid (as the polars rule),
    whatever the other fields hold. `info.data` holds the earlier fields that passed."""
    other = declared.fields[name].not_before

    def check(value: date | None, info: ValidationInfo) -> date | None:
        earliest = info.data.get(other)
        if value is not None and earliest is not None and value < earliest:
            raise ValueError(not_before_rule(value.isoformat(), declared.fields[other], earliest.isoformat()))
        return value

    return field_validator(name, mode="after")(check)


@cache
def _row_model(name: str, dynamic: tuple) -> type[BaseModel]:
    declared = source(name)
    fields = {field_name: _annotation(field) for field_name, field in declared.fields.items()}
    validators = {f"_{field_name}_not_before": _not_before(declared, field_name)
                  for field_name, field in declared.fields.items() if field.not_before}
    return create_model(f"{name.title()}Row", __base__=_base(declared), __validators__=validators, **fields)


def submission_model() -> type[BaseModel]:
    """The CGC row contract."""
    return row_model("cgc")


def _dutch_rule(declared: Source, field: str, error: dict[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    declared_field = declared.fields.get(field)
    if kind == "missing" or (value is None and kind in (
            "literal_error", "string_type", "datetime_type", "date_type", "int_type", "float_type", "decimal_type", "bool_type")):
        return "ontbreekt (verplicht veld)"
    if kind == "literal_error":
        allowed = str(error.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        return f"'{value}' is geen geldige keuze (toegestaan: {allowed})"
    if kind == "string_pattern_mismatch":
        return (declared_field.pattern_rule if declared_field else None) or "heeft een ongeldige vorm"
    if kind == "string_too_long":
        return f"is te lang (maximaal {error['ctx']['max_length']} tekens)"
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind.startswith("datetime"):
        return f"'{value}' is geen geldige datum en tijd (verwacht JJJJ-MM-DDTuu:mm:ss)"
    if kind == "extra_forbidden":
        return "is een onbekend veld"
    return "heeft het verkeerde type"


def _plain(number: Any) -> str:
    """A bound or value as people write it: 12 not 12.0, a comma before decimals.

    >>> _plain(12.0), _plain(-0.5), _plain(7)
    ('12', '-0,5', '7')
    """
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number).replace(".", ",") if isinstance(number, float) else str(number)


def explain(error: ValidationError, name: str = "cgc") -> list[str]:
    """Turn a pydantic error of source `name`'s contract into Dutch lines 'Veld: regel', one per problem."""
    declared = source(name)
    return dutch_problems(error, declared.label, lambda field, item: _dutch_rule(declared, field, item), model_label=ANSWERS_LABEL)


class SubmissionError(ValueError):
    """Raised for an invalid submission; `problems` holds Dutch 'Veld: regel' lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_row(name: str, record: dict[str, Any]) -> BaseModel:
    """Validate one row of source `name`; raise `SubmissionError` naming each field, value and rule."""
    try:
        return row_model(name).model_validate(record)
    except ValidationError as error:
        raise SubmissionError(explain(error, name)) from None


def validate_submission(record: dict[str, Any]) -> BaseModel:
    """Validate one CGC submission; raise `SubmissionError` naming each field and rule.

    >>> try:
    ...     validate_submission({"response_id": "r1", "sector": "Z"})
    ... except SubmissionError as error:
    ...     print(error.problems[:2])
    ['Tijdstip van invullen (submitted_at): ontbreekt (verplicht veld)', 'Meting (wave): ontbreekt (verplicht veld)']
    """
    return validate_row("cgc", record)


def invalid_fields(record: dict[str, Any], name: str = "cgc") -> set[str]:
    """Names of the fields a record of source `name` breaks ('*' for the model-level answer rule)."""
    try:
        row_model(name).model_validate(record)
    except ValidationError as error:
        return {next((p for p in e["loc"] if isinstance(p, str)), "*") for e in error.errors()}
    return set()

