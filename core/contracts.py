"""The CGC submission contract (pydantic) and its Dutch error messages.

One submission is validated here (form entries, JSON lines); bulk files use
the vectorised twin in `core.validation`, and a property test keeps the two in
agreement. Both name the field and the rule that failed, in plain Dutch.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError, create_model, model_validator

from core import reference
from core.survey import cgc_survey

RESPONSE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
KVK_PATTERN = r"^[0-9]{8}$"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"

FIELD_LABELS: dict[str, str] = {
    "response_id": "Antwoordnummer (response_id)",
    "submitted_at": "Tijdstip van invullen (submitted_at)",
    "wave": "Meting (wave)",
    "kvk_number": "KvK-nummer",
    "sector": "Sector",
    "size_class": "Bedrijfsgrootte",
    "province": "Provincie",
    "free_text": "Toelichting",
}

PATTERN_RULES = {
    "response_id": "mag alleen letters, cijfers, '-' en '_' bevatten (1 tot 64 tekens)",
    "kvk_number": "moet uit precies 8 cijfers bestaan",
}

NO_ANSWER_RULE = "beantwoord ten minste één vraag"

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


def field_label(field: str) -> str:
    """The Dutch name of a field as respondents and analysts see it."""
    survey = cgc_survey()
    if field in survey.questions:
        return survey.questions[field].short_label
    if field in survey.multi_select:
        return survey.multi_select[field].short_label
    return FIELD_LABELS.get(field, field)


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


def _split_multi(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip(EDGE_WHITESPACE) for part in value.split(";") if part.strip(EDGE_WHITESPACE)]
    return value


Blank = BeforeValidator(_blank_to_none)


class _SubmissionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def at_least_one_answer(self) -> _SubmissionBase:
        survey = cgc_survey()
        answered = [getattr(self, name) for name in survey.questions] + [getattr(self, name) for name in survey.multi_select]
        if not any(answered):
            raise ValueError(NO_ANSWER_RULE)
        return self


@cache
def submission_model() -> type[BaseModel]:
    """The pydantic model of one CGC submission, built from the questionnaire and reference data."""
    survey = cgc_survey()

    def one_of(values: list[str]) -> Any:
        return Literal[tuple(values)]  # type: ignore[valid-type]

    fields: dict[str, Any] = {
        "response_id": (Annotated[str, Blank, StringConstraints(pattern=RESPONSE_ID_PATTERN)], ...),
        "submitted_at": (Annotated[datetime, BeforeValidator(_parse_timestamp)], ...),
        "wave": (Annotated[one_of(reference.wave_codes()), Blank], ...),
        "kvk_number": (Annotated[str, Blank, StringConstraints(pattern=KVK_PATTERN)], ...),
        "sector": (Annotated[one_of(reference.sector_codes()), Blank], ...),
        "size_class": (Annotated[one_of(reference.size_class_codes()), Blank], ...),
        "province": (Annotated[one_of(reference.province_codes()), Blank], ...),
    }
    for name, question in survey.questions.items():
        fields[name] = (Annotated[one_of(list(question.options)) | None, BeforeValidator(_number_to_code)], None)
    for name, question in survey.multi_select.items():
        fields[name] = (Annotated[list[one_of(list(question.options))], BeforeValidator(_split_multi)], [])
    limited_text = Annotated[str, StringConstraints(max_length=survey.free_text.max_length), AfterValidator(_allowed_text)]
    fields["free_text"] = (Annotated[limited_text | None, Blank], None)
    return create_model("CgcSubmission", __base__=_SubmissionBase, **fields)


def _dutch_rule(field: str, error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing" or (error.get("input") is None and kind in ("literal_error", "string_type", "datetime_type")):
        return "ontbreekt (verplicht veld)"
    if kind == "literal_error":
        allowed = str(error.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        return f"'{error.get('input')}' is geen geldige keuze (toegestaan: {allowed})"
    if kind == "string_pattern_mismatch":
        return PATTERN_RULES.get(field, "heeft een ongeldige vorm")
    if kind == "string_too_long":
        return f"is te lang (maximaal {error['ctx']['max_length']} tekens)"
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind.startswith("datetime"):
        return f"'{error.get('input')}' is geen geldige datum en tijd (verwacht JJJJ-MM-DDTuu:mm:ss)"
    if kind == "extra_forbidden":
        return "is een onbekend veld"
    if kind in ("string_type", "list_type"):
        return "heeft het verkeerde type"
    return str(error.get("msg", kind))


def explain(error: ValidationError) -> list[str]:
    """Turn a pydantic error into Dutch lines 'Veld: regel', one per problem."""
    lines: list[str] = []
    for item in error.errors():
        location = [part for part in item["loc"] if isinstance(part, str)]
        if not location:  # model-level rule
            message = str(item.get("msg", "")).removeprefix("Value error, ")
            lines.append(f"Antwoorden: {message}")
            continue
        field = location[0]
        lines.append(f"{field_label(field)}: {_dutch_rule(field, item)}")
    return lines


class SubmissionError(ValueError):
    """Raised for an invalid submission; `problems` holds Dutch 'Veld: regel' lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_submission(record: dict[str, Any]) -> BaseModel:
    """Validate one submission; raise `SubmissionError` naming each field and rule.

    >>> try:
    ...     validate_submission({"response_id": "r1", "sector": "Z"})
    ... except SubmissionError as error:
    ...     print(error.problems[:2])
    ['Tijdstip van invullen (submitted_at): ontbreekt (verplicht veld)', 'Meting (wave): ontbreekt (verplicht veld)']
    """
    try:
        return submission_model().model_validate(record)
    except ValidationError as error:
        raise SubmissionError(explain(error)) from None


def invalid_fields(record: dict[str, Any]) -> set[str]:
    """Names of the fields a record breaks ('*' for the model-level answer rule)."""
    try:
        submission_model().model_validate(record)
    except ValidationError as error:
        return {next((p for p in e["loc"] if isinstance(p, str)), "*") for e in error.errors()}
    return set()

