"""Early warnings on the released series (issue 13): `data/exports/alerts/alerts.parquet`, after the releases' exports.

    exports/cgc_balance, exports/dis_burden -> exports/alerts

Post-processing of the released Parquet files only (`privacy/released_alerts.py`,
the rule in `privacy/alerts.py`): no budget, no warehouse, no marts. The file is
rewritten whole on every run, atomically, so a reader sees the old or the new
alerts, never half of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from accounts.service import SYSTEM, record_event
from accounts.store import store
from assets.resources import Folders
from content.proposals import list_proposals
from core.files import public_dir
from core.landing import write_atomically
from privacy.alerts import alert_rule
from privacy.export import write_parquet_atomically
from privacy.released_alerts import BALANCE_RELEASE, BURDEN_RELEASE, released_alerts

ALERTS = "alerts"
COLUMNS = {
    "source": "cgc (Gezondheidscheck) or dis (impact of proposals).",
    "release": "The release the series comes from (cgc_balance, dis_burden).",
    "measure": "The released measure (a CGC question, or the DIS mean hours or cost change per firm).",
    "level": "Grouping: nation, province, sector, size_class (CGC); sector_size, province (DIS).",
    "group": "The group's code(s) within the level, joined by '|' (empty for the nation).",
    "series": "The series in Dutch.",
    "period": "The wave (CGC) or the proposal (DIS) the alert is about.",
    "estimate": "The released figure of that period.",
    "ci_low": "Lower end of its released 95 % interval.",
    "ci_high": "Upper end of its released 95 % interval.",
    "alert": "signaal or alarm.",
    "trigger": "Why: signal (beyond signal_z), strong (beyond strong_z), persists (two periods in a row), accelerates.",
    "change": "The change the trigger measures, in the figure's unit (a fall of a balance is negative).",
    "change_se": "Its standard error: released noise and sampling error, plus the series' normal movement (CGC), in quadrature.",
    "z": "How many standard errors the deterioration is.",
    "unit": "Unit of change and change_se.",
    "reason": "The alert in plain Dutch: series, period, the change against its uncertainty and why it fired.",
}


@dg.asset(key=["exports", ALERTS], deps=[dg.AssetKey(["exports", BALANCE_RELEASE]), dg.AssetKey(["exports", BURDEN_RELEASE])],
          group_name="exports", compute_kind="parquet")
def alerts(folders: Folders) -> dg.MaterializeResult:
    """One row per released series per period with a signaal or alarm (`data/exports/alerts/alerts.parquet`)."""
    exports = Path(folders.exports)
    with store(Path(folders.accounts)) as connection:  # the proposals' closing days order the cumulative burden
        closing = {proposal.id: proposal.simulation_closes for proposal in list_proposals(connection)}
    rule = alert_rule()
    frame = released_alerts(exports, closing, rule)
    folder = public_dir(exports / ALERTS, top=exports)
    table = frame.to_arrow().replace_schema_metadata({b"rule": json.dumps(rule.__dict__).encode(), b"columns": json.dumps(COLUMNS).encode()})
    write_parquet_atomically(table, folder / "alerts.parquet")
    about = ("Early warnings on the released series: post-processing of the released figures only (privacy/alerts.py, "
             "thresholds in config/alerts.yaml). One row per series per period with a signaal or alarm.")
    readme = ["# Vroege waarschuwingen (alerts)", "", about, "", "## Columns", "", *(f"- `{name}`: {text}" for name, text in COLUMNS.items()), ""]
    write_atomically(folder, "README.md", "\n".join(readme).encode("utf-8"), public=True)
    counts = frame.group_by("alert").len().rows()
    with store(Path(folders.accounts)) as accounts:  # published files are exports, in the audit trail like the others
        record_event(accounts, None, "export", f"exports/{ALERTS}", {"alerts": frame.height, "by": SYSTEM})
    return dg.MaterializeResult(metadata={"alerts": frame.height, **{str(kind): n for kind, n in counts},
                                          "latest": dg.MetadataValue.md("\n".join(f"- {r}" for r in frame.head(5)["reason"].to_list()) or "geen")})


ALERT_ASSETS = [alerts]
