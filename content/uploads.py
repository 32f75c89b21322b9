"""Documents and advice that respondents send with a consultation reaction: checked, stored, and handed to administrators.

Accepted: PDF, DOCX and ODT, at most 10 MB (`MAX_BYTES`, also Streamlit's
`server.maxUploadSize`). The type comes from the content, never from the name:

* PDF: `%PDF-` at the very first byte; pypdf reads the structure (trailer,
  cross-reference, objects) and nothing else. Refused: encrypted (an
  `/Encrypt` entry), active content (JavaScript, Launch actions, forms sent
  elsewhere, embedded files, XFA forms, also when hidden in object streams or
  #-escaped names; an automatic action, `/OpenAction` or `/AA`, that does
  more than go to a page of the file), and a file pypdf cannot read.
* DOCX and ODT are ZIP containers. `zipfile` reads the central directory and
  a few small members into memory, never onto disk. Refused: more than
  `MAX_MEMBERS` members or `MAX_UNPACKED` bytes unpacked (a zip bomb), a
  member encrypted, a name twice. DOCX needs `[Content_Types].xml` with a
  Word main document and `word/document.xml`; a `vbaProject.bin`, a
  `vbaData.xml` or a macro-enabled content type is a macro; ActiveX controls,
  embedded OLE objects (`.bin`) and a relationship Word follows by itself to
  an outside address (a template or object: remote template injection) are
  active content. ODT needs the first
  member `mimetype` holding exactly `application/vnd.oasis.opendocument.text`,
  and `content.xml`; a `Basic/` or `Scripts/` folder, an event listener or a
  script (`vnd.sun.star.script:`) is a macro, `manifest:encryption-data` is
  encryption.
* An OLE2 (CFB) container (`D0 CF 11 E0 ...`) is refused whatever its name:
  it is either an encrypted Office file (its `EncryptedPackage` stream says
  so) or an old Word 97-2003 file, and neither is allowed.

A name is shown and used as the download's name only, never as a path: it is
refused (not silently changed) when it holds a path (`/`, `\\`, a drive such as
`C:`), a control, invisible, unassigned or reading-direction character, a
character Windows does not allow in a file name, a Windows device name (CON,
NUL, COM1 ...), more than `MAX_NAME` characters, or another extension than its
content. Every refusal is an `UploadError` with a Dutch message that
names the file, the value and the rule; pages show it through
`dashboards.safe.md`.

The bytes are stored encrypted (`seal_upload`: Fernet under the accounts
key) as `<data>/uploads/<sha256>` (owner-only, written atomically, no
extension; the name is the SHA-256 of the bytes as sent), outside anything Streamlit serves; the platform
never opens, renders or runs them. The metadata (proposal, article, the
checked name, size, detected type, SHA-256, time, the account's keyed firm
reference) is in the web app's store (`uploads` table). Uploads are not
analytics: the pipeline never reads them and no release contains them.
Only administrators list and download them, and every download is in the
audit trail.
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import filetype
from cryptography.fernet import InvalidToken

from accounts import audit
from accounts.crypto import fernet
from accounts.service import Account, require_role
from accounts.store import transaction
from content.proposals import Proposal, get_proposal, slug
from core.contracts import FORBIDDEN_TEXT_CHARACTERS
from core.landing import write_atomically
from core.settings import paths

MAX_BYTES = 10 * 1024 * 1024  # 10 MB as Streamlit counts them (server.maxUploadSize = 10 in .streamlit/config.toml)
MAX_NAME = 120  # characters of a file name
MAX_MEMBERS = 1_000  # members of a DOCX or ODT (a long report with images has a few hundred)
MAX_UNPACKED = 100 * 1024 * 1024  # bytes of all members together, unpacked
MAX_MEMBER_READ = 4 * 1024 * 1024  # bytes read of one small member ([Content_Types].xml, mimetype, manifest.xml)
MAX_PDF_OBJECTS = 200_000  # values looked at in a PDF's objects
MAX_UPLOADS_PER_FIRM = 10  # per proposal

PDF, DOCX, ODT = "pdf", "docx", "odt"
MEDIA_TYPES = {
    PDF: "application/pdf",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ODT: "application/vnd.oasis.opendocument.text",
}
KIND_NAMES = {PDF: "een PDF", DOCX: "een Word-document (.docx)", ODT: "een OpenDocument-tekst (.odt)"}
ALLOWED = "PDF (.pdf), Word (.docx) en OpenDocument-tekst (.odt)"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_WINDOWS_FORBIDDEN = '<>:"|?*'
_FORBIDDEN_IN_NAME = frozenset(FORBIDDEN_TEXT_CHARACTERS) | frozenset("\t\n\r\u2028\u2029")
# Beyond those (free text's rule): every invisible format character (zero-width, LRM/RLM/ALM, BOM, tags), line and
# paragraph separators, surrogates, private-use and unassigned code points; a name is shown, so it must show what it is.
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)", re.IGNORECASE)  # also with an extension


def _forbidden_in_name(character: str) -> bool:
    return character in _FORBIDDEN_IN_NAME or unicodedata.category(character) in _FORBIDDEN_NAME_CATEGORIES


class UploadError(ValueError):
    """An upload is refused; `str(error)` is the Dutch message (naming file, value and rule), `rule` a short code for the audit."""

    def __init__(self, message: str, rule: str, file_name: str = ""):
        super().__init__(message)
        self.rule = rule
        self.file_name = file_name


@dataclass(frozen=True)
class Upload:
    id: int
    proposal_id: str
    article: str  # the article's number as the proposal gives it; empty: the proposal as a whole
    display_name: str  # the checked name; shown and used as the download's name only
    size: int  # bytes
    media_type: str  # detected from the content
    sha256: str  # also the stored file's name
    uploaded_at: str  # ISO, seconds
    firm_ref: str  # the account's keyed firm reference (never the KvK number)

    @property
    def kind(self) -> str:
        return next(kind for kind, media_type in MEDIA_TYPES.items() if media_type == self.media_type)


def seal_upload(data: bytes) -> bytes:
    """The bytes as stored: encrypted with the accounts key (Fernet: AES-128-CBC and HMAC-SHA256), which the web app holds."""
    return fernet().encrypt(data)


def open_upload(stored: bytes) -> bytes:
    """The bytes as sent; a file stored before uploads were encrypted is returned as it is (its SHA-256 is checked after)."""
    try:
        return fernet().decrypt(stored)
    except InvalidToken:
        return stored


def uploads_dir() -> Path:
    """Where the bytes are stored: `<MKB_DATA_DIR>/uploads/`, owner-only, not under any folder the web server serves."""
    return paths().data_dir / "uploads"


# --------------------------------------------------------------------------- the checks


def _shown(name: str, limit: int = 60) -> str:
    """The name as a message may repeat it: without control characters, cut to `limit` characters."""
    clean = "".join(c for c in name if not _forbidden_in_name(c))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _megabytes(size: int) -> str:
    """
    >>> _megabytes(10 * 1024 * 1024 + 1)
    '10,0 MB'
    >>> _megabytes(350 * 1024)
    '0,3 MB'
    """
    return f"{size / 1024 / 1024:.1f}".replace(".", ",") + " MB"


def _count(number: int) -> str:
    """
    >>> _count(10485761)
    '10.485.761'
    """
    return f"{number:,}".replace(",", ".")


def check_name(file_name: str) -> str:
    """The display name (NFC), or `UploadError` saying why the name cannot be kept as it is.

    >>> check_name("Advies MKB-Nederland.pdf")
    'Advies MKB-Nederland.pdf'
    >>> check_name("../x.pdf")
    Traceback (most recent call last):
    ...
    content.uploads.UploadError: Bestand '../x.pdf': de naam bevat een map of pad ('/', '\\' of een schijf zoals C:); kies het bestand zelf, zonder map in de naam.
    """
    name = unicodedata.normalize("NFC", file_name or "")
    shown = _shown(name)
    if not name.strip():
        raise UploadError("Het bestand heeft geen naam. Geef het een naam die eindigt op .pdf, .docx of .odt.", "name_empty")
    if "/" in name or "\\" in name or _DRIVE.match(name) or name in (".", ".."):
        raise UploadError(f"Bestand '{shown}': de naam bevat een map of pad ('/', '\\' of een schijf zoals C:); "
                          "kies het bestand zelf, zonder map in de naam.", "name_path", shown)
    bad = next((c for c in name if _forbidden_in_name(c)), None)
    if bad is not None:
        raise UploadError(f"Bestand '{shown}': de naam bevat een onzichtbaar of onbekend teken, of een teken dat de "
                          f"leesrichting verandert (U+{ord(bad):04X}); geef het bestand een naam met gewone letters, cijfers en leestekens.", "name_control", shown)
    if len(name) > MAX_NAME:
        raise UploadError(f"Bestand '{shown}': de naam is {len(name)} tekens lang; dat mag hoogstens {MAX_NAME} zijn. "
                          "Geef het bestand een kortere naam.", "name_too_long", shown)
    bad = next((c for c in name if c in _WINDOWS_FORBIDDEN), None)
    if bad is not None:
        raise UploadError(f"Bestand '{shown}': de naam bevat het teken '{bad}'; de tekens {' '.join(_WINDOWS_FORBIDDEN)} "
                          "mogen niet in een bestandsnaam. Haal het weg.", "name_character", shown)
    if _WINDOWS_DEVICE.match(name):
        raise UploadError(f"Bestand '{shown}': de naam begint met '{name.split('.', 1)[0]}', de naam van een apparaat in Windows "
                          "(zoals CON, PRN, AUX, NUL, COM1 of LPT1); zo'n bestand kan niet worden opgeslagen. Geef het een andere naam.",
                          "name_device", shown)
    if name != name.strip() or name.startswith("."):
        raise UploadError(f"Bestand '{shown}': de naam begint of eindigt met een spatie of begint met een punt; "
                          "geef het bestand een gewone naam, zoals advies.pdf.", "name_edges", shown)
    return name


def _claimed(name: str) -> str:
    """The kind the name claims, or `UploadError` for an extension we do not take."""
    shown = _shown(name)
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    if extension in MEDIA_TYPES:
        return extension
    if extension in ("docm", "dotm"):
        raise UploadError(f"Bestand '{shown}': bevat macro's (.{extension}); die nemen we niet aan. "
                          "Sla het op als gewoon .docx zonder macro's.", "macro", shown)
    if extension in ("doc", "dot", "rtf", "wps"):
        raise UploadError(f"Bestand '{shown}': een oud of ander tekstbestand (.{extension}) nemen we niet aan; "
                          f"alleen {ALLOWED}. Sla het op als .docx, .odt of PDF.", "extension", shown)
    said = f"de soort '.{_shown(extension, 20)}'" if extension else "een naam zonder soort (zoals .pdf)"
    raise UploadError(f"Bestand '{shown}': {said} nemen we niet aan; alleen {ALLOWED}.", "extension", shown)


def _what_it_is(data: bytes) -> str:
    """A Dutch description of content that is none of the allowed kinds."""
    guess = filetype.guess(data)
    if guess is not None:
        return f"een {guess.extension.upper()}-bestand ({guess.mime})"
    return "platte tekst of een onbekende soort" if data[:1024].isascii() else "een onbekende soort"


def _refuse_ole2(data: bytes, shown: str) -> None:
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        raise UploadError(f"Bestand '{shown}': is versleuteld (met een wachtwoord beveiligd); zo'n bestand nemen we niet aan. "
                          "Haal het wachtwoord eraf en sla het opnieuw op.", "encrypted", shown)
    raise UploadError(f"Bestand '{shown}': is een oud Office-bestand (Word 97-2003 of ouder, OLE2); dat nemen we niet aan. "
                      "Sla het op als .docx, .odt of PDF.", "old_office", shown)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """One small member, read into memory and never past `MAX_MEMBER_READ` bytes (whatever its header says)."""
    with archive.open(name) as stream:
        return stream.read(MAX_MEMBER_READ)


def _contains(archive: zipfile.ZipFile, name: str, needles: tuple[bytes, ...], chunk: int = 1024 * 1024) -> bool:
    """Whether a member holds any of `needles`, read in chunks (its size is bounded by the zip-bomb check)."""
    tail, overlap = b"", max(map(len, needles))
    with archive.open(name) as stream:
        while block := stream.read(chunk):
            if any(needle in tail + block for needle in needles):
                return True
            tail = block[-overlap:]
    return False


def _zip_kind(data: bytes, shown: str) -> tuple[str | None, str]:
    """(kind or None, what it is in Dutch) of a ZIP container, refusing bombs, encrypted members and macros."""
    damaged = UploadError(f"Bestand '{shown}': is beschadigd (het ZIP-archief binnenin klopt niet); sla het opnieuw op.", "damaged", shown)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - a directory zipfile cannot read (bad sizes, a version it lacks, a broken stream) is damaged
        raise damaged from None
    with archive:
        members = archive.infolist()
        unpacked = sum(member.file_size for member in members)
        if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED:
            raise UploadError(f"Bestand '{shown}': heeft {_count(len(members))} onderdelen die uitgepakt {_megabytes(unpacked)} zijn; "
                              f"dat mag hoogstens {_count(MAX_MEMBERS)} onderdelen en {_megabytes(MAX_UNPACKED)} zijn (dit lijkt een "
                              "zip-bom). Zo'n bestand nemen we niet aan.", "zip_bomb", shown)
        names = [member.filename for member in members]
        if len(names) != len(set(names)) or not names:
            raise damaged
        if any(member.flag_bits & 0x1 for member in members):
            raise UploadError(f"Bestand '{shown}': is versleuteld (met een wachtwoord beveiligd); zo'n bestand nemen we niet aan. "
                              "Haal het wachtwoord eraf en sla het opnieuw op.", "encrypted", shown)
        try:
            if names[0] == "mimetype":
                return _odf_kind(archive, names, _read_member(archive, "mimetype"), shown)
            if "[Content_Types].xml" in names:
                return _ooxml_kind(archive, names, _read_member(archive, "[Content_Types].xml"), shown)
        except UploadError:
            raise
        except Exception:  # noqa: BLE001 - a lying header, a bad CRC, a broken deflate stream, an unknown compression
            raise damaged from None
    return None, "een ZIP-archief (geen Word- of OpenDocument-tekst)"


_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.IGNORECASE)
# Relationships Word follows by itself when it opens a file: a template or an object fetched from elsewhere (remote
# template injection; CVE-2022-30190 'Follina' used an external oleObject). A hyperlink to a web page is fine.
_FETCHED_ON_OPENING = re.compile(rb'Type="[^"]*/(?:attachedTemplate|oleObject|subDocument|frame|package)"', re.IGNORECASE)


def _ooxml_is_active(archive: zipfile.ZipFile, lowered: list[str], names: list[str]) -> bool:
    """Whether a DOCX holds ActiveX controls, embedded OLE objects (which may carry a program), or a relationship Word
    follows to another address by itself."""
    if any(name.startswith(("word/activex/", "customui/")) or (name.startswith("word/embeddings/") and name.endswith(".bin"))
           for name in lowered):
        return True
    for name in names:
        if name.lower().endswith(".rels"):
            for relationship in _RELATIONSHIP.findall(_read_member(archive, name)):
                if b'targetmode="external"' in relationship.lower() and _FETCHED_ON_OPENING.search(relationship):
                    return True
    return False


def _ooxml_kind(archive: zipfile.ZipFile, names: list[str], content_types: bytes, shown: str) -> tuple[str | None, str]:
    types = content_types.lower()
    lowered = [name.lower() for name in names]
    if (b"macroenabled" in types or b"vbaproject" in types
            or any(name.rsplit("/", 1)[-1] in ("vbaproject.bin", "vbadata.xml") for name in lowered)):
        raise UploadError(f"Bestand '{shown}': bevat macro's; die nemen we niet aan. Sla het op als gewoon .docx zonder macro's.",
                          "macro", shown)
    if _ooxml_is_active(archive, lowered, names):
        raise UploadError(f"Bestand '{shown}': bevat een ingesloten object of besturingselement (ActiveX, OLE) of haalt bij het "
                          "openen iets van buiten op (een sjabloon of object); zo'n bestand nemen we niet aan. Sla het op als "
                          "gewoon .docx, of als PDF.", "active_content", shown)
    if b"wordprocessingml.document.main+xml" in types and "word/document.xml" in names:
        return DOCX, KIND_NAMES[DOCX]
    if b"spreadsheetml" in types:
        return None, "een Excel-werkmap (.xlsx)"
    if b"presentationml" in types:
        return None, "een PowerPoint-presentatie (.pptx)"
    return None, "een Office-bestand zonder Word-document (word/document.xml ontbreekt)"


# A macro bound to an event (Basic or Python through vnd.sun.star.script:, or any event listener) or a script in the file.
_ODF_SCRIPTS = (b"vnd.sun.star.script:", b"script:event-listener", b"<office:script ", b"<office:script>")


def _odf_kind(archive: zipfile.ZipFile, names: list[str], mimetype: bytes, shown: str) -> tuple[str | None, str]:
    if mimetype != MEDIA_TYPES[ODT].encode():
        label = mimetype[:80].decode("ascii", "replace")
        return None, f"een ander OpenDocument-bestand ({_shown(label)})"
    if any(name.split("/", 1)[0].lower() in ("basic", "scripts") and "/" in name for name in names) or any(
        _contains(archive, part, _ODF_SCRIPTS) for part in ("content.xml", "styles.xml") if part in names
    ):
        raise UploadError(f"Bestand '{shown}': bevat macro's; die nemen we niet aan. Sla het op als gewoon .odt zonder macro's.",
                          "macro", shown)
    if "META-INF/manifest.xml" in names and b"encryption-data" in _read_member(archive, "META-INF/manifest.xml"):
        raise UploadError(f"Bestand '{shown}': is versleuteld (met een wachtwoord beveiligd); zo'n bestand nemen we niet aan. "
                          "Haal het wachtwoord eraf en sla het opnieuw op.", "encrypted", shown)
    if "content.xml" not in names:
        return None, "een OpenDocument-bestand zonder tekst (content.xml ontbreekt)"
    return ODT, KIND_NAMES[ODT]


_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/XFA", "/RichMedia"})
_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/ImportData", "/RichMediaExecute", "/SubmitForm", "/GoToE"})
# What a reader does by itself, on opening (/OpenAction) or on an event (/AA: a page shown, a field left, the file
# printed): only going to a place in the same file is harmless there (many PDF writers open at page 1 that way).
# Any other automatic action (a web address, another file, a form sent) is refused, also where a link may have it.
_AUTOMATIC_KEYS = ("/OpenAction", "/AA")
_HARMLESS_AUTOMATIC = frozenset({"/GoTo"})
# The same names as plain bytes: also found when the structure is damaged beyond what pypdf reads. Names escaped with
# '#' (/J#61vaScript) or hidden in object streams are found by the structural walk below. Not '/JS': three bytes turn
# up by chance in compressed images about once per 16 MB (an action with /JS also has /S /JavaScript, found anyway).
_ACTIVE_BYTES = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFiles?|XFA|RichMedia|SubmitForm|ImportData|GoToE)(?![A-Za-z0-9#])")


def _automatic_action_is_active(action) -> bool:
    """Whether an /OpenAction or /AA value does more than go to a place in the same file (its /Next chain included)."""
    from pypdf.generic import ArrayObject, DictionaryObject

    def resolved(value):
        return value.get_object() if hasattr(value, "get_object") else value

    pending, seen = [action], 0
    while pending:
        value = resolved(pending.pop())
        seen += 1
        if seen > 1_000:
            return True
        if isinstance(value, ArrayObject):  # an explicit destination [page /Fit ...], or a /Next list of actions
            pending.extend(item for item in value if isinstance(resolved(item), DictionaryObject) and "/S" in resolved(item))
        elif isinstance(value, DictionaryObject) and "/S" in value:
            if value["/S"] not in _HARMLESS_AUTOMATIC:
                return True
            if "/Next" in value:
                pending.append(value["/Next"])
        elif isinstance(value, DictionaryObject):  # /AA: a dictionary of events, each an action
            pending.extend(value.values())
    return False  # else a named destination (a name or a string)


def _pdf_is_active(reader) -> bool:
    """Whether any object of the PDF holds JavaScript, a Launch action, an embedded file, an XFA form, a form that is sent
    somewhere, or an automatic action that does more than go to a page."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    seen = 0
    pending: list = [reader.trailer]
    for generation, numbers in reader.xref.items():
        pending.extend(IndirectObject(number, generation, reader) for number in numbers)
    pending.extend(IndirectObject(number, 0, reader) for number in reader.xref_objStm)
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_PDF_OBJECTS:
            raise ValueError("too many objects")
        if isinstance(value, IndirectObject):
            value = value.get_object()  # its own object: visited once from the list above, never followed from here
            if isinstance(value, IndirectObject):
                continue
        if isinstance(value, DictionaryObject):
            if _ACTIVE_KEYS & set(value.keys()):
                return True
            if value.get("/S") in _ACTIVE_ACTIONS or value.get("/Type") == NameObject("/EmbeddedFile"):
                return True
            if any(key in value and _automatic_action_is_active(value[key]) for key in _AUTOMATIC_KEYS):
                return True
            pending.extend(v for v in value.values() if not isinstance(v, IndirectObject))
        elif isinstance(value, ArrayObject):
            pending.extend(v for v in value if not isinstance(v, IndirectObject))
    return False


def _check_pdf(data: bytes, shown: str) -> None:
    import logging

    from pypdf import PdfReader

    encrypted = UploadError(f"Bestand '{shown}': is versleuteld (met een wachtwoord beveiligd); zo'n bestand nemen we niet aan. "
                            "Sla het op zonder wachtwoord (bijvoorbeeld met 'Afdrukken als PDF').", "encrypted", shown)
    if re.search(rb"/Encrypt[\s/<>\[\]()%]", data):  # also in an older trailer of an incrementally saved file
        raise encrypted
    active = UploadError(f"Bestand '{shown}': bevat JavaScript, een opdracht die vanzelf iets doet (een programma of website "
                         "openen, een formulier versturen) of een bijgevoegd bestand; zo'n PDF nemen we niet aan. Sla het op als "
                         "gewone PDF (bijvoorbeeld met 'Afdrukken als PDF').", "active_content", shown)
    if _ACTIVE_BYTES.search(data):
        raise active
    quiet = logging.getLogger("pypdf")
    level, quiet.level = quiet.level, logging.ERROR  # a damaged PDF is refused below; its warnings are not the app's
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise encrypted
        pages = len(reader.pages)
        is_active = _pdf_is_active(reader)
    except UploadError:
        raise
    except Exception:  # noqa: BLE001 - whatever pypdf cannot read is not a PDF we take
        raise UploadError(f"Bestand '{shown}': is geen leesbare PDF (de opbouw klopt niet); sla het opnieuw op als PDF.",
                          "damaged", shown) from None
    finally:
        quiet.setLevel(level)
    if pages < 1:
        raise UploadError(f"Bestand '{shown}': is een PDF zonder pagina's; kies het juiste bestand.", "damaged", shown)
    if is_active:
        raise active


def check_upload(file_name: str, data: bytes) -> tuple[str, str]:
    """(display name, kind) of an acceptable upload, or `UploadError` with the first rule it breaks.

    The checks read the content and never run, render or unpack it onto disk.
    """
    name = check_name(file_name)
    shown = _shown(name)
    if not data:
        raise UploadError(f"Bestand '{shown}': is leeg (0 bytes); kies het bestand opnieuw.", "empty", shown)
    if len(data) > MAX_BYTES:
        raise UploadError(f"Bestand '{shown}': is {_megabytes(len(data))} ({_count(len(data))} bytes); dat is meer dan "
                          f"de grens van {MAX_BYTES // 1024 // 1024} MB ({_count(MAX_BYTES)} bytes). Maak het kleiner "
                          "(bijvoorbeeld met kleinere afbeeldingen) of stuur een samenvatting.", "too_large", shown)
    claimed = _claimed(name)
    if data.startswith(OLE2_MAGIC):
        _refuse_ole2(data, shown)
    if data.startswith(b"%PDF-"):
        detected, described = PDF, KIND_NAMES[PDF]
    elif data.startswith(ZIP_MAGIC):
        detected, described = _zip_kind(data, shown)
    else:
        detected, described = None, _what_it_is(data)
    if detected != claimed:
        raise UploadError(f"Bestand '{shown}': de naam zegt {KIND_NAMES[claimed]}, maar de inhoud is {described}. "
                          f"Kies het juiste bestand, of sla het op als {claimed.upper()}.", "mismatch", shown)
    if detected == PDF:
        _check_pdf(data, shown)
    return name, detected


# --------------------------------------------------------------------------- storing and reading


def _upload(row: sqlite3.Row) -> Upload:
    return Upload(row["id"], row["proposal_id"], row["article"], row["display_name"], row["size"], row["media_type"], row["sha256"],
                  row["uploaded_at"], row["firm_ref"])


def _article_number(proposal: Proposal, article: str | None) -> str:
    """The article's number, from its number or its code '<proposal>/<slug>'; empty for the proposal as a whole."""
    if not article:
        return ""
    for item in proposal.articles:
        if article in (item.number, f"{proposal.id}/{slug(item.number) or 'onderdeel'}"):
            return item.number
    raise UploadError(f"Voorstel '{proposal.id}' heeft geen artikel of onderdeel '{_shown(article)}'; kies een artikel uit de lijst.",
                      "article")


def _refused(connection: sqlite3.Connection, actor: Account, proposal_id: str, error: UploadError, size: int, now: datetime) -> None:
    with transaction(connection):
        audit.record(connection, actor.email, "upload_refused", proposal_id, {"rule": error.rule, "size": size}, now)


def store_upload(connection: sqlite3.Connection, actor: Account, proposal_id: str, article: str | None, file_name: str, data: bytes,
                 now: datetime | None = None) -> Upload:
    """Check and keep a respondent's document with their reaction to `article` of a proposal (respondents only).

    `file_name` and `data` are what `st.file_uploader(...)` gives (`.name`, `.getvalue()`); `article` is the article's
    number or its code `<proposal>/<slug>`, or None for the proposal as a whole. The same file sent again for the same
    article (a Streamlit rerun) returns the upload already stored. Refused: `UploadError` (Dutch, `str(error)`), which
    is also written to the audit trail with its rule (not the file's name).
    """
    require_role(actor, "respondent")
    now, data = now or datetime.now(), bytes(data or b"")
    try:
        proposal = get_proposal(connection, proposal_id)
        if proposal is None:
            raise UploadError(f"Voorstel '{_shown(proposal_id)}' bestaat niet; kies een voorstel uit de lijst.", "proposal")
        if not proposal.is_open(now.date()):
            raise UploadError(f"Voorstel '{proposal.id}' staat niet open voor reacties; een document kan alleen mee met een reactie "
                              "zolang het voorstel open staat.", "closed")
        number = _article_number(proposal, article)
        display_name, kind = check_upload(file_name, data)
        sha256 = hashlib.sha256(data).hexdigest()
        same = connection.execute("SELECT * FROM uploads WHERE proposal_id = ? AND article = ? AND firm_ref = ? AND sha256 = ?",
                                  [proposal.id, number, actor.firm_ref, sha256]).fetchone()
        if same is not None:
            return _upload(same)
        sent = connection.execute("SELECT COUNT(*) FROM uploads WHERE proposal_id = ? AND firm_ref = ?", [proposal.id, actor.firm_ref]).fetchone()[0]
        if sent >= MAX_UPLOADS_PER_FIRM:
            raise UploadError(f"Bestand '{_shown(display_name)}': uw bedrijf heeft al {sent} documenten bij voorstel '{proposal.id}' "
                              f"gestuurd; meer dan {MAX_UPLOADS_PER_FIRM} nemen we niet aan. Voeg eventueel documenten samen tot één.",
                              "limit", _shown(display_name))
    except UploadError as error:
        _refused(connection, actor, proposal_id, error, len(data), now)
        raise
    write_atomically(uploads_dir(), sha256, seal_upload(data))  # before the row: a row never points at a missing file
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO uploads (proposal_id, article, display_name, size, media_type, sha256, uploaded_at, firm_ref) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [proposal.id, number, display_name, len(data), MEDIA_TYPES[kind], sha256, now.isoformat(timespec="seconds"), actor.firm_ref],
        )
        upload_id = cursor.lastrowid
        audit.record(connection, actor.email, "upload_stored", proposal.id,
                     {"upload": upload_id, "article": number, "size": len(data), "type": MEDIA_TYPES[kind], "sha256": sha256}, now)
    return get_upload(connection, upload_id)


def get_upload(connection: sqlite3.Connection, upload_id: int) -> Upload | None:
    row = connection.execute("SELECT * FROM uploads WHERE id = ?", [upload_id]).fetchone()
    return _upload(row) if row else None


def list_uploads(connection: sqlite3.Connection, actor: Account, proposal_id: str) -> list[Upload]:
    """The uploads of a proposal, the newest first (administrators only)."""
    require_role(actor, "administrator")
    rows = connection.execute("SELECT * FROM uploads WHERE proposal_id = ? ORDER BY uploaded_at DESC, id DESC", [proposal_id]).fetchall()
    return [_upload(row) for row in rows]


def read_upload(connection: sqlite3.Connection, actor: Account, upload_id: int, now: datetime | None = None) -> bytes:
    """The bytes of one upload for an administrator to download; the download is in the audit trail before they are returned.

    The bytes are checked against their SHA-256: a file changed on disk is not handed out.
    """
    require_role(actor, "administrator")
    upload = get_upload(connection, upload_id)
    if upload is None:
        raise UploadError(f"Bijlage {upload_id} bestaat niet (meer).", "unknown")
    try:
        data = open_upload((uploads_dir() / upload.sha256).read_bytes())
    except FileNotFoundError:
        raise UploadError(f"Bestand '{_shown(upload.display_name)}': staat niet meer op de schijf; vraag de indiener het opnieuw te sturen.",
                          "missing", _shown(upload.display_name)) from None
    if hashlib.sha256(data).hexdigest() != upload.sha256:
        raise UploadError(f"Bestand '{_shown(upload.display_name)}': is op de schijf veranderd sinds het werd ontvangen; "
                          "we geven het daarom niet uit.", "changed", _shown(upload.display_name))
    with transaction(connection):
        audit.record(connection, actor.email, "upload_downloaded", upload.proposal_id,
                     {"upload": upload.id, "article": upload.article, "size": upload.size, "type": upload.media_type, "sha256": upload.sha256},
                     now)
    return data


def download(account_id: int, credential_version: int, upload_id: int, now: datetime | None = None) -> bytes:
    """`read_upload` for the account as it is in the store now (the admin page's download runs this at the click).

    The account is looked up again: one that was blocked, lost its role or changed its password since the page was
    shown gets nothing.
    """
    from accounts.service import PermissionDenied, get_account
    from accounts.store import store

    with store() as connection:
        actor = get_account(connection, account_id)
        if actor is None or actor.credential_version != credential_version:
            raise PermissionDenied("Uw sessie is beëindigd; log opnieuw in.")
        return read_upload(connection, actor, upload_id, now)


def size_text(size: int) -> str:
    """A file's size as people read it.

    >>> size_text(900), size_text(35_000), size_text(3 * 1024 * 1024)
    ('900 bytes', '34 kB', '3,0 MB')
    """
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} kB"
    return _megabytes(size)
