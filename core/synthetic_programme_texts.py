"""The Dutch texts of the synthetic support-programme platform (`core.synthetic_programme`), by planted theme.

Three kinds of free text land in `sources/programme_platform`: questions on
the knowledge square (`vraag`), needs that no offer serves (`behoefte`) and
the sounding board's feedback (`klankbord`). Each theme has a handful of
sentences in plain Dutch (B1) that carry it, so that the themes a text
analysis finds can be compared with the themes planted (the generator writes
them to `programme_texts.parquet`). The sentences hold no digits, names or
addresses: the scrubber has nothing to take out, and a test can compare the
stored text with the generated one.
"""

from __future__ import annotations

import numpy as np

# Questions on the knowledge square: theme -> (topic of the source's options, sentences that carry the theme).
QUESTIONS: dict[str, tuple[str, list[str]]] = {
    "subsidie_aanvragen": ("subsidie", [
        "Hoe vraag ik een subsidie aan voor ons nieuwe product?",
        "Welke subsidie past bij onze investering in een nieuwe machine, en hoe vraag ik die aan?",
        "Wie kan ons helpen met het aanvragen van een subsidie? Het formulier is ingewikkeld.",
        "Kunnen wij subsidie aanvragen voor onderzoek naar een nieuw product?",
        "Wanneer moet ik de subsidie aanvragen: voor of na de start van het project?",
        "Is er iemand die ervaring heeft met het aanvragen van de innovatiesubsidie?",
    ]),
    "personeel_vinden": ("personeel", [
        "Hoe vinden wij goed personeel? Onze vacatures staan al maanden open.",
        "Wie heeft tips om technisch personeel te vinden in de regio?",
        "Wij kunnen geen personeel vinden voor de productie. Hoe pakken andere bedrijven dat aan?",
        "Waar vind ik personeel dat ook in het weekend wil werken?",
        "Hoe werken jullie samen met scholen om nieuw personeel te vinden?",
        "Is er hulp bij het vinden van personeel uit het buitenland?",
    ]),
    "financiering_bank": ("financiering", [
        "De bank wil onze uitbreiding niet financieren. Wat kunnen wij nog doen?",
        "Wat wil de bank zien voordat zij een financiering geeft?",
        "Hoe bereid ik het gesprek met de bank over financiering goed voor?",
        "Onze bank vraagt om meer zekerheden voor de financiering. Welke andere mogelijkheden zijn er?",
        "Wie kan meekijken naar ons verhaal voor de bank? Wij zoeken financiering voor een nieuwe hal.",
        "Is financiering via de bank nog mogelijk als ons eigen vermogen laag is?",
    ]),
    "export_regels": ("export", [
        "Welke regels gelden er voor export naar landen buiten Europa?",
        "Wij willen gaan exporteren naar Duitsland. Welke regels moeten wij kennen?",
        "Hoe zit het met de douane en de regels voor export naar het Verenigd Koninkrijk?",
        "Wie weet meer over de regels voor export van voedingsmiddelen?",
        "Welke papieren heb ik nodig voor export, en wie kan mij helpen met de regels?",
        "Wij krijgen vragen van klanten in Belgie. Welke regels gelden bij export over de grens?",
    ]),
    "digitalisering_webshop": ("digitalisering", [
        "Hoe begin ik een webshop naast onze winkel?",
        "Welk systeem raden jullie aan voor een webshop voor een klein bedrijf?",
        "Onze webshop verkoopt weinig. Hoe krijgen wij meer bezoekers?",
        "Wie kan ons helpen met digitalisering van de administratie en een koppeling met de webshop?",
        "Is er hulp bij digitalisering voor bedrijven die nog geen webshop hebben?",
        "Hoe koppel ik de voorraad in ons magazijn aan de webshop?",
    ]),
    "vergunning": ("regelgeving", [
        "Welke vergunning heb ik nodig om onze hal uit te breiden?",
        "Hoe lang duurt het om een vergunning te krijgen van de gemeente?",
        "Wij willen op ons terrein gaan bouwen. Wie helpt ons met de vergunning?",
        "Moet ik een nieuwe vergunning aanvragen als wij een tweede productielijn plaatsen?",
        "De gemeente vraagt om een omgevingsvergunning. Waar begin ik?",
        "Wie heeft ervaring met een vergunning voor opslag van gevaarlijke stoffen?",
    ]),
    "energie_besparen": ("duurzaamheid", [
        "Hoe kunnen wij energie besparen in ons bedrijfspand?",
        "Welke maatregelen leveren het meeste op om energie te besparen in de productie?",
        "Wij willen zonnepanelen op het dak. Wie kan ons adviseren over energie besparen?",
        "Is er hulp voor kleine bedrijven die energie willen besparen?",
    ]),
    "innovatie_samenwerking": ("innovatie", [
        "Wij zoeken een partner om een nieuw product te ontwikkelen. Hoe vind ik die?",
        "Hoe kan ons bedrijf samenwerken met een kennisinstelling of een campus?",
        "Wie wil samen met ons een innovatie testen in de praktijk?",
        "Hoe beschermen wij ons idee als wij met andere bedrijven samenwerken aan een innovatie?",
    ]),
    "overig": ("overig", [
        "Waar vind ik een overzicht van alle regelingen voor ondernemers?",
        "Wie kan mij helpen met het schrijven van een ondernemingsplan?",
        "Hoe kom ik in contact met andere ondernemers in mijn branche?",
    ]),
}
QUESTION_SHARES = {"subsidie_aanvragen": 0.18, "personeel_vinden": 0.17, "financiering_bank": 0.15, "export_regels": 0.09,
                   "digitalisering_webshop": 0.12, "vergunning": 0.10, "energie_besparen": 0.08, "innovatie_samenwerking": 0.07,
                   "overig": 0.04}

# Needs that no offer of the platform serves ('behoefte'): theme -> (topic, sentences).
NEEDS: dict[str, tuple[str, list[str]]] = {
    "bedrijfsopvolging": ("overig", [
        "Ik zoek hulp bij bedrijfsopvolging. Mijn kinderen willen het bedrijf niet overnemen.",
        "Er is geen aanbod voor bedrijfsopvolging. Wie helpt ons bij de verkoop van het bedrijf?",
        "Wij hebben begeleiding nodig bij de overdracht van het bedrijf aan een medewerker.",
    ]),
    "bedrijfsruimte": ("overig", [
        "Wij vinden geen geschikte bedrijfsruimte in de regio. Daar is geen hulp voor.",
        "Ik mis hulp bij het zoeken naar een grotere bedrijfsruimte of een kavel.",
        "Er zijn bijna geen bedrijfsruimtes te huur. Kan het platform hierbij helpen?",
    ]),
    "netcongestie": ("duurzaamheid", [
        "Wij krijgen geen zwaardere aansluiting op het stroomnet. Wie kan ons hierbij helpen?",
        "Door de volle netten kunnen wij niet uitbreiden. Er is geen aanbod voor dit probleem.",
        "Ik zoek advies over netcongestie en opslag van stroom. Dat staat niet op het platform.",
    ]),
    "huisvesting_arbeidsmigranten": ("personeel", [
        "Onze buitenlandse medewerkers vinden geen woning. Daar is geen aanbod voor.",
        "Wij zoeken hulp bij huisvesting voor arbeidsmigranten.",
        "Ik mis ondersteuning bij het vinden van woonruimte voor nieuw personeel.",
    ]),
    "cyberveiligheid": ("digitalisering", [
        "Wij willen ons bedrijf beter beveiligen tegen hackers. Er is geen aanbod voor cyberveiligheid.",
        "Ik zoek een betaalbare check op cyberveiligheid voor een klein bedrijf.",
        "Na een aanval op onze computers zoeken wij hulp. Die vind ik niet op het platform.",
    ]),
}
NEED_SHARES = {"bedrijfsopvolging": 0.25, "bedrijfsruimte": 0.2, "netcongestie": 0.25, "huisvesting_arbeidsmigranten": 0.15,
               "cyberveiligheid": 0.15}

# Feedback of the sounding board ('klankbord'): theme -> sentences.
FEEDBACK: dict[str, list[str]] = {
    "consultant_waardevol": [
        "De gesprekken met de MKB-consultant hielpen ons om keuzes te maken.",
        "Door de begeleiding hebben wij nu een plan waar de bank naar wil kijken.",
        "De consultant stelde de goede vragen en hield ons scherp.",
    ],
    "te_veel_tijd": [
        "Het traject kost veel tijd naast het werk in het bedrijf.",
        "Het aantal sessies is voor een klein bedrijf best veel.",
        "Ik had graag minder sessies gehad, het was soms lastig om tijd te vinden.",
    ],
    "platform_onoverzichtelijk": [
        "Het platform is onoverzichtelijk, ik kan het aanbod moeilijk vinden.",
        "De zoekfunctie op het platform werkt niet goed.",
        "Er staat veel op het platform, maar ik weet niet wat voor mij past.",
    ],
    "masterclass_nuttig": [
        "De masterclass over financiering was heel nuttig.",
        "Ik heb veel geleerd van andere ondernemers in de masterclass.",
        "Meer masterclasses in de avond zou fijn zijn.",
    ],
    "doorverwijzen": [
        "Ik werd snel doorverwezen naar de juiste partij.",
        "Het doorverwijzen naar andere loketten ging soms langs te veel adressen.",
    ],
}
FEEDBACK_SHARES = {"consultant_waardevol": 0.3, "te_veel_tijd": 0.2, "platform_onoverzichtelijk": 0.2, "masterclass_nuttig": 0.15,
                   "doorverwijzen": 0.15}

OPENINGS = ["", "", "", "Goedemiddag, ", "Hallo allemaal, ", "Vraag aan de groep: ", "Wie weet raad? "]
CLOSINGS = ["", "", "", " Alvast bedankt.", " Graag uw advies.", " Wij zijn een familiebedrijf.", " Het gaat om een klein team.",
            " Dit speelt al een tijd."]


def _pick(shares: dict[str, float], rng: np.random.Generator) -> str:
    codes = list(shares)
    weights = np.array([shares[code] for code in codes])
    return codes[int(rng.choice(len(codes), p=weights / weights.sum()))]


def _one(sentences: list[str], rng: np.random.Generator) -> str:
    return sentences[int(rng.integers(len(sentences)))]


def question(rng: np.random.Generator) -> tuple[str, str, str]:
    """A knowledge-square question: (theme, topic, Dutch text)."""
    theme = _pick(QUESTION_SHARES, rng)
    topic, sentences = QUESTIONS[theme]
    opening = OPENINGS[int(rng.integers(len(OPENINGS)))]
    text = _one(sentences, rng)
    text = opening + (text[0].lower() + text[1:] if opening and not text.startswith("MKB") else text)
    return theme, topic, text + CLOSINGS[int(rng.integers(len(CLOSINGS)))]


def need(rng: np.random.Generator) -> tuple[str, str, str]:
    """A need no offer serves: (theme, topic, Dutch text)."""
    theme = _pick(NEED_SHARES, rng)
    topic, sentences = NEEDS[theme]
    return theme, topic, _one(sentences, rng)


def feedback(rng: np.random.Generator) -> tuple[str, str]:
    """Sounding-board feedback: (theme, Dutch text), sometimes two sentences of the same theme."""
    theme = _pick(FEEDBACK_SHARES, rng)
    first = _one(FEEDBACK[theme], rng)
    second = _one(FEEDBACK[theme], rng)
    return theme, first if second == first or rng.random() < 0.6 else f"{first} {second}"
