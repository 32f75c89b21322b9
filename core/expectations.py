"""The Great Expectations suite for `raw.cgc_responses`.

These checks guard what ingestion promises: identifiers pseudonymised, group
keys from the public domains, answers in range, free text scrubbed. Dagster
shows each expectation as an asset check. GX validates pandas frames here;
its SQL route through duckdb_engine misreports results (see STACK-NOTES).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from core import reference
from core.survey import cgc_survey

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    success: bool
    unexpected_count: int
    description: str


def raw_cgc_suite() -> dict[str, gx.expectations.Expectation]:
    """Expectation name -> expectation; the name is the Dagster check name."""
    survey = cgc_survey()
    suite: dict[str, gx.expectations.Expectation] = {
        "response_id_unique": gx.expectations.ExpectColumnValuesToBeUnique(column="response_id"),
        "firm_id_is_pseudonym": gx.expectations.ExpectColumnValuesToMatchRegex(column="firm_id", regex=r"^[0-9a-f]{64}$"),
        "wave_known": gx.expectations.ExpectColumnValuesToBeInSet(column="wave", value_set=reference.wave_codes()),
        "sector_known": gx.expectations.ExpectColumnValuesToBeInSet(column="sector", value_set=reference.sector_codes()),
        "size_class_known": gx.expectations.ExpectColumnValuesToBeInSet(column="size_class", value_set=reference.size_class_codes()),
        "province_known": gx.expectations.ExpectColumnValuesToBeInSet(column="province", value_set=reference.province_codes()),
        "sentiment_in_range": gx.expectations.ExpectColumnValuesToBeBetween(column="sentiment", min_value=1, max_value=5),
        "free_text_has_no_identifiers": gx.expectations.ExpectColumnValuesToNotMatchRegex(
            column="free_text", regex=r"[0-9]{8}|@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
        ),
    }
    for name, question in survey.questions.items():
        if name != "sentiment":
            suite[f"{name}_valid"] = gx.expectations.ExpectColumnValuesToBeInSet(column=name, value_set=list(question.options))
    for name in ("firm_id", "submitted_at", "wave", "sector", "size_class", "province"):
        suite[f"{name}_not_null"] = gx.expectations.ExpectColumnValuesToNotBeNull(column=name)
    return suite


def _config_key(configuration) -> str:
    """GX returns results in its own order; match them to expectations by type and arguments."""
    kwargs = {k: v for k, v in configuration.kwargs.items() if k not in ("batch_id",)}
    return f"{configuration.type}:{sorted((k, str(v)) for k, v in kwargs.items())}"


def validate_raw_cgc(frame: pd.DataFrame) -> list[ExpectationOutcome]:
    """Run the suite on a frame of `raw.cgc_responses`."""
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
        .add_dataframe_asset("raw_cgc_responses")
        .add_batch_definition_whole_dataframe("all_rows")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    named = raw_cgc_suite()
    suite = gx.ExpectationSuite(name="raw_cgc_responses", expectations=list(named.values()))
    by_config = {_config_key(r.expectation_config): r for r in batch.validate(suite).results}
    outcomes = []
    for name, expectation in named.items():
        result = by_config[_config_key(expectation.configuration)]
        unexpected = int(result.result.get("unexpected_count", 0) or 0)
        outcomes.append(ExpectationOutcome(name, bool(result.success), unexpected, expectation.expectation_type))
    return outcomes
