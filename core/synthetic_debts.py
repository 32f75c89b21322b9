"""Seeded synthetic debt signals: monthly deliveries of public creditors' open claims on persons (`sources/debt_signal`).

Persons live in the 342 municipalities in proportion to their population
(`reference/municipal_population.csv`, approximate); each has one or more
claims, often at several organisations (so cross-organisation rules have
work). Per kind of creditor the amounts, costs and escalation follow how
Dutch collection works, roughly:

- municipality: parking fines (naheffingsaanslag, 65-100 euro), municipal
  taxes (afvalstoffenheffing, OZB: 150-600), recovered social assistance;
  reminder, then aanmaning (+ about 8 euro), dwangbevel and deurwaarder;
- CJIB: traffic fines (35-250 euro) with the Wet Mulder increments: 9 euro
  administration, +50 % of the fine at the first aanmaning, +100 % more at the
  second, then the deurwaarder (dwangbevel);
- CAK: Wmo eigen bijdrage (8-30 euro a month, a few months behind) and the
  bestuursrechtelijke premie of defaulting insured persons;
- health insurers: premiums (about 140 euro a month, 1-6 months behind) or the
  eigen risico (385 euro); WIK collection costs (15 %, at least 40 euro) once
  at incasso;
- energy suppliers and housing corporations: arrears of one to a few months
  (energy 150-1500, rent 600-900 a month), WIK costs at incasso;
- DUO (study debt arrears), UWV (benefit recoveries 200-2000) and
  Belastingdienst/Toeslagen (allowance recoveries 500-5000, tax assessments):
  larger amounts, slower escalation, few costs before the deurwaarder.

Each month every creditor type delivers one file (national creditors Parquet,
the municipalities CSV with ';' and decimal commas as Dutch spreadsheets
write them, the others CSV); one creditor re-delivers part of the last month
with corrections a day later (the latest delivery counts). About 1 % of the
rows are defective on purpose: a BSN that fails the eleven-test, a negative
amount, an unknown stage, a date in the future, three decimals. Generated
BSNs pass the eleven-test; `truth_dir/debt_persons.parquet` and
`debt_defects.parquet` keep the truth for tests. This randomness is test
data, not privacy noise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from core.landing import write_atomically
from core.settings import REFERENCE_DIR
from core.sources import source

SOURCE = "debt_signal"
DEFECT_KINDS = ("bad_bsn", "negative_amount", "unknown_stage", "future_date", "three_decimals")
STAGES = ("herinnering", "aanmaning", "incasso", "deurwaarder")
STAGE_STARTS = np.array([0.0, 1.0, 2.5, 5.0])  # months after opening (at speed 1) at which each stage begins
PARQUET_TYPES = ("cjib", "duo", "belastingdienst_toeslagen", "uwv")  # the national creditors deliver Parquet


@dataclass(frozen=True)
class CreditorKind:
    """How claims of one creditor type look: how common, what debts, how large, how fast they escalate."""

    share: float  # of all claims
    debts: dict[str, float]  # debt_type -> share within this creditor type
    speed: float  # how fast a claim runs through STAGE_STARTS (1: aanmaning after a month; 0.4: slow, like DUO)
    reports_flags: float  # chance that the creditor knows (and fills) a person's counselling/administration flags


KINDS = {
    "gemeente": CreditorKind(0.20, {"parkeerboete": 0.5, "gemeentelijke_belasting": 0.4, "terugvordering_uitkering": 0.1}, 1.0, 0.9),
    "cjib": CreditorKind(0.18, {"verkeersboete": 1.0}, 1.0, 0.0),
    "cak": CreditorKind(0.10, {"wmo_eigen_bijdrage": 0.8, "zorgpremie": 0.2}, 0.8, 0.6),
    "zorgverzekeraar": CreditorKind(0.14, {"zorgpremie": 1.0}, 0.9, 0.5),
    "energieleverancier": CreditorKind(0.10, {"energie": 1.0}, 0.9, 0.4),
    "woningcorporatie": CreditorKind(0.08, {"huurachterstand": 1.0}, 0.7, 0.7),
    "duo": CreditorKind(0.06, {"studieschuld": 1.0}, 0.4, 0.3),
    "uwv": CreditorKind(0.04, {"terugvordering_uitkering": 1.0}, 0.5, 0.6),
    "belastingdienst_toeslagen": CreditorKind(0.10, {"terugvordering_toeslag": 0.7, "belasting": 0.3}, 0.5, 0.3),
}
# Market shares (roughly) of the health insurers and energy suppliers, by their codes in reference/creditors.csv.
INSURERS = {"zv_zilveren_kruis": 0.28, "zv_cz": 0.20, "zv_vgz": 0.22, "zv_menzis": 0.12, "zv_dsw": 0.06,
            "zv_zorg_en_zekerheid": 0.05, "zv_onvz": 0.04, "zv_eno": 0.03}
SUPPLIERS = {"el_eneco": 0.22, "el_essent": 0.22, "el_vattenfall": 0.18, "el_budget_energie": 0.12, "el_greenchoice": 0.08,
             "el_engie": 0.07, "el_vandebron": 0.05, "el_energiedirect": 0.06}
# Housing corporations of the larger cities; elsewhere one of the regional ones.
CORPORATIONS = {"GM0363": ["wc_ymere", "wc_eigen_haard", "wc_de_alliantie", "wc_stadgenoot"], "GM0599": ["wc_woonstad_rotterdam", "wc_havensteder"],
                "GM0518": ["wc_haag_wonen", "wc_staedion", "wc_vidomes"], "GM0344": ["wc_portaal", "wc_mitros"],
                "GM0772": ["wc_trudo", "wc_woonbedrijf"], "GM0014": ["wc_lefier"], "GM0268": ["wc_portaal", "wc_woonstede"],
                "GM0202": ["wc_vivare", "wc_portaal"]}
REGIONAL = {"PV20": ["wc_lefier"], "PV21": ["wc_elkien"], "PV22": ["wc_lefier", "wc_area"], "PV31": ["wc_wonen_limburg"]}
NATIONWIDE = ["wc_woonzorg_nederland", "wc_woonstede", "wc_vidomes", "wc_area", "wc_portaal"]


def valid_bsns(count: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct BSNs that pass the eleven-test: 8 random digits (the first not 0), the 9th chosen to make
    9*d1 + 8*d2 + ... + 2*d8 - d9 a multiple of 11 (a draw whose 9th digit would be 10 is drawn again)."""
    found: set[str] = set()
    ordered: list[str] = []
    weights = np.arange(9, 1, -1)
    while len(ordered) < count:
        digits = rng.integers(0, 10, size=(2 * (count - len(ordered)) + 16, 8))
        digits[:, 0] = rng.integers(1, 10, size=digits.shape[0])
        check = (digits @ weights) % 11  # d9 must equal this
        for row, last in zip(digits, check, strict=True):
            if last == 10:
                continue
            number = "".join(map(str, row)) + str(last)
            if number not in found:
                found.add(number)
                ordered.append(number)
                if len(ordered) == count:
                    break
    return ordered


def failing_bsn(number: str) -> str:
    """A BSN with its last digit changed, so that it fails the eleven-test (a typo)."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _municipalities() -> pl.DataFrame:
    population = pl.read_csv(REFERENCE_DIR / "municipal_population.csv", schema_overrides={"population": pl.Int64})
    regions = pl.read_csv(REFERENCE_DIR / "municipalities.csv", infer_schema=False).select("code", "province_code")
    return population.join(regions, on="code", how="left").sort("code")


def make_persons(count: int, rng: np.random.Generator) -> pl.DataFrame:
    """Persons with debts: BSN, municipality (in proportion to its population), and what a counsellor would know."""
    places = _municipalities()
    weights = places["population"].to_numpy() / places["population"].sum()
    municipality = places["code"].to_numpy()[rng.choice(places.height, size=count, p=weights)]
    claims = np.minimum(1 + rng.geometric(0.45, size=count) - 1 + (rng.random(count) < 0.35), 9)  # 1 to 9, mean about 2.5
    troubled = claims >= 3
    return pl.DataFrame({
        "bsn": valid_bsns(count, rng),
        "municipality": municipality,
        "claims": claims.astype(np.int64),
        "in_debt_counselling": rng.random(count) < np.where(troubled, 0.25, 0.05),
        "under_administration": rng.random(count) < np.where(troubled, 0.08, 0.01),
        "payment_problems": rng.random(count) < np.where(troubled, 0.6, 0.15),
    })


def _months(last: str, count: int) -> list[str]:
    year, month = int(last[:4]), int(last[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def _month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:])
    first_next = date(year + (number == 12), number % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _pick(choices: dict[str, float], size: int, rng: np.random.Generator) -> np.ndarray:
    codes, weights = list(choices), np.array(list(choices.values()))
    return np.array(codes)[rng.choice(len(codes), size=size, p=weights / weights.sum())]


def _original_amounts(debt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The claim when it was opened, in euros (before costs), per kind of debt."""
    n = debt.size
    amount = np.zeros(n)
    draws = {
        "parkeerboete": lambda k: rng.choice([65.0, 72.5, 78.0, 85.0, 99.9], size=k),
        "gemeentelijke_belasting": lambda k: rng.uniform(150, 600, k),
        "terugvordering_uitkering": lambda k: np.exp(rng.normal(np.log(650), 0.6, k)).clip(50, 6000),
        "verkeersboete": lambda k: rng.choice([35.0, 49.0, 79.0, 106.0, 150.0, 250.0], size=k, p=[0.15, 0.25, 0.25, 0.15, 0.12, 0.08]),
        "wmo_eigen_bijdrage": lambda k: rng.choice([8.2, 12.5, 21.6, 30.0], size=k) * rng.integers(1, 5, k),
        "zorgpremie": lambda k: np.where(rng.random(k) < 0.25, 385.0, rng.uniform(130, 160, k) * rng.integers(1, 7, k)),
        "energie": lambda k: rng.uniform(150, 1500, k),
        "huurachterstand": lambda k: rng.uniform(600, 900, k) * rng.integers(1, 4, k),
        "studieschuld": lambda k: np.exp(rng.normal(np.log(600), 0.7, k)).clip(100, 3000),
        "terugvordering_toeslag": lambda k: np.exp(rng.normal(np.log(1500), 0.7, k)).clip(500, 5000),
        "belasting": lambda k: np.exp(rng.normal(np.log(900), 0.6, k)).clip(200, 3000),
    }
    for kind, draw in draws.items():
        chosen = debt == kind
        if chosen.any():
            amount[chosen] = draw(int(chosen.sum()))
    return np.round(amount, 2)


def _costs(kind: np.ndarray, debt: np.ndarray, original: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """Collection costs, surcharges and interest so far (euros) at a stage (0 herinnering ... 3 deurwaarder)."""
    costs = np.zeros(original.size)
    cjib = kind == "cjib"  # Wet Mulder: 9 euro administration, +50 % at the 1st aanmaning, +100 % more at the 2nd
    costs += np.where(cjib, 9.0 + original * np.select([stage >= 2, stage >= 1], [1.5, 0.5], 0.0), 0.0)
    municipal = (kind == "gemeente") & (debt != "terugvordering_uitkering")
    costs += np.where(municipal & (stage >= 1), 8.0, 0.0) + np.where(municipal & (stage >= 2), 45.0, 0.0)  # aanmaning, dwangbevel
    private = np.isin(kind, ["zorgverzekeraar", "energieleverancier", "woningcorporatie"])
    wik = np.maximum(40.0, 0.15 * np.minimum(original, 2500) + 0.10 * np.clip(original - 2500, 0, 2500))
    costs += np.where(private & (stage >= 2), wik, 0.0)  # WIK: buitengerechtelijke incassokosten
    costs += np.where(stage >= 3, np.where(cjib, 98.0, 180.0), 0.0)  # deurwaarder: betekening, beslag
    return np.round(costs, 2)


def make_claims(persons: pl.DataFrame, first_month: str, rng: np.random.Generator) -> pl.DataFrame:
    """Every person's claims: creditor, kind, amount when opened, when opened, how fast it escalates and when it ends."""
    owner = np.repeat(np.arange(persons.height), persons["claims"].to_numpy())
    n = owner.size
    kinds = list(KINDS)
    shares = np.array([KINDS[k].share for k in kinds])
    kind = np.array(kinds)[rng.choice(len(kinds), size=n, p=shares / shares.sum())]
    debt = np.empty(n, dtype=object)
    for name, spec in KINDS.items():
        chosen = kind == name
        debt[chosen] = _pick(spec.debts, int(chosen.sum()), rng)
    home = persons["municipality"].to_numpy()[owner]
    places = _municipalities()
    province = dict(zip(places["code"], places["province_code"], strict=True))
    elsewhere = places["code"].to_numpy()[rng.choice(places.height, size=n, p=(places["population"] / places["population"].sum()).to_numpy())]
    creditor = np.empty(n, dtype=object)
    creditor[:] = kind
    municipal = kind == "gemeente"
    parking_elsewhere = municipal & (debt == "parkeerboete") & (rng.random(n) < 0.4)  # a parking fine in another (busier) town
    creditor[municipal] = np.where(parking_elsewhere, elsewhere, home)[municipal]
    creditor[kind == "zorgverzekeraar"] = _pick(INSURERS, int((kind == "zorgverzekeraar").sum()), rng)
    creditor[kind == "energieleverancier"] = _pick(SUPPLIERS, int((kind == "energieleverancier").sum()), rng)
    for index in np.flatnonzero(kind == "woningcorporatie"):
        options = CORPORATIONS.get(home[index]) or REGIONAL.get(province[home[index]]) or NATIONWIDE
        creditor[index] = options[rng.integers(len(options))]
    start = datetime.strptime(first_month + "-01", "%Y-%m-%d").date()
    opened = [start + timedelta(days=int(d)) for d in rng.integers(-365, 90, n)]  # up to a year before the window, or during it
    speed = np.array([KINDS[k].speed for k in kind]) * rng.uniform(0.7, 1.3, n)
    return pl.DataFrame({
        "claim_id": [f"{c[:6].upper()}-{i:07d}" for i, c in zip(range(n), kind, strict=True)],
        "person": owner, "creditor": creditor.astype(str), "creditor_type": kind, "debt_type": debt.astype(str),
        "original_amount": _original_amounts(debt.astype(str), rng), "opened_on": opened, "speed": speed,
        "lifetime_months": rng.geometric(0.18, n).astype(np.float64) + rng.random(n),  # paid off or settled after this
        "pays_part": rng.random(n) < 0.3,
        "knows_flags": rng.random(n) < np.array([KINDS[k].reports_flags for k in kind]),
    })


def states(claims: pl.DataFrame, persons: pl.DataFrame, month: str, today: date) -> pl.DataFrame:
    """Each claim's state at the end of `month` (open claims only), as its creditor delivers it."""
    end = min(_month_end(month), today)
    frame = claims.filter(pl.col("opened_on") <= end).with_columns(
        age=(pl.lit(end) - pl.col("opened_on")).dt.total_days().cast(pl.Float64) / 30.4
    ).filter(pl.col("age") < pl.col("lifetime_months"))
    age, speed = frame["age"].to_numpy(), frame["speed"].to_numpy()
    stage = (np.searchsorted(STAGE_STARTS, age * speed, side="right") - 1).clip(0, 3)
    original = frame["original_amount"].to_numpy()
    costs = _costs(frame["creditor_type"].to_numpy(), frame["debt_type"].to_numpy(), original, stage)
    paid = np.where(frame["pays_part"].to_numpy(), np.clip(age / frame["lifetime_months"].to_numpy(), 0, 0.9), 0.0)
    principal = np.round(original * (1 - paid), 2)
    stage_began = [opened + timedelta(days=int(30.4 * STAGE_STARTS[s] / max(v, 0.05)))
                   for opened, s, v in zip(frame["opened_on"], stage, speed, strict=True)]
    last_action = [min(began, end) for began in stage_began]
    reminders = stage + (age > 0.5) + (stage >= 1)
    flags = persons.select("in_debt_counselling", "under_administration", "payment_problems")[frame["person"].to_numpy()]
    knows = frame["knows_flags"].to_numpy()
    return frame.select(
        "claim_id", "creditor", "creditor_type", "debt_type", "original_amount", "opened_on", "person",
    ).with_columns(
        current_amount=pl.Series(np.round(principal + costs, 2)),
        costs_so_far=pl.Series(costs),
        stage=pl.Series(np.array(STAGES)[stage]),
        reminders_sent=pl.Series(reminders.astype(np.int64)),
        last_action_on=pl.Series(last_action, dtype=pl.Date),
        in_debt_counselling=pl.when(pl.Series(knows)).then(flags["in_debt_counselling"]),
        under_administration=pl.when(pl.Series(knows)).then(flags["under_administration"]),
        payment_problems=pl.when(pl.Series(knows)).then(flags["payment_problems"]),
        bsn=persons["bsn"].gather(frame["person"]),
        municipality=persons["municipality"].gather(frame["person"]),
        month=pl.lit(month),
    )


def with_defects(rows: pl.DataFrame, rng: np.random.Generator, rate: float, today: date) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """About `rate` of the rows (text columns) made defective, one kind each; returns the rows and (row_number, kind)."""
    count = int(rng.binomial(rows.height, rate)) if rows.height else 0
    picked = rng.choice(rows.height, size=count, replace=False) if count else np.array([], dtype=int)
    kinds = np.array(DEFECT_KINDS)[rng.integers(len(DEFECT_KINDS), size=count)]
    columns = {name: rows[name].to_list() for name in ("bsn", "current_amount", "stage", "opened_on", "last_action_on", "original_amount")}
    for index, kind in zip(picked.tolist(), kinds.tolist(), strict=True):
        if kind == "bad_bsn":
            columns["bsn"][index] = failing_bsn(columns["bsn"][index])
        elif kind == "negative_amount":
            columns["current_amount"][index] = "-" + columns["current_amount"][index]
        elif kind == "unknown_stage":
            columns["stage"][index] = "betalingsregeling"
        elif kind == "future_date":
            columns["last_action_on"][index] = (today + timedelta(days=int(rng.integers(5, 60)))).isoformat()
        else:
            columns["original_amount"][index] = columns["original_amount"][index].replace(",", ".") + "5"
    defects = [(int(i) + 1, str(k)) for i, k in zip(picked, kinds, strict=True)]
    return rows.with_columns([pl.Series(name, values, pl.Utf8) for name, values in columns.items()]), defects


def _as_text(frame: pl.DataFrame, decimal_comma: bool, flag_words: tuple[str, str]) -> pl.DataFrame:
    """A delivery as a sender's CSV writes it: amounts with two decimals (a comma in Dutch spreadsheets), yes/no words."""
    yes, no = flag_words

    def money(column: str) -> pl.Expr:
        text = pl.col(column).map_elements(lambda v: f"{v:.2f}", return_dtype=pl.Utf8)
        return text.str.replace(".", ",", literal=True) if decimal_comma else text

    def flag(column: str) -> pl.Expr:
        return pl.when(pl.col(column)).then(pl.lit(yes)).when(pl.col(column).not_()).then(pl.lit(no))

    return frame.with_columns(
        *(money(c).alias(c) for c in ("original_amount", "current_amount", "costs_so_far")),
        *(flag(c).alias(c) for c in ("in_debt_counselling", "under_administration", "payment_problems")),
        pl.col("opened_on", "last_action_on").dt.strftime("%Y-%m-%d"),
        pl.col("delivered_at").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        pl.col("reminders_sent").cast(pl.Utf8),
    ).select([pl.col(c).cast(pl.Utf8) for c in source(SOURCE).landing_columns()])


def _as_parquet(text: pl.DataFrame) -> bytes:
    """A national creditor's Parquet delivery: typed columns (Decimal(12,2) amounts, dates, booleans), from the text rows,
    so a defective value that is no longer of its type (a negative amount is; 'betalingsregeling' is text anyway) stays text."""
    frame = text.with_columns(pl.col("reminders_sent").cast(pl.Int64),
                              pl.col("in_debt_counselling", "under_administration", "payment_problems").replace_strict(
                                  {"true": True, "false": False}, default=None, return_dtype=pl.Boolean),
                              pl.col("delivered_at").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S"))
    for column in ("original_amount", "current_amount", "costs_so_far"):
        if frame[column].str.contains(r"^[0-9]+\.[0-9]{2}$").all():
            frame = frame.with_columns(pl.col(column).cast(pl.Decimal(12, 2)))
    for column in ("opened_on", "last_action_on"):
        parsed = frame[column].str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        if parsed.null_count() == frame[column].null_count() and (parsed.drop_nulls() <= date.today()).all():
            frame = frame.with_columns(parsed.alias(column))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def generate_debts(landing: Path, truth_dir: Path, today: date, persons: int = 6_000, months: int = 3, seed: int = 20261201,
                   defect_rate: float = 0.01) -> list[Path]:
    """Write the monthly deliveries of the last `months` closed months into `landing/debt_signal/`; returns the files.

    `persons` sets the scale: about 2.5 claims each, of which about half are open during the window, so 6,000
    persons give about 7,500 claims in some 17,000 rows over three months (800 persons: about 2,400 rows).
    The truth (persons with their BSN, the defects) goes to `truth_dir`.
    """
    rng = np.random.default_rng(seed)
    last_month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    month_list = _months(last_month, months)
    people = make_persons(persons, rng)
    claims = make_claims(people, month_list[0], rng)
    files, defects = [], []
    for month in month_list:
        delivered = datetime.combine(min(_month_end(month), today), datetime.min.time()) + timedelta(hours=20)
        snapshot = states(claims, people, month, today).with_columns(delivered_at=pl.lit(delivered))
        for kind in KINDS:
            rows = snapshot.filter(pl.col("creditor_type") == kind).with_columns(
                delivered_at=pl.col("delivered_at") + pl.duration(minutes=list(KINDS).index(kind)))
            files.append(_write(landing, f"{kind}_{month}", rows, kind, rng, today, defect_rate, defects))
        if month == month_list[-1]:  # the energy suppliers correct part of their last delivery the next day
            corrected = snapshot.filter(pl.col("creditor_type") == "energieleverancier").head(max(5, snapshot.height // 200)).with_columns(
                current_amount=pl.col("current_amount") * 0.9, delivered_at=pl.col("delivered_at") + pl.duration(days=1))
            corrected = corrected.with_columns(pl.col("current_amount").round(2), pl.min_horizontal("delivered_at", pl.lit(
                datetime.combine(today, datetime.min.time()))).alias("delivered_at"))
            files.append(_write(landing, f"energieleverancier_{month}_correctie", corrected, "energieleverancier", rng, today, 0.0, defects))
    truth_dir.mkdir(parents=True, exist_ok=True)
    people.write_parquet(truth_dir / "debt_persons.parquet")
    pl.DataFrame(defects, schema={"file_name": pl.Utf8, "row_number": pl.Int64, "kind": pl.Utf8}, orient="row").write_parquet(
        truth_dir / "debt_defects.parquet")
    return files


def _write(landing: Path, stem: str, rows: pl.DataFrame, kind: str, rng, today: date, rate: float, defects: list) -> Path:
    parquet = kind in PARQUET_TYPES
    municipal = kind == "gemeente"
    text = _as_text(rows, decimal_comma=municipal, flag_words=("ja", "nee") if municipal else ("true", "false"))
    text, found = with_defects(text, rng, rate, today)
    name = f"{stem}.{'parquet' if parquet else 'csv'}"
    defects.extend((name, row, what) for row, what in found)
    content = _as_parquet(text) if parquet else text.write_csv(separator=";" if municipal else ",").encode("utf-8")
    return write_atomically(landing / SOURCE, name, content)


def decimal_cents(text: str) -> Decimal:
    """An amount as a sender wrote it ('8,5', '65.00') as the exact Decimal the warehouse holds (for tests)."""
    return Decimal(text.replace(",", ".")).quantize(Decimal("0.01"))
