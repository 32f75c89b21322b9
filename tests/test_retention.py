"""Retention (issue 15.4): what is older than its period goes, and is logged; nothing younger; the settings explain themselves in Dutch."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.store import store
from avg.deletions import totals
from avg.retention import apply_retention
from avg.settings import RetentionSettings, RetentionSettingsError, cutoff, load_retention_settings, retention_settings
from avg.store import apply_store_retention, expire_uploads
from core.rekey import rekey
from core.sources import sources
from core.warehouse import connect
from tests.avg_support import KEY, cgc_record, ingest_all, make_landing, write_form
from tests.conftest import make_installation

# --------------------------------------------------------------------------- the settings


def test_the_committed_periods_load_and_a_source_overrides_the_defaults():
    periods = retention_settings()
    assert periods.for_source("cgc").model_dump() == {"landing_months": 24, "raw_months": 24, "quarantine_months": 12}
    assert periods.for_source("debt_signal").model_dump() == {"landing_months": 12, "raw_months": 12, "quarantine_months": 3}
    assert periods.uploads.months_after_close >= 1 and periods.inzage.days >= 1


BASE = {"uploads": {"months_after_close": 6}, "inzage": {"days": 30}}


@pytest.mark.parametrize("data, expected", [
    ({"defaults": {"landing_months": 0, "raw_months": 1, "quarantine_months": 1}},
     "defaults.landing_months (landingsbestanden): 0 kan niet: een bewaartermijn is minstens 1 maand"),
    ({"defaults": {"landing_months": 12, "raw_months": "lang", "quarantine_months": 1}},
     "defaults.raw_months (ingelezen rijen (raw)): 'lang' is geen heel getal"),
    ({"defaults": {"landing_months": 12, "raw_months": 24, "quarantine_months": 1}},
     "raw_months: 24 is langer dan landing_months (12)"),
    ({"defaults": {"landing_months": 12, "raw_months": 12, "quarantine_months": 1}, "sources": {"cgc": {"quarantine_months": 13}}},
     "sources.cgc.quarantine_months: 13 is langer dan landing_months (12)"),
    ({"defaults": {"landing_months": 12, "raw_months": 12, "quarantine_months": 1}, "sources": {"enquete": {}}},
     "sources: enquete is geen bron"),
    ({"defaults": {"landing_months": 500, "raw_months": 12, "quarantine_months": 1, "bewaren": 3}},
     "500 is te lang: een bewaartermijn is hoogstens 120 maanden"),
])
def test_a_wrong_setting_is_refused_naming_field_value_and_rule(tmp_path, data, expected):
    path = tmp_path / "retention.yaml"
    import yaml

    path.write_text(yaml.safe_dump(BASE | data))
    with pytest.raises(RetentionSettingsError) as refused:
        load_retention_settings(path)
    assert expected in str(refused.value) and str(refused.value).startswith("retention.yaml: ")


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31)), st.integers(1, 120))
def test_a_cutoff_is_whole_calendar_months_back(now, months):
    before = cutoff(now, months)
    assert (now.year * 12 + now.month) - (before.year * 12 + before.month) == months
    assert before.day == now.day or (before.day < now.day and (before + timedelta(days=1)).month != before.month)  # clamped to a month end
    assert before.time() == now.time() and before < now


# --------------------------------------------------------------------------- the warehouse and the landing zone


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """Landing files of several sources, ingested; then one more web form that waits, not yet loaded."""
    root = tmp_path_factory.mktemp("retention")
    landing = make_landing(root)
    ingest_all(root / "warehouse.duckdb", landing)
    write_form(landing, cgc_record("form-waiting"))
    return root


def _copy(root: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="retention-"))
    shutil.copytree(root / "landing", target / "landing")
    shutil.copy(root / "warehouse.duckdb", target / "warehouse.duckdb")
    return target


def _age_files(connection, ages: list[int], now: datetime) -> dict[str, datetime]:
    """Give every loaded file (and its rows) a load time `ages[i]` days before `now`, as if it had been loaded then."""
    files = [row[0] for row in connection.execute("SELECT file_hash FROM meta.ingest_manifest ORDER BY source, file_name").fetchall()]
    loaded_at = {}
    for index, file_hash in enumerate(files):
        moment = now - timedelta(days=ages[index % len(ages)], seconds=index)
        loaded_at[file_hash] = moment
        connection.execute("UPDATE meta.ingest_manifest SET loaded_at = ? WHERE file_hash = ?", [moment, file_hash])
        connection.execute("UPDATE meta.scrub_log SET logged_at = ? WHERE file_hash = ?", [moment, file_hash])
        for declared in sources().values():
            connection.execute(f"UPDATE {declared.raw_table} SET loaded_at = ? WHERE file_hash = ?", [moment, file_hash])
            connection.execute(f"UPDATE {declared.quarantine_table} SET quarantined_at = ? WHERE file_hash = ?", [moment, file_hash])
    return loaded_at


def _rows(connection, table: str, at: str) -> set[tuple]:
    return set(connection.execute(f"SELECT file_hash, row_number, {at} FROM {table}").fetchall())


periods = st.integers(1, 40)


@st.composite
def retention_periods(draw) -> RetentionSettings:
    def one():
        landing = draw(periods)
        return {"landing_months": landing, "raw_months": draw(st.integers(1, landing)), "quarantine_months": draw(st.integers(1, landing))}

    overrides = {name: one() for name in draw(st.lists(st.sampled_from(sorted(sources())), max_size=3, unique=True))}
    return RetentionSettings.model_validate({"defaults": one(), "sources": overrides, **BASE})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ages=st.lists(st.integers(0, 1300), min_size=1, max_size=12), rules=retention_periods(),
       now=st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2029, 12, 31)).map(lambda d: d.replace(microsecond=0)))
def test_retention_deletes_exactly_what_is_older_than_its_period_and_logs_it(loaded, ages, rules, now):
    root = _copy(loaded)
    try:
        with connect(root / "warehouse.duckdb") as connection:
            loaded_at = _age_files(connection, ages, now)
            files = connection.execute("SELECT source, file_hash, file_name FROM meta.ingest_manifest").fetchall()
            before = {declared.name: (_rows(connection, declared.raw_table, "loaded_at"),
                                      _rows(connection, declared.quarantine_table, "quarantined_at")) for declared in sources().values()}
            deletions = apply_retention(connection, root / "landing", rules, now)
            logged = {(what, location): items for what, location, items in connection.execute(
                "SELECT what, location, items FROM meta.deletion_log").fetchall()}
            expected_log = {}
            for declared in sources().values():
                period = rules.for_source(declared.name)
                raw, quarantined = before[declared.name]
                keep_raw = {r for r in raw if r[2] >= cutoff(now, period.raw_months)}
                keep_quarantine = {r for r in quarantined if r[2] >= cutoff(now, period.quarantine_months)}
                assert _rows(connection, declared.raw_table, "loaded_at") == keep_raw  # nothing younger, everything older
                assert _rows(connection, declared.quarantine_table, "quarantined_at") == keep_quarantine
                expected_log[("raw_rows", declared.name)] = len(raw - keep_raw)
                expected_log[("quarantine_rows", declared.name)] = len(quarantined - keep_quarantine)
                old = [(h, f) for s, h, f in files if s == declared.name and loaded_at[h] < cutoff(now, period.landing_months)]
                expected_log[("landing_file", declared.name)] = len(old)
                for file_hash, file_name in old:
                    assert not (root / "landing" / declared.name / file_name).exists()
                marked = {h for (h,) in connection.execute(
                    "SELECT file_hash FROM meta.ingest_manifest WHERE source = ? AND deleted_at = ?", [declared.name, now]).fetchall()}
                assert marked == {h for h, _ in old}
                for source_name, file_hash, file_name in files:
                    if source_name == declared.name and (file_hash, file_name) not in old:
                        assert (root / "landing" / declared.name / file_name).exists()
            assert {k: v for k, v in logged.items() if k[0] != "scrub_log_rows"} == {k: v for k, v in expected_log.items() if v}
            assert (root / "landing" / "cgc" / "form_form-waiting.jsonl").exists()  # never loaded: never deleted
            assert totals(deletions).get("raw_rows", 0) == sum(v for (what, _), v in expected_log.items() if what == "raw_rows")
            assert not any(d.items for d in apply_retention(connection, root / "landing", rules, now))  # a rerun finds nothing
            rekey(connection, root / "landing", KEY, b"another-key-" + b"x" * 40)  # every row left still has its landing file
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_file_delivered_again_after_retention_deleted_it_is_not_loaded_again(loaded):
    root = _copy(loaded)
    try:
        form = (root / "landing" / "cgc" / "form_form-1.jsonl").read_bytes()
        now = datetime.now().replace(microsecond=0)
        with connect(root / "warehouse.duckdb") as connection:
            _age_files(connection, [800], now)
            apply_retention(connection, root / "landing", retention_settings(), now)
            assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses").fetchone()[0] == 0
            (root / "landing" / "cgc" / "form_form-1.jsonl").write_bytes(form)
            from core.ingest import ingest_landing

            ingest_landing(connection, root / "landing", KEY)
            assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE response_id = 'form-1'").fetchone()[0] == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the account store


def _upload_rows(connection, uploads: Path) -> dict[str, str]:
    """One upload per demo proposal (two proposals share the same bytes), stored as the web app stores them."""
    import hashlib

    uploads.mkdir(parents=True, exist_ok=True)
    proposals = [row[0] for row in connection.execute("SELECT id FROM proposals ORDER BY simulation_closes").fetchall()]
    made = {}
    for index, proposal in enumerate(proposals):
        data = f"%PDF-1.4 brief {min(index, 1)}".encode()
        sha = hashlib.sha256(data).hexdigest()
        (uploads / sha).write_bytes(data)
        connection.execute("INSERT INTO uploads (proposal_id, article, display_name, size, media_type, sha256, uploaded_at, firm_ref) "
                           "VALUES (?, '', 'brief.pdf', ?, 'application/pdf', ?, '2026-10-01T10:00:00', 'ref')", [proposal, len(data), sha])
        made[proposal] = sha
    return made


@pytest.mark.parametrize("months_after", [0, 1, 3, 14])
def test_uploads_go_their_period_after_the_proposal_closed_and_a_shared_file_stays_while_used(tmp_path, months_after):
    from content.demo import ensure_demo_proposals

    uploads = tmp_path / "uploads"
    with store(tmp_path / "accounts.sqlite") as connection:
        ensure_demo_proposals(connection, date(2026, 11, 1))
        made = _upload_rows(connection, uploads)
        closes = dict(connection.execute("SELECT id, simulation_closes FROM proposals").fetchall())
        rules = RetentionSettings.model_validate({**retention_settings().model_dump(), "uploads": {"months_after_close": 2}})
        today = date.fromisoformat(max(closes.values())) + timedelta(days=31 * months_after)
        deletion = expire_uploads(connection, uploads, rules, today)
        limit = cutoff(datetime.combine(today, datetime.min.time()), 2).date()
        expected_gone = {p for p, closed in closes.items() if date.fromisoformat(closed) < limit}
        left = {row[0] for row in connection.execute("SELECT proposal_id FROM uploads").fetchall()}
        assert left == set(made) - expected_gone and deletion.items == len(expected_gone)
        for proposal, sha in made.items():  # a file goes only when no upload row needs its bytes any more
            assert (uploads / sha).exists() == any(made[other] == sha for other in left), proposal


def test_store_retention_empties_old_inzage_exports_and_old_lists_of_own_answers(tmp_path):
    from accounts.crypto import encrypt

    now = datetime(2028, 6, 1, 12, 0, 0)
    with store(tmp_path / "accounts.sqlite") as connection:
        for number, done in enumerate((now - timedelta(days=40), now - timedelta(days=5)), start=1):
            connection.execute("INSERT INTO avg_requests (kind, subject_kind, account_id, firm_ref, requested_by, requested_at, status, done_at, "
                               "result_encrypted) VALUES ('inzage', 'kvk', ?, 'ref', 'a@b.nl', ?, 'done', ?, ?)",
                               [number, done.isoformat(), done.isoformat(), encrypt("{}")])
        for key, when in (("old", now - timedelta(days=800)), ("new", now - timedelta(days=20))):
            connection.execute("INSERT INTO firm_submissions VALUES ('ref', 'cgc', ?, '2026-10', NULL, ?)", [key, when.isoformat()])
        deletions = apply_store_retention(connection, tmp_path / "uploads", retention_settings(), now)
        assert totals(deletions) == {"inzage_export": 1, "own_answer_rows": 1}
        assert [row[0] for row in connection.execute("SELECT id FROM avg_requests WHERE result_encrypted IS NOT NULL")] == [2]
        assert [row[0] for row in connection.execute("SELECT record_key FROM firm_submissions")] == ["new"]


# --------------------------------------------------------------------------- the Dagster step


def test_the_avg_step_applies_retention_and_fills_the_deletion_log(loaded):
    from assets.avg import deletion_log

    root = _copy(loaded)
    try:
        installation = make_installation(root)
        with connect(root / "warehouse.duckdb") as connection:
            _age_files(connection, [3000], datetime.now())
        result = dg.materialize([deletion_log], resources=installation.resources())
        metadata = result.asset_materializations_for_node("meta__deletion_log")[0].metadata
        assert metadata["deleted"].value["raw_rows"] > 0 and metadata["deleted"].value["landing_file"] > 0
        with connect(root / "warehouse.duckdb") as connection:
            assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses").fetchone()[0] == 0
            causes = connection.execute("SELECT DISTINCT cause FROM meta.deletion_log").fetchall()
            text = " ".join(str(v) for row in connection.execute("SELECT * FROM meta.deletion_log").fetchall() for v in row)
        assert causes == [("retention",)]
        assert "12345678" not in text and "form_" not in text  # counted, never an identifier or a file name
    finally:
        shutil.rmtree(root, ignore_errors=True)
