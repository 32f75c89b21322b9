"""Release specifications: the configured ones load, bad ones fail at load time naming field and rule,
and a new release is one YAML file and no Python."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from assets.releases.factory import build_release_asset
from assets.resources import Warehouse
from core import reference
from core.settings import CONFIG_DIR
from core.warehouse import connect as warehouse_connect
from privacy.engine import release, stored_release
from privacy.loading import ReleaseSpecError, load_spec, load_specs, release_specs
from tests.privacy_support import firms_frame, settings, warehouse_with

BASE = yaml.safe_load((CONFIG_DIR / "releases" / "cgc_profile.yaml").read_text())


def write_spec(folder: Path, name: str, data: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_configured_specs_load_and_hash_stably():
    specs = load_specs()
    assert {"cgc_balance", "cgc_profile"} <= set(specs)
    assert specs["cgc_balance"].semantic_hash() == release_specs()["cgc_balance"].semantic_hash()
    retitled = specs["cgc_balance"].model_copy(update={"title": "Andere titel"})
    assert retitled.semantic_hash() == specs["cgc_balance"].semantic_hash()  # a title is not the meaning
    loosened = specs["cgc_balance"].model_copy(update={"suppression_threshold": 5})
    assert loosened.semantic_hash() != specs["cgc_balance"].semantic_hash()


def broken(path: list, value) -> dict:
    data = copy.deepcopy(BASE)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["measures", 1, "bounds"], [5, 1], "measures.sentiment_mean.bounds: lower bound 5.0 must be below upper bound 1.0"),
        (["measures", 1, "rationale"], KeyError, "measures.sentiment_mean.rationale: Field required"),
        (["measures", 1, "l1_sensitivity"], 3, "measures.sentiment_mean.l1_sensitivity: declared 3, but 2 levels x 2 per level = 4"),
        (["measures", 2, "bin_edges"], [1, 3, 2, 6], "measures.sentiment_median.bin_edges: edges must increase strictly"),
        (["measures", 2, "bin_edges"], [0.5, float("nan"), 5.5], "measures.sentiment_median.bounds: every number (bounds, resolution, bin edges, probabilities) must be finite"),
        (["measures", 3, "max_selections"], 0, "measures.challenges.max_selections: Input should be greater than or equal to 1"),
        (["groups", "levels", "sector"], ["postcode"], "groups.levels.sector: 'postcode' is no public domain"),
        (["privacy_loss"], {"epsilon": 1.0, "delta": 1e-6}, "privacy_loss.delta: must be 0 when all group keys are public"),
        (["privacy_loss"], {"epsilon": 5.0}, "privacy_loss: epsilon 5.0 / delta 0.0 exceeds the budget per period of 'cgc'"),
        (["privacy_loss", "delta"], 1e-6, "privacy_loss.delta: must be 0 with rho"),
        (["privacy_loss", "rho"], 0.5, "privacy_loss: rho 0.5 (epsilon 5.22 at delta 1e-06) exceeds the budget per period of 'cgc'"),
        (["privacy_loss", "epsilon"], 1.0, "privacy_loss: give either epsilon (Laplace noise, pure DP) or rho (Gaussian noise, zCDP)"),
        (["privacy_loss"], {}, "privacy_loss: give either epsilon"),
        (["dataset"], "onbekend", "dataset: 'onbekend' has no budget in privacy.yaml"),
        (["source"], "marts; DROP TABLE x", "source: String should match pattern"),
        (["contribution", "source_grain"], ["firm_id", "sector"], "contribution.source_grain: must be the unit and period columns"),
        (["measures", 0, "kind"], "median", "measures.respondents: Input tag 'median' found using 'kind' does not match any of the expected tags"),
        (["suppression_threshold"], -1, "suppression_threshold: Input should be greater than or equal to 0"),
        (["colour"], "blue", "colour: Extra inputs are not permitted"),
        (["ratios"], [{"name": "r", "numerator": "sentiment_mean", "denominator": "respondents", "bounds": [0, 1], "unit": "x",
                       "rationale": "a mean is no sum"}], "ratios.r.numerator: 'sentiment_mean' is not a sum measure of this release"),
        (["ratios"], [{"name": "r", "numerator": "a", "denominator": "b", "bounds": [2, 1], "unit": "x", "rationale": "wrong order"}],
         "ratios.r.bounds: need 0 <= lower < upper"),
    ],
)
def test_an_invalid_spec_fails_at_load_time_naming_field_and_rule(tmp_path, path, value, message):
    spec_file = write_spec(tmp_path, "cgc_profile", broken(path, value))
    with pytest.raises(ReleaseSpecError) as error:
        load_spec(spec_file)
    assert str(error.value).startswith("cgc_profile.yaml: ")
    assert message in str(error.value)


def test_private_keys_need_delta_and_a_count(tmp_path):
    data = broken(["groups"], {"keys": "private", "levels": {"theme": ["theme"]}})
    with pytest.raises(ReleaseSpecError, match="privacy_loss.rho: private group keys need epsilon and delta"):
        load_spec(write_spec(tmp_path, "cgc_profile", data))
    data["privacy_loss"] = {"epsilon": 1.0, "delta": 0}
    with pytest.raises(ReleaseSpecError, match="privacy_loss.delta: private group keys need delta > 0"):
        load_spec(write_spec(tmp_path, "cgc_profile", data))


def test_a_zcdp_release_needs_a_delta_in_its_datasets_budget(tmp_path):
    """rho is checked against the period's budget as (epsilon, delta): a budget of delta 0 cannot hold it."""
    with pytest.raises(ReleaseSpecError, match="privacy_loss.rho: the budget per period of 'cgc' has delta 0"):
        load_spec(write_spec(tmp_path, "cgc_profile", BASE), settings(delta=0.0))


def test_a_spec_whose_name_differs_from_its_file_is_refused(tmp_path):
    with pytest.raises(ReleaseSpecError, match="name: 'iets_anders' must equal the file name 'cgc_profile'"):
        load_spec(write_spec(tmp_path, "cgc_profile", {**BASE, "name": "iets_anders"}))


NEW_RELEASE = """
title: Investeringsplannen per provincie
description: Share of firms planning to invest more, the same or less, per province and wave.
dataset: cgc
source: marts.cgc_firm_wave
privacy_unit: {column: firm_id, label: "firm (pseudonymised KvK number)", plural_nl: bedrijven}
period: wave
contribution:
  max_rows_per_unit: 1
  source_grain: [firm_id, wave]
  rationale: One row per firm per wave in the mart.
groups:
  levels: {nation: [], province: [province]}
measures:
  - {name: firms, kind: count, l1_sensitivity: 2}
  - {name: investment, kind: shares, column: investment, categories: [up, same, down], l1_sensitivity: 2}
privacy_loss: {epsilon: 0.5}
"""


def test_a_new_release_is_one_yaml_file_and_no_python(tmp_path):
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "cgc_investment.yaml").write_text(NEW_RELEASE)
    (spec,) = load_specs(tmp_path / "releases").values()
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", firms_frame(800, ["2025-01", "2025-02"]))
    # the engine releases it ...
    with warehouse_connect(warehouse) as connection:
        (outcome,) = release(connection, spec, ["2025-01"], settings=settings())
        cells = stored_release(connection, spec, outcome.release_id)
    assert outcome.status == "released" and outcome.epsilon == pytest.approx(0.5)
    assert set(cells.filter(pl.col("measure") == "investment")["category"]) == {"up", "same", "down"}
    assert cells["province"].drop_nulls().n_unique() == 12
    # ... and Dagster makes an asset of it, which releases every closed wave
    asset = build_release_asset(spec)
    assert asset.key == dg.AssetKey(["releases", "cgc_investment"])
    result = dg.materialize([asset], resources={"warehouse": Warehouse(path=str(warehouse))}, selection=[asset.key])
    metadata = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    assert metadata["periods_released"].value == 1 and metadata["periods_reused"].value == 1
    assert date.today() > date(2025, 2, 28)


# --------------------------------------------------------------------------- public domains come from reference/

CREDITOR_TYPES = {"energie": "Energieleverancier", "water": "Waterbedrijf", "wonen": "Woningcorporatie"}

DEBT_BY_CREDITOR_TYPE = """
title: Betalingsachterstanden per soort schuldeiser
description: Persons with a payment arrear, per kind of creditor and month.
dataset: debt
source: marts.debt_person_month
privacy_unit: {column: person_id, label: "person (pseudonymised BSN)", plural_nl: personen}
period: month
contribution:
  max_rows_per_unit: 1
  source_grain: [person_id, month]
  rationale: One row per person per month in the mart.
groups:
  levels: {nation: [], creditor_type: [creditor_type]}
measures:
  - {name: persons, kind: count, l1_sensitivity: 2}
privacy_loss: {epsilon: 1.0}
"""


def _clear_reference_caches() -> None:
    for function in vars(reference).values():
        if hasattr(function, "cache_clear"):
            function.cache_clear()


@pytest.fixture()
def creditor_type_domain(tmp_path, monkeypatch) -> dict[str, str]:
    """A reference folder whose domains.yaml names one more domain than the repository's: creditor types."""
    folder = tmp_path / "reference"
    shutil.copytree(reference.REFERENCE_DIR, folder)
    rows = "".join(f"{code},{name}\n" for code, name in CREDITOR_TYPES.items())
    (folder / "creditor_types.csv").write_text("code,name\n" + rows, encoding="utf-8")
    registry = yaml.safe_load((folder / "domains.yaml").read_text(encoding="utf-8"))
    registry["creditor_type"] = {"file": "creditor_types.csv", "code": "code", "label": "name", "description": "kind of creditor"}
    (folder / "domains.yaml").write_text(yaml.safe_dump(registry), encoding="utf-8")
    monkeypatch.setattr(reference, "REFERENCE_DIR", folder)
    _clear_reference_caches()
    yield CREDITOR_TYPES
    _clear_reference_caches()  # before monkeypatch restores the folder, so nothing keeps the temporary domain


def test_a_new_kind_of_group_is_a_reference_file_and_no_python(tmp_path, creditor_type_domain):
    (tmp_path / "debt_by_creditor_type.yaml").write_text(DEBT_BY_CREDITOR_TYPE)
    spec = load_spec(tmp_path / "debt_by_creditor_type.yaml", settings(debt=1.0))
    people = 600
    frame = pl.DataFrame(
        {
            "person_id": [f"person{p:05d}" for p in range(people)],
            "month": ["2025-01"] * people,
            "creditor_type": ["energie" if p % 3 else "water" for p in range(people)],  # none in 'wonen'
        }
    )
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", frame, "marts.debt_person_month")
    with warehouse_connect(warehouse) as connection:
        (outcome,) = release(connection, spec, ["2025-01"], settings=settings(debt=1.0))
        cells = stored_release(connection, spec, outcome.release_id)
    assert outcome.status == "released"
    groups = cells.filter(pl.col("level") == "creditor_type")
    assert groups["creditor_type"].to_list() == list(creditor_type_domain)  # every listed group, in the file's order
    assert groups.filter(pl.col("creditor_type") == "wonen")["suppressed"].to_list() == [True]  # empty, but released


def test_a_group_key_that_no_domain_lists_is_refused_naming_it(tmp_path, creditor_type_domain):
    data = yaml.safe_load(DEBT_BY_CREDITOR_TYPE)
    data["groups"]["levels"] = {"nation": [], "creditor_kind": ["creditor_kind"]}
    with pytest.raises(ReleaseSpecError) as error:
        load_spec(write_spec(tmp_path, "debt_by_creditor_type", data), settings(debt=1.0))
    message = str(error.value)
    assert "groups.levels.creditor_kind: 'creditor_kind' is no public domain" in message
    assert "creditor_type" in message and "sector" in message  # the known domains, read from the registry
