"""Personal data scrubbed from free text before the platform stores it (issue 11).

Every field declared `type: free_text` is scrubbed at ingestion (`core.ingest`)
and in the web form before its landing file is written
(`dashboards.submissions`). Each item found becomes a Dutch placeholder:

| kind | placeholder | what is found |
|---|---|---|
| email | `[e-mailadres]` | `local@domain.tld` (linear-time scan, see `_scrub_emails`) |
| iban | `[IBAN]` | an IBAN of any country that passes its checksum (`schwifty`), also lower case or in groups of four; an NL IBAN by its shape even with a wrong checksum (a typo still points to one account) |
| phone | `[telefoonnummer]` | what `phonenumbers.PhoneNumberMatcher` finds as a valid number with region NL (national `06-12345678`, `020 123 4567`; international `+31`, `+32`, `+49`, `0032 ...`) |
| bsn | `[BSN]` | 9 digits (`123456782`, `1234.56.782`, `123 456 782`) that pass the 11-proof (`stdnum.nl.bsn`), or any 9 digits right after "BSN", "burgerservicenummer" or "sofinummer" |
| kvk | `[KvK-nummer]` | every 8-digit number written `12345678` or `12.34.56.78`, wherever it stands: KvK numbers are 8 digits without a checksum, and in a comment of a firm such a number is almost always one; written `1234 5678` only within 40 characters after "KvK", "Kamer van Koophandel", "handelsregister" or "inschrijvingsnummer" (two groups of four are as often two numbers side by side: "in 2026 1500 klanten"). Not: amounts (`€ 12345678`, `12345678 euro`) and numbers in thousands groups (`12.500.000`) |
| address | `[adres]` | a postcode (`1234 AB`, `1234AB`) with its house number if one follows (`1234 AB 12`, `1234AB, 12a`); a street name ending in a street word (`-straat`, `-laan`, `-weg`, `-plein`, `-gracht`, ...) followed by a house number |
| name | `[naam]` | the name after a title (`mevrouw`, `meneer`, `dhr.`, `mw.`, `de heer`, `mr.`, `dr.`, ...), after `ik ben`, `ik heet`, `mijn naam is`, `namens`, `contactpersoon`, after a greeting (`Met vriendelijke groet,`, `Groeten`, `mvg`, `Hoogachtend`), and a first name of `reference/first_names_nl.txt` (with the surname that follows it) |

The order matters and is the table's: an IBAN holds digits that would read
as a phone number, and a phone number written in groups ('+32 470 123 456')
holds groups that would read as a BSN or a KvK number.
No placeholder can be found again (none holds a digit, an '@' or a
capitalised word), but a replacement can open a context for an earlier
step, so the steps run again until one round finds nothing (every round
that finds something removes digits, '@'s or capitalised words, so this
ends): scrubbing twice changes nothing, which the form and ingestion rely on.

What is not found: names without a title, trigger or listed first name
("Bakkerij Jansen"), street names without a street word or without a house
number, foreign national phone formats without their country code, and
identifiers written out in words. The figures and themes released from free
text are differentially private anyway; scrubbing keeps the stored text
itself free of what the table lists.

Every step is linear in the text: the e-mail scan is hand-made for that (a
regular expression took quadratic time on long runs of letters), the other
patterns have no nested ambiguous repetition.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable
from functools import cache

import phonenumbers
import polars as pl
from schwifty import IBAN, registry
from schwifty.exceptions import SchwiftyException
from stdnum.nl import bsn

from core.settings import REFERENCE_DIR

KINDS = ("email", "iban", "phone", "bsn", "kvk", "address", "name")
PLACEHOLDERS = {
    "email": "[e-mailadres]",
    "iban": "[IBAN]",
    "bsn": "[BSN]",
    "phone": "[telefoonnummer]",
    "kvk": "[KvK-nummer]",
    "address": "[adres]",
    "name": "[naam]",
}
FIRST_NAMES_FILE = REFERENCE_DIR / "first_names_nl.txt"

# --------------------------------------------------------------------------- e-mail addresses

EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
"""What counts as an e-mail address; `_scrub_emails` finds exactly its matches, in linear time."""
_EMAIL_LOCAL = frozenset(string.ascii_letters + string.digits + "._%+-")
_EMAIL_DOMAIN = frozenset(string.ascii_letters + string.digits + ".-")
_LETTERS = frozenset(string.ascii_letters)


def _scrub_emails(text: str) -> tuple[str, int]:
    """`re.subn(EMAIL_PATTERN, PLACEHOLDERS['email'], text)`, in time linear in the text.

    A match ends its local part at an '@' (the local part cannot hold one), so
    it starts where the run of local characters before that '@' starts, or
    where the previous match ended; whether the domain after the '@' matches
    does not depend on that start. Every character is looked at a bounded
    number of times (runs before and after different '@'s do not overlap).
    """
    at = text.find("@")
    if at == -1:
        return text, 0
    pieces, position, found = [], 0, 0
    while at != -1:
        start = at
        while start > position and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        end = _email_domain_end(text, at + 1) if start < at else None
        if end is not None:
            pieces += [text[position:start], PLACEHOLDERS["email"]]
            position, found = end, found + 1
        at = text.find("@", max(at + 1, position))
    pieces.append(text[position:])
    return "".join(pieces), found


def _email_domain_end(text: str, begin: int) -> int | None:
    """End of `[A-Za-z0-9.-]+\\.[A-Za-z]{2,}` matched at `begin` as a backtracking engine matches it, or None."""
    run_end = begin
    while run_end < len(text) and text[run_end] in _EMAIL_DOMAIN:
        run_end += 1
    # The greedy run gives back characters until a '.' followed by two letters remains.
    for dot in range(run_end - 1, begin, -1):
        if text[dot] == "." and dot + 2 < len(text) and text[dot + 1] in _LETTERS and text[dot + 2] in _LETTERS:
            end = dot + 3
            while end < len(text) and text[end] in _LETTERS:
                end += 1
            return end
    return None


# --------------------------------------------------------------------------- numbers: IBAN, BSN, phone, KvK

_ALNUM = frozenset(string.ascii_letters + string.digits)
# A country code, two check digits, then letters and digits in groups (single spaces allowed).
# A lookahead: a candidate may run into the next words, and the next IBAN may start inside it.
_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])(?=([A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){10,30}))")
_NL_IBAN_SHAPE = re.compile(r"NL[0-9]{2}[A-Z]{4}[0-9]{10}")


def _iban_end(text: str, match: re.Match) -> int | None:
    """End (in `text`) of the IBAN that starts at `match`, or None when none does.

    The candidate may run on into the next words ("NL91 ABNA 0417 1643 00 EN"),
    so it is cut at its country's IBAN length before it is validated.
    """
    try:
        length = registry.get_iban_spec(match.group(1)[:2].upper()).iban_length
    except (KeyError, SchwiftyException):
        return None
    compact, end = [], match.start()
    while end < match.end(1) and len(compact) < length:
        if text[end] != " ":
            compact.append(text[end])
        end += 1
    if len(compact) < length or (end < len(text) and text[end] in _ALNUM):
        return None
    candidate = "".join(compact).upper()
    if _NL_IBAN_SHAPE.fullmatch(candidate):
        return end
    try:
        IBAN(candidate)
    except (SchwiftyException, ValueError):
        return None
    return end


_IBAN_GATE = re.compile(r"[A-Za-z]{2}[0-9]{2}")


def _scrub_ibans(text: str) -> tuple[str, int]:
    if not _IBAN_GATE.search(text):  # the lookahead tries every position: a plain search first is 10x cheaper
        return text, 0
    return _replace_spans(text, _IBAN_CANDIDATE, _iban_end, PLACEHOLDERS["iban"])


_NOT_AFTER_DIGIT = r"(?<![0-9+])(?<![0-9][.,])"
_NOT_BEFORE_DIGIT = r"(?![0-9])(?![.,][0-9])"
_BSN = re.compile(_NOT_AFTER_DIGIT + r"(?:[0-9]{9}|[0-9]{4}[ .][0-9]{2}[ .][0-9]{3}|[0-9]{3}([ .])[0-9]{3}\1[0-9]{3})" + _NOT_BEFORE_DIGIT)
_BSN_CONTEXT = re.compile(r"(?:bsn|burgerservice\s?nummer|sofi-?\s?nummer)[\W_]{0,6}(?:is|nr\.?|nummer)?[\W_]{0,6}$", re.IGNORECASE)
_AMOUNT_BEFORE = re.compile(r"(?:€|eur|euro)\s?$", re.IGNORECASE)
_AMOUNT_AFTER = re.compile(r"\s?(?:€|euro|eur)(?![a-z])", re.IGNORECASE)


def _is_amount(text: str, match: re.Match) -> bool:
    return bool(_AMOUNT_BEFORE.search(text[max(0, match.start() - 6):match.start()]) or _AMOUNT_AFTER.match(text, match.end()))


def _bsn_end(text: str, match: re.Match) -> int | None:
    digits = re.sub(r"[ .]", "", match.group())
    if _BSN_CONTEXT.search(text[max(0, match.start() - 40):match.start()]):
        return match.end()
    if bsn.is_valid(digits) and not _is_amount(text, match):
        return match.end()
    return None


_DIGIT_RUN = re.compile(r"[0-9](?:[ .]?[0-9]){7}")  # every BSN and KvK form holds 8 digits with at most one separator between


def _scrub_bsns(text: str) -> tuple[str, int]:
    if not _DIGIT_RUN.search(text):
        return text, 0
    return _replace_spans(text, _BSN, _bsn_end, PLACEHOLDERS["bsn"])


# A phone number has at least 9 digits, or 8 from 0 (0800 1234). The matcher costs ~0.1-0.3 ms a text, so it reads
# only the runs of such digits (with the separators people type) in the text, each with a few characters around it.
_PHONE_GATE = re.compile(r"[0-9](?:[ ./()-]{0,3}[0-9]){8,14}|0(?:[ ./()-]{0,3}[0-9]){7}")  # at most 15 digits, as E.164
_PHONE_CONTEXT = 6  # characters around a run: a '+', '(' or '00' before it, a letter that makes it part of a word
# The matcher takes ~0.5 ms a number; a text with more runs than this is a list or a dump, not a comment: every run
# of it is scrubbed as a phone number without asking the matcher, so no text costs more than this many matcher calls.
MAX_PHONE_RUNS = 20
_NOT_A_PHONE = re.compile(
    r"(?<![0-9])(?:[0-9]{1,2}([-./])[0-9]{1,2}\1(?:[0-9]{4}|[0-9]{2})|[0-9]{4}-[0-9]{2}-[0-9]{2})(?![0-9])"  # dates
    r"|€ ?[0-9][0-9.,]*|(?<![0-9.,])[0-9][0-9.,]* ?(?:euro|EUR)(?![a-z])"  # amounts
)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    """Where `phonenumbers.PhoneNumberMatcher` (region NL, valid numbers) finds a number, dates and amounts left out.

    Dates and amounts are masked (same length, so positions stay): '09-09-2020' is also a valid 0909 number,
    '01-01-2020 10' an 010 one, '€ 123.835.010 1900' another.
    """
    if not _PHONE_GATE.search(text):
        return []
    masked = _NOT_A_PHONE.sub(lambda found: "x" * len(found.group()), text)
    runs = list(_PHONE_GATE.finditer(masked))
    if len(runs) > MAX_PHONE_RUNS:
        return [run.span() for run in runs]
    windows: list[list[int]] = []
    for run in runs:
        begin, end = max(0, run.start() - _PHONE_CONTEXT), min(len(text), run.end() + _PHONE_CONTEXT)
        if windows and begin <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([begin, end])
    spans = []
    for begin, end in windows:
        for match in phonenumbers.PhoneNumberMatcher(masked[begin:end], "NL", leniency=phonenumbers.Leniency.VALID):
            spans.append((begin + match.start, begin + match.end))
    return spans


def _scrub_phones(text: str) -> tuple[str, int]:
    spans = _phone_spans(text)
    if not spans:
        return text, 0
    pieces, position = [], 0
    for start, end in spans:
        pieces += [text[position:start], PLACEHOLDERS["phone"]]
        position = end
    pieces.append(text[position:])
    return "".join(pieces), len(spans)


_KVK = re.compile(_NOT_AFTER_DIGIT + r"(?:[0-9]{8}|(?P<halves>[0-9]{4}[ .][0-9]{4})|[0-9]{2}([ .])[0-9]{2}\2[0-9]{2}\2[0-9]{2})" + _NOT_BEFORE_DIGIT)
_KVK_CONTEXT = re.compile(r"(?:kvk|k\.v\.k\.|kamer van koophandel|handelsregister|inschrijvingsnummer)", re.IGNORECASE)


def _kvk_end(text: str, match: re.Match) -> int | None:
    if _is_amount(text, match):
        return None
    # Two groups of four are also two numbers side by side ('in 2026 1500 klanten'): a KvK number only after a mention of it.
    if match.group("halves") and not _KVK_CONTEXT.search(text[max(0, match.start() - 40):match.start()]):
        return None
    return match.end()


def _scrub_kvk_numbers(text: str) -> tuple[str, int]:
    if not _DIGIT_RUN.search(text):
        return text, 0
    return _replace_spans(text, _KVK, _kvk_end, PLACEHOLDERS["kvk"])


# --------------------------------------------------------------------------- addresses

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_CAPWORD = rf"(?:IJ|[{_UPPER}])[{_LOWER}]+(?:['’][{_LOWER}]+)?(?:-(?:IJ|[{_UPPER}])[{_LOWER}]+)?"
_PARTICLE = r"(?:van|de|der|den|het|'t|ter|ten|te|in|op|la|le|du|da|di|von|zu|el|al|Van|De|Der|Den|Ter|Ten|Het)"
_HOUSE_NUMBER = r"[1-9][0-9]{0,4}(?![0-9])(?: ?[A-Za-z](?![A-Za-z0-9]))?(?:[-/][0-9A-Za-z]{1,4}(?![A-Za-z0-9]))?(?![\w])"
_STREET_WORDS = (
    "straat", "laan", "weg", "plein", "gracht", "kade", "singel", "dijk", "steeg", "pad", "hof", "dreef", "park", "markt",
    "baan", "ring", "burgwal", "haven", "plantsoen", "boulevard", "allee", "erf", "oord", "hoven", "wal", "straatje", "laantje",
)
_STREET = re.compile(
    rf"(?<![\w-])(?:(?:{_CAPWORD}|{_PARTICLE}) ){{0,3}}(?:IJ|[{_UPPER}])[{_LOWER}'’-]*(?:{'|'.join(_STREET_WORDS)})"
    rf" (?:nr\.? ?)?(?P<number>{_HOUSE_NUMBER})"
)
_POSTCODE = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{3}(?P<letters> ?[A-Z]{2}|[a-z]{2})(?![A-Za-z0-9-])"
    rf"(?P<number>,? ?(?:nr\.? ?)?{_HOUSE_NUMBER})?"
)
# Two capitals after four digits that are far more often an abbreviation than a postcode (when no house number follows).
_NOT_POSTCODE_LETTERS = frozenset({
    "EU", "NL", "BV", "NV", "VS", "UK", "VK", "KG", "KM", "KW", "MW", "GW", "GB", "MB", "TB", "CO", "OK", "AI", "IT", "HR", "PC", "TV", "ZZ", "EN",
})
_NEVER_POSTCODE_LETTERS = frozenset({"SA", "SD", "SS"})  # not used by PostNL


def _street_end(text: str, match: re.Match) -> int | None:
    number = match.group("number")
    return None if re.fullmatch(r"(?:19|20)[0-9]{2}", number) else match.end()  # 'Rotterdamseweg 2026' is a year


def _postcode_end(text: str, match: re.Match) -> int | None:
    letters = match.group("letters").strip()
    if letters.upper() in _NEVER_POSTCODE_LETTERS:
        return None
    if match.group("number") is None and (letters.islower() or letters in _NOT_POSTCODE_LETTERS):  # '1500kg', '2026 EU'
        return None
    return match.end()


# What each address pattern cannot match without: searched first, as the patterns try every position.
_POSTCODE_GATE = re.compile(r"[1-9][0-9]{3} ?[A-Za-z]{2}")
_STREET_GATE = re.compile(rf"(?:{'|'.join(_STREET_WORDS)}) (?:nr\.? ?)?[1-9]")


def _scrub_addresses(text: str) -> tuple[str, int]:
    postcodes = streets = 0
    if _POSTCODE_GATE.search(text):
        text, postcodes = _replace_spans(text, _POSTCODE, _postcode_end, PLACEHOLDERS["address"])
    if _STREET_GATE.search(text):
        text, streets = _replace_spans(text, _STREET, _street_end, PLACEHOLDERS["address"])
    return text, postcodes + streets


# --------------------------------------------------------------------------- person names

# A capitalised word that starts a sentence more often than a name does not start or continue a name.
_NAME_WORD = rf"(?!(?:De|Het|Een|Van|Der|Den|Ter|Ten|Ik|Wij|We|Dit|Dat|Die|Deze|Onze|Ons|Mijn|En|Maar|Graag|Bedankt)(?![\w]))(?:{_CAPWORD})"
_NAME = (
    rf"(?:(?:[{_UPPER}]\. ?){{1,5}}(?:(?:{_PARTICLE} )*{_NAME_WORD})?|(?:{_PARTICLE} )*{_NAME_WORD})"
    rf"(?: (?:{_PARTICLE} )*{_NAME_WORD}){{0,2}}"
)
_TITLES = (
    r"[Mm]evrouw|[Mm]evr\.?|[Mm]w\.?|[Mm]eneer|[Mm]nr\.?|[Dd]hr\.?|[Dd]e [Hh]eer|[Mm]r\.|[Dd]r\.|[Ii]r\.|[Ii]ng\.|[Dd]rs\.|[Pp]rof\."
)
_INTRODUCTIONS = r"[Ii]k ben|[Ii]k heet|[Mm]ijn naam is|[Nn]amens|[Cc]ontactpersoon:?|[Nn]aam:"
_GREETINGS = (
    r"(?:[Mm]et )?(?:[Vv]riendelijke |[Hh]artelijke |[Bb]este |[Ss]portieve )?[Gg]roet(?:en|jes)?|[Mm]vg|[Mm]\.v\.g\.?|[Hh]oogachtend|[Gg]r\."
)
_AFTER_TRIGGER = re.compile(
    rf"(?<![\w])(?:{_TITLES}|{_INTRODUCTIONS}|{_GREETINGS})[,.!:]?\s*(?<=\s|,|\.|:|!)(?P<name>{_NAME})(?![\w])"
)
_WORD = re.compile(rf"(?<![\w'’-]){_CAPWORD}(?![\w])")
_SURNAME = re.compile(rf"(?: (?:{_PARTICLE} )*{_NAME_WORD}(?![\w])){{0,2}}")


@cache
def first_names() -> frozenset[str]:
    """The first names of `reference/first_names_nl.txt` (see its header for the source)."""
    lines = FIRST_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# Every match of a title, introduction or greeting holds one of these in lower case (a substring test is 20x cheaper).
_TRIGGER_WORDS = ("mevr", "mw", "meneer", "mnr", "dhr", "heer", "mr.", "dr.", "ir.", "ing.", "drs.", "prof.", "ik ben", "ik heet",
                  "naam", "namens", "contactpersoon", "groet", "mvg", "m.v.g", "hoogachtend", "gr.")


def _scrub_triggered_names(text: str) -> tuple[str, int]:
    lower = text.lower()
    if not any(word in lower for word in _TRIGGER_WORDS):
        return text, 0
    pieces, position, found = [], 0, 0
    for match in _AFTER_TRIGGER.finditer(text):
        pieces += [text[position:match.start("name")], PLACEHOLDERS["name"]]
        position, found = match.end("name"), found + 1
    pieces.append(text[position:])
    return "".join(pieces), found


def _scrub_listed_names(text: str) -> tuple[str, int]:
    names = first_names()
    if names.isdisjoint(word.split("-")[0] for word in _WORD.findall(text)):
        return text, 0
    pieces, position, found = [], 0, 0
    for match in _WORD.finditer(text):
        if match.start() < position or match.group().split("-")[0] not in names:
            continue
        end = _SURNAME.match(text, match.end()).end()
        pieces += [text[position:match.start()], PLACEHOLDERS["name"]]
        position, found = end, found + 1
    pieces.append(text[position:])
    return "".join(pieces), found


def _scrub_names(text: str) -> tuple[str, int]:
    text, triggered = _scrub_triggered_names(text)
    text, listed = _scrub_listed_names(text)
    return text, triggered + listed


# --------------------------------------------------------------------------- the whole text


def _replace_spans(text: str, pattern: re.Pattern, end_of: Callable[[str, re.Match], int | None], placeholder: str) -> tuple[str, int]:
    """Replace every match of `pattern` for which `end_of` gives an end (the item may end before the match does)."""
    pieces, position, found = [], 0, 0
    for match in pattern.finditer(text):
        if match.start() < position:
            continue
        end = end_of(text, match)
        if end is None:
            continue
        pieces += [text[position:match.start()], placeholder]
        position, found = end, found + 1
    if not found:
        return text, 0
    pieces.append(text[position:])
    return "".join(pieces), found


_STEPS = {
    "email": _scrub_emails, "iban": _scrub_ibans, "phone": _scrub_phones, "bsn": _scrub_bsns,
    "kvk": _scrub_kvk_numbers, "address": _scrub_addresses, "name": _scrub_names,
}


def scrub_counted(text: str) -> tuple[str, Counter]:
    """The scrubbed text and how many items of each kind were replaced.

    >>> scrub_counted("Mail jan@bakkerij.nl of bel 06-12345678, groet, Piet")
    ('Mail [e-mailadres] of bel [telefoonnummer], groet, [naam]', Counter({'email': 1, 'phone': 1, 'name': 1}))
    """
    counts: Counter = Counter()
    found_any = True
    while found_any:  # a replacement can open a context for an earlier step ('12,123456782' -> '[adres],123456782')
        found_any = False
        for kind, step in _STEPS.items():
            text, found = step(text)
            if found:
                counts[kind] += found
                found_any = True
    return text, counts


def scrub_text(text: str | None) -> str | None:
    """`text` with every item of the module's table replaced by its Dutch placeholder (None stays None).

    >>> scrub_text("KvK 1234 5678, IBAN NL91 ABNA 0417 1643 00, 1234 AB 12")
    'KvK [KvK-nummer], IBAN [IBAN], [adres]'
    >>> scrub_text("De kosten stegen in 2026 met 15% tot € 12.500 per 1 januari 2027.")
    'De kosten stegen in 2026 met 15% tot € 12.500 per 1 januari 2027.'
    """
    return None if text is None else scrub_counted(text)[0]


@cache
def _may_hold_personal_data() -> str:
    """A regular expression (Rust's, in polars) that every text the steps change matches: digits, '@', triggers, listed names."""
    names = "|".join(sorted(map(re.escape, first_names())))
    return rf"[0-9@]|{_TITLES}|{_INTRODUCTIONS}|{_GREETINGS}|{names}"


def scrub_column_counted(values: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
    """`scrub_text` over a column, and per row the items scrubbed (`items`, and one column per kind of `KINDS`; 0 for null).

    Only the texts that could hold personal data (`_may_hold_personal_data`) go through Python.

    >>> texts, counts = scrub_column_counted(pl.Series(["geen nummer", "KvK 12345678", None]))
    >>> texts.to_list(), counts["items"].to_list(), counts["kvk"].to_list()
    (['geen nummer', 'KvK [KvK-nummer]', None], [0, 1, 0], [0, 1, 0])
    """
    values = values.cast(pl.Utf8)
    suspect = values.str.contains(_may_hold_personal_data()).fill_null(False)
    counts = pl.DataFrame({column: pl.Series([0] * len(values), dtype=pl.Int32) for column in ("items", *KINDS)})
    if not suspect.any():
        return values, counts
    positions = suspect.arg_true()
    scrubbed = [scrub_counted(text) for text in values.filter(suspect).to_list()]
    found = {kind: [kinds[kind] for _, kinds in scrubbed] for kind in KINDS}
    found["items"] = [sum(kinds.values()) for _, kinds in scrubbed]
    counts = counts.with_columns(counts[column].scatter(positions, pl.Series(number, dtype=pl.Int32)) for column, number in found.items())
    return values.scatter(positions, pl.Series([text for text, _ in scrubbed], dtype=pl.Utf8)), counts


def scrub_column(values: pl.Series) -> pl.Series:
    """`scrub_text` over a column, exactly (see `scrub_column_counted`).

    >>> scrub_column(pl.Series(["Groeten, Jan de Vries", None])).to_list()
    ['Groeten, [naam]', None]
    """
    return scrub_column_counted(values)[0]
