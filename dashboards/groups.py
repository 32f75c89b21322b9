"""The public groups figures are shown for: the levels' Dutch names, each level's groups and their names.

Groups are the codes of a public domain (`reference/domains.yaml`), so a new
kind of group is a reference file and no dashboard code.
"""

from __future__ import annotations

from core import reference

LEVEL_NAMES = {"nation": "Heel Nederland", "sector": "Sector", "province": "Provincie", "size_class": "Grootteklasse"}


def group_codes(level: str) -> list[str]:
    """The public groups of a level (reference data), in their usual order; none for the nation.

    >>> group_codes("size_class"), group_codes("nation")
    (['0-1', '2-9', '10-49', '50-249'], [])
    """
    return reference.domain_codes(level) if level in reference.domains() else []


def group_name(level: str, code: str | None) -> str:
    """Dutch name of a group: 'Heel Nederland', a sector, a province, a size class ...

    >>> group_name("province", "PV26"), group_name("size_class", "2-9"), group_name("nation", None)
    ('Utrecht', '2-9 werkzame personen', 'Heel Nederland')
    """
    if level == "nation" or code is None:
        return "Heel Nederland"
    if level not in reference.domains():
        return code
    return reference.domain_labels(level).get(code, code)
