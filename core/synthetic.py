"""Seeded synthetic data: a firm population and monthly CGC waves as a survey tool exports them.

Firms: sector, size class and province drawn from the shares in `reference/`,
a municipality within the province, a unique 8-digit KvK number.
Answers: a latent business-cycle index per wave (a slow cycle plus a trend),
sector-specific shocks (energy prices hit industry and hospitality, a
building slump hits construction), a persistent firm effect and monthly
noise; categories come from cut points on that latent score. Response is
a persistent firm propensity (bigger firms answer more often) per wave.

Defects (about 1 % of rows) are the kinds real exports have: missing
fields, out-of-range answers, unknown sector codes, malformed KvK numbers
and timestamps, exact duplicate submissions (within a file and re-exported
in a later file), and one small file in the wrong encoding. Every defect is
recorded in `data/synthetic/defects.parquet`, so tests can check that each
one ends up in quarantine. This randomness is test data, not privacy noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core import reference
from core.files import private_dir
from core.jsonlines import json_lines
from core.landing import write_atomically
from core.survey import cgc_survey, landing_columns

DEFECT_RATE = 0.01
FREE_TEXT_RATE = 0.08

FREE_TEXTS = [
    "De energierekening is bijna verdubbeld, dat drukt de marge flink.",
    "We kunnen geen monteurs vinden, opdrachten blijven liggen.",
    "De regeldruk rond de nieuwe rapportageplicht kost ons veel uren.",
    "Klanten stellen bestellingen uit, het is rustig.",
    "Goede maand, de orderportefeuille groeit weer.",
    "De bank is terughoudend met financiering voor onze uitbreiding.",
    "Loonkosten stijgen sneller dan we kunnen doorberekenen.",
    "Grondstoffen zijn duur en de levertijden zijn lang.",
    "Onze personeelstekorten worden groter, vooral in de zorg.",
    "Het terras trekt goed, maar de kosten lopen op.",
]
# Free texts in which respondents leave identifiers: ingestion must scrub them.
IDENTIFYING_TEXTS = [
    "Bel me gerust, of mail naar {email}.",
    "Ons KvK-nummer is {kvk}, neem contact op.",
    "Graag terugkoppeling via {email} (KvK {kvk}).",
]
# Text with characters that a cp1252 export turns into bytes that are not UTF-8.
ACCENTED_TEXTS = ["Café draait goed, één nieuwe medewerker.", "Crème brûlée-ijs verkoopt beter dan verwacht."]

SHOCKS = {  # sector -> (first wave index, length in waves, depth on the latent scale)
    "C": (3, 6, -0.9),
    "D": (3, 6, -0.6),
    "I": (4, 5, -0.8),
    "F": (12, 8, -1.0),
    "G": (16, 4, -0.5),
}


@dataclass(frozen=True)
class GeneratedData:
    files: list[Path]
    firms: int
    rows: int
    defects: int


def last_closed_wave(today: date) -> str:
    return reference.wave_of(today.replace(day=1) - timedelta(days=1))


def wave_list(last_wave: str, count: int) -> list[str]:
    codes = reference.wave_codes()
    end = codes.index(last_wave) + 1
    if end < count:
        raise ValueError(f"waves: {count} waves ending at {last_wave} start before the reference list ({codes[0]})")
    return codes[end - count : end]


def _draw(rng: np.random.Generator, table: pl.DataFrame, size: int) -> np.ndarray:
    shares = table["population_share"].to_numpy()
    return rng.choice(table["code"].to_numpy(), size=size, p=shares / shares.sum())


def make_firms(count: int, rng: np.random.Generator) -> pl.DataFrame:
    """A firm population resembling the Dutch business population."""
    municipalities = reference.municipalities()
    provinces = _draw(rng, reference.provinces(), count)
    kvk = rng.choice(np.arange(10_000_000, 99_999_999, dtype=np.int64), size=count, replace=False) if count < 200_000 else _unique_kvk(count, rng)
    frame = pl.DataFrame(
        {
            "kvk_number": [f"{n:08d}" for n in kvk],
            "sector": _draw(rng, reference.sbi_sections(), count),
            "size_class": _draw(rng, reference.size_classes(), count),
            "province": provinces,
            "firm_effect": rng.normal(0.0, 0.6, count),
            "response_propensity": rng.beta(2.0, 4.0, count),
        }
    )
    by_province = municipalities.group_by("province_code").agg(pl.col("code"))
    lookup = dict(zip(by_province["province_code"], by_province["code"].to_list(), strict=True))
    picks = rng.random(count)
    frame = frame.with_columns(
        municipality=pl.Series([lookup[p][int(r * len(lookup[p]))] for p, r in zip(provinces, picks, strict=True)])
    )
    return frame


def _unique_kvk(count: int, rng: np.random.Generator) -> np.ndarray:
    numbers = np.unique(rng.integers(10_000_000, 99_999_999, size=int(count * 1.1)))
    rng.shuffle(numbers)
    if numbers.size < count:
        raise ValueError("firms: too many firms for unique 8-digit KvK numbers")
    return numbers[:count]


def latent_cycle(wave_count: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(wave_count)
    return 0.5 * np.sin(2 * np.pi * t / 18) - 0.01 * t + np.cumsum(rng.normal(0, 0.08, wave_count))


def _categorise(score: np.ndarray, low: float, high: float, codes: tuple[str, str, str]) -> np.ndarray:
    return np.where(score > high, codes[0], np.where(score < low, codes[2], codes[1]))


def answer_wave(firms: pl.DataFrame, wave_index: int, wave: str, cycle: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """Answers of the firms that respond in one wave (clean rows, before defects)."""
    size_boost = firms["size_class"].replace_strict({"0-1": 0.0, "2-9": 0.08, "10-49": 0.15, "50-249": 0.22}, default=0.0)
    responds = rng.random(firms.height) < (firms["response_propensity"].to_numpy() * 0.6 + size_boost.to_numpy())
    panel = firms.filter(pl.Series(responds))
    n = panel.height
    shock = np.zeros(n)
    sectors = panel["sector"].to_numpy()
    for sector, (start, length, depth) in SHOCKS.items():
        if start <= wave_index < start + length:
            shock[sectors == sector] += depth
    latent = cycle[wave_index] + shock + panel["firm_effect"].to_numpy() + rng.normal(0, 0.7, n)
    invest_latent = 0.7 * latent + rng.normal(0, 0.6, n) - 0.1
    tight_sector = np.isin(sectors, ["Q", "I", "F", "H", "P"]).astype(float)
    shortage_latent = 0.6 * tight_sector + 0.3 * latent + rng.normal(0, 0.8, n)
    sentiment = np.clip(np.digitize(latent + rng.normal(0, 0.4, n), [-1.3, -0.4, 0.4, 1.3]) + 1, 1, 5)
    options = list(cgc_survey().multi_select["challenges"].options)
    weights = np.array([0.35, 0.25, 0.3, 0.1, 0.15, 0.1, 0.12, 0.2])
    chosen = rng.random((n, len(options))) < weights * (1.2 - 0.3 * np.tanh(latent))[:, None]
    challenges = [";".join(o for o, c in zip(options, row, strict=True) if c) for row in chosen]
    item_missing = rng.random((n, 4)) < 0.03
    start = datetime.fromisoformat(f"{wave}-01T08:00:00")
    days = reference.waves().filter(pl.col("wave") == wave)["closes"][0].day
    offsets = rng.integers(0, days * 24 * 3600 - 12 * 3600, n)
    frame = pl.DataFrame(
        {
            "response_id": [f"cgc-{wave}-{i:07d}" for i in range(1, n + 1)],
            "submitted_at": [(start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S") for s in offsets],
            "wave": wave,
            "kvk_number": panel["kvk_number"],
            "sector": panel["sector"],
            "size_class": panel["size_class"],
            "province": panel["province"],
            "order_book": _with_missing(_categorise(latent, -0.6, 0.6, ("grown", "same", "shrunk")), item_missing[:, 0]),
            "investment": _with_missing(_categorise(invest_latent, -0.6, 0.6, ("up", "same", "down")), item_missing[:, 1]),
            "staff_shortage": _with_missing(_categorise(shortage_latent, -0.4, 0.8, ("severe", "some", "none")), item_missing[:, 2]),
            "sentiment": _with_missing(sentiment.astype(str), item_missing[:, 3]),
            "challenges": challenges,
            "free_text": _free_texts(panel["kvk_number"].to_list(), rng),
        }
    )
    return frame.sort("submitted_at").with_columns(
        response_id=pl.format("cgc-{}-{}", pl.lit(wave), pl.int_range(1, n + 1).cast(pl.Utf8).str.zfill(7))
    )


def _with_missing(values: np.ndarray, missing: np.ndarray) -> pl.Series:
    """Item nonresponse: a respondent skipped this question."""
    series = pl.Series(values.astype(str), dtype=pl.Utf8)
    return pl.select(pl.when(pl.Series(missing)).then(None).otherwise(series)).to_series()


def _free_texts(kvk_numbers: list[str], rng: np.random.Generator) -> list[str | None]:
    draws = rng.random(len(kvk_numbers))
    picks = rng.integers(0, len(FREE_TEXTS), len(kvk_numbers))
    texts: list[str | None] = []
    for kvk, draw, pick in zip(kvk_numbers, draws, picks, strict=True):
        if draw < FREE_TEXT_RATE * 0.05:
            template = IDENTIFYING_TEXTS[pick % len(IDENTIFYING_TEXTS)]
            texts.append(template.format(kvk=kvk, email=f"info{kvk[-4:]}@bedrijf-{kvk[:3]}.nl"))
        elif draw < FREE_TEXT_RATE:
            texts.append(FREE_TEXTS[pick])
        else:
            texts.append(None)
    return texts


DEFECT_KINDS = ("missing_field", "out_of_range", "unknown_sector", "bad_kvk", "bad_timestamp", "duplicate")


def inject_defects(frame: pl.DataFrame, rng: np.random.Generator) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Corrupt about 1 % of rows in place and append exact duplicates; returns (rows, [(row_number, kind)])."""
    rows = frame.to_dicts()
    count = max(len(DEFECT_KINDS), int(len(rows) * DEFECT_RATE))
    victims = rng.choice(len(rows), size=min(count, len(rows)), replace=False)
    kinds = rng.permutation([DEFECT_KINDS[i % len(DEFECT_KINDS)] for i in range(len(victims))])  # every kind, equally often
    defects: list[tuple[int, str]] = []
    appended: list[dict] = []
    for index, kind in zip(victims, kinds, strict=True):
        row = rows[index]
        if kind == "duplicate":
            appended.append(dict(row))
            continue
        if kind == "missing_field":
            row[str(rng.choice(["kvk_number", "sector", "size_class", "province", "wave"]))] = None
        elif kind == "out_of_range":
            field, value = [("sentiment", "7"), ("sentiment", "0"), ("order_book", "misschien")][int(rng.integers(0, 3))]
            row[field] = value
        elif kind == "unknown_sector":
            row["sector"] = str(rng.choice(["Z", "V", "99"]))
        elif kind == "bad_kvk":
            row["kvk_number"] = row["kvk_number"][:7]
        elif kind == "bad_timestamp":
            row["submitted_at"] = datetime.fromisoformat(row["submitted_at"]).strftime("%d-%m-%Y %H:%M")
        defects.append((int(index) + 1, str(kind)))
    for row in appended:
        defects.append((len(rows) + 1, "duplicate"))
        rows.append(row)
    return pl.DataFrame(rows, schema=frame.schema), defects


def _to_csv(frame: pl.DataFrame) -> bytes:
    return frame.select(landing_columns()).write_csv().encode("utf-8")


def _to_json_lines(frame: pl.DataFrame) -> bytes:
    records = []
    for row in frame.select(landing_columns()).iter_rows(named=True):
        record = dict(row)
        record["challenges"] = [c for c in (record["challenges"] or "").split(";") if c]
        if record["sentiment"] is not None and record["sentiment"].isdigit():
            record["sentiment"] = int(record["sentiment"])
        records.append(record)
    return json_lines(records)  # the landing-zone writer the form uses too


def generate(
    out_dir: Path,
    truth_dir: Path,
    firms: int = 20_000,
    waves: int = 24,
    last_wave: str | None = None,
    seed: int = 20261122,
    progress=None,
) -> GeneratedData:
    """Write `waves` monthly CGC exports into `out_dir/cgc/` and the ground truth into `truth_dir`."""
    rng = np.random.default_rng(seed)
    wave_codes = wave_list(last_wave or last_closed_wave(date.today()), waves)
    population = make_firms(firms, rng)
    cycle = latent_cycle(len(wave_codes), rng)
    landing = out_dir / "cgc"
    files: list[Path] = []
    defect_rows: list[dict] = []
    total = 0
    previous_clean: pl.DataFrame | None = None
    for index, wave in enumerate(wave_codes):
        clean = answer_wave(population, index, wave, cycle, rng)
        rows, defects = inject_defects(clean, rng)
        as_json = index % 3 == 2  # the tool exported every third month as JSON lines
        name = f"cgc_export_{wave}.{'jsonl' if as_json else 'csv'}"
        files.append(write_atomically(landing, name, _to_json_lines(rows) if as_json else _to_csv(rows)))
        defect_rows += [{"file_name": name, "row_number": r, "kind": k} for r, k in defects]
        total += rows.height
        if previous_clean is not None and index % 6 == 0:
            files.append(_write_reexport(landing, previous_clean, wave_codes[index - 1], rng, defect_rows))
            total += defect_rows[-1]["row_number"]
        corrupted = {r for r, _ in defects}
        previous_clean = rows.filter(~pl.int_range(1, pl.len() + 1).is_in(list(corrupted)))
        if progress:
            progress(wave, rows.height)
    files.append(_write_wrong_encoding(landing, clean, wave_codes[-1], rng, defect_rows))
    total += sum(1 for d in defect_rows if d["kind"] == "encoding")
    private_dir(truth_dir)  # ground truth: KvK numbers of the synthetic firms
    population.select("kvk_number", "sector", "size_class", "province", "municipality").write_parquet(truth_dir / "firms.parquet")
    pl.DataFrame(defect_rows, schema={"file_name": pl.Utf8, "row_number": pl.Int64, "kind": pl.Utf8}).write_parquet(
        truth_dir / "defects.parquet"
    )
    return GeneratedData(files, firms, total, len(defect_rows))


def _write_reexport(landing: Path, clean: pl.DataFrame, wave: str, rng: np.random.Generator, defect_rows: list[dict]) -> Path:
    """The tool exported a few rows of the previous wave again: duplicates across files."""
    sample = clean.sample(n=min(25, clean.height), seed=int(rng.integers(0, 2**31)))
    name = f"cgc_reexport_{wave}.csv"
    defect_rows += [{"file_name": name, "row_number": r, "kind": "duplicate"} for r in range(1, sample.height + 1)]
    return write_atomically(landing, name, _to_csv(sample))


def _write_wrong_encoding(landing: Path, clean: pl.DataFrame, wave: str, rng: np.random.Generator, defect_rows: list[dict]) -> Path:
    """Late answers exported from a spreadsheet in Windows-1252 instead of UTF-8."""
    late = clean.sample(n=min(40, clean.height), seed=int(rng.integers(0, 2**31))).with_columns(
        response_id=pl.format("late-{}-{}", pl.lit(wave), pl.int_range(1, pl.len() + 1)),
        free_text=pl.Series([ACCENTED_TEXTS[i % 2] for i in range(min(40, clean.height))]),
    )
    name = f"cgc_late_{wave}.csv"
    defect_rows += [{"file_name": name, "row_number": r, "kind": "encoding"} for r in range(1, late.height + 1)]
    return write_atomically(landing, name, late.select(landing_columns()).write_csv().encode("cp1252"))
