"""Seeded synthetic DIS data: five realistic proposals and the firms' estimates of what each would do to them.

The firms are the synthetic CGC population (`data/synthetic/firms.parquet`),
so a firm that answers the monthly survey also simulates proposals. Each
proposal hits sectors and size classes differently (a higher minimum wage
hits hospitality, retail and agriculture and the smallest employers; a CO2
levy hits industry, transport, construction and agriculture; ...), with a
firm's own spread around that, answers in euros or in percent, empty
answers, Dutch free text, and a few defective rows that must end up in
quarantine. This randomness is test data, not privacy noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core.landing import write_atomically
from core.sources import source

# Typical yearly costs of a firm per size class (euros): the scale of a cost change.
COST_SCALE = {"0-1": 3_000, "2-9": 15_000, "10-49": 80_000, "50-249": 400_000}
EMPLOYEES = {"0-1": 1, "2-9": 5, "10-49": 25, "50-249": 120}


@dataclass(frozen=True)
class ProposalEffect:
    """How a proposal tends to hit firms: a cost change in percent of costs, per sector; size and other effects."""

    proposal: dict
    cost_percent: dict[str, float]  # sector -> mean cost change in % (others: default)
    default_cost_percent: float
    small_firm_factor: float  # how much harder the smallest firms are hit (x for 0-1, scaled down to 1 for 50-249)
    fte_per_percent: float  # FTE change per employee per percent cost change (negative: fewer staff)
    admin_hours: dict[str, float]  # size class -> mean extra hours per month (negative: fewer)
    worse_share: float  # share answering 'worse' at an average hit
    texts: list[str]
    opens_days: int  # relative to today: when the simulation opened
    closes_days: int  # relative to today: when it closes (negative: closed already)


def _proposal(pid, kind, title, summary, ministry, phase, phase_days, opens, closes, articles) -> dict:
    return {"id": pid, "kind": kind, "title": title, "summary": summary, "ministry": ministry, "phase": phase,
            "phase_dates": {phase: phase_days}, "simulation_opens": opens, "simulation_closes": closes, "articles": articles}


def proposal_effects() -> list[ProposalEffect]:
    """The five demo proposals (dates are filled in relative to the day of generation)."""
    return [
        ProposalEffect(
            _proposal("minimumloon-2027", "wetsvoorstel", "Verhoging van het wettelijk minimumloon met 5 procent",
                      "Het wettelijk minimumloon gaat op 1 januari 2027 met 5 procent omhoog, bovenop de gewone indexatie. "
                      "Werkgevers betalen meer loon aan medewerkers met een laag loon. Het doel is dat werken meer oplevert.",
                      "Sociale Zaken en Werkgelegenheid", "tweede_kamer", None, None, None,
                      [{"number": "Artikel I", "title": "Hoogte van het minimumloon", "summary": "Het minimumloon stijgt met 5 procent.",
                       "question": "Is 5 procent te veel, goed of te weinig?", "options": "te veel; goed; te weinig"},
                       {"number": "Artikel II", "title": "Inwerkingtreding", "summary": "De wet geldt vanaf 1 januari 2027.",
                       "question": "Is 1 januari 2027 haalbaar voor uw bedrijf?", "options": "ja; nee, later; weet ik niet"}]),
            {"I": 4.0, "G": 2.5, "A": 3.0, "N": 2.5, "S": 2.0}, 0.8, 1.6, -0.02,
            {"0-1": 0.5, "2-9": 1.0, "10-49": 2.0, "50-249": 4.0}, 0.35,
            ["Onze marges in de horeca zijn al dun; dit kunnen we niet doorberekenen.",
             "We nemen dan minder jongeren aan in de winkel.", "Voor ons bedrijf verandert er weinig, we betalen al boven het minimum."],
            -120, -30),
        ProposalEffect(
            _proposal("co2-heffing-mkb", "wetsvoorstel", "CO2-heffing voor het mkb",
                      "Bedrijven betalen een heffing per ton CO2 die ze uitstoten, ook kleinere bedrijven. "
                      "De opbrengst gaat deels terug naar bedrijven die verduurzamen. Het doel is minder uitstoot.",
                      "Financiën", "internetconsultatie", None, None, None,
                      [{"number": "Artikel 1", "title": "Wie betaalt de heffing", "summary": "Bedrijven met een eigen uitstoot."},
                       {"number": "Artikel 4", "title": "Tarief", "summary": "Een bedrag per ton CO2 dat elk jaar stijgt.",
                       "question": "Hoe snel mag het tarief stijgen?", "options": "niet; langzaam; zoals voorgesteld"},
                       {"number": "Artikel 7", "title": "Teruggave", "summary": "Geld terug voor investeringen in verduurzaming."}]),
            {"C": 3.5, "H": 4.0, "F": 2.5, "A": 3.0, "D": 2.0, "B": 3.0}, 0.3, 1.2, -0.01,
            {"0-1": 1.0, "2-9": 2.5, "10-49": 6.0, "50-249": 12.0}, 0.3,
            ["De heffing komt bovenop de hoge energieprijzen; elektrische vrachtwagens zijn nog te duur.",
             "We moeten onze uitstoot gaan meten, dat kost veel tijd.", "Als we de teruggave krijgen, investeren we in zonnepanelen."],
            -90, -10),
        ProposalEffect(
            _proposal("aov-zelfstandigen", "wetsvoorstel", "Verplichte arbeidsongeschiktheidsverzekering voor zelfstandigen",
                      "Alle zelfstandigen zonder personeel moeten zich verzekeren tegen arbeidsongeschiktheid. "
                      "Ze betalen een premie die afhangt van hun inkomen. Het doel is dat niemand zonder inkomen komt te zitten als hij ziek wordt.",
                      "Sociale Zaken en Werkgelegenheid", "tweede_kamer", None, None, None,
                      [{"number": "Artikel 2", "title": "Verplichte verzekering", "summary": "Geldt voor elke zelfstandige."},
                       {"number": "Artikel 5", "title": "Premie", "summary": "Een percentage van het inkomen, met een maximum."}]),
            {"F": 1.5, "M": 1.0, "Q": 1.5, "R": 1.5}, 1.0, 3.0, 0.0,
            {"0-1": 1.0, "2-9": 0.5, "10-49": 0.2, "50-249": 0.1}, 0.2,
            ["Als zzp'er betaal ik straks honderden euro's per maand extra.", "Ik ben al verzekerd, dus dit maakt mijn verzekering duurder.",
             "Goed dat iedereen verzekerd is, maar de premie moet lager."],
            -20, 25),
        ProposalEffect(
            _proposal("box2-tarief", "beleidsmaatregel", "Hoger tarief in box 2 voor aanmerkelijk belang",
                      "Het belastingtarief in box 2 gaat omhoog voor winst die een directeur-grootaandeelhouder uit zijn bv haalt. "
                      "Ondernemers met een bv betalen meer belasting over dividend. Het doel is dat werken en ondernemen gelijker worden belast.",
                      "Financiën", "concept", None, None, None,
                      [{"number": "Onderdeel A", "title": "Tarief box 2", "summary": "Het hoge tarief gaat met 2 procentpunt omhoog."}]),
            {"K": 1.5, "M": 1.2, "L": 1.5, "J": 1.0}, 0.7, 0.8, -0.005,
            {"0-1": 0.5, "2-9": 1.0, "10-49": 1.0, "50-249": 1.5}, 0.25,
            ["We keren minder dividend uit en houden meer geld in de bv.", "Dit raakt vooral onze pensioenopbouw als dga.",
             "Voor mijn eenmanszaak maakt dit niets uit."],
            -10, 40),
        ProposalEffect(
            _proposal("minder-rapportage", "beleidsmaatregel", "Minder rapportageverplichtingen voor het mkb",
                      "Kleine bedrijven hoeven minder vaak gegevens aan de overheid te sturen. Dubbele uitvragen worden geschrapt "
                      "en gegevens worden één keer opgevraagd. Het doel is minder regeldruk.",
                      "Economische Zaken", "internetconsultatie", None, None, None,
                      [{"number": "Maatregel 1", "title": "Eén keer uitvragen", "summary": "Overheden delen gegevens die al bekend zijn."},
                       {"number": "Maatregel 2", "title": "Minder vaak rapporteren", "summary": "Jaarlijks in plaats van per kwartaal.",
                       "question": "Welke rapportage kost u nu de meeste tijd?"}]),
            {"F": -0.6, "H": -0.5, "C": -0.5}, -0.3, 1.3, 0.003,
            {"0-1": -1.5, "2-9": -4.0, "10-49": -8.0, "50-249": -12.0}, 0.05,
            ["Eindelijk minder formulieren; dat scheelt ons een dag per maand.", "Ik geloof het pas als het echt minder wordt.",
             "De vragenlijsten van het CBS en de gemeente overlappen nu al jaren."],
            -45, -5),
    ]


def demo_proposals(today: date) -> list[dict]:
    """The five proposals with their dates set relative to `today` (three closed, two open)."""
    proposals = []
    for effect in proposal_effects():
        data = dict(effect.proposal)
        opens, closes = today + timedelta(days=effect.opens_days), today + timedelta(days=effect.closes_days)
        data.update(simulation_opens=opens.isoformat(), simulation_closes=closes.isoformat(),
                    phase_dates={data["phase"]: (opens - timedelta(days=14)).isoformat()})
        proposals.append(data)
    return proposals


def _size_factor(size_class: str, small_firm_factor: float) -> float:
    order = ["50-249", "10-49", "2-9", "0-1"]
    return 1 + (small_firm_factor - 1) * order.index(size_class) / (len(order) - 1)


def estimates(effect: ProposalEffect, firms: pl.DataFrame, opens: date, closes: date, rng: np.random.Generator,
              response_rate: float = 0.25) -> pl.DataFrame:
    """One row per responding firm: its estimate of the proposal, as the form or a bulk export writes it (strings)."""
    responding = firms.filter(pl.Series(rng.random(firms.height) < response_rate))
    n = responding.height
    sectors, sizes = responding["sector"].to_list(), responding["size_class"].to_list()
    mean_percent = np.array([effect.cost_percent.get(s, effect.default_cost_percent) for s in sectors])
    mean_percent *= np.array([_size_factor(size, effect.small_firm_factor) for size in sizes])
    percent = mean_percent + rng.normal(0, np.maximum(np.abs(mean_percent) * 0.6, 0.3))
    euros = percent / 100 * np.array([COST_SCALE[size] for size in sizes]) * rng.lognormal(0, 0.5, n)
    in_percent = rng.random(n) < 0.3
    employees = np.array([EMPLOYEES[size] for size in sizes])
    fte = np.round(effect.fte_per_percent * percent * employees + rng.normal(0, 0.05 * np.sqrt(employees)), 1)
    hours = np.round(np.array([effect.admin_hours[size] for size in sizes]) * rng.lognormal(0, 0.4, n) * 2) / 2
    worse = np.clip(effect.worse_share * (1 + percent / 5), 0.02, 0.9)
    better = np.clip(0.15 - percent / 20, 0.02, 0.5)
    draw = rng.random(n)
    position = np.where(draw < worse, "worse", np.where(draw < worse + better, "better", "same"))
    window = max((closes - opens).days, 1)
    submitted = [datetime.combine(opens, datetime.min.time()) + timedelta(days=int(d), seconds=int(s))
                 for d, s in zip(rng.integers(0, window, n), rng.integers(8 * 3600, 20 * 3600, n), strict=True)]
    text = [effect.texts[i % len(effect.texts)] if rng.random() < 0.15 else None for i in range(n)]

    def maybe(values: np.ndarray, missing: float, decimals: int) -> list[str | None]:
        return [None if rng.random() < missing else f"{v:.{decimals}f}" for v in values]

    return pl.DataFrame({
        "response_id": [f"dis-{effect.proposal['id'][:12]}-{i:06d}" for i in range(n)],
        "submitted_at": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in submitted],
        "proposal": effect.proposal["id"],
        "kvk_number": responding["kvk_number"],
        "sector": sectors, "size_class": sizes, "province": responding["province"],
        "cost_change_euro": [None if p else f"{round(e, -2):.0f}" for e, p in zip(np.clip(euros, -5e6, 5e6), in_percent, strict=True)],
        "cost_change_percent": [f"{round(v * 2) / 2:.1f}" if p else None for v, p in zip(np.clip(percent, -100, 100), in_percent, strict=True)],
        "fte_change": maybe(np.clip(fte, -250, 250), 0.15, 1),
        "revenue_change_percent": maybe(np.clip(-percent * 0.4 + rng.normal(0, 1, n), -100, 100), 0.3, 1),
        "profit_change_percent": maybe(np.clip(-percent * 1.5 + rng.normal(0, 2, n), -100, 100), 0.3, 1),
        "admin_hours_per_month": maybe(np.clip(hours, -200, 500), 0.1, 1),
        "competitive_position": [None if rng.random() < 0.05 else p for p in position],
        "free_text": text,
    }, schema={column: pl.Utf8 for column in source("dis").landing_columns()})


def with_defects(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """A few rows as real exports have them: a value out of range, an unknown proposal, a malformed KvK number."""
    if frame.height < 20:
        return frame
    rows = rng.choice(frame.height, 3, replace=False)
    frame = frame.with_row_index("_i")
    frame = frame.with_columns(
        pl.when(pl.col("_i") == rows[0]).then(pl.lit("9999")).otherwise(pl.col("fte_change")).alias("fte_change"),
        pl.when(pl.col("_i") == rows[1]).then(pl.lit("onbekend-voorstel")).otherwise(pl.col("proposal")).alias("proposal"),
        pl.when(pl.col("_i") == rows[2]).then(pl.lit("1234")).otherwise(pl.col("kvk_number")).alias("kvk_number"),
    )
    return frame.drop("_i")


def generate_dis(landing: Path, firms: pl.DataFrame, today: date, seed: int = 20261201) -> list[Path]:
    """Write one DIS export per demo proposal into `landing/dis/` (CSV); returns the files."""
    rng = np.random.default_rng(seed)
    files = []
    for effect, proposal in zip(proposal_effects(), demo_proposals(today), strict=True):
        opens, closes = date.fromisoformat(proposal["simulation_opens"]), date.fromisoformat(proposal["simulation_closes"])
        answered_until = min(closes, today)  # an open proposal has answers up to today only
        rows = with_defects(estimates(effect, firms, opens, answered_until, rng), rng)
        files.append(write_atomically(landing / "dis", f"dis_export_{proposal['id']}.csv", rows.write_csv().encode("utf-8")))
    return files
