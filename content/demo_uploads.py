"""The demo's uploads: small real PDF and Word letters with a Dutch advice, sent with a few synthetic consultation reactions.

Each demo proposal gets `PER_PROPOSAL` letters (PDF and DOCX in turn), each from another firm that left a comment
on one of its articles. The letters are made with fpdf2 and python-docx and stored through
`content.uploads.store_upload`, so they pass the same checks as a respondent's file, at the time the reaction
was sent. The randomness picks reactions; it is demo data, not privacy noise.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from accounts.crypto import firm_ref
from accounts.service import Account
from content.proposals import Proposal
from content.uploads import Upload, UploadError, store_upload

PER_PROPOSAL = 2
FIXED_CREATION = datetime(2026, 1, 1)  # the PDF's own date: the same letter gives the same bytes
ADVICE = {
    "support": "Ons advies: voer het voorstel in, maar houd de regels eenvoudig en de formulieren kort.",
    "against": "Ons advies: pas het voorstel aan voor kleine bedrijven of stel de invoering uit. Zoals het er nu ligt, "
               "kunnen wij het niet dragen.",
    "neutral": "Ons advies: leg beter uit wat er verandert en voor wie, en geef ondernemers de tijd om zich voor te bereiden.",
}


def letter(proposal: Proposal, article: str, comment: str, stance: str | None) -> list[str]:
    """The paragraphs of an advice letter about one article of a proposal."""
    return [
        f"Advies over: {proposal.title}",
        f"Onderdeel: {article}",
        "Wij hebben dit voorstel in ons bedrijf besproken. Hieronder leest u wat het voor ons betekent.",
        comment,
        ADVICE.get(stance or "neutral", ADVICE["neutral"]),
        "Met vriendelijke groet,",
        "een ondernemer uit het mkb",
    ]


def pdf_letter(paragraphs: list[str]) -> bytes:
    """A one-page PDF (fpdf2, its built-in Helvetica: Latin-1 text)."""
    from fpdf import FPDF

    document = FPDF(format="A4")
    document.set_creation_date(FIXED_CREATION)
    document.set_title(paragraphs[0])
    document.add_page()
    document.set_font("Helvetica", style="B", size=14)
    document.multi_cell(0, 8, paragraphs[0].encode("latin-1", "replace").decode("latin-1"))
    document.set_font("Helvetica", size=11)
    for paragraph in paragraphs[1:]:
        document.ln(3)
        document.multi_cell(0, 6, paragraph.encode("latin-1", "replace").decode("latin-1"))
    return bytes(document.output())


def docx_letter(paragraphs: list[str]) -> bytes:
    """A Word document (python-docx): a heading and paragraphs."""
    from docx import Document

    document = Document()
    document.core_properties.title = paragraphs[0]
    document.add_heading(paragraphs[0], level=1)
    for paragraph in paragraphs[1:]:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _article_number(proposal: Proposal, code: str) -> str:
    from content.proposals import slug

    return next((a.number for a in proposal.articles if f"{proposal.id}/{slug(a.number) or 'onderdeel'}" == code), code)


def ensure_demo_uploads(connection: sqlite3.Connection, reaction_files: list[Path], proposals: list[Proposal],
                        seed: int = 20261201) -> list[Upload]:
    """Store the demo letters of every proposal that has none yet from the chosen firms; return the uploads stored now."""
    rng = np.random.default_rng(seed + 2)
    by_id = {proposal.id: proposal for proposal in proposals}
    stored: list[Upload] = []
    for path in sorted(reaction_files):
        reactions = pl.read_csv(path, infer_schema=False).filter(pl.col("comment").is_not_null() & pl.col("proposal").is_in(list(by_id)))
        reactions = reactions.unique("kvk_number", keep="first", maintain_order=True)
        if reactions.is_empty():
            continue
        picked = rng.choice(reactions.height, size=min(PER_PROPOSAL, reactions.height), replace=False)
        for turn, index in enumerate(sorted(int(i) for i in picked)):
            reaction = reactions.row(index, named=True)
            proposal = by_id[reaction["proposal"]]
            sender = Account(0, "demo", "Demo-ondernemer", "respondent", firm_ref(reaction["kvk_number"]), False, True)
            if connection.execute("SELECT 1 FROM uploads WHERE proposal_id = ? AND firm_ref = ?", [proposal.id, sender.firm_ref]).fetchone():
                continue  # made by an earlier run (a letter's bytes may differ: a DOCX holds the time it was written)
            paragraphs = letter(proposal, _article_number(proposal, reaction["article"]), reaction["comment"], reaction["stance"])
            kind = ("pdf", "docx")[turn % 2]
            data = pdf_letter(paragraphs) if kind == "pdf" else docx_letter(paragraphs)
            name = f"Advies {proposal.id} {turn + 1}.{kind}"
            try:
                stored.append(store_upload(connection, sender, proposal.id, reaction["article"], name, data,
                                           now=datetime.fromisoformat(reaction["submitted_at"])))
            except UploadError as error:
                if error.rule != "closed":  # a reaction outside the window is the only one we pass by; any other refusal is a bug
                    raise
    return stored
