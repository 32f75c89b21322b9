"""Seeded synthetic deliveries of the Limburg SME support programme (the eight `sources/programme_*`).

Two years of the programme (eight quarters ending with the last full quarter
before `today`, plus the current quarter up to yesterday), following the seed
mkb-aanpak-limburg (sections 4, 5.2, 5.3, 5.5, annex B):

- scouting: about `firms` registrations in Noord-, Midden- and Zuid-Limburg
  (about 25/25/50 %), by the frontdesks of the partners (municipal business
  contact centres of the region, Rabobank, Ondernemend Limburg, TRIAS) or by
  the firm itself (partner 'zelf', channel 'zelf'); slow in the pilot months;
- intake a few weeks later: admitted (about 47 %), referred to another
  initiative (about 27 %: OKB and MKBDoorgaan for firms with problems, LIOF,
  Brightlands, KvK, other) or not suitable (about 26 %, with the reason);
- the support process of an admitted firm: 25 to 35 held sessions with one
  MKB consultant (mc01-mc06, more of them as the programme grows), one or
  two a fortnight, 60 to 180 minutes, about 8 % no-shows on top; a decision
  at the end of each phase (verkenning, analyse, plan: doorgaan or stoppen
  with a reason, more often after no-shows); a delivered plan is mostly
  financeable, the financing requested and obtained in euros with cents;
  about 90 plans for 600 firms;
- masterclasses (one a month, the three rotating), frontdesk appointments
  (the scouting conversation, follow-ups, online or offline, physical or by
  video, held or no-show) and platform events of the programme's firms and
  of about half as many other Limburg firms that only use the platform:
  offers viewed and requested (more in Zuid and by larger firms), questions
  on the knowledge square with recurring themes, needs no offer serves and
  the sounding board's feedback (texts in `core.synthetic_programme_texts`).

Firms are drawn from `population` (the synthetic firms, province PV31, their
region from the municipality, larger firms more likely); where Limburg has
too few, new firms get fresh 8-digit KvK numbers. Partners deliver one file
per source per quarter (CSV, a Dutch spreadsheet's CSV for the plans, Parquet
from the consultants' and the platform's systems); a session correction
file and plan re-deliveries (financing obtained later) exercise 'the latest
delivery wins'. About 1 % of the rows are defective on purpose (a KvK number
of seven digits, an unknown code, a month written '2025-3', a date written
'31-03-2025'); the truth is kept in `programme_firms.parquet`,
`programme_defects.parquet` and `programme_texts.parquet`. This randomness
is test data, not privacy noise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core import reference
from core.files import private_dir
from core.landing import write_atomically
from core.sources import source
from core.synthetic_programme_texts import feedback, need, question

DEFAULT_SEED = 20261214
DEFECT_KINDS = ("bad_kvk", "unknown_code", "bad_month", "bad_date")
QUARTERS = 8  # two years of the programme

REGION_SHARES = {"noord": 0.25, "midden": 0.25, "zuid": 0.50}
NOORD = {"GM0889", "GM0893", "GM0907", "GM0944", "GM0983", "GM0984", "GM1507", "GM1894"}
MIDDEN = {"GM0946", "GM0957", "GM0988", "GM1640", "GM1641", "GM1669", "GM1711"}
REGIONAL_PARTNERS = {"noord": ["bcc_venlo", "bcc_venray"], "midden": ["bcc_roermond", "bcc_weert"],
                     "zuid": ["bcc_maastricht", "bcc_sittard_geleen", "bcc_heerlen"]}
# Who scouts: a municipal contact centre of the region, a province-wide partner, or the firm itself.
SCOUTS = {"regional": 0.38, "rabobank": 0.22, "ondernemend_limburg": 0.12, "trias": 0.10, "zelf": 0.18}
PROGRAMME_SIZES = {"0-1": 0.30, "2-9": 0.42, "10-49": 0.22, "50-249": 0.06}  # scouted firms: established SMEs with an ambition
PLATFORM_SIZES = {"0-1": 0.60, "2-9": 0.28, "10-49": 0.10, "50-249": 0.02}  # firms that only use the platform

OUTCOMES = ("toegelaten", "doorverwezen", "niet_geschikt")
OUTCOME_SHARES = {"0-1": (0.34, 0.26, 0.40), "2-9": (0.49, 0.28, 0.23), "10-49": (0.55, 0.27, 0.18), "50-249": (0.52, 0.33, 0.15)}
INITIATIVES = {"okb": 0.18, "mkbdoorgaan": 0.14, "liof": 0.24, "brightlands": 0.12, "kvk": 0.20, "anders": 0.12}
UNSUITABLE = {"geen_groeiambitie": 0.32, "problemen_eerst": 0.14, "te_klein": 0.18, "geen_tijd": 0.22, "past_elders_beter": 0.06, "anders": 0.08}

PHASES = ("verkenning", "analyse", "plan")
PHASE_SHARE = {"verkenning": 0.2, "analyse": 0.35}  # of a case's held sessions; the plan phase has the rest
STOP_CHANCE = {"verkenning": 0.18, "analyse": 0.16, "plan": 0.10}
STOP_PER_NO_SHOW = 0.04  # a no-show in the phase makes stopping this much more likely (commitment, seed 5.2)
STOP_REASONS = {
    "verkenning": {"ambitie_bijgesteld": 0.45, "geen_tijd": 0.35, "anders": 0.20},
    "analyse": {"niet_haalbaar": 0.35, "geen_tijd": 0.25, "financiering_elders": 0.15, "bedrijf_gestopt": 0.10, "ambitie_bijgesteld": 0.15},
    "plan": {"niet_haalbaar": 0.40, "financiering_elders": 0.35, "geen_tijd": 0.15, "anders": 0.10},
}
NO_SHOW = 0.08
CONSULTANT_START_MONTHS = {"mc01": 0, "mc02": 0, "mc03": 6, "mc04": 6, "mc05": 12, "mc06": 15}  # the team grows (seed 5.3, FTE table)
FINANCEABLE = 0.8
FINANCE_SOURCES = {"bank": 0.40, "investeringsfonds": 0.20, "subsidie": 0.14, "crowdfunding": 0.08, "informeel": 0.08, "eigen_middelen": 0.10}
REQUEST_MEDIAN = {"0-1": 40_000, "2-9": 120_000, "10-49": 350_000, "50-249": 900_000}  # euros

MASTERCLASSES = ("masterclass_strategie", "masterclass_financiering", "masterclass_digitalisering")
PLATFORM_ONLY_SHARE = 0.5  # other Limburg firms that use the platform, per programme firm
REGION_USE = {"noord": 0.7, "midden": 0.9, "zuid": 1.2}  # platform events per month, relative
SIZE_USE = {"0-1": 0.6, "2-9": 1.0, "10-49": 1.4, "50-249": 1.6}
EVENTS_PER_MONTH = 0.9
EVENT_KINDS = {"bekeken": 0.58, "aangevraagd": 0.14, "vraag": 0.17, "behoefte": 0.07, "klankbord": 0.04}
# Which offers a firm looks at, by size class (weights; the rest of the offers weigh 1).
OFFER_TASTE = {
    "0-1": {"crowdfunding": 3.0, "masterclass_digitalisering": 2.5, "kennisplein": 2.5, "commercieel_advies": 0.5,
            "limburgse_investeringsfonds": 0.3},
    "2-9": {"innovatievoucher": 2.0, "bankfinanciering": 2.0, "personeel_arbeidsmarkt": 2.0},
    "10-49": {"wbso": 3.0, "limburgse_investeringsfonds": 2.5, "export_advies": 2.5, "campus_kennismaking": 2.0, "crowdfunding": 0.4},
    "50-249": {"wbso": 3.5, "limburgse_investeringsfonds": 3.0, "export_advies": 3.0, "expert_pool": 2.0, "crowdfunding": 0.2},
}
ANSWERED = {"noord": 0.74, "midden": 0.80, "zuid": 0.86}


@dataclass(frozen=True)
class Window:
    """The programme's days: from the first day of its first quarter to yesterday (the last full quarter ends at `end`)."""

    start: date
    end: date
    yesterday: date

    def days(self) -> int:
        return (self.yesterday - self.start).days + 1


def programme_window(today: date) -> Window:
    """Eight quarters ending with the last full quarter before `today`, and the current quarter up to yesterday.

    >>> programme_window(date(2026, 12, 1))
    Window(start=datetime.date(2024, 10, 1), end=datetime.date(2026, 9, 30), yesterday=datetime.date(2026, 11, 30))
    """
    current = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = current - timedelta(days=1)
    first_month = current.year * 12 + current.month - 1 - 3 * QUARTERS
    return Window(date(first_month // 12, first_month % 12 + 1, 1), end, today - timedelta(days=1))


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _choose(shares: dict[str, float], rng: np.random.Generator, size: int | None = None):
    codes = list(shares)
    weights = np.array([shares[code] for code in codes], dtype=float)
    picks = rng.choice(len(codes), size=size, p=weights / weights.sum())
    return codes[int(picks)] if size is None else [codes[int(i)] for i in picks]


def _working_day(day: date) -> date:
    """The day itself on a weekday, else the Monday after (sessions and appointments are on working days)."""
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


# ---------------------------------------------------------------------------- firms and scouting


def _region_of(municipality: str) -> str:
    return "noord" if municipality in NOORD else "midden" if municipality in MIDDEN else "zuid"


def _new_kvk_numbers(count: int, taken: set[str], rng: np.random.Generator) -> list[str]:
    """`count` fresh 8-digit KvK numbers (the first digit not 0) that are not in `taken`."""
    found: list[str] = []
    while len(found) < count:
        for number in rng.integers(10_000_000, 100_000_000, size=2 * (count - len(found)) + 8).tolist():
            text = f"{number:08d}"
            if text not in taken:
                taken.add(text)
                found.append(text)
                if len(found) == count:
                    break
    return found


def draw_firms(population: pl.DataFrame, count: int, sizes: dict[str, float], rng: np.random.Generator, taken: set[str]) -> pl.DataFrame:
    """`count` Limburg firms (kvk_number, region, sector, size_class, from_population) with about the `sizes` mix: per
    region and size class firms of the population (province PV31, region by municipality) where there are enough,
    new firms (fresh KvK numbers) for the rest. `taken` holds the numbers already used, and gets these."""
    cells = list(zip(_choose(REGION_SHARES, rng, count), _choose(sizes, rng, count), strict=True))
    limburg = population.filter((pl.col("province") == "PV31") & ~pl.col("kvk_number").is_in(list(taken))).sort("kvk_number")
    limburg = limburg.with_columns(region=pl.col("municipality").map_elements(_region_of, return_dtype=pl.Utf8))
    sections = reference.sbi_sections()
    shares = sections["population_share"].to_numpy()
    rows: list[dict] = []
    for region in REGION_SHARES:
        for size in sizes:
            wanted = cells.count((region, size))
            pool = limburg.filter((pl.col("region") == region) & (pl.col("size_class") == size))
            chosen = rng.choice(pool.height, size=min(wanted, pool.height), replace=False).tolist() if pool.height and wanted else []
            rows += [{"kvk_number": pool["kvk_number"][i], "region": region, "sector": pool["sector"][i], "size_class": size,
                      "from_population": True} for i in chosen]
            taken.update(pool["kvk_number"][i] for i in chosen)
            missing = wanted - len(chosen)
            sectors = rng.choice(sections["code"].to_numpy(), size=missing, p=shares / shares.sum()).tolist()
            rows += [{"kvk_number": number, "region": region, "sector": sector, "size_class": size, "from_population": False}
                     for number, sector in zip(_new_kvk_numbers(missing, taken | set(population["kvk_number"]), rng), sectors, strict=True)]
    schema = {"kvk_number": pl.Utf8, "region": pl.Utf8, "sector": pl.Utf8, "size_class": pl.Utf8, "from_population": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema)
    return frame[rng.permutation(len(rows)).tolist()] if rows else frame


def _registration_days(count: int, window: Window, rng: np.random.Generator) -> list[date]:
    """Registration dates: slower in the pilot's first quarter, steady after, and fewer in the last half year, when the
    consultants' agendas are full (working days only)."""
    days = np.arange(window.days())
    weights = np.minimum(np.minimum(1.0, 0.5 + days / 180), np.clip((window.days() - days) / 300, 0.5, 1.0))
    picked = np.sort(rng.choice(days, size=count, p=weights / weights.sum()))
    return [min(_working_day(window.start + timedelta(days=int(d))), window.yesterday) for d in picked]


def scout(firms: pl.DataFrame, window: Window, rng: np.random.Generator) -> list[dict]:
    """One registration per firm: case number, date, region, the partner that scouted it (or 'zelf'), sector, size."""
    registered = _registration_days(firms.height, window, rng)
    per_year: dict[int, int] = {}
    rows = []
    for firm, day in zip(firms.iter_rows(named=True), registered, strict=True):
        per_year[day.year] = per_year.get(day.year, 0) + 1
        scout_kind = _choose(SCOUTS, rng)
        regional = REGIONAL_PARTNERS[firm["region"]]
        partner = regional[int(rng.integers(len(regional)))] if scout_kind == "regional" else scout_kind
        rows.append({"registration_id": f"MKB-{day.year}-{per_year[day.year]:04d}", "kvk_number": firm["kvk_number"], "registered_on": day,
                     "region": firm["region"], "partner": partner, "channel": "zelf" if partner == "zelf" else "frontdesk",
                     "sector": firm["sector"], "size_class": firm["size_class"]})
    return rows


def intake(registrations: list[dict], window: Window, rng: np.random.Generator) -> list[dict]:
    """The intake of each registration whose intake date has passed: admitted, referred (where to) or not suitable (why)."""
    rows = []
    for case in registrations:
        day = _working_day(case["registered_on"] + timedelta(days=int(rng.integers(7, 36))))
        if day > window.yesterday:
            continue
        outcome = OUTCOMES[int(rng.choice(3, p=OUTCOME_SHARES[case["size_class"]]))]
        referred = _choose(INITIATIVES, rng) if outcome == "doorverwezen" else None
        reason = None
        if outcome == "niet_geschikt":
            reason = _choose(UNSUITABLE, rng)
        elif outcome == "doorverwezen" and rng.random() < 0.7:  # OKB and MKBDoorgaan serve firms with problems (seed 5.3)
            reason = "problemen_eerst" if referred in ("okb", "mkbdoorgaan") else "past_elders_beter"
        rows.append({"registration_id": case["registration_id"], "kvk_number": case["kvk_number"], "intake_on": day,
                     "outcome": outcome, "referred_to": referred, "intake_reason": reason})
    return rows


# ---------------------------------------------------------------------------- the support process


def _consultant(day: date, window: Window, rng: np.random.Generator) -> str:
    months = (day.year - window.start.year) * 12 + day.month - window.start.month
    available = [code for code, start in CONSULTANT_START_MONTHS.items() if months >= start]
    return available[int(rng.integers(len(available)))]


def _next_session(day: date, rng: np.random.Generator) -> date:
    """One or two sessions a fortnight: a week or two later (give or take a day or two), never in the summer break."""
    step = int(rng.choice([7, 14], p=[0.6, 0.4])) + int(rng.integers(-2, 3))
    following = day + timedelta(days=max(step, 4))
    if date(following.year, 7, 20) <= following <= date(following.year, 8, 14):
        following = date(following.year, 8, 17)
    return _working_day(following)


def _phase_sizes(held: int) -> dict[str, int]:
    first = round(held * PHASE_SHARE["verkenning"])
    second = round(held * PHASE_SHARE["analyse"])
    return {"verkenning": first, "analyse": second, "plan": held - first - second}


@dataclass
class Case:
    """The records of one admitted firm's support process (dicts in landing columns, dates as dates)."""

    sessions: list[dict]
    decisions: list[dict]
    plan: dict | None
    last_phase: str | None  # the last phase decided (None: still in the first one)
    stopped: bool


def support_process(case: dict, admitted_on: date, window: Window, rng: np.random.Generator) -> Case:
    """Sessions phase by phase up to yesterday, a decision at the end of each phase, the plan if the last says doorgaan."""
    consultant = _consultant(admitted_on, window, rng)
    ids = {"registration_id": case["registration_id"], "kvk_number": case["kvk_number"], "consultant": consultant}
    sizes = _phase_sizes(int(rng.integers(25, 36)))
    day = _working_day(admitted_on + timedelta(days=int(rng.integers(5, 22))))
    sessions, decisions, last_phase = [], [], None
    for phase in PHASES:
        no_shows = 0
        held = 0
        while held < sizes[phase]:
            if day > window.yesterday:
                return Case(sessions, decisions, None, last_phase, False)
            absent = rng.random() < NO_SHOW
            no_shows += absent
            held += not absent
            minutes = 0 if absent else int(rng.choice([60, 75, 90, 90, 105, 120, 120, 150, 180]))
            sessions.append({**ids, "session_id": f"{case['registration_id']}-S{len(sessions) + 1:02d}", "session_on": day,
                             "duration_minutes": minutes, "status": "niet_verschenen" if absent else "gehouden"})
            day = _next_session(day, rng)
        decided = _working_day(sessions[-1]["session_on"] + timedelta(days=int(rng.integers(0, 5))))
        if decided > window.yesterday:
            return Case(sessions, decisions, None, last_phase, False)
        stop = rng.random() < STOP_CHANCE[phase] + STOP_PER_NO_SHOW * no_shows
        decisions.append({**ids, "decision_id": f"{case['registration_id']}-{phase}", "decided_on": decided, "phase": phase,
                          "decision": "stoppen" if stop else "doorgaan", "stop_reason": _choose(STOP_REASONS[phase], rng) if stop else None})
        last_phase = phase
        if stop:
            return Case(sessions, decisions, None, phase, True)
        day = _next_session(decided, rng)
    return Case(sessions, decisions, business_plan(case, decided, window, rng), "plan", False)


def business_plan(case: dict, delivered_on: date, window: Window, rng: np.random.Generator) -> dict:
    """The delivered plan: financeable or not, financing requested (euros with cents) and, once it came in, obtained and from where."""
    financeable = bool(rng.random() < FINANCEABLE)
    asks = financeable or rng.random() < 0.5
    requested = round(float(np.exp(rng.normal(np.log(REQUEST_MEDIAN[case["size_class"]]), 0.6))), 2) if asks else None
    obtained_on = delivered_on + timedelta(days=int(rng.integers(20, 160)))
    gets = financeable and rng.random() < 0.75
    obtained = round(requested * float(rng.uniform(0.5, 1.0)), 2) if gets else None
    return {"registration_id": case["registration_id"], "kvk_number": case["kvk_number"], "delivered_on": delivered_on,
            "financeable": financeable, "financing_requested": requested, "financing_obtained": obtained,
            "finance_source": _choose(FINANCE_SOURCES, rng) if gets else None, "obtained_on": obtained_on if gets else None}


# ---------------------------------------------------------------------------- masterclasses, frontdesk, platform


def masterclasses(users: pl.DataFrame, window: Window, scale: float, rng: np.random.Generator) -> list[dict]:
    """One masterclass a month from the third month on (the three in turn, on a Thursday mid-month); firms that are
    known by then sign up (firms in a support process three times as often), about four in five attend."""
    rows, month = [], 2
    while True:
        first = date(window.start.year + (window.start.month - 1 + month) // 12, (window.start.month - 1 + month) % 12 + 1, 1)
        held_on = first + timedelta(days=14 + (3 - (first + timedelta(days=14)).weekday()) % 7)
        if held_on > window.yesterday:
            return rows
        topic = MASTERCLASSES[month % 3]
        known = users.filter(pl.col("known_from") <= held_on)
        if known.height:
            weights = np.where(known["supported"].to_numpy(), 3.0, 1.0)
            count = min(known.height, max(2, int(rng.poisson(18 * scale))))
            for number, index in enumerate(rng.choice(known.height, size=count, replace=False, p=weights / weights.sum()).tolist(), 1):
                rows.append({"attendance_id": f"MC-{held_on:%Y-%m-%d}-{topic.removeprefix('masterclass_')[:4]}-{number:03d}",
                             "kvk_number": known["kvk_number"][index], "masterclass": topic, "held_on": held_on,
                             "attended": bool(rng.random() < 0.78)})
        month += 1


def _frontdesk_partner(region: str, rng: np.random.Generator) -> str:
    """Where a firm meets a frontdesk: its region's contact centre half of the time, else a province-wide partner."""
    draw = rng.random()
    if draw < 0.5:
        regional = REGIONAL_PARTNERS[region]
        return regional[int(rng.integers(len(regional)))]
    return "rabobank" if draw < 0.8 else "ondernemend_limburg" if draw < 0.9 else "trias"


def appointments(registrations: list[dict], users: pl.DataFrame, window: Window, rng: np.random.Generator) -> list[dict]:
    """Frontdesk appointments: the scouting conversation before a frontdesk registration (held), and follow-ups of
    programme and platform firms; booked online more often as the platform matures, about 30 % by video, 10 % no-show."""
    visits = [(case["kvk_number"], case["partner"], max(window.start, case["registered_on"] - timedelta(days=int(rng.integers(0, 15)))), True)
              for case in registrations if case["channel"] == "frontdesk"]
    for firm in users.iter_rows(named=True):
        for _ in range(int(rng.poisson(0.5 if firm["registered"] else 0.8))):
            day = firm["known_from"] + timedelta(days=int(rng.integers(0, max(1, (window.yesterday - firm["known_from"]).days + 1))))
            visits.append((firm["kvk_number"], _frontdesk_partner(firm["region"], rng), day, False))
    rows = []
    for kvk, partner, day, scouting in sorted(visits, key=lambda visit: (visit[2], visit[0])):
        day = min(_working_day(day), window.yesterday)
        progress = (day - window.start).days / max(1, window.days())
        rows.append({"appointment_id": f"AFS-{day.year}-{len(rows) + 1:05d}", "kvk_number": kvk, "partner": partner, "appointment_on": day,
                     "booked": "online" if rng.random() < 0.25 + 0.35 * progress else "offline",
                     "form": "video" if rng.random() < 0.3 else "fysiek",
                     "status": "gehouden" if scouting or rng.random() >= 0.1 else "niet_verschenen"})
    return rows


def _offer_weights(size_class: str) -> tuple[list[str], np.ndarray]:
    offers = reference.domain_codes("programme_offer")
    weights = np.array([OFFER_TASTE[size_class].get(offer, 1.0) for offer in offers])
    return offers, weights / weights.sum()


def platform_events(users: pl.DataFrame, window: Window, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Platform events per firm and month from the day it is known (more in Zuid, by larger firms, by supported firms),
    and the planted theme of every text."""
    rows = []
    for firm in users.iter_rows(named=True):
        rate = EVENTS_PER_MONTH * REGION_USE[firm["region"]] * SIZE_USE[firm["size_class"]] * (1.6 if firm["supported"] else 1.0)
        span = (window.yesterday - firm["known_from"]).days + 1
        count = int(rng.poisson(rate * span / 30.4))
        days = sorted(firm["known_from"] + timedelta(days=int(d)) for d in rng.integers(0, span, size=count))
        offers, weights = _offer_weights(firm["size_class"])
        for day in days:
            kind = _choose(EVENT_KINDS, rng)
            if kind == "klankbord" and not (firm["supported"] and day >= firm["supported_from"]):
                kind = "bekeken"  # the sounding board is made of firms that were supported (seed 5.5)
            event = {"kvk_number": firm["kvk_number"], "region": firm["region"], "size_class": firm["size_class"], "event_on": day, "kind": kind, "offer": None, "topic": None, "text": None,
                     "answered": None, "answer_hours": None, "theme": None}
            _fill_event(event, firm["region"], window, offers, weights, rng)
            rows.append(event)
    rows.sort(key=lambda event: (event["event_on"], event["kvk_number"]))
    planted = []
    for position, event in enumerate(rows, 1):
        event["event_id"] = f"EV-{event['event_on']:%Y%m}-{position:06d}"
        theme = event.pop("theme")
        if theme is not None:
            planted.append({"event_id": event["event_id"], "kind": event["kind"], "theme": theme, "text": event["text"]})
    return rows, planted


def _fill_event(event: dict, region: str, window: Window, offers: list[str], weights: np.ndarray, rng: np.random.Generator) -> None:
    """The fields of one event of its kind: the offer viewed or requested, or the text (theme, topic; for a question
    whether and how fast it was answered, an answer that would come after yesterday not yet)."""
    kind = event["kind"]
    if kind in ("bekeken", "aangevraagd"):
        offer = offers[int(rng.choice(len(offers), p=weights))]
        event["offer"] = "bankfinanciering" if kind == "aangevraagd" and offer == "kennisplein" else offer
    elif kind == "vraag":
        event["theme"], event["topic"], event["text"] = question(rng)
        event["offer"] = "kennisplein"
        hours = int(np.clip(np.exp(rng.normal(np.log(18), 1.0)), 1, 720))
        answered = rng.random() < ANSWERED[region] and event["event_on"] + timedelta(hours=hours) < window.yesterday
        event["answered"], event["answer_hours"] = bool(answered), hours if answered else None
    elif kind == "behoefte":
        event["theme"], event["topic"], event["text"] = need(rng)
    else:
        event["theme"], event["text"] = feedback(rng)


# ---------------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class Delivery:
    """How a source's records are delivered: file name prefix, format, the date that names the month, a defect's target."""

    prefix: str
    format: str  # csv, csv_nl (';', decimal comma, ja/nee: a Dutch spreadsheet) or parquet
    date_field: str
    code_field: str
    unknown_code: str


DELIVERIES = {
    "programme_registrations": Delivery("aanmeldingen", "csv", "registered_on", "region", "oost"),
    "programme_intakes": Delivery("intakes", "csv", "intake_on", "outcome", "wachtlijst"),
    "programme_sessions": Delivery("sessies", "parquet", "session_on", "consultant", "mc09"),
    "programme_decisions": Delivery("besluiten", "csv", "decided_on", "phase", "implementatie"),
    "programme_plans": Delivery("bedrijfsplannen", "csv_nl", "delivered_on", "finance_source", "familielening"),
    "programme_masterclasses": Delivery("masterclasses", "parquet", "held_on", "masterclass", "masterclass_export"),
    "programme_appointments": Delivery("afspraken", "csv", "appointment_on", "form", "telefonisch"),
    "programme_platform": Delivery("platform", "parquet", "event_on", "kind", "gedeeld"),
}


def delivery_time(quarter: str, order: int, window: Window) -> datetime:
    """When a quarter's file arrives: two days after the quarter, at seven (a few minutes apart per source);
    the current quarter's file (or one that would arrive from today) came in yesterday evening."""
    year, number = int(quarter[:4]), int(quarter[-1])
    after = date(year + (number == 4), 3 * number % 12 + 1, 1) + timedelta(days=2)
    arrives = datetime.combine(_working_day(after), time(7, 0)) + timedelta(minutes=5 * order)
    latest = datetime.combine(window.yesterday, time(20, 0)) + timedelta(minutes=5 * order)
    return min(arrives, latest)


def _text_rows(records: list[dict], name: str, style: str, delivered_at: datetime) -> pl.DataFrame:
    """Records as a sender writes them: every landing column as text, in the declared order."""
    declared = source(name)
    columns: dict[str, list] = {column: [] for column in declared.landing_columns()}
    date_field = DELIVERIES[name].date_field
    for record in records:
        for column, field in declared.fields.items():
            value = delivered_at.strftime("%Y-%m-%dT%H:%M:%S") if column == declared.submitted_at else \
                f"{record[date_field]:%Y-%m}" if column == declared.period.field else record.get(column)
            columns[column].append(_as_text(value, field.type, style))
    return pl.DataFrame(columns, schema={column: pl.Utf8 for column in columns})


def _as_text(value, kind: str, style: str) -> str | None:
    if value is None:
        return None
    if kind == "flag":
        return ("ja" if value else "nee") if style == "csv_nl" else ("true" if value else "false")
    if kind == "money":
        text = f"{value:.2f}"
        return text.replace(".", ",") if style == "csv_nl" else text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def with_defects(rows: pl.DataFrame, name: str, rate: float, rng: np.random.Generator) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """About `rate` of the rows made defective, one kind each; returns the rows and (row_number, kind) of each defect."""
    count = int(rng.binomial(rows.height, rate)) if rows.height else 0
    picked = sorted(rng.choice(rows.height, size=count, replace=False).tolist()) if count else []
    spec, unit = DELIVERIES[name], source(name).unit_field
    columns = {column: rows[column].to_list() for column in (unit, "month", spec.date_field, spec.code_field)}
    defects = []
    for index in picked:
        kind = DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]
        if kind == "bad_kvk":
            columns[unit][index] = columns[unit][index][:7]
        elif kind == "unknown_code":
            columns[spec.code_field][index] = spec.unknown_code
        elif kind == "bad_month":
            columns["month"][index] = columns["month"][index][:5] + str(int(columns["month"][index][5:]))
            if len(columns["month"][index]) == 7:  # October to December stay valid written short; make it the 13th month
                columns["month"][index] = columns["month"][index][:5] + "13"
        else:
            year, month, day = columns[spec.date_field][index].split("-")
            columns[spec.date_field][index] = f"{day}-{month}-{year}"
        defects.append((index + 1, kind))
    return rows.with_columns([pl.Series(column, values, pl.Utf8) for column, values in columns.items()]), defects


def _as_parquet(text: pl.DataFrame, name: str) -> bytes:
    """A system's Parquet export: each column in its own type (timestamps, dates, booleans, integers, Decimal(12,2) money),
    from the text rows; a column that holds a defect no longer of its type stays text."""
    declared = source(name)
    typed = []
    for column, field in declared.fields.items():
        values = text[column]
        if field.type in ("date", "timestamp"):
            shape = "%Y-%m-%d" if field.type == "date" else "%Y-%m-%dT%H:%M:%S"
            parsed = values.str.strptime(pl.Date if field.type == "date" else pl.Datetime("us"), shape, strict=False)
            values = parsed if parsed.null_count() == values.null_count() else values
        elif field.type == "flag":
            values = values.replace_strict({"true": True, "false": False}, default=None, return_dtype=pl.Boolean)
        elif field.type == "integer":
            values = values.cast(pl.Int64)
        elif field.type == "money":
            values = values.cast(pl.Decimal(12, 2))
        typed.append(values.alias(column))
    buffer = io.BytesIO()
    pl.DataFrame(typed).write_parquet(buffer)
    return buffer.getvalue()


def write_delivery(landing: Path, name: str, file_stem: str, records: list[dict], delivered_at: datetime, rate: float,
                   rng: np.random.Generator, defects: list[tuple[str, int, str]]) -> Path:
    """One delivery file of source `name` into `landing/<name>/`, with about `rate` defective rows (noted in `defects`)."""
    spec = DELIVERIES[name]
    text, found = with_defects(_text_rows(records, name, spec.format, delivered_at), name, rate, rng)
    file_name = f"{file_stem}.{'parquet' if spec.format == 'parquet' else 'csv'}"
    defects.extend((name, file_name, row, kind) for row, kind in found)
    if spec.format == "parquet":
        content = _as_parquet(text, name)
    else:
        content = text.write_csv(separator=";" if spec.format == "csv_nl" else ",").encode("utf-8")
    return write_atomically(landing / name, file_name, content)


def _plan_states(plan: dict, window: Window) -> list[dict]:
    """A plan as delivered: at once with its financing if that came in the same quarter, else first without it and
    again (same month, a later delivery) in the quarter the financing came in, if that has passed."""
    obtained_on = plan["obtained_on"]
    state = {key: value for key, value in plan.items() if key != "obtained_on"}
    if obtained_on is None or quarter_of(obtained_on) == quarter_of(plan["delivered_on"]):
        return [{**state, "reported_on": plan["delivered_on"]}]
    first = {**state, "financing_obtained": None, "finance_source": None, "reported_on": plan["delivered_on"]}
    return [first] + ([{**state, "reported_on": obtained_on}] if obtained_on <= window.yesterday else [])


def _users(registrations: list[dict], intakes: list[dict], others: pl.DataFrame, window: Window, rng: np.random.Generator) -> pl.DataFrame:
    """Every firm that uses the platform, masterclasses or frontdesks: the programme's firms (known a while before they
    registered; supported from their intake if admitted) and firms that only use the platform (known from any day)."""
    admitted = {row["registration_id"]: row["intake_on"] for row in intakes if row["outcome"] == "toegelaten"}
    never = date.max
    rows = [{"kvk_number": case["kvk_number"], "region": case["region"], "size_class": case["size_class"],
             "known_from": max(window.start, case["registered_on"] - timedelta(days=int(rng.integers(0, 60)))), "registered": True,
             "supported": case["registration_id"] in admitted, "supported_from": admitted.get(case["registration_id"], never)}
            for case in registrations]
    for firm in others.iter_rows(named=True):
        rows.append({"kvk_number": firm["kvk_number"], "region": firm["region"], "size_class": firm["size_class"],
                     "known_from": window.start + timedelta(days=int(rng.integers(0, window.days()))), "registered": False,
                     "supported": False, "supported_from": never})
    schema = {"kvk_number": pl.Utf8, "region": pl.Utf8, "size_class": pl.Utf8, "known_from": pl.Date, "registered": pl.Boolean,
              "supported": pl.Boolean, "supported_from": pl.Date}
    return pl.DataFrame(rows, schema=schema)


def _session_corrections(sessions: list[dict], window: Window, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Sessions of the last full quarter of which about 2 % of the held ones were first delivered as a no-show of 0 minutes
    (a consultant's slip), and the correct rows a week later: (the rows as first delivered, the corrections)."""
    quarter = quarter_of(window.end)
    if delivery_time(quarter, 2, window) + timedelta(days=6) > datetime.combine(window.yesterday, time(21, 0)):
        return sessions, []
    delivered, corrections = [], []
    for session in sessions:
        if quarter_of(session["session_on"]) == quarter and session["status"] == "gehouden" and rng.random() < 0.02:
            delivered.append({**session, "status": "niet_verschenen", "duration_minutes": 0})
            corrections.append(session)
        else:
            delivered.append(session)
    return delivered, corrections


def _by_quarter(records: list[dict], date_field: str) -> dict[str, list[dict]]:
    quarters: dict[str, list[dict]] = {}
    for record in records:
        quarters.setdefault(quarter_of(record.get("reported_on") or record[date_field]), []).append(record)
    return dict(sorted(quarters.items()))


def generate_programme(landing: Path, synthetic: Path, population: pl.DataFrame, today: date, firms: int = 600,
                       seed: int = DEFAULT_SEED, defect_rate: float = 0.01) -> list[Path]:
    """Write the programme's quarterly deliveries of all eight sources into `landing/programme_*/`; returns the files.

    `firms` is the number of scouted firms (600: about 280 admitted and 90 plans; about half as many other firms use
    the platform). The truth goes to `synthetic/`: programme_firms.parquet (per firm its funnel),
    programme_defects.parquet (file, row and kind of every defect) and programme_texts.parquet (the planted themes).
    """
    rng = np.random.default_rng(seed)
    window = programme_window(today)
    taken: set[str] = set()
    registrations = scout(draw_firms(population, firms, PROGRAMME_SIZES, rng, taken), window, rng)
    intakes = intake(registrations, window, rng)
    by_case = {case["registration_id"]: case for case in registrations}
    cases = {row["registration_id"]: support_process(by_case[row["registration_id"]], row["intake_on"], window, rng)
             for row in intakes if row["outcome"] == "toegelaten"}
    users = _users(registrations, intakes, draw_firms(population, round(PLATFORM_ONLY_SHARE * firms), PLATFORM_SIZES, rng, taken), window, rng)
    events, planted = platform_events(users, window, rng)
    sessions, corrections = _session_corrections([s for case in cases.values() for s in case.sessions], window, rng)
    records = {
        "programme_registrations": registrations,
        "programme_intakes": intakes,
        "programme_sessions": sessions,
        "programme_decisions": [d for case in cases.values() for d in case.decisions],
        "programme_plans": [state for case in cases.values() if case.plan for state in _plan_states(case.plan, window)],
        "programme_masterclasses": masterclasses(users, window, firms / 600, rng),
        "programme_appointments": appointments(registrations, users, window, rng),
        "programme_platform": events,
    }
    files, defects = [], []
    for order, (name, rows) in enumerate(records.items()):
        spec = DELIVERIES[name]
        for quarter, quarter_rows in _by_quarter(rows, spec.date_field).items():
            delivered = delivery_time(quarter, order, window)
            files.append(write_delivery(landing, name, f"{spec.prefix}_{quarter}", quarter_rows, delivered, defect_rate, rng, defects))
    if corrections:
        quarter = quarter_of(window.end)
        delivered = delivery_time(quarter, 2, window) + timedelta(days=6)
        files.append(write_delivery(landing, "programme_sessions", f"sessies_{quarter}_correctie", corrections, delivered, 0.0, rng, defects))
    _write_truth(synthetic, registrations, intakes, cases, defects, planted)
    return files


def _firm_truth(case: dict, outcome: str | None, process: Case | None) -> dict:
    """One programme firm's funnel as generated: how far it came, its sessions and its plan."""
    plan = process.plan if process else None
    return {
        "kvk_number": case["kvk_number"], "registration_id": case["registration_id"], "region": case["region"], "partner": case["partner"],
        "channel": case["channel"], "sector": case["sector"], "size_class": case["size_class"], "registered_on": case["registered_on"],
        "outcome": outcome, "last_phase": process.last_phase if process else None, "stopped": process.stopped if process else None,
        "held_sessions": sum(s["status"] == "gehouden" for s in process.sessions) if process else 0,
        "no_shows": sum(s["status"] != "gehouden" for s in process.sessions) if process else 0,
        "plan_delivered": plan is not None, "financeable": plan["financeable"] if plan else None,
    }


def _write_truth(synthetic: Path, registrations: list[dict], intakes: list[dict], cases: dict[str, Case], defects: list, planted: list) -> None:
    outcomes = {row["registration_id"]: row["outcome"] for row in intakes}
    firms = [_firm_truth(case, outcomes.get(case["registration_id"]), cases.get(case["registration_id"])) for case in registrations]
    schema = {"kvk_number": pl.Utf8, "registration_id": pl.Utf8, "region": pl.Utf8, "partner": pl.Utf8, "channel": pl.Utf8,
              "sector": pl.Utf8, "size_class": pl.Utf8, "registered_on": pl.Date, "outcome": pl.Utf8, "last_phase": pl.Utf8,
              "stopped": pl.Boolean, "held_sessions": pl.Int64, "no_shows": pl.Int64, "plan_delivered": pl.Boolean, "financeable": pl.Boolean}
    private_dir(synthetic)
    pl.DataFrame(firms, schema=schema).write_parquet(synthetic / "programme_firms.parquet")
    pl.DataFrame(defects, schema={"source": pl.Utf8, "file_name": pl.Utf8, "row_number": pl.Int64, "kind": pl.Utf8},
                 orient="row").write_parquet(synthetic / "programme_defects.parquet")
    pl.DataFrame(planted, schema={"event_id": pl.Utf8, "kind": pl.Utf8, "theme": pl.Utf8, "text": pl.Utf8}).write_parquet(
        synthetic / "programme_texts.parquet")
