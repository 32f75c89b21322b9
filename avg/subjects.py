"""Who an AVG request is about: a firm (its KvK number), a person (a BSN) or one account (its e-mail address).

Plain checks, shared by the administrators' page, the command line and the
pipeline: the identifier is trimmed (spaces and dots inside a number are
dropped, an address is lower-cased) and must have the shape the sources
declare (`sources/*/source.yaml`: 8 digits for a KvK number, 9 for a BSN).
A BSN is not required to pass the eleven-test: a delivered BSN with a typo is
quarantined under its pseudonym, and its owner may ask for that row too.
Errors are Dutch and name the field and the rule, never the value typed.

>>> subject("kvk", " 1234 5678 ").identifier, subject("email", "Jan@Example.NL").identifier
('12345678', 'jan@example.nl')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = {
    "kvk": "KvK-nummer van een bedrijf",
    "bsn": "BSN van een persoon",
    "email": "e-mailadres van een account",
}
UNITS = {"kvk": "firm", "bsn": "person"}  # the privacy unit (`unit:` of a source) an identifier names
_SHAPES = {
    "kvk": (re.compile(r"^[0-9]{8}$"), "een KvK-nummer bestaat uit precies 8 cijfers"),
    "bsn": (re.compile(r"^[0-9]{9}$"), "een BSN bestaat uit precies 9 cijfers"),
    "email": (re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"), "een e-mailadres ziet eruit als naam@voorbeeld.nl"),
}


class SubjectError(ValueError):
    """The identifier does not have the declared shape; the message is Dutch and names the field and the rule."""


@dataclass(frozen=True)
class Subject:
    kind: str  # kvk | bsn | email
    identifier: str

    @property
    def unit(self) -> str | None:
        """The privacy unit whose rows in the warehouse carry this identifier's pseudonym (None: an account only)."""
        return UNITS.get(self.kind)

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def subject(kind: str, value: str) -> Subject:
    """The checked subject of a request (see the module); `SubjectError` when the value has the wrong shape."""
    if kind not in KINDS:
        raise SubjectError(f"Soort: kies een van {', '.join(KINDS.values())}")
    text = (value or "").strip()
    text = text.lower() if kind == "email" else re.sub(r"[\s.]", "", text)
    shape, rule = _SHAPES[kind]
    if not shape.fullmatch(text):
        raise SubjectError(f"{KINDS[kind][0].upper()}{KINDS[kind][1:]}: {rule}")
    return Subject(kind, text)
