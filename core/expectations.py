"""The Great Expectations suite of each source's raw table, built from its declaration.

These checks guard what ingestion promises: identifiers pseudonymised, group
keys from the public domains, answers in range, free text scrubbed. Dagster
shows each expectation as an asset check. GX validates pandas frames here;
its SQL route through duckdb_engine misreports results (see STACK-NOTES).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from core.sources import SourceField, source

PSEUDONYM = r"^[0-9a-f]{64}$"  # HMAC-SHA256 in hex
# A KvK number or e-mail address left in free text, as `core.scrub` finds them (8 digits that are not part of a longer
# number, a decimal or an amount: the scrubber leaves '€ 12345678' and '12345678 euro').
IDENTIFIER_IN_TEXT = r"(?<![0-9+.,€])(?<!€ )[0-9]{8}(?![0-9]|[.,][0-9]| ?(?:euro|EUR))|@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    success: bool
    unexpected_count: int
    description: str


def _expectations(name: str) -> dict[str, Callable[[], gx.expectations.Expectation]]:
    """Expectation name -> how to build it, for `raw.<table>` of source `name` (values of dynamic domains are read when built)."""
    declared = source(name)
    gxe = gx.expectations
    identity = list(declared.row_identity)
    suite: dict[str, Callable[[], gx.expectations.Expectation]] = {
        f"{declared.key}_unique": lambda: gxe.ExpectColumnValuesToBeUnique(column=declared.key),
    } if len(identity) == 1 else {  # `latest: row`: a key comes back in every delivery, once per submitted_at
        f"{'_'.join(identity)}_unique": lambda: gxe.ExpectCompoundColumnsToBeUnique(column_list=identity),
    }
    for column, field in declared.fields.items():
        stored = field.pseudonym or column
        if field.type == "identifier":
            suite[f"{stored}_is_pseudonym"] = partial(gxe.ExpectColumnValuesToMatchRegex, column=stored, regex=PSEUDONYM)
        elif field.type == "choice" and field.integer_codes:
            codes = [int(code) for code in field.allowed()]
            suite[f"{column}_in_range"] = partial(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=min(codes), max_value=max(codes))
        elif field.type == "choice":
            suite[f"{column}_{'known' if field.domain else 'valid'}"] = partial(_in_set, column, field)
        elif field.type in ("integer", "decimal", "money"):
            suite[f"{column}_in_range"] = partial(gxe.ExpectColumnValuesToBeBetween, column=column, min_value=field.minimum, max_value=field.maximum)
        elif field.type == "free_text":
            suite[f"{column}_has_no_identifiers"] = partial(gxe.ExpectColumnValuesToNotMatchRegex, column=column, regex=IDENTIFIER_IN_TEXT)
    for column, field in declared.fields.items():
        if field.required and field.role != "key":
            stored = field.pseudonym or column
            suite[f"{stored}_not_null"] = partial(gxe.ExpectColumnValuesToNotBeNull, column=stored)
    return suite


def _in_set(column: str, field: SourceField) -> gx.expectations.Expectation:
    return gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=field.allowed())


def expectation_names(name: str) -> dict[str, str]:
    """Check name -> what it checks, without reading any domain (for the Dagster definitions)."""
    return {check: check.replace("_", " ") for check in _expectations(name)}


def raw_suite(name: str = "cgc") -> dict[str, gx.expectations.Expectation]:
    """Expectation name -> expectation for `raw.<table>` of source `name`, from its declaration; the name is the Dagster check name."""
    return {check: build() for check, build in _expectations(name).items()}


def raw_cgc_suite() -> dict[str, gx.expectations.Expectation]:
    return raw_suite("cgc")


def _config_key(configuration) -> str:
    """GX returns results in its own order; match them to expectations by type and arguments."""
    kwargs = {k: v for k, v in configuration.kwargs.items() if k not in ("batch_id",)}
    return f"{configuration.type}:{sorted((k, str(v)) for k, v in kwargs.items())}"


def validate_raw(frame: pd.DataFrame, name: str = "cgc") -> list[ExpectationOutcome]:
    """Run source `name`'s suite on a frame of its raw table."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        ),
    )
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset(f"raw_{name}")
        .add_batch_definition_whole_dataframe("all_rows")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    named = raw_suite(name)
    suite = gx.ExpectationSuite(name=f"raw_{name}", expectations=list(named.values()))
    by_config = {_config_key(r.expectation_config): r for r in batch.validate(suite).results}
    outcomes = []
    for name, expectation in named.items():
        result = by_config[_config_key(expectation.configuration)]
        unexpected = int(result.result.get("unexpected_count", 0) or 0)
        outcomes.append(ExpectationOutcome(name, bool(result.success), unexpected, expectation.expectation_type))
    return outcomes


def validate_raw_cgc(frame: pd.DataFrame) -> list[ExpectationOutcome]:
    return validate_raw(frame, "cgc")
