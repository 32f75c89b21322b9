"""Uploads with a consultation reaction (content/uploads.py): every refusal with its Dutch reason, the files accepted,
how they are stored, who may list and download them, the audit trail, and that they never reach a release.

Every file here is real: PDFs made with pypdf, Word files with python-docx (encrypted with msoffcrypto-tool),
OpenDocument texts with odfpy; the harmful variants are those files with one part added or changed.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import audit
from accounts.service import PermissionDenied, create_account, new_totp_secret
from accounts.store import connect_store
from content import uploads
from content.demo import ensure_demo_proposals
from content.uploads import MAX_BYTES, MAX_NAME, UploadError, check_name, check_upload, store_upload

PASSWORD = "een lang wachtwoord 42"


# --------------------------------------------------------------------------- real files and their harmful variants


def pdf(**changes) -> bytes:
    """A one-page PDF from pypdf; `changes` add what makes it harmful."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if "javascript" in changes:
        from pypdf.actions import JavaScript

        writer.add_open_action(JavaScript(changes["javascript"]))
    if "open_action" in changes:
        action = DictionaryObject({NameObject("/S"): NameObject(changes["open_action"])})
        if changes["open_action"] == "/URI":
            action[NameObject("/URI")] = TextStringObject("https://example.org/volg-mij")
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if "open_at_page" in changes:  # harmless: open at page 1 (many PDF writers do this)
        writer._root_object[NameObject("/OpenAction")] = ArrayObject([writer.pages[0].indirect_reference, NameObject("/Fit")])
    if "attachment" in changes:
        writer.add_attachment("rekenblad.exe", changes["attachment"])
    if "password" in changes:
        writer.encrypt(changes["password"], algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx(text: str = "Ons advies over het minimumloon: geef kleine bedrijven meer tijd.") -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def odt(text: str = "Ons advies: een langere overgangstermijn.") -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text=text))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def rezipped(data: bytes, add: dict[str, bytes] | None = None, replace=None) -> bytes:
    """The same ZIP container with members added, or a member's bytes changed by `replace(name, bytes)`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, replace(info.filename, content) if replace else content)
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def encrypted_docx() -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(docx())).encrypt("geheim wachtwoord", out)
    return out.getvalue()


MACRO_TYPES = b'<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'
EXTERNAL_TEMPLATE = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                     b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                     b'relationships/attachedTemplate" Target="https://example.org/sjabloon.dotm" TargetMode="External"/></Relationships>')
ODF_EVENT = (b'<office:event-listeners><script:event-listener script:language="ooo:script" script:event-name="dom:load" '
             b'xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document"/></office:event-listeners>')
ODF_ENCRYPTION = (b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
                  b'<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
                  b'</manifest:encryption-data>')


def replaced(content: bytes, old: bytes, new: bytes) -> bytes:
    """`content` with `old` replaced, failing when `old` is not there (a variant must really differ)."""
    assert old in content, old
    return content.replace(old, new, 1)


def with_macro_content_type(name: str, content: bytes) -> bytes:
    return replaced(content, b"</Types>", MACRO_TYPES.replace(b"/word/document.xml", b"/word/macros.xml") + b"</Types>") \
        if name == "[Content_Types].xml" else content


def with_odf_event(name: str, content: bytes) -> bytes:
    return replaced(content, b"<office:text>", b"<office:text><text:p>" + ODF_EVENT + b"</text:p>") if name == "content.xml" else content


def with_odf_encryption(name: str, content: bytes) -> bytes:
    entry = b'manifest:full-path="content.xml" manifest:media-type="text/xml"'
    return replaced(content, entry + b"/>", entry + b">" + ODF_ENCRYPTION + b"</manifest:file-entry>") \
        if name == "META-INF/manifest.xml" else content


def zip_bomb() -> bytes:
    """A DOCX that unpacks to more than 100 MB (zeros compress about 1000 to 1)."""
    return rezipped(docx(), add={"word/media/leeg.bin": bytes(uploads.MAX_UNPACKED + 1)})


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
OLE2_WORD_97 = uploads.OLE2_MAGIC + bytes(504)

# (file name, content, rule, a phrase of the Dutch reason)
REFUSED = {
    "path_slash": ("../../etc/advies.pdf", pdf, "name_path", "de naam bevat een map of pad"),
    "path_backslash": ("map\\advies.pdf", pdf, "name_path", "de naam bevat een map of pad"),
    "path_drive": ("C:advies.pdf", pdf, "name_path", "de naam bevat een map of pad"),
    "overlong": ("a" * (MAX_NAME - 3) + ".pdf", pdf, "name_too_long", f"dat mag hoogstens {MAX_NAME} zijn"),
    "control": ("advies\x07.pdf", pdf, "name_control", "(U+0007)"),
    "bidi_override": ("advies\u202efdp.exe.pdf", pdf, "name_control", "leesrichting verandert (U+202E)"),
    "bidi_mark": ("advies\u200f.pdf", pdf, "name_control", "(U+200F)"),
    "zero_width": ("adv\u200bies.pdf", pdf, "name_control", "(U+200B)"),
    "windows_device": ("CON.pdf", pdf, "name_device", "de naam van een apparaat in Windows"),
    "windows_character": ("advies?.pdf", pdf, "name_character", "de naam bevat het teken '?'"),
    "empty": ("advies.pdf", lambda: b"", "empty", "is leeg (0 bytes)"),
    "too_large": ("advies.pdf", lambda: b"%PDF-1.7\n" + bytes(MAX_BYTES), "too_large", "meer dan de grens van 10 MB"),
    "executable_extension": ("advies.exe", pdf, "extension", "de soort '.exe' nemen we niet aan"),
    "pdf_named_docx": ("advies.docx", pdf, "mismatch", "de naam zegt een Word-document (.docx), maar de inhoud is een PDF"),
    "docx_named_pdf": ("advies.pdf", docx, "mismatch", "de naam zegt een PDF, maar de inhoud is een Word-document (.docx)"),
    "odt_named_docx": ("advies.docx", odt, "mismatch", "maar de inhoud is een OpenDocument-tekst (.odt)"),
    "png_named_pdf": ("advies.pdf", lambda: PNG, "mismatch", "maar de inhoud is een PNG-bestand (image/png)"),
    "text_named_pdf": ("advies.pdf", lambda: b"Dit is gewoon tekst.\n", "mismatch", "maar de inhoud is platte tekst"),
    "zip_named_docx": ("advies.docx", lambda: _plain_zip(), "mismatch", "maar de inhoud is een ZIP-archief"),
    "pdf_encrypted": ("advies.pdf", lambda: pdf(password="geheim"), "encrypted", "is versleuteld"),
    "pdf_javascript": ("advies.pdf", lambda: pdf(javascript="app.alert('hallo');"), "active_content", "bevat JavaScript"),
    "pdf_javascript_escaped": ("advies.pdf", lambda: pdf(javascript="app.alert(1);").replace(b"/JavaScript", b"/J#61vaScript")
                               .replace(b"/JS ", b"/J#53 ").replace(b"/JS(", b"/J#53("), "active_content", "bevat JavaScript"),
    "pdf_open_action_uri": ("advies.pdf", lambda: pdf(open_action="/URI"), "active_content", "een opdracht die vanzelf iets doet"),
    "pdf_open_action_launch": ("advies.pdf", lambda: pdf(open_action="/Launch"), "active_content", "een opdracht die vanzelf iets doet"),
    "pdf_embedded_file": ("advies.pdf", lambda: pdf(attachment=b"MZ\x90\x00"), "active_content", "een bijgevoegd bestand"),
    "pdf_damaged": ("advies.pdf", lambda: b"%PDF-1.7\n" + b"kapot" * 100, "damaged", "is geen leesbare PDF"),
    "docx_vba_project": ("advies.docx", lambda: rezipped(docx(), add={"word/vbaProject.bin": OLE2_WORD_97}), "macro", "bevat macro's"),
    "docx_macro_content_type": ("advies.docx", lambda: rezipped(docx(), replace=with_macro_content_type), "macro", "bevat macro's"),
    "docm_extension": ("advies.docm", docx, "macro", "bevat macro's (.docm)"),
    "docx_activex": ("advies.docx", lambda: rezipped(docx(), add={"word/activeX/activeX1.xml": b"<ax/>"}), "active_content",
                     "ActiveX, OLE"),
    "docx_external_template": ("advies.docx", lambda: rezipped(docx(), add={"word/_rels/settings.xml.rels": EXTERNAL_TEMPLATE}),
                               "active_content", "haalt bij het openen iets van buiten op"),
    "docx_encrypted": ("advies.docx", encrypted_docx, "encrypted", "is versleuteld"),
    "odt_basic": ("advies.odt", lambda: rezipped(odt(), add={"Basic/Standard/Module1.xml": b"<script:module/>"}), "macro",
                  "bevat macro's"),
    "odt_script_event": ("advies.odt", lambda: rezipped(odt(), replace=with_odf_event), "macro", "bevat macro's"),
    "odt_encrypted": ("advies.odt", lambda: rezipped(odt(), replace=with_odf_encryption), "encrypted", "is versleuteld"),
    "ole2_old_word": ("advies.docx", lambda: OLE2_WORD_97, "old_office", "is een oud Office-bestand"),
    "old_doc_extension": ("advies.doc", lambda: OLE2_WORD_97, "extension", "een oud of ander tekstbestand (.doc)"),
    "zip_bomb": ("advies.docx", zip_bomb, "zip_bomb", "dit lijkt een zip-bom"),
    "too_many_members": ("advies.docx", lambda: rezipped(docx(), add={f"word/media/{i}.xml": b"" for i in range(uploads.MAX_MEMBERS)}),
                         "zip_bomb", f"hoogstens {uploads.MAX_MEMBERS:,} onderdelen".replace(",", ".")),
}


def _plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notities.txt", "gewoon een zip")
    return out.getvalue()


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_upload_is_refused_with_a_dutch_reason_naming_the_file_and_the_rule(case):
    name, make, rule, phrase = REFUSED[case]
    with pytest.raises(UploadError) as refused:
        check_upload(name, make())
    message = str(refused.value)
    assert refused.value.rule == rule, message
    assert phrase in message, message
    shown = uploads._shown(unicodedata_nfc(name))
    assert message.startswith(f"Bestand '{shown}'"), message  # the file, as the user can read it (no control characters)
    assert not any(uploads._forbidden_in_name(c) for c in message), message


def unicodedata_nfc(name: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", name)


def test_the_encrypted_word_file_is_an_ole2_container_with_an_encrypted_package():
    data = encrypted_docx()
    assert data.startswith(uploads.OLE2_MAGIC) and "EncryptedPackage".encode("utf-16-le") in data  # a real one, not a stub


@pytest.mark.parametrize(("name", "make", "kind"), [
    ("Advies MKB-Nederland.pdf", pdf, "pdf"), ("Reactie artikel 2.docx", docx, "docx"), ("Zienswijze (definitief).odt", odt, "odt"),
    ("HOOFDLETTERS.PDF", pdf, "pdf"), ("Één café-advies.pdf", pdf, "pdf"),
])
def test_a_real_pdf_docx_and_odt_are_accepted(name, make, kind):
    assert check_upload(name, make()) == (unicodedata_nfc(name), kind)


@dataclass(frozen=True)
class _Titled:  # a letter needs only the proposal's title
    title: str


def test_a_pdf_that_opens_at_its_first_page_and_the_demo_letters_are_accepted():
    from content.demo_uploads import docx_letter, letter, pdf_letter

    assert check_upload("advies.pdf", pdf(open_at_page=True)) == ("advies.pdf", "pdf")
    paragraphs = letter(_Titled("Verhoging van het minimumloon in 2027"), "Artikel 1", "De loonkosten stijgen fors.", "against")
    assert check_upload("brief.pdf", pdf_letter(paragraphs))[1] == "pdf"
    assert check_upload("brief.docx", docx_letter(paragraphs))[1] == "docx"


SAFE_NAME = st.text(st.characters(codec="utf-8", categories=("L", "N"), include_characters=" -_()',"), min_size=1, max_size=MAX_NAME - 4)


@settings(max_examples=300, deadline=None)
@given(stem=SAFE_NAME)
def test_ordinary_names_are_kept_as_they_are(stem):
    name = unicodedata_nfc(f"x{stem.strip()}.pdf")
    if len(name) <= MAX_NAME and not uploads._WINDOWS_DEVICE.match(name):
        assert check_name(name) == name


@settings(max_examples=500, deadline=None)
@given(name=st.text(max_size=2 * MAX_NAME))
def test_any_name_is_kept_only_when_it_is_safe_and_else_refused_in_dutch(name):
    try:
        kept = check_name(name)
    except UploadError as refused:
        message = str(refused)
        assert message.startswith(("Bestand '", "Het bestand heeft geen naam")), message
        assert not any(uploads._forbidden_in_name(c) for c in message)
        return
    assert kept == unicodedata_nfc(name) and 0 < len(kept) <= MAX_NAME
    assert "/" not in kept and "\\" not in kept and kept not in (".", "..") and not kept.startswith(".")
    assert not any(uploads._forbidden_in_name(c) or c in '<>:"|?*' for c in kept)
    assert Path(kept).name == kept  # never more than one path component


# --------------------------------------------------------------------------- storing, listing, downloading


@pytest.fixture(scope="module")
def template_store(tmp_path_factory) -> Path:
    """An account store with the demo proposals, a respondent, an analyst and an administrator (made once: hashing
    passwords takes a while)."""
    path = tmp_path_factory.mktemp("uploads_store") / "accounts.sqlite"
    connection = connect_store(path)
    ensure_demo_proposals(connection, date.today())
    create_account(connection, {"name": "Ondernemer", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"}, PASSWORD)
    for role, email in (("analyst", "an@example.nl"), ("administrator", "be@example.nl")):
        create_account(connection, {"name": role.title(), "email": email, "role": role}, PASSWORD, totp_secret=new_totp_secret())
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


@pytest.fixture()
def site(template_store, tmp_path, monkeypatch):
    """A data folder of its own (a copy of the template store): the store, an open demo proposal, the accounts by role, the folder."""
    from accounts.service import find_account

    data = tmp_path / "data"
    monkeypatch.setenv("MKB_DATA_DIR", str(data))
    (data / "accounts").mkdir(parents=True, mode=0o700)
    shutil.copy(template_store, data / "accounts" / "accounts.sqlite")
    connection = connect_store(data / "accounts" / "accounts.sqlite")
    proposal = next(p for p in ensure_demo_proposals(connection, date.today()) if p.is_open(date.today()))
    people = {role: find_account(connection, email) for role, email in
              (("respondent", "on@example.nl"), ("analyst", "an@example.nl"), ("administrator", "be@example.nl"))}
    yield connection, proposal, people, data
    connection.close()


def actions(connection, action: str) -> list[dict]:
    return [entry for entry in audit.entries(connection) if entry["action"] == action]


def test_a_stored_upload_is_the_same_bytes_under_its_sha256_owner_only_and_outside_the_app(site):
    connection, proposal, people, data = site
    content = docx()
    upload = store_upload(connection, people["respondent"], proposal.id, proposal.articles[0].number, "Reactie.docx", content)
    stored = data / "uploads" / hashlib.sha256(content).hexdigest()
    assert upload.sha256 == stored.name and uploads.open_upload(stored.read_bytes()) == content
    assert content[:48] not in stored.read_bytes() and content[-48:] not in stored.read_bytes()  # encrypted at rest
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert list(stored.parent.iterdir()) == [stored]  # no extension, no copy, no temporary file left
    assert (upload.display_name, upload.size, upload.kind, upload.article) == ("Reactie.docx", len(content), "docx", proposal.articles[0].number)
    assert upload.firm_ref == people["respondent"].firm_ref and "87654321" not in upload.firm_ref
    repository = Path(__file__).resolve().parent.parent
    assert not stored.resolve().is_relative_to(repository / "dashboards") and not (repository / "static").exists()
    again = store_upload(connection, people["respondent"], proposal.id, proposal.articles[0].number, "Reactie.docx", content)
    assert again.id == upload.id  # a Streamlit rerun sends the same file again: one upload
    assert [entry["subject"] for entry in actions(connection, "upload_stored")] == [proposal.id]


def test_a_refused_upload_is_not_stored_and_its_rule_is_in_the_audit_trail(site):
    connection, proposal, people, data = site
    with pytest.raises(UploadError, match="bevat JavaScript"):
        store_upload(connection, people["respondent"], proposal.id, None, "advies.pdf", pdf(javascript="app.alert(1)"))
    assert not (data / "uploads").exists() or not list((data / "uploads").iterdir())
    assert connection.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 0
    refused = actions(connection, "upload_refused")
    assert len(refused) == 1 and '"rule": "active_content"' in refused[0]["details"] and "advies.pdf" not in refused[0]["details"]


def test_only_administrators_list_and_download_and_only_respondents_upload(site):
    connection, proposal, people, _ = site
    upload = store_upload(connection, people["respondent"], proposal.id, None, "advies.pdf", pdf())
    for role in ("respondent", "analyst"):
        with pytest.raises(PermissionDenied):
            uploads.list_uploads(connection, people[role], proposal.id)
        with pytest.raises(PermissionDenied):
            uploads.read_upload(connection, people[role], upload.id)
    for role in ("analyst", "administrator"):
        with pytest.raises(PermissionDenied):
            store_upload(connection, people[role], proposal.id, None, "advies.pdf", pdf())
    assert [u.id for u in uploads.list_uploads(connection, people["administrator"], proposal.id)] == [upload.id]
    assert not actions(connection, "upload_downloaded")


def test_every_download_is_audited_and_a_changed_file_is_not_handed_out(site):
    connection, proposal, people, data = site
    content = pdf()
    upload = store_upload(connection, people["respondent"], proposal.id, None, "advies.pdf", content)
    admin = people["administrator"]
    assert uploads.read_upload(connection, admin, upload.id) == content
    assert uploads.download(admin.id, admin.credential_version, upload.id) == content  # what the page's button runs
    downloads = actions(connection, "upload_downloaded")
    assert len(downloads) == 2 and all(entry["actor"] == admin.email and upload.sha256 in entry["details"] for entry in downloads)
    with pytest.raises(PermissionDenied):  # a session from before a password change gets nothing
        uploads.download(admin.id, admin.credential_version + 1, upload.id)
    (data / "uploads" / upload.sha256).write_bytes(content + b"%extra")
    with pytest.raises(UploadError, match="is op de schijf veranderd"):
        uploads.read_upload(connection, admin, upload.id)
    assert len(actions(connection, "upload_downloaded")) == 2  # the audit entry is written only when the bytes are handed out
    assert audit.verify_chain(connection).intact


def test_an_upload_needs_an_open_proposal_and_one_of_its_articles(site):
    connection, proposal, people, _ = site
    with pytest.raises(UploadError, match="heeft geen artikel of onderdeel 'Artikel 999'"):
        store_upload(connection, people["respondent"], proposal.id, "Artikel 999", "advies.pdf", pdf())
    with pytest.raises(UploadError, match="staat niet open voor reacties"):
        store_upload(connection, people["respondent"], proposal.id, None, "advies.pdf", pdf(), now=datetime(2000, 1, 1))


# --------------------------------------------------------------------------- the administrators' page


def test_the_administrators_page_lists_the_uploads_and_offers_each_without_handing_it_out(site):
    from tests.conftest import demo_accounts, logged_in

    connection, proposal, people, data = site
    logins = demo_accounts(data)
    tricky = "Advies [klik](evil.example) _vet_ @jan.pdf"  # Markdown a name may hold (a slash is refused)
    store_upload(connection, people["respondent"], proposal.id, proposal.articles[0].number, tricky, pdf())
    app = logged_in(logins["administrator"])
    app.switch_page("views/beheer_uploads.py").run()
    app.selectbox(key="uploads_proposal").select(proposal.id).run()
    assert not app.exception and app.title[0].value == "Documenten bij reacties"
    table = app.table[0].value
    assert list(table.columns) == ["Bestand", "Artikel", "Soort", "Grootte", "Ontvangen", "Bedrijf (pseudoniem)"]
    from dashboards.safe import md

    assert table.iloc[0]["Bestand"] == md(tricky) and table.iloc[0]["Soort"] == "PDF"
    assert table.iloc[0]["Bedrijf (pseudoniem)"] == people["respondent"].firm_ref[:12]
    assert next(button.label for button in app.get("download_button")).startswith(md(tricky))
    assert not actions(connection, "upload_downloaded")  # showing the page hands out nothing

    respondent = logged_in(logins["respondent"])
    respondent.switch_page("views/beheer_uploads.py").run()
    assert "Deze pagina is alleen voor" in respondent.error[0].value and not respondent.table


# --------------------------------------------------------------------------- never analytics


def test_the_demo_uploads_pass_the_checks_and_never_reach_a_release_or_an_export(pipeline):
    """The session's pipeline ran with the generator's uploads in place: no export holds their bytes, names or hashes,
    and no code of the pipeline reads the uploads."""
    stored = sorted((pipeline.data_dir / "uploads").iterdir())
    connection = connect_store(pipeline.data_dir / "accounts" / "accounts.sqlite")
    rows = connection.execute("SELECT display_name, sha256, media_type FROM uploads").fetchall()
    connection.close()
    assert len(rows) >= 5 and {row["media_type"] for row in rows} == {uploads.MEDIA_TYPES["pdf"], uploads.MEDIA_TYPES["docx"]}
    assert {path.name for path in stored} == {row["sha256"] for row in rows}
    needles = [row["sha256"].encode() for row in rows] + [row["display_name"].encode() for row in rows]
    needles += [uploads.open_upload(path.read_bytes())[-256:] for path in stored]  # a piece of each file's own bytes
    exported = [path for path in pipeline.exports.rglob("*") if path.is_file()]
    assert exported
    for path in exported:
        content = path.read_bytes()
        assert not any(needle in content for needle in needles), path
    repository = Path(__file__).resolve().parent.parent
    pipeline_code = [*repository.glob("assets/**/*.py"), *repository.glob("privacy/**/*.py"), *repository.glob("models/**/*"),
                     repository / "pipelines" / "definitions.py"]
    for path in pipeline_code:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "uploads_dir" not in text and "content.uploads" not in text and "FROM uploads" not in text, path


# --------------------------------------------------------------------------- damaged and hostile bytes never crash the checks


def lying_sizes(data: bytes, member: str, declared: int) -> bytes:
    """A ZIP whose headers claim `member` unpacks to `declared` bytes (a bomb that hides its size)."""
    import struct

    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<I", patched, info.header_offset + 22, declared)  # local header: uncompressed size
    central = patched.find(b"PK\x01\x02")
    while central != -1:  # each central directory entry: signature, ..., its name at offset 46
        name_length = struct.unpack_from("<H", patched, central + 28)[0]
        if bytes(patched[central + 46:central + 46 + name_length]) == member.encode():
            struct.pack_into("<I", patched, central + 24, declared)  # central directory: uncompressed size
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def test_a_zip_bomb_that_hides_its_size_is_read_no_further_than_it_claims():
    huge = rezipped(odt(), replace=lambda name, content: content + bytes(200 * 1024 * 1024) if name == "content.xml" else content)
    with pytest.raises(UploadError) as refused:
        check_upload("advies.odt", lying_sizes(huge, "content.xml", 1_000))
    assert refused.value.rule == "damaged" and "is beschadigd" in str(refused.value)


REAL = {"advies.pdf": pdf, "advies.docx": docx, "advies.odt": odt}


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(REAL)), cuts=st.lists(st.tuples(st.integers(0, 40_000), st.binary(max_size=8)), max_size=4),
       truncate=st.integers(0, 100))
def test_damaged_files_are_accepted_or_refused_in_dutch_never_a_crash(name, cuts, truncate):
    data = bytearray(_real(name))
    for position, replacement in cuts:
        position %= len(data)
        data[position:position + len(replacement)] = replacement
    data = bytes(data[: max(1, len(data) * (100 - truncate) // 100)])
    try:
        check_upload(name, data)
    except UploadError as refused:
        assert str(refused).startswith(f"Bestand '{name}'")


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(REAL)), data=st.binary(min_size=1, max_size=2_000), prefix=st.sampled_from([b"", b"%PDF-1.7\n", b"PK\x03\x04"]))
def test_arbitrary_bytes_are_refused_in_dutch(name, data, prefix):
    with pytest.raises(UploadError) as refused:
        check_upload(name, prefix + data)
    assert str(refused.value).startswith(f"Bestand '{name}'")


_REAL_CACHE: dict[str, bytes] = {}


def _real(name: str) -> bytes:
    if name not in _REAL_CACHE:
        _REAL_CACHE[name] = REAL[name]()
    return _REAL_CACHE[name]
