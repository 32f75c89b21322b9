"""Each dataset declares its marts and its unit: a release that reads another source, protects another unit or
copies a mart into a second budget is refused; every closed period is released, empty or not; only canonical periods."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from core.settings import CONFIG_DIR
from core.warehouse import connect as warehouse_connect
from privacy import ledger
from privacy.engine import releasable_periods, release, stored_release
from privacy.loading import ReleaseSpecError, load_settings, load_spec
from privacy.spec import PrivacySettings
from tests.privacy_support import cgc_spec, firms_frame, settings, warehouse_with

BALANCE = yaml.safe_load((CONFIG_DIR / "releases" / "cgc_balance.yaml").read_text())
CONFIGURED = yaml.safe_load((CONFIG_DIR / "privacy.yaml").read_text())


def spec_file(tmp_path, **changes):
    data = {**BALANCE, **changes}
    path = tmp_path / "cgc_balance.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_the_configured_datasets_declare_their_marts_and_unit():
    configured = load_settings()
    assert configured.datasets["cgc"].sources == ["marts.cgc_firm_wave"]
    assert {"marts.dis_firm_proposal", "marts.consultation_firm_article"} <= set(configured.datasets["dis"].sources)
    assert configured.datasets["debts"].sources == ["marts.debt_small_claims", "marts.debt_person_risk", "marts.debt_whatif", "marts.debt_collection"]
    units = {name: (d.privacy_unit.kind, d.privacy_unit.column) for name, d in configured.datasets.items()}
    assert units == {"cgc": ("firm", "firm_id"), "dis": ("firm", "firm_id"), "debts": ("person", "person_id"),
                     "programme": ("firm", "firm_id")}
    assert configured.datasets["programme"].period == "quarter"
    assert configured.datasets["programme"].sources == ["marts.programme_firm_quarter", "marts.programme_firm_platform",
                                                        "marts.programme_need_firm_words", "marts.programme_need_firm_pairs",
                                                        "marts.programme_need_firm_themes"]  # the themes of the platform texts
    assert {"firm", "person"} <= set(configured.annual_caps)


def test_a_spec_over_a_source_its_dataset_does_not_declare_is_refused(tmp_path):
    with pytest.raises(ReleaseSpecError, match=r"source: 'raw.cgc_responses' is not a source of dataset 'cgc' \(privacy.yaml lists marts.cgc_firm_wave"):
        load_spec(spec_file(tmp_path, source="raw.cgc_responses"), settings())


def test_a_spec_with_another_unit_column_is_refused(tmp_path):
    unit = {**BALANCE["privacy_unit"], "column": "response_id"}
    with pytest.raises(ReleaseSpecError, match=r"privacy_unit.column: 'response_id' is not the unit of dataset 'cgc' \('firm_id'"):
        load_spec(spec_file(tmp_path, privacy_unit=unit, contribution={**BALANCE["contribution"], "source_grain": ["response_id", "wave"]}), settings())


def test_a_copy_of_a_spec_under_a_second_dataset_name_is_refused():
    """A second budget over the same mart would release the same firms' answers again: the settings do not load."""
    copied = {**CONFIGURED, "datasets": {**CONFIGURED["datasets"], "cgc_bis": CONFIGURED["datasets"]["cgc"]}}
    with pytest.raises(ValidationError, match="'marts.cgc_firm_wave' already belongs to dataset 'cgc'; a mart belongs to one dataset"):
        PrivacySettings.model_validate(copied)
    # a second dataset over a mart of its own is charged to the same yearly loss: same kind of unit, one cap (test_privacy_ledger)
    unit = {**CONFIGURED["datasets"]["cgc"]["privacy_unit"], "kind": "company"}
    with pytest.raises(ValidationError, match="privacy_unit.kind"):
        PrivacySettings.model_validate({**CONFIGURED, "datasets": {"cgc": {**CONFIGURED["datasets"]["cgc"], "privacy_unit": unit}}})
    with pytest.raises(ValidationError, match="is no mart"):
        PrivacySettings.model_validate({**CONFIGURED, "datasets": {"cgc": {**CONFIGURED["datasets"]["cgc"], "sources": ["raw.cgc_responses"]}}})


def test_every_closed_period_is_released_also_one_without_answers(tmp_path):
    frame = firms_frame(300, ["2025-01", "2025-03"], seed=2)
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", frame)
    spec = cgc_spec(epsilon=1.0)
    with warehouse_connect(warehouse) as connection:
        periods = releasable_periods(connection, spec, date(2025, 4, 15), settings())
        assert periods == ["2025-01", "2025-02", "2025-03"]  # from the first to the last wave with answers, the empty one included
        outcomes = release(connection, spec, periods, settings=settings())
        assert [o.status for o in outcomes] == ["released"] * 3
        empty, full = (stored_release(connection, spec, outcomes[i].release_id) for i in (1, 0))
    # the same cells as a wave with answers (every public group), with noise only
    assert empty.select("level", "measure", "statistic").equals(full.select("level", "measure", "statistic"))


@pytest.mark.parametrize("period", ["2025-1", "202501", "2025-13", "2031-01", "januari"])
def test_release_refuses_a_period_that_is_not_canonical(tmp_path, period):
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", firms_frame(50, ["2025-01"], seed=2))
    with warehouse_connect(warehouse) as connection, pytest.raises(ValueError, match="not periods of the wave calendar of dataset 'cgc'"):
        release(connection, cgc_spec(epsilon=1.0), [period], settings=settings())


def test_a_closed_period_without_any_group_is_released_empty_and_charged(tmp_path):
    """Private keys and no answers: nothing passes the selection; the period is still released (no cells) and charged."""
    from tests.test_privacy_bounding import THEMES_SPEC

    (tmp_path / "cgc_themes.yaml").write_text(yaml.safe_dump(THEMES_SPEC))
    budget = settings(epsilon=3.0, delta=1e-5)
    spec = load_spec(tmp_path / "cgc_themes.yaml", budget)
    mart = firms_frame(5, ["2025-01"], seed=1).select("firm_id", "wave").with_columns(theme=pl.lit("energie"))
    warehouse = warehouse_with(tmp_path / "w.duckdb", mart, "marts.cgc_themes")
    with warehouse_connect(warehouse) as connection:
        outcomes = release(connection, spec, ["2025-01", "2025-02"], settings=budget)
        assert [o.status for o in outcomes] == ["released", "released"]
        assert stored_release(connection, spec, outcomes[1].release_id).height == 0
        assert release(connection, spec, ["2025-02"], settings=budget)[0].status == "reused"
        assert ledger.spent(connection, "cgc", "2025-02")[0] == pytest.approx(1.0)
