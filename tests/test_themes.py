"""Themes in the consultation comments (core/themes.py): found on planted data, released only above the threshold, quotes only with consent.

Real DuckDB and real OpenDP throughout (the three releases go through the
engine and its ledger); only the sizes are small. "Without noise" means an
epsilon so large that OpenDP's discrete Laplace scale is about 1e-9 (the
selection threshold then drops to the contribution bound + 1), made in test
code only, as `tests/privacy_support.without_noise` does for public keys.
"""

from __future__ import annotations

import json
import random
from datetime import datetime

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from content.theme_names import ThemeNameError, rename_theme, theme_names
from core import theme_pipeline
from core.dutch_text import content_words, stem, stop_words
from core.themes import QUOTE_THRESHOLD, choose_quotes, firm_words
from core.warehouse import connect as warehouse_connect
from core.warehouse import open_connection as open_warehouse
from privacy.engine import release
from privacy.loading import release_specs
from tests.theme_support import (
    THEME_RELEASES,
    match_planted,
    nearly_without_noise,
    publish_themes_without_noise,
    run_themes,
    staging,
    synthetic_comments,
    unlimited_settings,
)

PROPOSAL = "p-test"


def exact_specs() -> dict:
    return {name: nearly_without_noise(release_specs()[name]) for name in THEME_RELEASES}


def answers_of(groups: list[tuple[int, str, str]]) -> pl.DataFrame:
    """staging.consultation_answers rows: (number of firms, comment, consent) per group, one article of PROPOSAL."""
    rows, firm = [], 0
    for count, comment, consent in groups:
        for _ in range(count):
            response = f"r{firm:05d}"
            rows += [(f"firm{firm:05d}", f"{PROPOSAL}/artikel-1", "comment", comment, "2026-11-01T10:00:00", response),
                     (f"firm{firm:05d}", f"{PROPOSAL}/artikel-1", "quote_consent", consent, "2026-11-01T10:00:00", response)]
            firm += 1
    return pl.DataFrame(rows, schema=["firm_id", "article", "question", "answer", "submitted_at", "response_id"], orient="row")


def warehouse_with_answers(answers: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    staging(connection, answers)
    return connection


# --------------------------------------------------------------------------- Dutch text


def test_dutch_text_preparation_needs_no_download():
    assert {"de", "het", "een", "niet", "ondernemer"} <= stop_words()
    assert content_words("Wij vinden de regels VAAG en de formulieren onduidelijk.") == ["regels", "vaag", "formulieren", "onduidelijk"]
    assert stem("formulieren") == stem("formulier") and stem("overgangstermijnen") == stem("overgangstermijn")
    frame = pl.DataFrame({"firm_id": ["a", "b"], "proposal": ["p", "p"], "comment": ["energie energie gas stroom prijzen", None]})
    assert firm_words(frame).rows() == [("a", "p", "energie", 1), ("a", "p", "prijzen", 2), ("a", "p", "stroom", 3)]


# --------------------------------------------------------------------------- the threshold


def test_without_noise_the_themes_are_exact_and_a_rare_word_or_theme_never_appears():
    answers = answers_of([(400, "Loonkosten en premies!", "no"), (300, "Energiekosten en gasprijzen!", "no"),
                          (2, "Het kadaster rekent leges.", "yes")])
    connection = warehouse_with_answers(answers)
    outcomes = run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
    assert all(o.status == "released" for found in outcomes.values() for o in found)
    counts = theme_pipeline.released_theme_counts(connection)[PROPOSAL]
    assert counts == {f"{PROPOSAL}/loonkosten": 400.0, f"{PROPOSAL}/energiekosten": 300.0}
    words = theme_pipeline.released(connection, theme_pipeline.TERMS)["term"].to_list()
    assert {"loonkosten", "premies", "energiekosten", "gasprijzen"} <= set(words)
    assert not {"kadaster", "rekent", "leges"} & set(words)  # 2 firms: under the threshold, never a word of any theme
    catalogue = theme_pipeline.catalogue(connection, {})
    assert catalogue[f"{PROPOSAL}/loonkosten"]["terms"] == ["loonkosten", "premies"]
    assert "kadaster" not in json.dumps(catalogue)


def themes_mart(connection: duckdb.DuckDBPyConnection, sizes: dict[str, int]) -> None:
    rows, firm = [], 0
    for theme, size in sizes.items():
        rows += [(f"firm{firm + i:05d}", PROPOSAL, f"{PROPOSAL}/{theme}", 1) for i in range(size)]
        firm += size
    frame = pl.DataFrame(rows, schema=["firm_id", "proposal", "theme", "rank"], orient="row")
    connection.execute("CREATE SCHEMA IF NOT EXISTS marts")
    connection.register("themes_frame", frame)
    connection.execute("CREATE OR REPLACE TABLE marts.consultation_firm_themes AS SELECT * FROM themes_frame")


def test_a_theme_of_fewer_firms_than_the_threshold_is_not_released_without_noise():
    spec = nearly_without_noise(release_specs()[theme_pipeline.THEMES])
    connection = duckdb.connect()
    themes_mart(connection, {"groot": 40, "klein": 2})  # threshold without noise: 2 rows per firm + 1 = 3
    release(connection, spec, [PROPOSAL], settings=unlimited_settings())
    assert theme_pipeline.released_theme_counts(connection)[PROPOSAL] == {f"{PROPOSAL}/groot": 40.0}


@pytest.mark.slow
def test_a_theme_of_a_handful_of_firms_never_appears_in_noisy_runs():
    """The configured spec (epsilon 0.2, delta 3e-8: discrete Laplace scale 10, threshold 175 firms).

    Over 20 noisy releases a theme of 50 firms appears only if the noise exceeds +125 once:
    P = 20 x 0.5 x exp(-12.5) < 4e-5 (the false-failure rate); a theme of 600 firms is missed only if
    the noise is below -425: P < 1e-18.
    """
    spec = release_specs()[theme_pipeline.THEMES]
    threshold = theme_pipeline.selection_threshold_of(theme_pipeline.THEMES)
    assert threshold == 175
    connection = duckdb.connect()
    themes_mart(connection, {"groot": 600, "klein": 50})
    for version in range(1, 21):
        release(connection, spec, [PROPOSAL], version=version, settings=unlimited_settings())
    cells = connection.execute("SELECT version, theme, estimate FROM releases.consultation_themes WHERE statistic = 'count'").pl()
    assert cells["version"].n_unique() == 20
    assert set(cells["theme"]) == {f"{PROPOSAL}/groot"}


# --------------------------------------------------------------------------- the planted themes


@pytest.mark.slow
@pytest.mark.parametrize("proposal", ["minimumloon-2027", "co2-heffing-mkb", "minder-rapportage"])
def test_the_themes_found_on_demo_like_data_are_the_planted_ones(proposal):
    """20,000 synthetic firms (the demo's size), real noise at the configured privacy loss.

    A released theme matches a planted theme when at least half of its firms' comments carry it; recall
    counts the planted themes that at least twice the selection threshold of firms raised as a comment's main
    theme. Measured over seeds 1-10 of the three closed demo proposals: precision 1.0 and recall 1.0 in all 30
    runs, so the floor of 0.8 fails far less often than 1 in 30 runs (no run came near it).
    """
    answers, planted = synthetic_comments(20_000, proposal=proposal, seed=11)
    connection = warehouse_with_answers(answers)
    run_themes(connection, [proposal])
    minimum = 2 * theme_pipeline.selection_threshold_of(theme_pipeline.THEMES)
    precision, recall, found = match_planted(connection, planted, proposal, minimum)
    assert precision >= 0.8 and recall >= 0.8, found


# --------------------------------------------------------------------------- quotes


def test_quotes_only_with_consent_for_that_comment_and_only_for_big_themes():
    answers = answers_of([(500, "Loonkosten en premies!", "no"), (20, "Loonkosten en premies, zwaar!", "yes"),
                          (250, "Energiekosten en gasprijzen!", "yes")])
    # firm00000 consented in an earlier submission, then replaced its comment without consent: no quote of it
    answers = pl.concat([answers, pl.DataFrame([("firm00000", f"{PROPOSAL}/artikel-1", "quote_consent", "yes", "2026-10-01T10:00:00", "r-old")],
                                               schema=answers.columns, orient="row")])
    answers = answers.filter(~((pl.col("firm_id") == "firm00000") & (pl.col("question") == "quote_consent") & (pl.col("response_id") == "r00000")))
    connection = warehouse_with_answers(answers)
    run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
    counts = theme_pipeline.released_theme_counts(connection)[PROPOSAL]
    assert counts[f"{PROPOSAL}/loonkosten"] >= QUOTE_THRESHOLD > counts[f"{PROPOSAL}/energiekosten"]
    quotes = connection.execute(f"SELECT theme, response_id, text FROM {theme_pipeline.QUOTES_TABLE}").pl()
    consented = set(theme_pipeline.comments(connection).filter(pl.col("consent"))["response_id"])
    assert "r00000" not in consented
    assert quotes.height == 2 and set(quotes["response_id"]) <= consented
    assert set(quotes["theme"]) == {f"{PROPOSAL}/loonkosten"}  # the energy theme is under QUOTE_THRESHOLD
    assert set(quotes["text"]) == {"Loonkosten en premies, zwaar!"}
    entry = theme_pipeline.catalogue(connection, {})[f"{PROPOSAL}/loonkosten"]
    assert set(entry) == {"proposal", "name", "terms", "quotes"}  # never a sector, size class or province
    before = set(quotes["response_id"])
    theme_pipeline.build_quotes(connection)  # a rerun keeps the quotes it drew
    assert set(connection.execute(f"SELECT response_id FROM {theme_pipeline.QUOTES_TABLE}").pl()["response_id"]) == before


def test_quotes_of_unchanged_comments_are_kept_without_reading_them_and_a_withdrawn_consent_draws_again(monkeypatch):
    answers = answers_of([(400, "Loonkosten en premies, zwaar!", "yes")])
    connection = warehouse_with_answers(answers)
    run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
    quoted = f"SELECT response_id FROM {theme_pipeline.QUOTES_TABLE} ORDER BY theme, position"
    before = [r for (r,) in connection.execute(quoted).fetchall()]
    assert len(before) == 2
    draw = theme_pipeline.quote_candidates

    def reads(*arguments):
        raise AssertionError("the comments of an unchanged proposal are read again")

    monkeypatch.setattr(theme_pipeline, "quote_candidates", reads)
    assert theme_pipeline.build_quotes(connection) == 2  # nothing changed: kept, nothing read
    assert [r for (r,) in connection.execute(quoted).fetchall()] == before
    # The firm of the first quote withdraws its consent: the proposal is drawn again, the other quote stays.
    staging(connection, answers.with_columns(
        pl.when((pl.col("response_id") == before[0]) & (pl.col("question") == "quote_consent")).then(pl.lit("no"))
        .otherwise(pl.col("answer")).alias("answer")))
    with pytest.raises(AssertionError, match="read again"):
        theme_pipeline.build_quotes(connection)
    monkeypatch.setattr(theme_pipeline, "quote_candidates", draw)
    assert theme_pipeline.build_quotes(connection) == 2
    after = [r for (r,) in connection.execute(quoted).fetchall()]
    assert before[0] not in after and before[1] in after


def test_quotes_are_drawn_uniformly_among_the_candidates():
    candidates = [(f"r{i}", f"tekst {i}") for i in range(4)]
    rng = random.Random(5)  # test only; the pipeline draws with random.SystemRandom
    drawn = [choose_quotes(candidates, [], rng, count=1)[0][0] for _ in range(4000)]
    shares = {r: drawn.count(r) / 4000 for r, _ in candidates}
    assert all(0.2 < share < 0.3 for share in shares.values())  # 1/4 each; off by 0.05 with p < 1e-12
    assert choose_quotes(candidates, ["r3"], rng, count=1) == [("r3", "tekst 3")]


# --------------------------------------------------------------------------- names


def test_an_analyst_names_a_theme_and_the_change_is_audited(store, admin):
    theme = f"{PROPOSAL}/loonkosten"
    assert rename_theme(store, admin, theme, "  Hoge   loonkosten ", now=datetime(2026, 12, 1, 12, 0)) == "Hoge loonkosten"
    assert theme_names(store) == {theme: "Hoge loonkosten"}
    entry = store.execute("SELECT actor, action, subject, details FROM audit_log WHERE action = 'theme_renamed'").fetchone()
    assert (entry["actor"], entry["subject"]) == ("beheer@example.nl", theme)
    assert json.loads(entry["details"]) == {"old": "Loonkosten", "new": "Hoge loonkosten"}
    with pytest.raises(ThemeNameError, match="Naam van het thema: .* begin met een letter"):
        rename_theme(store, admin, theme, "=HYPERLINK(1)")
    assert rename_theme(store, admin, theme, "") == "Loonkosten"
    assert theme_names(store) == {}


def test_a_proposal_where_no_theme_passes_is_released_empty_charged_and_served_again():
    spec = release_specs()[theme_pipeline.THEMES]
    connection = duckdb.connect()
    themes_mart(connection, {"klein": 5})
    (first,) = release(connection, spec, [PROPOSAL], settings=unlimited_settings())
    (again,) = release(connection, spec, [PROPOSAL], settings=unlimited_settings())
    assert (first.status, first.epsilon, again.status) == ("released", pytest.approx(0.2), "reused")
    assert theme_pipeline.released_theme_counts(connection) == {}


# --------------------------------------------------------------------------- the pipeline


def test_the_pipeline_releases_themes_per_closed_proposal_and_publishes_the_catalogue(pipeline):
    """The session's pipeline run (1,500 firms): the three theme releases per closed proposal, themes.json beside them."""
    from datetime import date

    from core.periods import closed_periods
    from tests.conftest import data_dir

    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        proposals = connection.execute("SELECT DISTINCT proposal FROM marts.consultation_firm_words ORDER BY 1").pl()["proposal"].to_list()
        made = {name: set(theme_pipeline.released(connection, name).get_column("period", default=pl.Series([], dtype=pl.Utf8)))
                for name in THEME_RELEASES}
        counts = theme_pipeline.released_theme_counts(connection)
    with data_dir(pipeline.data_dir):
        closed = closed_periods("proposal", date.today(), proposals)
    assert closed, "the demo has closed proposals with comments"
    for name in THEME_RELEASES:  # an empty release (nothing passed) has no cells, but its export file and ledger entry exist
        files = {path.name for path in (pipeline.exports / name).glob(f"{name}_*_v1.parquet")}
        assert files == {f"{name}_{proposal}_v1.parquet" for proposal in closed}, name
        assert made[name] <= set(closed)
    catalogue = json.loads((pipeline.exports / theme_pipeline.THEMES / "themes.json").read_text(encoding="utf-8"))
    assert set(catalogue) == {theme for found in counts.values() for theme in found}


# --------------------------------------------------------------------------- the themes section of the analysts' page


def themes_section(pid: str, account_id: int) -> None:
    """A page that shows only the themes section (AppTest runs this function's source as a script)."""
    from accounts.service import get_account
    from accounts.store import store
    from dashboards.themes import render_themes

    with store() as connection:
        account = get_account(connection, account_id)
    render_themes(pid, account)


def test_the_themes_section_shows_released_themes_quotes_and_keeps_an_edited_name(tmp_path):
    from streamlit.testing.v1 import AppTest

    from accounts.service import create_account, new_totp_secret
    from accounts.store import store
    from assets.themes import consultation_theme_catalogue  # noqa: F401 - the asset writes the same file as below
    from core.files import public_dir
    from core.landing import write_atomically
    from privacy.export import export_release
    from tests.conftest import data_dir

    answers = answers_of([(500, "Loonkosten en premies!", "yes"), (250, "Energiekosten en gasprijzen!", "no")])
    with data_dir(tmp_path):
        connection = open_warehouse(tmp_path / "warehouse.duckdb")
        staging(connection, answers)
        run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
        exports = tmp_path / "exports"
        export_release(connection, exact_specs()[theme_pipeline.THEMES], exports)
        folder = public_dir(exports / theme_pipeline.THEMES, top=exports)
        write_atomically(folder, "themes.json", json.dumps(theme_pipeline.catalogue(connection, {})).encode(), public=True)
        connection.close()
        with store() as accounts:
            analyst = create_account(accounts, {"name": "Ana Liste", "email": "analist@example.nl", "role": "analyst"}, "een lang wachtwoord 42",
                                     totp_secret=new_totp_secret(), now=datetime(2026, 11, 23, 10, 0, 0))
        app = AppTest.from_function(themes_section, args=(PROPOSAL, analyst.id), default_timeout=60).run()
        assert not app.exception
        table = app.dataframe[0].value
        assert list(table["Thema"]) == ["Loonkosten", "Energiekosten"] and list(table["Bedrijven (ongeveer)"]) == ["500", "250"]
        assert any("Loonkosten en premies" in block.value for block in app.markdown)  # a consented quote of the big theme
        app.text_input(key=f"theme_rename_name_{PROPOSAL}").input("Hoge loonkosten")
        app.button(key=f"theme_rename_save_{PROPOSAL}").click().run()
        assert not app.exception and "Hoge loonkosten" in app.success[0].value
        again = AppTest.from_function(themes_section, args=(PROPOSAL, analyst.id), default_timeout=60).run()
        assert list(again.dataframe[0].value["Thema"]) == ["Hoge loonkosten", "Energiekosten"]
        with store() as accounts:
            assert accounts.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'theme_renamed'").fetchone()[0] == 1


def test_the_dis_explanations_of_a_proposal_count_too_but_are_never_quoted():
    answers = answers_of([(300, "Loonkosten en premies!", "no")])
    connection = warehouse_with_answers(answers)
    dis = pl.DataFrame([(f"firm{i:05d}", PROPOSAL, "free_text", "Loonkosten en premies!", "2026-11-01T10:00:00", f"d{i:05d}") for i in range(300, 700)],
                       schema=["firm_id", "proposal", "question", "answer", "submitted_at", "response_id"], orient="row")
    connection.register("dis_frame", dis)
    connection.execute("CREATE TABLE staging.dis_answers AS SELECT * FROM dis_frame")
    run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
    assert theme_pipeline.released_theme_counts(connection)[PROPOSAL] == {f"{PROPOSAL}/loonkosten": 700.0}
    quotes = connection.execute(f"SELECT response_id FROM {theme_pipeline.QUOTES_TABLE}").fetchall()
    assert quotes == []  # 700 firms, but none consented (the DIS form asks no consent)


# --------------------------------------------------------------------------- the contribution bounds (the sensitivity argument)

WORDS = ["loonkosten", "premies", "energiekosten", "gasprijzen", "personeel", "vacatures", "regeldruk", "formulieren",
         "onduidelijk", "overgangstermijn", "invoering", "de", "en", "het", "niet", "ondernemer", "lonen", "stroom"]
comment_text = st.lists(st.sampled_from(WORDS), min_size=0, max_size=25).map(" ".join)
firm_comments = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["p1", "p2"]), comment_text), min_size=1, max_size=30)


def frame_of(rows) -> pl.DataFrame:
    return pl.DataFrame([(f"f{firm}", proposal, text, f"r{i}", False) for i, (firm, proposal, text) in enumerate(rows)],
                        schema=["firm_id", "proposal", "comment", "response_id", "consent"], orient="row")


def rows_of(frame: pl.DataFrame, firm: str) -> list[tuple]:
    return sorted(frame.filter(pl.col("firm_id") == firm).rows())


@hypothesis_settings(max_examples=60, deadline=None)
@given(firm_comments)
def test_each_firm_adds_at_most_its_bound_and_its_rows_depend_on_its_own_text_only(rows):
    from core.themes import firm_pairs, firm_themes, theme_model, vocabulary

    frame = frame_of(rows)
    terms = {"p1": vocabulary({"loonkosten": 500, "premies": 400, "energiekosten": 450, "gasprijzen": 300, "personeel": 350}),
             "p2": vocabulary({"regeldruk": 600, "formulieren": 500, "invoering": 300})}
    models = {p: theme_model(p, t, {"loonkost+premie": 300, "energiekost+gasprijs": 250}) for p, t in terms.items()}
    built = {"words": (firm_words(frame), 3), "pairs": (firm_pairs(frame, terms), 1), "themes": (firm_themes(frame, models), 2)}
    for name, (table, bound) in built.items():
        assert (table.group_by("firm_id", "proposal").len()["len"].max() or 0) <= bound, name
        assert table.unique().height == table.height, name  # distinct keys per firm: at most 1 per key
    removed = rows[0][0]
    others = frame.filter(pl.col("firm_id") != f"f{removed}")
    rebuilt = {"words": firm_words(others), "pairs": firm_pairs(others, terms), "themes": firm_themes(others, models)}
    for name, table in rebuilt.items():  # removing one firm changes only that firm's rows
        for firm in set(others["firm_id"]):
            assert rows_of(table, firm) == rows_of(built[name][0], firm), name


def test_a_release_without_noise_gives_small_test_installations_themes_to_show(pipeline, tmp_path):
    """Test code only: on a copy of the session installation (1,500 firms, too few for the real thresholds)."""
    import shutil
    from datetime import date

    from core.periods import closed_periods
    from dashboards.consultation import theme_releases, theme_table
    from tests.conftest import data_dir, make_installation

    copy = make_installation(tmp_path / "copy")
    shutil.copytree(pipeline.data_dir, copy.data_dir)
    with warehouse_connect(copy.warehouse, read_only=True) as connection:
        proposals = connection.execute("SELECT DISTINCT proposal FROM marts.consultation_firm_words ORDER BY 1").pl()["proposal"].to_list()
    with data_dir(copy.data_dir):
        closed = closed_periods("proposal", date.today(), proposals)
        entries = publish_themes_without_noise(copy, closed)
        table = theme_table(theme_releases(), closed[0])
    assert entries and not table.is_empty()
    assert set(table["Thema"]) <= {entry["name"] for entry in entries.values()}


# --------------------------------------------------------------------------- only the periods that changed are made again

edits = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["p1", "p2", "p3"]), comment_text), min_size=0, max_size=8)


def staged(rows) -> pl.DataFrame:
    """staging.consultation_answers rows: one comment per (firm, proposal), the last one given winning."""
    latest = {(firm, proposal): text for firm, proposal, text in rows}
    return pl.DataFrame([(f"f{firm}", f"{proposal}/artikel-1", "comment", text, "2026-11-01T10:00:00", f"r{firm}-{proposal}")
                         for (firm, proposal), text in sorted(latest.items())],
                        schema=["firm_id", "article", "question", "answer", "submitted_at", "response_id"], orient="row")


def words_table(connection: duckdb.DuckDBPyConnection) -> list[tuple]:
    return sorted(connection.execute("SELECT * FROM marts.consultation_firm_words").fetchall())


@hypothesis_settings(max_examples=40, deadline=None)
@given(firm_comments.map(lambda rows: [(f, p, t) for f, p, t in rows]), edits, st.sets(st.integers(0, 7), max_size=2))
def test_a_rebuild_makes_only_the_changed_periods_again_and_equals_a_fresh_build(first, changes, erased):
    before = staged(first)
    after = staged([*first, *changes]).filter(~pl.col("firm_id").is_in([f"f{firm}" for firm in erased]))
    connection = warehouse_with_answers(before)
    theme_pipeline.build_firm_words(connection)
    changed = {period for period in ("p1", "p2", "p3")
               if before.filter(pl.col("article").str.starts_with(period)).sort("firm_id").rows()
               != after.filter(pl.col("article").str.starts_with(period)).sort("firm_id").rows()}
    # A marker in every period: it stays where nothing changed (the period was not made again), goes where it did.
    connection.execute("INSERT INTO marts.consultation_firm_words VALUES ('marker', 'p1', 'x', 9), ('marker', 'p2', 'x', 9)")
    staging(connection, after)
    rows = theme_pipeline.build_firm_words(connection)
    markers = {period for (period,) in connection.execute("SELECT proposal FROM marts.consultation_firm_words WHERE firm_id = 'marker'").fetchall()}
    recorded = {article.split("/")[0] for article in before["article"]}
    rebuilt_whole = recorded <= changed  # every period it was made of changed: made again whole
    assert markers == (set() if rebuilt_whole else {"p1", "p2"} - changed)
    fresh = warehouse_with_answers(after)
    theme_pipeline.build_firm_words(fresh)
    assert [r for r in words_table(connection) if r[0] != "marker"] == words_table(fresh)
    assert rows == len(words_table(connection))
    unchanged = words_table(connection)
    theme_pipeline.build_firm_words(connection)  # nothing new: nothing made again, the table as it was
    assert words_table(connection) == unchanged


def test_new_released_words_make_the_pairs_of_that_proposal_again():
    answers = answers_of([(300, "Loonkosten en premies!", "no"), (200, "Energiekosten en gasprijzen!", "no")])
    connection = warehouse_with_answers(answers)
    run_themes(connection, [PROPOSAL], specs=exact_specs(), settings=unlimited_settings())
    pairs = connection.execute("SELECT pair, COUNT(*) FROM marts.consultation_firm_pairs GROUP BY 1 ORDER BY 1").fetchall()
    assert pairs == [("energiekost+gasprijs", 200), ("loonkost+premie", 300)]
    # The words release of the proposal made again (a new version) without 'premies': the pairs follow it.
    connection.execute(f"""INSERT INTO releases.{theme_pipeline.TERMS} BY NAME
        SELECT * REPLACE (version + 1 AS version) FROM releases.{theme_pipeline.TERMS} WHERE term <> 'premies'""")
    theme_pipeline.build_firm_pairs(connection)
    pairs = connection.execute("SELECT pair, COUNT(*) FROM marts.consultation_firm_pairs GROUP BY 1 ORDER BY 1").fetchall()
    assert pairs == [("energiekost+gasprijs", 200)]
