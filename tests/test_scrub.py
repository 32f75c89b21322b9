"""Personal data is scrubbed from free text (issue 11, `core.scrub`): generated identifiers inside Dutch sentences never
survive, ordinary sentences with amounts, years, percentages and dates stay as they are, and a comment with all of them
in a landing file of every source comes out scrubbed in `raw`, in the SQLMesh layers and in the form's landing file.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schwifty import IBAN
from stdnum.nl import bsn

from core import scrub
from core.ingest import ingest_landing
from core.jsonlines import json_lines
from core.landing import write_atomically
from core.sources import sources
from core.sqlmesh_project import plan_and_refresh
from core.warehouse import connect as warehouse_connect
from tests.conftest import TEST_KEY, data_dir, generate_installation, make_installation

# --------------------------------------------------------------------------- generated identifiers

_LOCAL = st.from_regex(r"[a-z0-9]{1,10}(?:[._+-][a-z0-9]{1,8}){0,2}", fullmatch=True)
_LABEL = st.from_regex(r"[a-z0-9]{1,12}(?:-[a-z0-9]{1,8})?", fullmatch=True)
_TLD = st.sampled_from(["nl", "com", "be", "de", "eu", "org", "net", "info", "amsterdam", "frl"])
emails = st.builds(lambda local, labels, tld, upper: (f"{local}@{'.'.join(labels)}.{tld}").upper() if upper else f"{local}@{'.'.join(labels)}.{tld}",
                   _LOCAL, st.lists(_LABEL, min_size=1, max_size=3), _TLD, st.booleans())

_PHONE_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.TOLL_FREE]
_PHONE_FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL]


@st.composite
def phone_numbers(draw) -> str:
    """phonenumbers' example numbers of NL, BE and DE with other last digits (still valid), in the formats people write."""
    region = draw(st.sampled_from(["NL", "BE", "DE"]))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_PHONE_TYPES)))
    if example is None:
        example = phonenumbers.example_number(region)
    national = str(example.national_number)
    tail = draw(st.integers(min_value=0, max_value=999))
    varied = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail:03d}")
    number = varied if phonenumbers.is_valid_number(varied) else example
    # A national format is read as Dutch; a Belgian or German number in its national format is out of scope (see core.scrub).
    formats = _PHONE_FORMATS if region == "NL" else _PHONE_FORMATS[:2]
    written = phonenumbers.format_number(number, draw(st.sampled_from(formats)))
    if region == "NL" and draw(st.booleans()):  # '06-12345678', '0612345678', '020-1234567'
        written = re.sub(r"^(0[0-9]{1,3}) ", r"\1-", written).replace(" ", "") if draw(st.booleans()) else written.replace(" ", "")
    if draw(st.booleans()) and written.startswith("+"):
        written = "00" + written[1:]
    return written


_NL_BANKS = ["ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ"]


@st.composite
def ibans(draw) -> str:
    """Valid NL, BE and DE IBANs (schwifty computes the check digits), compact, in groups of four or in lower case."""
    country = draw(st.sampled_from(["NL", "BE", "DE"]))
    if country == "NL":
        iban = IBAN.generate("NL", bank_code=draw(st.sampled_from(_NL_BANKS)), account_code=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)))
    elif country == "BE":
        account = draw(st.from_regex(r"[0-9]{10}", fullmatch=True))  # schwifty adds the Belgian national check digits
        iban = IBAN.generate("BE", bank_code=account[:3], account_code=account[3:])
    else:
        iban = IBAN.generate("DE", bank_code=draw(st.sampled_from(["37040044", "50010517", "10020890", "20041133"])),
                             account_code=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)))
    return draw(st.sampled_from([iban.compact, iban.formatted, iban.compact.lower()]))


@st.composite
def bsns(draw) -> str:
    """Nine digits that pass the 11-proof, as people write them."""
    digits = draw(st.from_regex(r"[1-9][0-9]{7}", fullmatch=True))
    total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True))
    last = total % 11
    if last == 10:  # no ninth digit makes this one valid
        digits, last = "1" + digits[1:], (total - (int(digits[0]) - 1) * 9) % 11
    number = digits + str(last)
    if not bsn.is_valid(number):
        number = "123456782"
    return draw(st.sampled_from([number, f"{number[:4]}.{number[4:6]}.{number[6:]}", f"{number[:3]} {number[3:6]} {number[6:]}"]))


kvk_numbers = st.from_regex(r"[0-9]{8}", fullmatch=True).flatmap(
    lambda n: st.sampled_from([n, f"KvK {n}", f"KvK-nummer {n[:4]} {n[4:]}", f"kamer van koophandel: {n[:4]}.{n[4:]}", f"{n[:2]}.{n[2:4]}.{n[4:6]}.{n[6:]}"])
)
postcodes = st.builds(
    lambda digits, letters, number, suffix, style: style.format(f"{digits}", letters, number, suffix),
    st.integers(min_value=1000, max_value=9999), st.from_regex(r"[A-Z]{2}", fullmatch=True).filter(lambda x: x not in {"SA", "SD", "SS"}),
    st.integers(min_value=1, max_value=999), st.sampled_from(["", "a", "B", "-2"]),
    st.sampled_from(["{} {} {}{}", "{}{}, {}{}", "{}{} {}{}", "{} {}, nr. {}{}"]),
)
streets = st.builds(lambda name, word, number: f"{name}{word} {number}",
                    st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True), st.sampled_from(["straat", "laan", "weg", "plein", "gracht", "kade", "singel"]),
                    st.integers(min_value=1, max_value=1899))

_SENTENCE_STARTS = {"De", "Het", "Een", "Wij", "Ons", "Onze", "Mijn", "Ik", "Graag", "Bedankt", "In", "Sinds", "Vanaf", "Door", "Per", "Dit"}
surnames = st.from_regex(r"[A-Z][a-z]{3,10}", fullmatch=True).filter(lambda w: w not in _SENTENCE_STARTS)
_FIRST = sorted(scrub.first_names())


@st.composite
def names(draw) -> tuple[str, str]:
    """(how the name is written in its context, the part that must not survive)."""
    surname = draw(surnames)
    first = draw(st.sampled_from(_FIRST))
    particle = draw(st.sampled_from(["", "de ", "van ", "van der ", "ter "]))
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:
        return f"{draw(st.sampled_from(['mevrouw', 'Mevrouw', 'meneer', 'dhr.', 'Dhr.', 'mw.', 'de heer']))} {particle}{surname}", surname
    if kind == 1:
        return f"{draw(st.sampled_from(['Met vriendelijke groet,', 'Groeten,', 'Mvg', 'Hoogachtend,']))}\n{first} {particle}{surname}", surname
    if kind == 2:
        return f"{draw(st.sampled_from(['ik ben', 'Ik ben', 'Mijn naam is', 'ik heet']))} {surname}", surname
    if kind == 3:
        return f"dhr. {surname[0]}. {particle}{surname}", surname
    if kind == 4:
        return f"{first} {particle}{surname}", surname
    return first, first


_WORDS = ["kosten", "regeldruk", "personeel", "energie", "omzet", "klanten", "uren", "loonkosten", "overgangstermijn", "regels",
          "leveranciers", "bank", "vergunning", "subsidie", "administratie", "belasting", "huur", "winst", "orders", "marge"]
_FILLERS = ["ik", "wij", "de", "het", "een", "en", "maar", "ook", "per", "met", "voor", "door", "na", "sinds", "vanaf", "in", "tot",
            "stijgen", "dalen", "kost", "kosten", "ons", "veel", "weinig", "te", "duur", "lastig", "fijn", "snel"]
words = st.lists(st.sampled_from(_WORDS + _FILLERS), min_size=1, max_size=6).map(" ".join)
_MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"]
def _dutch_thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


amounts = st.one_of(
    st.integers(min_value=1, max_value=999_999_999).map(lambda n: f"€ {_dutch_thousands(n)}"),
    st.integers(min_value=1, max_value=99_999_999).map(lambda n: f"€{n}"),
    st.integers(min_value=1, max_value=99_999_999).map(lambda n: f"{n} euro"),
    st.builds(lambda n, c: f"€ {_dutch_thousands(n)},{c:02d}", st.integers(min_value=1, max_value=99_999), st.integers(min_value=0, max_value=99)),
    st.integers(min_value=1, max_value=9_999_999).map(lambda n: f"{_dutch_thousands(n)} euro"),
)
ordinary_numbers = st.one_of(
    amounts,
    st.integers(min_value=1900, max_value=2040).map(str),  # years
    st.builds(lambda p, d: f"{p}{d}%", st.integers(min_value=0, max_value=100), st.sampled_from(["", ",5", ".25"])),  # percentages
    st.builds(lambda d, m, y: f"{d} {m} {y}", st.integers(min_value=1, max_value=31), st.sampled_from(_MONTHS), st.integers(min_value=2020, max_value=2035)),
    st.builds(lambda d, m, y: f"{d:02d}-{m:02d}-{y}", st.integers(min_value=1, max_value=28), st.integers(min_value=1, max_value=12),
              st.integers(min_value=2020, max_value=2035)),
    st.builds(lambda n, unit: f"{n} {unit}", st.integers(min_value=1, max_value=5000), st.sampled_from(["uur", "medewerkers", "fte", "klanten", "km", "kg", "maanden"])),
)
_STARTS = ["De", "Het", "Onze", "Wij", "In", "Sinds", "Vanaf", "Door", "Per", "Ik"]


def sentence(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A Dutch sentence around `inner`: an ordinary capitalised start, words, `inner`, words, a full stop or a comma."""
    return st.builds(lambda start, before, item, after, end: f"{start} {before} {item} {after}{end}",
                     st.sampled_from(_STARTS), words, inner, words, st.sampled_from([".", "", ",", "!", "?"]))


# --------------------------------------------------------------------------- property tests


@settings(max_examples=300, deadline=None)
@given(text=sentence(emails), email=emails)
def test_generated_email_addresses_never_survive(text, email):
    for item in (text, f"{text} Mail {email}."):
        scrubbed = scrub.scrub_text(item)
        assert "@" not in scrubbed and "[e-mailadres]" in scrubbed, (item, scrubbed)


@settings(max_examples=300, deadline=None)
@given(number=phone_numbers(), before=words, after=words, start=st.sampled_from(_STARTS))
def test_generated_phone_numbers_never_survive(number, before, after, start):
    text = f"{start} {before} bel {number} {after}."
    scrubbed = scrub.scrub_text(text)
    assert not re.search(r"[0-9]", scrubbed), (text, scrubbed)  # the sentence holds no other digits
    assert "[telefoonnummer]" in scrubbed


@settings(max_examples=300, deadline=None)
@given(iban=ibans(), before=words, after=words, start=st.sampled_from(_STARTS), end=st.sampled_from([".", ",", "", " EN"]))
def test_generated_ibans_never_survive(iban, before, after, start, end):
    text = f"{start} {before} op {iban}{end} {after}"
    scrubbed = scrub.scrub_text(text)
    assert not re.search(r"[0-9]", scrubbed), (text, scrubbed)
    assert scrubbed.count("[IBAN]") == 1


@settings(max_examples=300, deadline=None)
@given(item=st.one_of(bsns().map(lambda b: ("bsn", b)), kvk_numbers.map(lambda k: ("kvk", k)), postcodes.map(lambda p: ("address", p)),
                      streets.map(lambda s: ("address", s))),
       before=words, after=words, start=st.sampled_from(_STARTS))
def test_generated_bsn_kvk_numbers_and_addresses_never_survive(item, before, after, start):
    kind, value = item
    text = f"{start} {before} {value} {after}."
    scrubbed, counts = scrub.scrub_counted(text)
    assert not re.search(r"[0-9]", scrubbed), (text, scrubbed)
    # An 8-digit number may also be a valid phone number ('08001234'): scrubbed either way, counted as the first step found it.
    assert counts[kind] >= 1 or (kind == "kvk" and counts["phone"] >= 1), (text, scrubbed, counts)


@settings(max_examples=300, deadline=None)
@given(name=names(), before=words, after=words, start=st.sampled_from(_STARTS))
def test_names_caught_by_a_title_a_trigger_a_greeting_or_the_list_never_survive(name, before, after, start):
    written, secret = name
    text = f"{start} {before}, {written}. {after}"
    scrubbed = scrub.scrub_text(text)
    assert not re.search(rf"(?<![\w]){re.escape(secret)}(?![\w])", scrubbed), (text, scrubbed)
    assert "[naam]" in scrubbed


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.one_of(sentence(ordinary_numbers), words), min_size=1, max_size=5))
def test_ordinary_dutch_sentences_with_amounts_years_percentages_and_dates_stay_unchanged(parts):
    """Each number stands in a sentence, between words (numbers side by side, '2020 123 4567', can be a phone number)."""
    text = " ".join(parts)
    assert scrub.scrub_text(text) == text
    assert scrub.scrub_column(pl.Series([text])).to_list() == [text]


@pytest.mark.parametrize("text", [
    "De kosten stegen in 2026 met 15% tot € 12.500.",
    "Per 1 januari 2027 gaat de regel in; de overgangstermijn van 12 maanden is te kort.",
    "Omzet 2025: € 1.250.000, winst 8,5%, 23 medewerkers, 40 uur per week.",
    "Vanaf 15-01-2027 moeten wij 3 keer per jaar rapporteren; dat kost ons 120 uur en € 4.800.",
    "In 2026 EU-regels, in 2027 NL-regels, 1500kg per levering en 2000 km per week.",
    "Ik ben bang dat de loonkosten in 2026 met 6% stijgen. Groeten uit Limburg.",
])
def test_the_briefs_ordinary_sentences_stay_unchanged(text):
    assert scrub.scrub_text(text) == text


PIECES = ["jan@bakkerij.nl", "06-12345678", "+32 470 12 34 56", "NL91 ABNA 0417 1643 00", "123456782", "KvK 1234 5678", "1234 AB 12",
          "Dorpsstraat 5", "mevrouw", "Jansen", "Met vriendelijke groet,", "Jan", "de", "van", "ik ben", "[naam]", "[adres]", "€ 12.500",
          "2026", "15%", " ", "\n", ",", ".", "@", "0", "A", "é"]
mixtures = st.one_of(st.text(max_size=40), st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=20).map("".join))


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), mixtures), max_size=6))
def test_scrubbing_twice_changes_nothing_and_the_column_equals_the_texts(texts):
    """The form scrubs and ingestion scrubs again: the second time must be a no-op; the set-wise column is exact."""
    once = [scrub.scrub_text(t) for t in texts]
    assert [scrub.scrub_text(t) for t in once] == once
    column, counts = scrub.scrub_column_counted(pl.Series(texts, dtype=pl.Utf8))
    assert column.to_list() == once
    expected = [0 if t is None else sum(scrub.scrub_counted(t)[1].values()) for t in texts]
    assert counts["items"].to_list() == expected
    assert counts.select(pl.sum_horizontal(list(scrub.KINDS))).to_series().to_list() == expected


# --------------------------------------------------------------------------- end to end, every source

COMMENT = (
    "Mevrouw De Vries vroeg mij dit: mail jan.jansen@bakkerij-jansen.nl of bel 06-12345678 (of +32 470 12 34 56). "
    "IBAN NL91 ABNA 0417 1643 00, BSN 123456782, KvK 1234 5678, adres Dorpsstraat 12a, 1234 AB Ons Dorp. "
    "De kosten stegen in 2026 met 15% tot € 12.500. Met vriendelijke groet, Piet Pietersen"
)
# Long enough not to turn up by chance in a hash (hex) or in another synthetic comment.
SECRETS = ["Vries", "jan.jansen", "bakkerij-jansen", "06-12345678", "470 12 34 56", "NL91", "ABNA 0417", "123456782", "1234 5678",
           "Dorpsstraat", "1234 AB", "Pietersen"]
SCRUBBED_COMMENT = (
    "Mevrouw [naam] vroeg mij dit: mail [e-mailadres] of bel [telefoonnummer] (of [telefoonnummer]). "
    "IBAN [IBAN], BSN [BSN], KvK [KvK-nummer], adres [adres], [adres] Ons Dorp. "
    "De kosten stegen in 2026 met 15% tot € 12.500. Met vriendelijke groet, [naam]"
)


def test_the_comment_is_scrubbed_as_documented():
    text, counts = scrub.scrub_counted(COMMENT)
    assert text == SCRUBBED_COMMENT
    assert counts == {"name": 2, "email": 1, "phone": 2, "iban": 1, "bsn": 1, "kvk": 1, "address": 2}


@pytest.fixture(scope="module")
def scrubbed_installation(tmp_path_factory):
    """A small synthetic installation, plus one landing file per source whose free text holds COMMENT; ingested, SQLMesh built."""
    installation = make_installation(tmp_path_factory.mktemp("scrub"))
    with data_dir(installation.data_dir):
        generate_installation(installation, firms=150, waves=2)
        planted = {}
        for name, declared in sources().items():
            free = [column for column, field in declared.fields.items() if field.type == "free_text"]
            if not free:  # a source without free text (the debt signals) has nothing to scrub
                continue
            record = _one_landed_record(installation.landing / name)
            limits = {column: declared.fields[column].max_length for column in free}
            record |= {declared.key: f"scrubtest-{name}", **{column: COMMENT[: limits[column]] for column in free}}
            write_atomically(installation.landing / name, f"scrubtest_{name}.jsonl", json_lines([record]))
            planted[name] = free
        with warehouse_connect(installation.warehouse) as connection:
            for name in sources():
                ingest_landing(connection, installation.landing, TEST_KEY.encode(), name=name)
        plan_and_refresh(installation.warehouse)
    return installation, planted


def _one_landed_record(folder) -> dict:
    """A valid record as a generator landed it (JSON lines or CSV), to copy with new free text."""
    for path in sorted(folder.iterdir()):
        if path.suffix == ".jsonl":
            return json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    csv = sorted(p for p in folder.iterdir() if p.suffix == ".csv")
    if csv:
        return pl.read_csv(csv[0], infer_schema=False, n_rows=1).to_dicts()[0]
    path = min(p for p in folder.iterdir() if p.suffix == ".parquet")  # a source delivered as Parquet only (the programme's platform)
    def text(value) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return value.isoformat() if isinstance(value, date) else str(value).lower() if isinstance(value, bool) else str(value)

    return {key: text(value) for key, value in pl.read_parquet(path, n_rows=1).to_dicts()[0].items()}


def test_a_comment_in_a_landing_file_of_every_source_is_scrubbed_in_raw_and_logged_by_count(scrubbed_installation):
    installation, planted = scrubbed_installation
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        for name, free in planted.items():
            declared = sources()[name]
            row = connection.execute(f"SELECT {', '.join(free)} FROM {declared.raw_table} WHERE {declared.key} = ?", [f"scrubtest-{name}"]).fetchone()
            assert row is not None, f"{name}: the planted row was not loaded"
            for column, stored in zip(free, row, strict=True):
                limit = declared.fields[column].max_length
                assert stored == scrub.scrub_text(COMMENT[:limit]), (name, column, stored)
                assert not [secret for secret in SECRETS if secret in stored]
            logged = connection.execute(
                "SELECT field, items, email, phone, iban, bsn, kvk, address, name FROM meta.scrub_log l "
                f"JOIN {declared.raw_table} r USING (file_hash, row_number) WHERE l.source = ? AND r.{declared.key} = ? ORDER BY field",
                [name, f"scrubtest-{name}"],
            ).fetchall()
            assert [entry[0] for entry in logged] == sorted(free)
            full = [entry for entry in logged if declared.fields[entry[0]].max_length >= len(COMMENT)]
            assert all(entry[1:] == (10, 1, 2, 1, 1, 1, 2, 2) for entry in full), logged
        columns = {c for (c,) in connection.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'scrub_log'").fetchall()}
        assert "text" not in columns and "value" not in columns  # counts only


def test_no_planted_identifier_is_in_any_table_of_the_warehouse(scrubbed_installation):
    """raw, staging (the answers hold the free text) and marts: the secrets of COMMENT are nowhere."""
    installation, _ = scrubbed_installation
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('raw', 'staging', 'marts', 'quarantine')"
        ).fetchall()
        assert {schema for schema, _ in tables} >= {"raw", "staging", "marts"}
        staged = 0
        for schema, table in tables:
            text = "\n".join(map(repr, connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()))
            assert not [secret for secret in SECRETS if secret in text], f"{schema}.{table}"
            staged += schema == "staging" and "[telefoonnummer]" in text
    assert staged >= 1, "the scrubbed comment reached no staging model"


def test_the_form_writes_a_scrubbed_landing_file_and_refuses_a_text_that_scrubbing_makes_too_long(tmp_path):
    from core.contracts import SubmissionError
    from dashboards.cgc import submit_cgc

    profile = {"sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown"}
    record = submit_cgc({**profile, "free_text": "  " + COMMENT + " "}, "12345678", landing=tmp_path)
    (path,) = (tmp_path / "cgc").iterdir()
    landed = json.loads(path.read_text(encoding="utf-8"))
    assert landed["free_text"] == record["free_text"] == SCRUBBED_COMMENT
    assert not [secret for secret in SECRETS if secret in path.read_text(encoding="utf-8").replace(landed["kvk_number"], "")]
    with pytest.raises(SubmissionError) as refused:
        submit_cgc({**profile, "free_text": " ".join(["a@b.nl"] * 285)}, "12345678", landing=tmp_path / "long")
    assert refused.value.problems[0].startswith("Toelichting: is te lang (maximaal 2000 tekens) nu e-mailadressen")
    assert not (tmp_path / "long").exists()


def test_the_ingestion_asset_shows_what_was_scrubbed_in_its_dagster_metadata(tmp_path):
    """A data engineer sees rows and items scrubbed, per kind and per file, in the materialisation of raw (counts only)."""
    import dagster as dg

    from assets.ingest.factory import INGEST_ASSETS, raw_key
    from dashboards.cgc import submit_cgc

    installation = make_installation(tmp_path)
    profile = {"sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown"}
    record = submit_cgc({**profile, "free_text": "geen"}, "12345678", landing=installation.landing)
    (path,) = (installation.landing / "cgc").iterdir()
    path.write_bytes(json_lines([{**record, "free_text": COMMENT}]))  # as a sender would deliver it: not scrubbed yet
    cgc_ingestion = next(asset for asset in INGEST_ASSETS if raw_key(sources()["cgc"]) in asset.keys)
    result = dg.materialize([cgc_ingestion], resources=installation.resources())
    assert result.success
    (materialization,) = [m for m in result.asset_materializations_for_node(cgc_ingestion.op.name) if m.asset_key == raw_key(sources()["cgc"])]
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert (metadata["rows_raw"], metadata["rows_scrubbed"], metadata["items_scrubbed"]) == (1, 1, 10)
    assert metadata["scrubbed_by_kind"] == {"email": 1, "iban": 1, "phone": 2, "bsn": 1, "kvk": 1, "address": 2, "name": 2}
    assert "| 1 (10) |" in metadata["files_this_run"]
    assert not [secret for secret in SECRETS if secret in str(metadata)]
