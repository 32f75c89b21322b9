"""Every page of the app, with its address, title and the roles that may open it.

The app's own pages are listed here; a source's pages (its form, its
figures) come from its declaration (`sources/<name>/source.yaml`, `pages:`),
so adding a source adds its pages without touching the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.sources import sources

STAFF = ("analyst", "administrator")
CREDITOR = "creditor"  # a creditor organisation's staff: its own claims only, never analysts' pages
CONSULTANT = "consultant"  # an MKB consultant of the support programme: its own caseload only, never analysts' pages
EVERYONE = ("respondent", "analyst", "administrator", "creditor", "consultant")


@dataclass(frozen=True)
class PageInfo:
    url: str
    title: str
    file: str  # relative to dashboards/, as st.page_link and st.switch_page want it
    roles: tuple[str, ...] | None  # None: public (login, activation)
    icon: str | None = None


APP_PAGES = (
    PageInfo("start", "Start", "views/start.py", None),
    PageInfo("overzicht", "Overzicht", "views/overzicht.py", STAFF, "🏠"),
    PageInfo("mijn-overzicht", "Mijn overzicht", "views/mijn_overzicht.py", ("respondent",), "🏠"),
    PageInfo("privacy", "Privacy en nauwkeurigheid", "views/privacy.py", STAFF, "🔒"),
    PageInfo("account", "Mijn account", "views/account.py", EVERYONE, "👤"),
    PageInfo("beheer-accounts", "Accounts beheren", "views/beheer_accounts.py", ("administrator",), "👥"),
    PageInfo("beheer-voorstellen", "Beleidspijplijn beheren", "views/beheer_voorstellen.py", ("administrator",), "🏛️"),
    PageInfo("beheer-documenten", "Documenten bij reacties", "views/beheer_uploads.py", ("administrator",), "📎"),
    PageInfo("beheer-avg", "AVG-verzoeken", "views/beheer_avg.py", ("administrator",), "🗑️"),
    PageInfo("berichten-werkgroepen", "Berichten en werkgroepen", "views/beheer_communicatie.py", STAFF, "📣"),
    PageInfo("werkgroepen", "Mijn werkgroepen", "views/werkgroepen.py", ("respondent",), "🤝"),
    PageInfo("beheer-berichten", "Verstuurde berichten", "views/beheer_berichten.py", ("administrator",), "✉️"),
    PageInfo("beheer-audit", "Logboek", "views/beheer_audit.py", ("administrator",), "📜"),
    PageInfo("activeren", "Account activeren", "views/activeren.py", None),
    PageInfo("afmelden", "Geen e-mail meer", "views/afmelden.py", None),
)
#: public pages that run without a login (the others without roles show the login form first)
WITHOUT_LOGIN = ("activeren", "afmelden")


def all_pages() -> list[PageInfo]:
    """The app's pages, then every source's pages, in the order of the menu.

    >>> [page.url for page in all_pages()][:2], "invullen" in {page.url for page in all_pages()}
    (['start', 'overzicht'], True)
    """
    declared = [PageInfo(page.url, page.title, page.file, tuple(page.roles), page.icon) for source in sources().values() for page in source.pages]
    pages = [*APP_PAGES[:3], *declared, *APP_PAGES[3:]]
    urls = [page.url for page in pages]
    duplicates = sorted({url for url in urls if urls.count(url) > 1})
    if duplicates:
        raise ValueError(f"two pages share the address {duplicates}: give each page of a source its own url")
    return pages


def page(url: str) -> PageInfo:
    return next(info for info in all_pages() if info.url == url)
