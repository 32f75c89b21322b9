"""Seeded synthetic consultation reactions to the articles of the demo proposals, with themes planted in the comments.

Each reaction has a stance that differs by sector (a higher minimum wage is
opposed in hospitality and retail, supported more in business services), an
answer to the article's question, and often a comment built from one or two
recurring themes (regeldruk, loonkosten, energie, personeel, onduidelijke
regels, overgangstermijn) in varied Dutch sentences. The planted theme of
every comment is written to `data/synthetic/consultation_themes.parquet`, so
a test can measure how well the themes found match the themes planted. About
a fifth of the commenters consent to being quoted. This randomness is test
data, not privacy noise.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core.files import private_dir
from core.landing import write_atomically
from core.sources import source

# Theme -> sentences that carry it (a comment joins one or two of them, with some filler). A sentence names
# no other theme's words, so the planted truth is unambiguous.
THEMES: dict[str, list[str]] = {
    "regeldruk": [
        "Weer een nieuwe regel en nog meer formulieren; de regeldruk wordt te groot.",
        "De administratieve lasten stijgen, we zijn uren per maand kwijt aan rapportages.",
        "Nog een registratieplicht erbij: de papierwinkel en de regeldruk groeien ons boven het hoofd.",
        "Het invullen van al die formulieren en rapportages kost veel te veel tijd.",
        "Alweer een rapportageplicht; de administratieve lasten zijn nu al zwaar.",
        "Schrap liever regels en formulieren dan er nieuwe bij te maken.",
    ],
    "loonkosten": [
        "De loonkosten gaan hierdoor fors omhoog en dat kunnen we niet doorberekenen aan klanten.",
        "Hogere lonen en premies maken een werknemer voor ons bijna onbetaalbaar.",
        "Met deze loonkostenstijging moeten we prijzen verhogen of minder uren inroosteren.",
        "De werkgeverslasten en loonkosten drukken nu al zwaar op onze marge.",
        "Stijgende loonkosten en premies eten onze winst op.",
        "Wij kunnen hogere lonen niet betalen zonder de prijzen te verhogen.",
    ],
    "energie": [
        "De energierekening is al torenhoog; deze heffing maakt gas en stroom nog duurder.",
        "Onze energiekosten en brandstofkosten stijgen, verduurzamen kost eerst veel geld.",
        "Elektrisch rijden en zonnepanelen zijn voor ons te duur, de energiekosten blijven stijgen.",
        "Als de energieprijzen nog verder stijgen, wordt produceren in Nederland te duur.",
        "Onze ovens draaien op gas; met deze energieprijzen wordt dat onbetaalbaar.",
        "Verduurzamen willen we best, maar de energiekosten zijn nu al te hoog.",
    ],
    "personeel": [
        "We kunnen nu al geen personeel vinden; vacatures blijven maanden open.",
        "Het personeelstekort is ons grootste probleem, goede vakmensen zijn niet te krijgen.",
        "Door het tekort aan medewerkers moeten we opdrachten weigeren.",
        "Zonder extra personeel kunnen we niet groeien, de vacatures staan al lang open.",
        "Er zijn geen vakmensen te vinden, onze vacatures blijven onvervuld.",
        "Het tekort aan personeel en vakmensen remt ons bedrijf af.",
    ],
    "onduidelijke_regels": [
        "Het is volstrekt onduidelijk wat er precies van ons verwacht wordt; de regels zijn vaag.",
        "De uitleg is onduidelijk, niemand weet welke uitzonderingen er gelden.",
        "Wat valt er wel en niet onder deze regel? De tekst is vaag en laat veel ruimte voor interpretatie.",
        "Ik snap niet hoe dit in de praktijk moet werken, de regels zijn onduidelijk geschreven.",
        "De uitzonderingen zijn vaag omschreven; graag een duidelijke uitleg.",
        "Niemand kan ons uitleggen wat deze onduidelijke bepaling in de praktijk betekent.",
    ],
    "overgangstermijn": [
        "Geef ons een langere overgangstermijn om ons voor te bereiden.",
        "De invoering komt te snel; een overgangsperiode van minstens twee jaar is nodig.",
        "Zorg voor een ruime overgangstermijn, anders kunnen we onze investeringen niet aanpassen.",
        "Het tempo van invoering is te hoog, we vragen om een overgangsregeling.",
        "Stel de invoering uit of geef een overgangsperiode.",
        "Met een overgangstermijn van een paar jaar kunnen we ons aanpassen.",
    ],
}
FILLER = ["", "", "", "Graag aandacht hiervoor.", "Dit raakt ons direct.", "Denk aan de kleine ondernemer.", "Zo gaat het niet langer.",
          "Wij hopen dat u hiernaar luistert.", "Dit speelt al jaren.", "Neem dit alstublieft mee.", "Bedankt voor de mogelijkheid om te reageren.",
          "Ik spreek ook namens collega's.", "Kijk eens naar de praktijk."]
# Comments that raise no theme at all (their planted themes are empty).
NO_THEME = ["Geen verdere opmerkingen.", "Prima zo.", "Ik heb hier geen mening over.", "Dit onderdeel is voor ons niet van toepassing.",
            "Helder verhaal, verder niets aan toe te voegen.", "Wij sluiten ons aan bij de reactie van onze branchevereniging."]
# Proposal -> themes its comments mostly raise (the others appear now and then).
PROPOSAL_THEMES = {
    "minimumloon-2027": ["loonkosten", "personeel", "overgangstermijn"],
    "co2-heffing-mkb": ["energie", "regeldruk", "overgangstermijn"],
    "aov-zelfstandigen": ["loonkosten", "onduidelijke_regels"],
    "box2-tarief": ["onduidelijke_regels", "overgangstermijn"],
    "minder-rapportage": ["regeldruk", "onduidelijke_regels"],
}
# Sector -> how much more often it opposes (positive) or supports (negative) a proposal.
OPPOSITION = {"I": 0.25, "G": 0.15, "A": 0.15, "H": 0.2, "C": 0.1, "M": -0.1, "J": -0.1, "K": -0.05}


def _comment(themes: list[str], rng: np.random.Generator) -> tuple[str, list[str]]:
    if rng.random() < 0.1:
        return NO_THEME[int(rng.integers(len(NO_THEME)))], []
    chosen = [themes[int(rng.integers(len(themes)))]]
    if rng.random() < 0.3:
        other = [t for t in THEMES if t not in chosen]
        chosen.append(other[int(rng.integers(len(other)))])
    sentences = [THEMES[t][int(rng.integers(len(THEMES[t])))] for t in chosen]
    filler = FILLER[int(rng.integers(len(FILLER)))]
    return " ".join([*sentences, filler]).strip(), chosen


def reactions(proposal: dict, firms: pl.DataFrame, rng: np.random.Generator, rate: float = 0.15) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reactions of firms to each article of one proposal (landing columns as strings) and the planted themes per comment."""
    opens, closes = date.fromisoformat(proposal["simulation_opens"]), date.fromisoformat(proposal["simulation_closes"])
    answered_until = min(closes, date.today())
    window = max((answered_until - opens).days, 1)
    themes = PROPOSAL_THEMES.get(proposal["id"], list(THEMES))
    rows, planted = [], []
    for article in proposal["articles"]:
        code = f"{proposal['id']}/{_slug(article['number'])}"
        choices = [o.strip() for o in article.get("options", "").split(";") if o.strip()]
        responding = firms.filter(pl.Series(rng.random(firms.height) < rate))
        for index, firm in enumerate(responding.iter_rows(named=True)):
            against = 0.35 + OPPOSITION.get(firm["sector"], 0.0)
            draw = rng.random()
            stance = "against" if draw < against else ("support" if draw < against + 0.35 else "neutral")
            comment, comment_themes = _comment(themes, rng) if rng.random() < 0.6 else (None, [])
            response_id = f"con-{proposal['id'][:12]}-{_slug(article['number'])[:10]}-{index:06d}"
            submitted = datetime.combine(opens, datetime.min.time()) + timedelta(days=int(rng.integers(0, window)), hours=int(rng.integers(8, 20)))
            rows.append({
                "response_id": response_id, "submitted_at": submitted.strftime("%Y-%m-%dT%H:%M:%S"), "article": code,
                "kvk_number": firm["kvk_number"], "proposal": proposal["id"], "sector": firm["sector"], "size_class": firm["size_class"],
                "province": firm["province"], "stance": None if rng.random() < 0.05 else stance,
                "question_choice": choices[int(rng.integers(len(choices)))] if choices and rng.random() < 0.8 else None,
                "question_text": None, "comment": comment,
                "quote_consent": "yes" if comment and rng.random() < 0.2 else "no",
            })
            if comment:
                planted.append({"response_id": response_id, "proposal": proposal["id"], "article": code, "themes": comment_themes})
    columns = source("consultation").landing_columns()
    frame = pl.DataFrame(rows, schema={column: pl.Utf8 for column in columns})
    return frame, pl.DataFrame(planted, schema={"response_id": pl.Utf8, "proposal": pl.Utf8, "article": pl.Utf8, "themes": pl.List(pl.Utf8)})


def _slug(text: str) -> str:
    from content.proposals import slug

    return slug(text) or "onderdeel"


def generate_consultations(landing: Path, truth_dir: Path, firms: pl.DataFrame, proposals: list[dict], seed: int = 20261201) -> list[Path]:
    """One consultation export per demo proposal into `landing/consultation/`, and the planted themes as ground truth."""
    rng = np.random.default_rng(seed + 1)
    files, truth = [], []
    for proposal in proposals:
        frame, planted = reactions(proposal, firms, rng)
        if frame.height:
            files.append(write_atomically(landing / "consultation", f"consultation_export_{proposal['id']}.csv", frame.write_csv().encode("utf-8")))
        truth.append(planted)
    private_dir(truth_dir)
    pl.concat(truth).write_parquet(truth_dir / "consultation_themes.parquet")
    return files
