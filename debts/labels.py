"""Dutch words for the engine's codes: one mapping for actions, one for reasons (B1: short sentences, everyday words).

The codes are what tables and tests use; these texts are what a creditor's
staff or a citizen reads. `REASONS` also says which actions a reason can
explain, so a claim's `reasons` list only the facts behind its action.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTION_LABELS = {
    "afschrijven": "Voorstel: schuld kwijtschelden",
    "afstemmen_met_schuldhulp": "Niet innen: overleg eerst met de schuldhulpverlener of bewindvoerder",
    "vriendelijke_herinnering": "Stuur een vriendelijke herinnering, zonder dreigen met kosten",
    "betalingsregeling_aanbieden": "Bied meteen een betalingsregeling aan",
    "pauzeren": "Wacht even met innen",
    "bundelen": "Zet deze vordering samen met de andere in één brief",
    "doorgaan": "Ga door met innen zoals gewoonlijk",
}


@dataclass(frozen=True)
class Reason:
    """A reason code's Dutch explanation and the actions it can explain."""

    label: str
    explains: frozenset[str]


REASONS = {
    "onder_bagatelgrens": Reason("Het bedrag is lager dan de grens waaronder deze organisatie niet laat innen.",
                                 frozenset({"afschrijven", "vriendelijke_herinnering"})),
    "tijdelijke_crisisgrens": Reason("Er geldt nu tijdelijk een hogere grens, vanwege een crisis.",
                                     frozenset({"afschrijven", "vriendelijke_herinnering"})),
    "kosten_al_hoog": Reason("De kosten van het innen zijn nu al meer dan twee keer de schuld.", frozenset({"afschrijven"})),
    "niet_rendabel": Reason("Verder innen kost veel meer dan de schuld zelf.", frozenset({"afschrijven", "vriendelijke_herinnering"})),
    "herinneringen_verstuurd": Reason("Er zijn al genoeg herinneringen gestuurd.", frozenset({"afschrijven"})),
    "betalingsproblemen": Reason("We weten dat deze persoon moeite heeft met betalen.", frozenset({"afschrijven"})),
    "in_schuldhulp": Reason("Deze persoon krijgt hulp bij schulden.", frozenset({"afschrijven", "afstemmen_met_schuldhulp"})),
    "onder_bewind": Reason("Een bewindvoerder regelt het geld van deze persoon.", frozenset({"afstemmen_met_schuldhulp"})),
    "klein_totaal": Reason("Het totaal is klein genoeg voor een betalingsregeling zonder gesprek vooraf.",
                           frozenset({"betalingsregeling_aanbieden"})),
    "stapeling": Reason("Er lopen al genoeg vorderingen van deze persoon bij het incassobureau of de deurwaarder.",
                        frozenset({"pauzeren"})),
    "meerdere_vorderingen": Reason("Deze persoon heeft meer kleine vorderingen bij deze organisatie.", frozenset({"bundelen"})),
}


def action_label(code: str) -> str:
    """The Dutch label of an action code.

    >>> action_label("afschrijven")
    'Voorstel: schuld kwijtschelden'
    """
    return ACTION_LABELS[code]


def reason_label(code: str) -> str:
    """The Dutch explanation of a reason code.

    >>> reason_label("stapeling")
    'Er lopen al genoeg vorderingen van deze persoon bij het incassobureau of de deurwaarder.'
    """
    return REASONS[code].label
