"""Sources as declarations: every input of the platform is one folder `sources/<name>/` with a `source.yaml`.

A declaration says what one row of the source is: its fields with their types
and Dutch labels, allowed values (a public domain from `reference/` or the
source's own options), required fields, the identifier that is pseudonymised
at the boundary (KvK number -> `firm_id`), the free text that is scrubbed, the
key that makes a row unique, the period calendar, and which answer counts
when a unit answers twice ("latest answer wins": per unit x period x
question). Everything else reads it: the row contract for forms and bulk
files (`core.contracts`), the vectorised checks (`core.validation`), the Great
Expectations suite (`core.expectations`), the DDL (`core.warehouse`), the
ingestion (`core.ingest`), SQLMesh's external models and staging models, the
Dagster assets and the sensor. Adding a source is adding its folder.

>>> cgc = source("cgc")
>>> cgc.raw_table, cgc.unit_column, cgc.period.field
('raw.cgc_responses', 'firm_id', 'wave')
>>> [name for name, field in cgc.fields.items() if field.type == "multi_choice"]
['challenges']
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core import reference
from core.settings import PROJECT_ROOT

SOURCES_DIR = PROJECT_ROOT / "sources"
NAME = r"^[a-z][a-z0-9_]*$"
RESERVED_FIELDS = ("row_number", "reason", "reason_code", "payload", "file_hash", "file_name", "loaded_at", "quarantined_at")
"""Columns the ingestion adds to a file's rows itself (`core.ingest`): a field of that name would be overwritten."""

FieldType = Literal["text", "identifier", "timestamp", "date", "choice", "multi_choice", "integer", "decimal", "money", "flag", "free_text"]
Role = Literal["key", "submitted_at", "period", "unit", "profile", "answer", "meta"]
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
MONEY_SCALE = 2  # cents: a money field is DECIMAL(MONEY_PRECISION, 2) in DuckDB, never a float
MONEY_PRECISION = 12
FLAG_VALUES = {"true": True, "false": False, "ja": True, "nee": False, "1": True, "0": False,
               "TRUE": True, "FALSE": False, "True": True, "False": False, "Ja": True, "Nee": False}
"""How a yes/no field may be delivered (exactly these spellings; a Parquet boolean reads as 'true'/'false')."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceField(_Strict):
    """One column of a source as it lands: its type, its Dutch label and its rules."""

    type: FieldType
    label: str = Field(min_length=1, description="Dutch name in messages and tables, e.g. 'Sector'")
    question: str | None = Field(default=None, description="the question as a form asks it")
    role: Role = "answer"
    required: bool = False
    pattern: str | None = Field(default=None, description="regular expression a text or identifier must match")
    pattern_rule: str | None = Field(default=None, description="the pattern in plain Dutch, for messages")
    pseudonym: str | None = Field(default=None, pattern=NAME, description="identifier: the raw column holding its keyed hash")
    domain: str | None = Field(default=None, description="choice: a public domain of reference/domains.yaml")
    options: dict[str, str] | None = Field(default=None, description="choice: code -> Dutch label")
    integer_codes: bool = Field(default=False, description="choice codes are small integers, stored as such")
    positive: list[str] = Field(default_factory=list, description="codes on the positive side of a balance")
    negative: list[str] = Field(default_factory=list, description="codes on the negative side of a balance")
    max_length: int | None = Field(default=None, gt=0)
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = Field(default=None, description="Dutch unit of a number, e.g. 'euro per jaar', 'uur per maand'")
    step: float | None = Field(default=None, gt=0, description="a number's resolution on a form, e.g. 0.1 FTE")
    counts_as_answer: bool | None = Field(
        default=None, description="whether giving it makes a row answered (default: every answer but free text)"
    )
    form_range: dict[str, tuple[float, float]] | None = Field(
        default=None, description="a number's slider range on a form, per size class (within minimum and maximum)"
    )
    part_of: str | None = Field(
        default=None, pattern=NAME, description="choice: its codes are '<value of that field>/...' (an article of the row's proposal)"
    )
    check: Literal["elfproef"] | None = Field(
        default=None, description="identifier: a checksum it must pass (elfproef: the BSN's eleven-test, stdnum.nl.bsn)"
    )
    not_in_future: bool = Field(default=False, description="date or timestamp: not after today (the day of validation)")
    not_before: str | None = Field(default=None, pattern=NAME, description="date: not before the date in that other field of the row")

    @model_validator(mode="after")
    def _consistent(self) -> SourceField:
        choice = self.type in ("choice", "multi_choice")
        if choice and (self.domain is None) == (self.options is None):
            raise ValueError("a choice needs either a domain (reference/domains.yaml) or its own options, not both")
        if not choice and (self.domain or self.options or self.positive or self.negative or self.integer_codes):
            raise ValueError("domain, options, positive, negative and integer_codes are for choices only")
        if self.domain is not None and self.domain not in reference.domains():
            raise ValueError(f"domain '{self.domain}' is not in reference/domains.yaml (known: {', '.join(reference.domains())})")
        unknown = set(self.positive + self.negative) - set(self.options or {})
        if unknown:
            raise ValueError(f"positive/negative: {sorted(unknown)} are not among the options")
        if self.integer_codes and not all(re.fullmatch(r"-?[0-9]{1,3}", code) for code in self.options or {}):
            raise ValueError("integer_codes: every option code must be a small integer")
        if self.pattern is not None:
            re.compile(self.pattern)
            if not self.pattern_rule:
                raise ValueError("pattern: say in pattern_rule what it means, in Dutch")
        if (self.type == "identifier") != (self.pseudonym is not None):
            raise ValueError("an identifier is pseudonymised at the boundary: name its pseudonym column (and only identifiers have one)")
        if self.check is not None and self.type != "identifier":
            raise ValueError("check (elfproef) is for identifiers only")
        if (self.not_in_future or self.not_before) and self.type not in ("date", "timestamp"):
            raise ValueError("not_in_future and not_before are for dates (and not_in_future for timestamps)")
        if self.not_before and self.type != "date":
            raise ValueError("not_before is for dates only")
        if self.type in ("integer", "decimal", "money") and (self.minimum is None or self.maximum is None or self.minimum >= self.maximum):
            raise ValueError("a number needs minimum < maximum (bounds are part of the contract)")
        if self.type == "money":
            largest = 10 ** (MONEY_PRECISION - MONEY_SCALE)
            if any(round(bound, MONEY_SCALE) != bound or not -largest < bound < largest for bound in (self.minimum, self.maximum)):
                raise ValueError(f"money: bounds are whole cents below {largest:,} euro (DECIMAL({MONEY_PRECISION},{MONEY_SCALE}))")
        if self.form_range is not None:
            if self.type not in ("integer", "decimal"):
                raise ValueError("form_range is for numbers only")
            unknown = set(self.form_range) - set(reference.domain_codes("size_class"))
            outside = [code for code, (low, high) in self.form_range.items() if not self.minimum <= low < high <= self.maximum]
            if unknown or outside:
                raise ValueError(f"form_range: size classes {sorted(unknown)} unknown, ranges {outside} not within minimum and maximum")
        if self.type == "free_text" and self.max_length is None:
            raise ValueError("free text needs max_length")
        return self

    def allowed(self) -> list[str]:
        """The codes a choice may take."""
        return reference.domain_codes(self.domain) if self.domain else list(self.options or {})

    def labels(self) -> dict[str, str]:
        """Code -> Dutch label of a choice."""
        return reference.domain_labels(self.domain) if self.domain else dict(self.options or {})


class SourcePage(_Strict):
    """A page of the dashboards that belongs to a source (its form, its figures), registered from the declaration."""

    url: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="the address of the page, e.g. 'dis-invullen'")
    title: str
    icon: str | None = None
    file: str = Field(pattern=r"^views/[a-z0-9_]+\.py$", description="the page's script, relative to dashboards/")
    roles: list[Literal["respondent", "analyst", "administrator", "creditor", "consultant"]] = Field(min_length=1)


class Period(_Strict):
    field: str
    calendar: Literal["month", "proposal", "article"] = Field(
        description="month: 'YYYY-MM' waves; proposal: one period per proposal; article: '<proposal>/<article>', closed with its proposal"
    )


class Source(_Strict):
    """A declared source (`sources/<name>/source.yaml`)."""

    name: str = Field(pattern=NAME)
    title: str
    description: str
    unit: Literal["firm", "person"] = Field(description="the privacy unit: a firm (KvK number) or a person (BSN)")
    table: str = Field(pattern=NAME, description="raw.<table>, quarantine.<table>")
    mart: str = Field(pattern=NAME, description="marts.<mart>: one row per unit per period (latest: row: per key per period)")
    key: str = Field(description="the field that names one submission; the same key with other content is a conflict")
    period: Period
    at_least_one_answer: bool = Field(default=True, description="a row must answer at least one question")
    latest: Literal["answer", "row"] = Field(
        default="answer",
        description=(
            "answer: per unit x period x question the latest answer counts (surveys; marts.<mart> is one row per unit per period); "
            "row: a key is delivered again with every new state (a claim in each monthly delivery), key + submitted_at name one row, "
            "and per key x period the latest row counts whole (marts.<mart> is one row per key per period)"
        ),
    )
    fields: dict[str, SourceField]
    pages: list[SourcePage] = Field(default_factory=list, description="its pages: form, figures (dashboards/views/)")

    @model_validator(mode="after")
    def _roles(self) -> Source:
        def one(role: str) -> str:
            names = [name for name, field in self.fields.items() if field.role == role]
            if len(names) != 1:
                raise ValueError(f"exactly one field needs role '{role}' (found {names or 'none'})")
            return names[0]

        if one("key") != self.key:
            raise ValueError(f"key: '{self.key}' must be the field with role 'key'")
        if one("period") != self.period.field:
            raise ValueError(f"period.field: '{self.period.field}' must be the field with role 'period'")
        if self.fields[one("submitted_at")].type != "timestamp":
            raise ValueError("the field with role 'submitted_at' must be a timestamp")
        if self.fields[one("unit")].type != "identifier":
            raise ValueError("the field with role 'unit' must be an identifier (it is pseudonymised)")
        for name, field in self.fields.items():
            if not re.fullmatch(NAME, name):
                raise ValueError(f"fields.{name}: field names are lower case letters, digits and '_'")
            if name in RESERVED_FIELDS:
                raise ValueError(f"fields.{name}: the ingestion uses this name itself ({', '.join(RESERVED_FIELDS)}); choose another")
            if field.role in ("key", "submitted_at", "period", "unit", "profile") and not field.required:
                raise ValueError(f"fields.{name}: a {field.role} field must be required")
            if field.part_of is not None and (field.part_of not in self.fields or field.type != "choice"):
                raise ValueError(f"fields.{name}: part_of must name another field, and only a choice can be part of it")
            earlier = list(self.fields)[: list(self.fields).index(name)]
            if field.not_before is not None and (field.not_before not in earlier or self.fields[field.not_before].type != "date"):
                raise ValueError(f"fields.{name}: not_before must name a date field declared before it")
        if self.latest == "row" and self.at_least_one_answer:
            raise ValueError("latest: row keeps whole rows (deliveries), so at_least_one_answer must be false")
        return self

    # ------------------------------------------------------------------ derived names

    @property
    def raw_table(self) -> str:
        return f"raw.{self.table}"

    @property
    def quarantine_table(self) -> str:
        return f"quarantine.{self.table}"

    @property
    def unit_field(self) -> str:
        return next(name for name, field in self.fields.items() if field.role == "unit")

    @property
    def unit_column(self) -> str:
        """The raw column that identifies the privacy unit: the pseudonym of the unit's identifier."""
        return self.fields[self.unit_field].pseudonym

    @property
    def submitted_at(self) -> str:
        return next(name for name, field in self.fields.items() if field.role == "submitted_at")

    @property
    def row_identity(self) -> tuple[str, ...]:
        """The fields that name one row: the key (a submission), or key and submitted_at (one state of a record, `latest: row`).

        The same identity twice is a duplicate (same content) or a conflict (other content).
        """
        return (self.key,) if self.latest == "answer" else (self.key, self.submitted_at)

    def landing_columns(self) -> tuple[str, ...]:
        """The columns of a landing file, in the declared order."""
        return tuple(self.fields)

    def required_fields(self) -> tuple[str, ...]:
        return tuple(name for name, field in self.fields.items() if field.required)

    def of_role(self, *roles: str) -> dict[str, SourceField]:
        return {name: field for name, field in self.fields.items() if field.role in roles}

    def of_type(self, *types: str) -> dict[str, SourceField]:
        return {name: field for name, field in self.fields.items() if field.type in types}

    def questions(self) -> dict[str, SourceField]:
        """The answers the 'latest answer wins' rule applies to, one by one (free text included)."""
        return self.of_role("answer")

    def answers_counted(self) -> tuple[str, ...]:
        """The answers of which a row must give at least one (by default free text alone is no answer)."""
        return tuple(
            name for name, field in self.questions().items()
            if (field.counts_as_answer if field.counts_as_answer is not None else field.type != "free_text")
        )

    def label(self, name: str) -> str:
        return self.fields[name].label if name in self.fields else name


class SourceError(ValueError):
    """A source declaration breaks a rule; the message names the file, the field and the rule."""


def load_source(path: Path) -> Source:
    """Read and check one declaration; errors name the file and the field."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        declared = Source.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'source'}: {str(e['msg']).removeprefix('Value error, ')}" for e in error.errors())
        raise SourceError(f"{path.parent.name}/{path.name}: {problems}") from None
    if declared.name != path.parent.name:
        raise SourceError(f"{path.parent.name}/{path.name}: name '{declared.name}' must be the folder's name")
    return declared


@cache
def sources() -> dict[str, Source]:
    """Every declared source by name (`sources/*/source.yaml`), in name order."""
    return {path.parent.name: load_source(path) for path in sorted(SOURCES_DIR.glob("*/source.yaml"))}


def source(name: str) -> Source:
    try:
        return sources()[name]
    except KeyError:
        raise SourceError(f"unknown source '{name}' (declared: {', '.join(sources())})") from None
