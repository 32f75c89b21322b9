"""The support programme's figures on the dashboards: post-processing of the released programme_* cells only.

Nothing here reads a firm: the figures are the released cells (differentially
private, with their intervals) of config/releases/programme_funnel.yaml,
programme_conversion.yaml, programme_flow.yaml and programme_ecosystem.yaml.

**Progress to the target and its projection.** The target is 75 to 100
financeable plans (seed mkb-aanpak-limburg, section 5.3). The progress is the
released number of firms with a financeable plan so far (`reached_financeable`
of the programme's latest quarter). The pace is its rise over the last four
released quarters (fewer when there are fewer): r = (R_now - R_then) / k per
quarter. Its uncertainty combines the noise of both released figures (each
interval half-width / 1.96, added in quadrature) with the chance in how many
plans get finished in a quarter (Poisson: the variance of a count is the count
itself); the 95 % interval of the pace is r +- 1.96 x that standard error.
The quarter the target is reached is (target - R_now) / pace, with the pace's
interval giving the interval of that quarter; when the lower end of the pace
is not above 0, the projection says nothing ("niet te zeggen").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core import reference
from core.periods import next_quarter
from dashboards.formatting import SUPPRESSED, nl_interval, nl_number
from dashboards.released import release_cells
from privacy.loading import release_specs

FUNNEL, CONVERSION, FLOW, ECOSYSTEM = "programme_funnel", "programme_conversion", "programme_flow", "programme_ecosystem"
NEED_THEMES = "programme_need_themes"  # the themes of the platform texts (core/theme_pipeline.py PROGRAMME)
TARGET = (75, 100)
STAGE_LABELS = {
    "aangemeld": "Aangemeld, wacht op intake",
    "in_ondersteuning": "In het supportproces",
    "doorverwezen": "Doorverwezen naar een ander initiatief",
    "niet_geschikt": "Niet geschikt",
    "gestopt": "Gestopt tijdens het supportproces",
    "plan_opgeleverd": "Plan opgeleverd (niet financierbaar)",
    "financierbaar": "Financierbaar plan",
    "gefinancierd": "Gefinancierd",
}
STEPS = {  # the cumulative funnel: measure of programme_conversion -> (label, ratio from the step before)
    "scouted": ("Aangemeld", None),
    "reached_intake": ("Intake gehad", "to_intake"),
    "reached_support": ("Toegelaten tot het supportproces", "to_support"),
    "reached_plan": ("Bedrijfsplan opgeleverd", "to_plan"),
    "reached_financeable": ("Financierbaar bedrijfsplan", "to_financeable"),
    "reached_financed": ("Financiering gekregen", "to_financed"),
}
LEVEL_LABELS = {"programme": "Hele programma", "region": "Regio", "partner": "Partner", "size_class": "Grootteklasse"}


def cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    return release_cells(name, exports)


def quarters(frame: pl.DataFrame) -> list[str]:
    """The released quarters, newest first."""
    return sorted(frame["period"].unique().to_list(), reverse=True) if not frame.is_empty() else []


def quarter_name(quarter: str) -> str:
    """>>> quarter_name("2026-Q3")
    '3e kwartaal 2026'
    """
    return f"{quarter[-1]}e kwartaal {quarter[:4]}"


def _level_columns(name: str) -> dict[str, str | None]:
    """Level -> the column holding its group code (None for the whole programme)."""
    return {level: (columns[0] if columns else None) for level, columns in release_specs()[name].groups.levels.items()}


@dataclass(frozen=True)
class Group:
    level: str
    code: str | None
    label: str


def groups(name: str, frame: pl.DataFrame) -> list[Group]:
    """The whole programme first, then every group of every level the release has, with Dutch names."""
    out = []
    for level, column in _level_columns(name).items():
        if column is None:
            out.append(Group(level, None, LEVEL_LABELS.get(level, level)))
            continue
        present = set(frame.filter(pl.col("level") == level)[column].drop_nulls().unique().to_list()) if column in frame.columns else set()
        labels = reference.domain_labels(column) if column in reference.domains() else {}
        for code in reference.domain_codes(column) if column in reference.domains() else sorted(present):
            if code in present:
                out.append(Group(level, code, f"{LEVEL_LABELS.get(level, level)}: {labels.get(code, code)}"))
    return out


def group_cells(name: str, frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    column = _level_columns(name).get(group.level)
    chosen = frame.filter((pl.col("period") == quarter) & (pl.col("level") == group.level))
    return chosen if column is None else chosen.filter(pl.col(column) == group.code)


def _row(frame: pl.DataFrame, measure: str, statistic: str | None = None, category: str | None = None) -> dict | None:
    chosen = frame.filter(pl.col("measure") == measure)
    if statistic is not None:
        chosen = chosen.filter(pl.col("statistic") == statistic)
    chosen = chosen.filter(pl.col("category").is_null() if category is None else pl.col("category") == category)
    return chosen.row(0, named=True) if chosen.height else None


def figure(row: dict | None, decimals: int = 0, factor: float = 1.0, unit: str = "") -> str:
    """'estimate (low tot high)' or 'x (reason)'."""
    if row is None:
        return SUPPRESSED
    if row["suppressed"] or row["estimate"] is None:
        return f"{SUPPRESSED} ({row['suppression_reason']})" if row.get("suppression_reason") else SUPPRESSED
    return (f"{nl_number(row['estimate'] * factor, decimals)}{unit} "
            f"({nl_interval(row['ci_low'] * factor, row['ci_high'] * factor, decimals)}{unit})")


def funnel_steps(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    """The cumulative funnel up to a quarter: per step the firms that reached it so far and the conversion from the step before.

    Columns for the chart (name, estimate, ci_low, ci_high, suppressed) and the shown text.
    """
    chosen = group_cells(CONVERSION, frame, quarter, group)
    rows = []
    for measure, (label, ratio) in STEPS.items():
        row = _row(chosen, measure, "sum")
        conversion = _row(chosen, ratio, "ratio") if ratio else None
        shown = row is not None and not row["suppressed"] and row["estimate"] is not None
        rows.append({"name": label, "estimate": row["estimate"] if shown else None, "ci_low": row["ci_low"] if shown else None,
                     "ci_high": row["ci_high"] if shown else None, "suppressed": not shown,
                     "Bedrijven tot nu toe": figure(row), "Doorstroom vanaf de vorige stap": figure(conversion, 0, 100, "%") if ratio else ""})
    return pl.DataFrame(rows, schema={"name": pl.Utf8, "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                                      "suppressed": pl.Boolean, "Bedrijven tot nu toe": pl.Utf8,
                                      "Doorstroom vanaf de vorige stap": pl.Utf8}, orient="row")


def stage_table(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    """Per stage: the firms in it at the quarter's end, and those that entered and left it in the quarter."""
    chosen = group_cells(FUNNEL, frame, quarter, group)
    rows = [{"Stap": label, "Bedrijven aan het eind van het kwartaal": figure(_row(chosen, "stage", "count", stage)),
             "Erbij gekomen": figure(_row(chosen, "entered", "count", stage)),
             "Eruit gegaan": figure(_row(chosen, "left", "count", stage))} for stage, label in STAGE_LABELS.items()]
    rows.append({"Stap": "Alle bedrijven in het programma", "Bedrijven aan het eind van het kwartaal": figure(_row(chosen, "firms", "count")),
                 "Erbij gekomen": "", "Eruit gegaan": ""})
    return pl.DataFrame(rows, orient="row")


def flow_table(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    chosen = group_cells(FLOW, frame, quarter, group)
    rows = [
        ("Dagen van aanmelding tot intake (mediaan, alle intakes tot nu toe)", figure(_row(chosen, "days_to_intake", "p50"))),
        ("Dagen van toelating tot plan (mediaan, alle plannen tot nu toe)", figure(_row(chosen, "days_in_support", "p50"))),
        ("Opgeleverde plannen tot nu toe", figure(_row(chosen, "plans", "sum"))),
        ("Sessies per opgeleverd plan, tot nu toe (verwacht: 25 tot 35)", figure(_row(chosen, "sessions_per_plan", "ratio"), 1)),
        ("Sessies in dit kwartaal: niet verschenen", figure(_row(chosen, "session_no_show_rate", "ratio"), 0, 100, "%")),
        ("Afspraken frontdesk in dit kwartaal: niet verschenen", figure(_row(chosen, "appointment_no_show_rate", "ratio"), 0, 100, "%")),
    ]
    return pl.DataFrame(rows, schema=["Wat", "Cijfer (95%-interval)"], orient="row")


def referral_table(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    chosen = group_cells(FLOW, frame, quarter, group)
    labels = reference.domain_labels("programme_initiative")
    rows = [(label, figure(_row(chosen, "referred_to", "count", code)), figure(_row(chosen, "referred_to", "share", code), 0, unit="%"))
            for code, label in labels.items()]
    return pl.DataFrame(rows, schema=["Doorverwezen naar", "Bedrijven", "Deel van de doorverwijzingen"], orient="row")


def offer_table(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    """Per offer: the share of platform users using and requesting it; sorted from most to least used (the least used last)."""
    chosen = group_cells(ECOSYSTEM, frame, quarter, group)
    rows = []
    for code, label in reference.domain_labels("programme_offer").items():
        used = _row(chosen, "offers_used", "share", code)
        rows.append({"Aanbod": label, "Gebruikt door": figure(used, 0, unit="%"),
                     "Aangevraagd door": figure(_row(chosen, "offers_requested", "share", code), 0, unit="%"),
                     "_order": -(used["estimate"] if used and used["estimate"] is not None else -1.0)})
    return pl.DataFrame(rows, orient="row").sort("_order").drop("_order")


def needs_table(frame: pl.DataFrame, quarter: str, group: Group) -> pl.DataFrame:
    """The short list for the programme team: topics of unanswered questions and of needs no offer serves, most firms first."""
    chosen = group_cells(ECOSYSTEM, frame, quarter, group)
    topics = release_specs()[ECOSYSTEM].measure("need_topics").categories
    names = dict(_topic_labels())
    rows = []
    for topic in topics:
        unanswered, needs = _row(chosen, "unanswered_topics", "count", topic), _row(chosen, "need_topics", "count", topic)
        order = sum(r["estimate"] for r in (unanswered, needs) if r and r["estimate"] is not None)
        rows.append({"Onderwerp": names.get(topic, topic), "Bedrijven met een vraag zonder antwoord": figure(unanswered),
                     "Bedrijven met een behoefte zonder aanbod": figure(needs), "_order": -order})
    return pl.DataFrame(rows, orient="row").sort("_order").drop("_order")


def _topic_labels() -> dict[str, str]:
    from core.sources import source

    return source("programme_platform").fields["topic"].labels()


@dataclass(frozen=True)
class Progress:
    quarter: str
    reached: dict | None        # the released cell of financeable plans so far
    pace: tuple[float, float, float] | None  # plans per quarter: estimate, low, high
    reached_at: dict[int, str]  # target -> Dutch text of when it is (expected to be) reached


def target_progress(frame: pl.DataFrame, window: int = 4) -> Progress | None:
    """Financeable plans so far against the target, and when the target is reached at the current pace (see the module text)."""
    programme = frame.filter((pl.col("level") == "programme") & (pl.col("measure") == "reached_financeable") & (pl.col("statistic") == "sum"))
    released = programme.filter(~pl.col("suppressed") & pl.col("estimate").is_not_null()).sort("period")
    if programme.is_empty():
        return None
    latest = programme.sort("period").row(-1, named=True)
    if released.height < 2 or latest["suppressed"] or latest["estimate"] is None:
        return Progress(latest["period"], latest, None, {t: "niet te zeggen: te weinig gepubliceerde kwartalen" for t in TARGET})
    now = released.row(-1, named=True)
    then = released.row(max(0, released.height - 1 - window), named=True)
    steps = _quarters_between(then["period"], now["period"])
    rise = now["estimate"] - then["estimate"]
    noise = math.hypot((now["ci_high"] - now["ci_low"]) / 3.92, (then["ci_high"] - then["ci_low"]) / 3.92)
    se = math.sqrt(noise ** 2 + max(rise, 0.0)) / steps
    pace = (rise / steps, rise / steps - 1.96 * se, rise / steps + 1.96 * se)
    return Progress(now["period"], now, pace, {target: _when(target, now, pace) for target in TARGET})


def _quarters_between(first: str, last: str) -> int:
    count, quarter = 0, first
    while quarter < last:
        quarter, count = next_quarter(quarter), count + 1
    return max(count, 1)


def _after(quarter: str, steps: float) -> str:
    for _ in range(max(0, math.ceil(steps))):
        quarter = next_quarter(quarter)
    return quarter_name(quarter)


def _when(target: int, now: dict, pace: tuple[float, float, float]) -> str:
    if now["ci_low"] >= target:
        return "bereikt"
    estimate, low, high = pace
    missing = target - now["estimate"]
    if missing <= 0:
        return "waarschijnlijk bereikt (binnen de marge)"
    if low <= 0 or estimate <= 0:
        return "niet te zeggen: het tempo is te onzeker"
    earliest, expected, latest = missing / high, missing / estimate, missing / low
    if latest > 40:
        return f"verwacht in {_after(now['period'], expected)}, maar misschien pas na 10 jaar"
    return f"verwacht in {_after(now['period'], expected)} (tussen {_after(now['period'], earliest)} en {_after(now['period'], latest)})"


# --------------------------------------------------------------------------- themes in questions and needs (issue 14.3)


def need_theme_catalogue(exports: Path | None = None) -> dict[str, dict]:
    """Theme key -> {"quarter", "name", "terms"}, as assets/themes.py publishes it (`data/exports/programme_need_themes/themes.json`)."""
    import json

    from core.settings import paths

    path = (exports or paths().exports) / NEED_THEMES / "themes.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def need_theme_table(cells: pl.DataFrame, quarter: str, exports: Path | None = None) -> pl.DataFrame:
    """The released themes of one quarter: name, top terms, firms (with interval, or 'x' and why), biggest first; empty when none."""
    if cells.is_empty() or "theme" not in cells.columns:
        return pl.DataFrame()
    frame = cells.filter((pl.col("period") == quarter) & (pl.col("statistic") == "count") & pl.col("theme").is_not_null()).sort(
        pl.col("estimate").fill_null(-1.0), "theme", descending=[True, False])
    catalogue = need_theme_catalogue(exports)
    rows = []
    for row in frame.iter_rows(named=True):
        entry = catalogue.get(row["theme"], {})
        shown = not row["suppressed"] and row["estimate"] is not None
        rows.append({"Thema": entry.get("name", row["theme"].rsplit("/", 1)[-1].capitalize()), "Kernwoorden": ", ".join(entry.get("terms", [])),
                     "Bedrijven (ongeveer)": nl_number(row["estimate"], 0) if shown else SUPPRESSED,
                     "95%-interval": nl_interval(row["ci_low"], row["ci_high"], 0) if shown else (row["suppression_reason"] or "")})
    return pl.DataFrame(rows, orient="row") if rows else pl.DataFrame()
