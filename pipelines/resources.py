"""Resources from the environment: where the warehouse, landing zone and exports are, and the pseudonymisation key.

Environment switching lives here and only here. Defaults come from
`core.settings` (so `MKB_DATA_DIR` moves everything); the key comes only
from the environment. The resource classes live with the assets
(`assets/resources.py`); tests build them around `tmp_path`.
"""

from __future__ import annotations

import dagster as dg

from assets.resources import Folders, PseudonymKey, Warehouse
from core.settings import PSEUDONYM_KEY_ENV, paths


def default_resources() -> dict[str, dg.ConfigurableResource]:
    current = paths()
    return {
        "warehouse": Warehouse(path=str(current.warehouse)),
        "folders": Folders(landing=str(current.landing), exports=str(current.exports), accounts=str(current.data_dir / "accounts" / "accounts.sqlite"),
                           operational=str(current.operational)),
        "pseudonym_key": PseudonymKey(key=dg.EnvVar(PSEUDONYM_KEY_ENV)),
    }
