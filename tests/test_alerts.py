"""Early warnings (issue 13): the rule, `mkbvm alerts` on a user's CSV, the alerts on released series, the backtest."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alert_csv import SeriesFileError, alerts_for_file, read_series
from privacy.alerts import ALARM, LEVELS, NONE, SIGNAL, TRIGGERS, AlertRule, alert_rule, assess, series_alerts
from privacy.released_alerts import SCHEMA, balance_alerts, burden_alerts, newest_cells, released_alerts

ROOT = Path(__file__).resolve().parent.parent
BACKTEST = ROOT / "benchmarks" / "alerts_backtest.py"
RULE = AlertRule(min_history=6)
CALM = [0.0, 1.0, -1.0, 0.5, -0.5, 0.0, 1.0, -1.0, 0.0, 0.5, -0.5, 0.2, -0.3, 0.8, -0.6]


def _levels(result) -> list[str]:
    return [LEVELS[int(code)] for code in np.ravel(result["level"])]


# --------------------------------------------------------------------------- the rule


def test_a_calm_series_gives_no_warning_and_a_fall_beyond_the_noise_does():
    assert set(_levels(assess(CALM, np.ones(len(CALM)), rule=RULE))) == {""}
    fall = assess(CALM[:11] + [-4.0, -9.0], np.ones(13), rule=RULE)
    assert _levels(fall)[-2:] == ["signaal", "alarm"]
    assert TRIGGERS[int(fall["trigger"][-1])] == "strong" and fall["change"][-2] < 0 and fall["z"][-2] >= RULE.signal_z


def test_the_same_fall_is_no_warning_when_the_released_intervals_are_wide():
    narrow, wide = (assess(CALM[:11] + [-4.0], np.full(12, se), rule=RULE) for se in (1.0, 6.0))
    assert _levels(narrow)[-1] == "signaal" and _levels(wide)[-1] == ""


def test_two_periods_below_the_baseline_are_an_alarm_that_persists():
    result = assess(CALM + [-2.6, -3.0], np.ones(len(CALM) + 2), rule=RULE)
    assert _levels(result)[-1] == "alarm" and TRIGGERS[int(result["trigger"][-1])] == "persists"


def test_no_warning_before_the_normal_movement_is_known():
    result = assess([0.0, 0.0, 0.0, 0.0, 0.0, -50.0], np.ones(6), rule=AlertRule())
    assert set(_levels(result)) == {""} and {TRIGGERS[int(t)] for t in result["trigger"]} == {"history"}


series_values = st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(series_values, st.floats(0.1, 8))
def test_warnings_never_change_when_later_periods_arrive(values, se):
    """Causal: a stored alert stays what it was when more waves are released."""
    errors = np.full(len(values), se)
    whole = assess(values, errors, rule=RULE)
    for cut in (len(values) // 2, len(values) - 1):
        if cut:
            part = assess(values[:cut], errors[:cut], rule=RULE)
            assert part["level"].tolist() == whole["level"][:cut].tolist()


@settings(max_examples=150, deadline=None)
@given(series_values, st.floats(0.1, 8), st.floats(0.01, 100))
def test_worse_higher_mirrors_worse_lower_and_units_do_not_matter(values, se, scale):
    x, s = np.asarray(values), np.full(len(values), se)
    lower = assess(x, s, rule=RULE)
    assert assess(-x, s, worse="higher", rule=RULE)["level"].tolist() == lower["level"].tolist()
    scaled = assess(x * scale, s * scale, rule=RULE)
    # the rule is scale-free; only a z within float rounding of a threshold may flip
    assert np.mean(scaled["level"] == lower["level"]) >= 0.9


def test_many_series_at_once_give_the_same_as_one_by_one():
    rng = np.random.default_rng(3)
    values, errors = rng.normal(0, 2, (5, 40)).cumsum(axis=1), rng.uniform(0.5, 2, (5, 40))
    together = assess(values, errors, rule=RULE)
    for row in range(5):
        alone = assess(values[row], errors[row], rule=RULE)
        assert alone["level"].tolist() == together["level"][row].tolist()
        assert np.allclose(alone["z"], together["z"][row], equal_nan=True)


def test_a_cumulative_burden_warns_on_each_proposal_that_adds_beyond_its_noise():
    increments, se = [0.5, 4.0, 3.0, 0.2], [1.0, 1.0, 1.0, 1.0]
    result = assess(increments, se, worse="higher", mode="increments", rule=RULE)
    assert _levels(result) == ["", "alarm", "alarm", ""]
    assert TRIGGERS[int(result["trigger"][1])] == "strong" and TRIGGERS[int(result["trigger"][2])] == "persists"
    assert _levels(assess([3.0], [1.0], worse="higher", mode="increments", rule=RULE)) == ["signaal"]


def test_suppressed_periods_are_skipped_and_every_period_gets_a_row():
    periods = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 7)]
    values = [5.0, 6, 4, 5, 6, 5, 4, 6, 5, 5.5, 4.5, 5, None, 5, 4, -3, -10, -16]
    frame = pl.DataFrame({"period": periods, "estimate": values, "ci_low": [None if v is None else v - 2 for v in values],
                          "ci_high": [None if v is None else v + 2 for v in values]})
    out = series_alerts(frame, rule=RULE)
    assert out["period"].to_list() == periods
    assert out.row(12, named=True)["trigger"] == "missing" and out.row(12, named=True)["alert"] == ""
    assert out["alert"].to_list()[-3:] == ["alarm", "alarm", "alarm"]
    assert "2,0 keer" not in out["reason"][-1] and "keer de onzekerheid" in out["reason"][-1]


def test_the_configured_rule_loads_and_refuses_what_it_does_not_know(tmp_path):
    rule = alert_rule()
    assert rule.signal_z <= rule.strong_z and rule.min_history >= 1
    bad = tmp_path / "alerts.yaml"
    bad.write_text("signal_z: 2.5\nthreshold: 3\n")
    with pytest.raises(ValueError, match="threshold"):
        alert_rule(bad)
    with pytest.raises(ValueError, match="strong_z"):
        AlertRule(signal_z=3.0, strong_z=2.0)
    with pytest.raises(ValueError, match="signal_z"):
        AlertRule(signal_z=-1.0)


# --------------------------------------------------------------------------- the CSV a user brings


def _csv(periods: list[str], values: list[str], intervals: list[tuple[str, str]] | None = None) -> bytes:
    header = "period,value" + (",ci_low,ci_high" if intervals is not None else "")
    lines = [header] + [f"{p},{v}" + (f",{intervals[i][0]},{intervals[i][1]}" if intervals is not None else "")
                        for i, (p, v) in enumerate(zip(periods, values, strict=True))]
    return ("\n".join(lines) + "\n").encode()


def _months(start: int, count: int) -> list[str]:
    return [f"{(start + i) // 12:04d}-{(start + i) % 12 + 1:02d}" for i in range(count)]


@st.composite
def valid_series(draw):
    count = draw(st.integers(1, 80))
    start = draw(st.integers(1950 * 12, 2020 * 12))
    periods = _months(start, count)
    if draw(st.booleans()):
        periods = [f"{p}-{draw(st.integers(1, 28)):02d}" for p in periods]  # dates instead of months
    values = draw(st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=count, max_size=count))
    intervals = None
    if draw(st.booleans()):
        halves = draw(st.lists(st.floats(0, 10, allow_nan=False, width=32), min_size=count, max_size=count))
        intervals = [(repr(v - h), repr(v + h)) for v, h in zip(values, halves, strict=True)]
    return periods, [repr(v) for v in values], intervals


@settings(max_examples=100, deadline=None)
@given(valid_series())
def test_a_valid_file_gives_one_row_per_period_in_order(tmp_path_factory, series):
    periods, values, intervals = series
    folder = tmp_path_factory.mktemp("valid")
    (folder / "in.csv").write_bytes(_csv(periods, values, intervals))
    outcome = alerts_for_file(folder / "in.csv", folder / "out.csv")
    written = pl.read_csv(folder / "out.csv", infer_schema=False)
    assert written.columns == ["period", "level", "reason"]
    assert written["period"].to_list() == periods
    assert set(written["level"].fill_null("").to_list()) <= {"", "signaal", "alarm"}
    assert written["reason"].null_count() == 0 and outcome.alerts.height == len(periods)


CORRUPTIONS = ("text value", "empty value", "bad period", "duplicate period", "unsorted", "low above high", "one interval cell",
               "extra field")


@settings(max_examples=150, deadline=None)
@given(st.integers(3, 40), st.data(), st.sampled_from(CORRUPTIONS))
def test_a_corrupted_line_is_named_with_its_field(count, data, corruption):
    periods, values = _months(2000 * 12, count), [f"{v}.5" for v in range(count)]
    intervals = [(f"{v - 1}.5", f"{v + 1}.5") for v in range(count)]
    row = data.draw(st.integers(1, count - 1))  # 0-based data row; its line is row + 2 (line 1 is the header)
    field = {"text value": "value", "empty value": "value", "bad period": "period", "duplicate period": "period",
             "unsorted": "period", "low above high": "ci_low", "one interval cell": "ci_low", "extra field": None}[corruption]
    if corruption == "text value":
        values[row] = data.draw(st.sampled_from(["abc", "1.2.3", "nan", "inf", "1e999", "--3", "5%"]))
    elif corruption == "empty value":
        values[row] = ""
    elif corruption == "bad period":
        periods[row] = data.draw(st.sampled_from(["2001-13", "01-2001", "2001/03", "maart", "2001-02-30", "2001"]))
    elif corruption == "duplicate period":
        periods[row] = periods[row - 1]
    elif corruption == "unsorted":
        periods[row] = "1990-01"
    elif corruption == "low above high":
        intervals[row] = (intervals[row][1], intervals[row][0])
    elif corruption == "one interval cell":
        intervals[row] = (intervals[row][0], "")
    content = _csv(periods, values, intervals)
    if corruption == "one interval cell":
        field = "ci_high"
    if corruption == "extra field":
        lines = content.decode().split("\n")
        lines[row + 1] += ",7"
        content = "\n".join(lines).encode()
    with pytest.raises(SeriesFileError) as error:
        read_series(content)
    assert error.value.line == row + 2 and error.value.field == field, str(error.value)
    assert str(error.value).startswith(f"regel {row + 2}")


@pytest.mark.parametrize(("content", "line", "field", "words"), [
    (b"", 1, None, "leeg"),
    (b"period,value\n", 2, None, "geen gegevens"),
    (b"period,waarde\n2001-01,3\n", 1, "value", "ontbreekt"),
    (b"period,value,ci_low\n2001-01,3,1\n", 1, "ci_high", "horen samen"),
    (b"period,value,ci_low,ci_high\n2001-01,3,4,5\n", 2, "value", "buiten het eigen interval"),
    (b"period,value\n2001-01,3\n\xff\xfe\n", 3, None, "UTF-8"),
])
def test_file_level_problems_are_named(content, line, field, words):
    with pytest.raises(SeriesFileError) as error:
        read_series(content)
    assert (error.value.line, error.value.field) == (line, field) and words in str(error.value)


def test_a_dutch_spreadsheet_with_semicolons_and_decimal_commas_is_read():
    series = read_series(b"Period;Value;extra\n2001-01;-3,5;x\n2001-02;4;y\n")
    assert series["value"].to_list() == [-3.5, 4.0]


def _command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "alerts", *arguments], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_the_command_writes_alerts_and_refuses_a_bad_file_without_a_traceback(tmp_path):
    rng = np.random.default_rng(5)
    calm = list(np.round(rng.normal(0, 1.5, 36).cumsum() * 0.3, 1))
    values = calm + [calm[-1] - 6, calm[-1] - 14, calm[-1] - 24]
    (tmp_path / "in.csv").write_bytes(_csv(_months(2005 * 12, len(values)), [str(v) for v in values]))
    done = _command("--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    written = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert written.height == len(values) and written["level"].to_list()[-1] == "alarm"
    assert "alarmen" in done.stdout
    (tmp_path / "bad.csv").write_text("period,value\n2005-01,3\n2005-02,drie\n")
    refused = _command("--input", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "out2.csv"))
    assert refused.returncode == 2 and "Traceback" not in refused.stdout + refused.stderr
    assert "regel 3, kolom 'value': 'drie': is geen getal" in " ".join(refused.stdout.split())
    assert not (tmp_path / "out2.csv").exists()


# --------------------------------------------------------------------------- alerts on the released series


def _cell(period: str, version: int, level: str, measure: str, statistic: str, estimate: float, half: float) -> dict:
    return {"period": period, "version": version, "level": level, "province": "PV26" if level == "province" else None, "sector": None,
            "size_class": None, "measure": measure, "statistic": statistic, "category": None, "estimate": estimate,
            "ci_low": estimate - half, "ci_high": estimate + half, "basis": 900, "suppressed": False, "suppression_reason": None}


def _balance_file(folder: Path, period: str, estimate: float, half: float, version: int = 1, province: float = 0.0) -> None:
    rows = [_cell(period, version, "nation", "order_book", "balance", estimate, half),
            _cell(period, version, "province", "order_book", "balance", province, 15.0),
            _cell(period, version, "nation", "respondents", "count", 4400.0, 30.0),
            _cell(period, version, "province", "respondents", "count", 260.0, 30.0)]
    (folder / "cgc_balance").mkdir(parents=True, exist_ok=True)
    text = {name: pl.Utf8 for name in ("province", "sector", "size_class", "category", "suppression_reason")}
    pl.DataFrame(rows, schema_overrides=text).write_parquet(folder / "cgc_balance" / f"cgc_balance_{period}_v{version}.parquet")


def _released(folder: Path) -> list[str]:
    rng = np.random.default_rng(11)
    periods = _months(2024 * 12, 30)
    values = list(5 + rng.normal(0, 1.0, 27)) + [-2.0, -10.0, -18.0]
    for period, value in zip(periods, values, strict=True):
        _balance_file(folder, period, value, 2.0, province=float(rng.normal(0, 5)))
    return periods


def test_released_balances_get_alerts_with_series_period_and_reason(tmp_path):
    periods = _released(tmp_path)
    _balance_file(tmp_path, periods[5], 99.0, 2.0, version=0)  # an older version of a wave is not read
    cells = newest_cells(tmp_path, "cgc_balance")
    assert cells.filter(pl.col("period") == periods[5])["version"].unique().to_list() == [1]
    alerts = balance_alerts(cells)
    assert alerts.schema == pl.Schema(SCHEMA)
    nation = alerts.filter(pl.col("level") == "nation")
    assert nation["period"].to_list()[-2:] == periods[-2:] and nation["alert"].to_list()[-1] == "alarm"
    latest = nation.row(-1, named=True)
    assert latest["reason"].startswith(f"Saldo orderportefeuille, Heel Nederland, {periods[-1]}: Alarm")
    assert "keer de onzekerheid" in latest["reason"] and latest["change"] < 0 and latest["z"] >= alert_rule().signal_z
    assert alerts.filter(pl.col("level") == "province").is_empty()  # a province within its +-15 wobbles: no warning


def test_the_burden_follows_the_proposals_in_their_closing_order():
    rows = []
    for proposal, hours in (("b-later", 6.0), ("a-first", 0.3), ("c-last", 5.0)):
        rows.append({"period": proposal, "version": 1, "level": "province", "province": "PV26", "sector": None, "size_class": None,
                     "measure": "admin_hours_mean", "statistic": "mean", "estimate": hours, "ci_low": hours - 1.5,
                     "ci_high": hours + 1.5, "suppressed": False})
    closing = {"a-first": date(2026, 1, 31), "b-later": date(2026, 3, 31), "c-last": date(2026, 6, 30)}
    alerts = burden_alerts(pl.DataFrame(rows), closing)
    assert alerts["period"].to_list() == ["b-later", "c-last"] and alerts["alert"].to_list() == ["alarm", "alarm"]
    assert "uur per maand" in alerts["reason"][0] and "stijging" in alerts["reason"][0]


def test_the_alerts_asset_reads_exports_only_and_writes_its_file_atomically(tmp_path, monkeypatch):
    from assets.alerts import alerts as alerts_asset
    from assets.resources import Folders

    exports = tmp_path / "exports"
    _released(exports)
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    assert set(alerts_asset.required_resource_keys) - {"io_manager"} == {"folders"}  # no warehouse: no raw rows, no marts
    folders = Folders(landing=str(tmp_path / "landing"), exports=str(exports), accounts=str(tmp_path / "accounts" / "accounts.sqlite"),
                      operational=str(tmp_path / "operational"))
    for _ in range(2):  # a rerun replaces the file
        assert dg.materialize([alerts_asset], resources={"folders": folders}).success
    written = pl.read_parquet(exports / "alerts" / "alerts.parquet")
    assert written.height == released_alerts(exports, {}).height > 0
    assert not [p for p in (exports / "alerts").iterdir() if p.name.startswith(".")]  # no temporary file left


def test_the_trend_page_marks_the_alarm_and_lists_the_latest_alerts(tmp_path, monkeypatch):
    from assets.alerts import alerts as alerts_asset
    from assets.resources import Folders
    from tests.conftest import demo_accounts, logged_in

    data = tmp_path / "data"
    periods = _released(data / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(data))
    folders = Folders(landing=str(data / "landing"), exports=str(data / "exports"), accounts=str(data / "accounts" / "accounts.sqlite"),
                      operational=str(data / "operational"))
    assert dg.materialize([alerts_asset], resources={"folders": folders}).success
    app = logged_in(demo_accounts(data)["analyst"])
    app.switch_page("views/gezondheidscheck.py").run()
    assert not app.exception
    from dashboards.formatting import wave_name

    assert not app.error and any(e.value.startswith(f"**Alarm in {wave_name(periods[-1])}") for e in app.warning), app.warning
    listed = " ".join(m.value for m in app.markdown).replace("\\", "")  # md() escapes punctuation
    assert "Laatste waarschuwingen" in " ".join(h.value for h in app.subheader) and "Saldo orderportefeuille, Heel Nederland" in listed


# --------------------------------------------------------------------------- the backtest


def _backtest():
    spec = importlib.util.spec_from_file_location("alerts_backtest", BACKTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_backtest_runs_quickly_and_reports_every_rule(capsys):
    figures = _backtest().main(["--tiny"])
    printed = capsys.readouterr().out
    for rule in ("| ours |", "| 3-month |", "| no overlap |", "| ours signaal |"):
        assert rule in printed
    nation = figures["levels"]["nation"]
    # loose bounds (150 draws): the full run measures 92 % and 100 % within 2 months, 0.11 false alarms a year
    assert nation["detect"]["great recession"]["ours"][0] >= 0.8 and nation["detect"]["pandemic shock"]["ours"][0] >= 0.9
    assert nation["false"]["ours"] <= 0.3


def test_the_backtests_overlap_rule_is_the_dashboards_rule():
    from dashboards.cgc import mark_clear_drops

    backtest = _backtest()
    rng = np.random.default_rng(2)
    value, low, high = backtest.release(rng, backtest.calm_paths(rng, 3, 40) - np.linspace(0, 30, 40), 264, backtest.count_noise_sd())
    for row in range(3):
        series = pl.DataFrame({"period": [str(i) for i in range(40)], "ci_low": low[row], "ci_high": high[row], "suppressed": [False] * 40})
        assert mark_clear_drops(series)["clear_drop"].to_list() == backtest.no_overlap(value, low, high)[row].tolist()


@pytest.mark.slow
def test_the_full_backtest_meets_the_targets_at_the_nation():
    """2,000 seeded draws per scenario, 20,000 calm years. Seeded, so the same figures every run; over other seeds the
    margins (92.4 % against 90 %: 4 standard errors of the estimate, 0.11 against 0.2 false alarms a year: far more)
    give a false-failure rate of about 3e-5."""
    nation = _backtest().main([])["levels"]["nation"]
    for scenario in ("great recession", "pandemic shock"):
        within, delay = nation["detect"][scenario]["ours"]
        assert within >= 0.9 and delay <= 2
    assert nation["false"]["ours"] <= 0.2
    assert nation["false"]["ours"] < nation["false"]["no overlap"]


def test_levels_are_codes_in_order():
    assert (NONE, SIGNAL, ALARM) == (0, 1, 2) and LEVELS[ALARM] == "alarm"
