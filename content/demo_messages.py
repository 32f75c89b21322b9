"""The demo's communication: one update and one working group from the demo policymaker, for every respondent.

The demo respondent has sent no form yet, so it has no profile and is only
in the segment "all respondents"; both therefore go to all. It has not asked
for e-mail, so nothing is mailed. Run again, nothing is added twice.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, time, timedelta

from accounts.mail import Mailer
from accounts.service import Account
from content.updates import send_update
from content.working_groups import propose_group

DEMO_UPDATE = {
    "title": "Update over de CO2-heffing voor het mkb",
    "body": ("Veel ondernemers lieten weten dat de CO2-heffing voor kleine bedrijven zwaar is. Dat hebben we doorgegeven.\n"
             "De Tweede Kamer heeft een motie aangenomen: de regering onderzoekt een overgangstermijn van een jaar voor bedrijven "
             "met minder dan 10 werkzame personen.\n"
             "Ook zijn er Kamervragen gesteld over de administratieve lasten. U leest hier wanneer de antwoorden er zijn."),
    "segment": {},
}
DEMO_GROUP = {
    "title": "Werkgroep personeelstekort",
    "topic": "Signaal: meer bedrijven noemen personeelstekort als grootste uitdaging",
    "description": "We zoeken samen naar wat helpt: opleiden, samenwerken met scholen, regels die in de weg zitten.",
    "agenda": "1. Kennismaken\n2. Wat merkt u van het tekort?\n3. Brainstorm: wat zou helpen?\n4. Afspraken voor de volgende keer",
    "segment": {},
}


def ensure_demo_messages(connection: sqlite3.Connection, sender: Account, mailer: Mailer, now: datetime | None = None) -> None:
    """Send the demo update and propose the demo working group, unless they are there already."""
    now = now or datetime.now()
    if connection.execute("SELECT 1 FROM updates WHERE title = ?", [DEMO_UPDATE["title"]]).fetchone() is None:
        send_update(connection, sender, DEMO_UPDATE, mailer, now=now)
    if connection.execute("SELECT 1 FROM working_groups WHERE title = ?", [DEMO_GROUP["title"]]).fetchone() is None:
        session = datetime.combine((now + timedelta(days=14)).date(), time(15, 0))
        propose_group(connection, sender, {**DEMO_GROUP, "session_at": session}, mailer, now=now)
