"""Release assets, made from the specs in `config/releases/`: one asset per spec, no Python per release.

Each asset releases every closed period of its spec that is not released
yet (version 1) and serves stored releases as they are. A refused period
(budget spent) is reported in the metadata, not raised: the other periods
and releases go on. The source's one-row-per-unit grain is checked by a
blocking check right after the mart is built (one check per mart, unit and
period column); a release relies on it only when that very check ran and
passed in the same run, otherwise it checks the grain itself.
"""

from datetime import date

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.resources import Warehouse
from privacy.bounding import grain_violations
from privacy.engine import releasable_periods, release
from privacy.ledger import budget_overview, ensure_ledger, entries_frame, ledger_path, mismatches, sync, yearly_loss
from privacy.ledger_postgres import shown
from privacy.loading import privacy_settings, release_epsilon, release_specs
from privacy.spec import ReleaseSpec

LEDGER = dg.AssetKey(["privacy", "ledger"])


def source_key(spec: ReleaseSpec) -> dg.AssetKey:
    return dg.AssetKey(spec.source.split("."))


def release_key(spec: ReleaseSpec) -> dg.AssetKey:
    return dg.AssetKey(["releases", spec.name])


class ReleaseRun(dg.Config):
    """What to release: version 1 of every closed period by default; a higher version draws new noise and is charged again."""

    version: int = 1
    periods: list[str] = []  # empty: every closed period of the calendar, with data or not


def grain_check_name(spec: ReleaseSpec) -> str:
    """One check per mart, unit column and period column: each spec relies on the check of its own grain."""
    return f"one_row_per_{spec.privacy_unit.column}_per_{spec.period}"


def _grain_checked_in_this_run(context: dg.AssetExecutionContext, spec: ReleaseSpec) -> bool:
    """True only if this run built the mart and this spec's own grain check then ran and passed."""
    built = context.instance.get_latest_materialization_event(source_key(spec))
    if built is None or built.run_id != context.run.run_id:
        return False
    check = dg.AssetCheckKey(source_key(spec), grain_check_name(spec))
    (latest,) = context.instance.event_log_storage.get_asset_check_execution_history(check, limit=1) or (None,)
    return latest is not None and latest.run_id == context.run.run_id and latest.status == AssetCheckExecutionRecordStatus.SUCCEEDED


def build_release_asset(spec: ReleaseSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=release_key(spec),
        deps=[source_key(spec)],
        group_name="releases",
        compute_kind="opendp",
        description=f"{spec.title}: {spec.description.strip()} One row per period x group x measure x statistic (DP).",
        metadata={"epsilon_per_period": release_epsilon(spec), "rho_per_period": spec.privacy_loss.rho or 0.0, "dataset": spec.dataset,
                  "spec": f"config/releases/{spec.name}.yaml"},
    )
    def release_asset(context: dg.AssetExecutionContext, config: ReleaseRun, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as connection:
            closed = releasable_periods(connection, spec, date.today())
            unknown = sorted(set(config.periods) - set(closed))
            if unknown:
                raise dg.Failure(f"{spec.name}: periods {unknown} are not closed or have no data; closed: {', '.join(closed) or 'none'}")
            periods = config.periods or closed
            outcomes = release(connection, spec, periods, config.version, grain_checked=_grain_checked_in_this_run(context, spec))
        by_status = {status: [o for o in outcomes if o.status == status] for status in ("released", "reused", "refused")}
        for refused in by_status["refused"]:
            context.log.warning(refused.message)
        return dg.MaterializeResult(
            metadata={
                "periods_released": len(by_status["released"]),
                "periods_reused": len(by_status["reused"]),
                "periods_refused": dg.MetadataValue.json([o.message for o in by_status["refused"]]),
                "epsilon_per_period": release_epsilon(spec),
                "rho_per_period": spec.privacy_loss.rho or 0.0,
                "version": config.version,
            }
        )

    return release_asset


def build_grain_check(specs: list[ReleaseSpec]) -> dg.AssetChecksDefinition:
    """Blocking: no release reads a build of the mart that holds more than one row per unit per period.

    `specs` share one source, unit column and period column (see GRAIN_CHECKS).
    """
    spec = specs[0]
    assert all(grain_check_name(s) == grain_check_name(spec) and s.source == spec.source for s in specs)

    @dg.asset_check(
        asset=source_key(spec),
        name=grain_check_name(spec),
        blocking=True,
        description=f"Exact: {spec.source} holds at most one row per {spec.privacy_unit.column} per {spec.period} "
        f"(the contribution bound of {', '.join(s.name for s in specs)}).",
    )
    def grain_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as connection:
            violations = grain_violations(connection, spec)
        return dg.AssetCheckResult(
            passed=not violations,
            metadata={"periods_violating": dg.MetadataValue.json(violations), "releases_relying_on_it": ", ".join(s.name for s in specs)},
        )

    return grain_check


def _yearly_table(loss) -> str:
    """The rolling 12-month loss of one unit per kind of unit, as a Markdown table (newest window first)."""
    lines = ["| unit | 12 months up to | releases | datasets | epsilon (composed) | delta | cap | left |", "|---|---|---|---|---|---|---|---|"]
    for r in loss.sort("unit_kind", "window_end", descending=[False, True]).iter_rows(named=True):
        lines.append(f"| {r['unit_kind']} | {r['window_end']} | {r['releases']} | {r['datasets']} | {r['epsilon']:.3f} | "
                     f"{r['delta']:.2g} | {r['epsilon_cap']:.1f} | {r['epsilon_left']:.3f} |")
    return "\n".join(lines)


def build_ledger_asset(specs: list[ReleaseSpec]) -> dg.AssetsDefinition:
    @dg.asset(
        key=LEDGER,
        deps=[release_key(s) for s in specs],
        group_name="releases",
        compute_kind="sqlite",
        description="The privacy ledger (its own append-only file, data/ledger/ledger.sqlite): every release with its epsilon, "
        "delta, unit, query and time; the budget left per dataset per period; one unit's loss over every 12 months against "
        "the yearly cap of its kind.",
        check_specs=[dg.AssetCheckSpec("ledger_adds_up", asset=LEDGER, description="Per dataset and period, the budget table "
                                       "equals the sum of the ledger's entries (what is spent is the sum of the ledger).")],
    )
    def privacy_ledger(warehouse: Warehouse) -> dg.MaterializeResult:
        settings = privacy_settings()
        budgets = {name: (d.budget_per_period.epsilon, d.budget_per_period.delta) for name, d in settings.datasets.items()}
        with warehouse.connect() as connection:
            ensure_ledger(connection)
            sync(connection)
            overview = budget_overview(connection, budgets)
            releases = entries_frame(connection).height
            loss = yearly_loss(connection, settings)
            wrong = mismatches(connection)
            where = shown(ledger_path(connection))
        table = "\n".join(
            ["| dataset | period | epsilon spent | budget | left | releases |", "|---|---|---|---|---|---|"]
            + [
                f"| {r['dataset']} | {r['period']} | {r['epsilon_spent']:.3f} | {r['epsilon_budget']:.3f} | {r['epsilon_left']:.3f} | {r['releases']} |"
                for r in overview.iter_rows(named=True)
            ]
        )
        worst = {kind: float(loss.filter(loss["unit_kind"] == kind)["epsilon"].max() or 0.0) for kind in settings.annual_caps}
        return dg.MaterializeResult(
            metadata={  # budgets are per period, so the figures are per period too (a sum over periods means nothing)
                "releases_total": releases,
                "periods": overview.height,
                "most_epsilon_spent_in_a_period": float(overview["epsilon_spent"].max() or 0.0),
                "least_epsilon_left_in_a_period": float(overview["epsilon_left"].min() or 0.0),
                "budget_per_period": dg.MetadataValue.md(table),
                "most_epsilon_of_one_unit_in_12_months": dg.MetadataValue.json(worst),
                "annual_caps": dg.MetadataValue.json({k: {"epsilon": c.epsilon, "delta": c.delta} for k, c in settings.annual_caps.items()}),
                "loss_per_unit_over_12_months": dg.MetadataValue.md(_yearly_table(loss)),
                "ledger_file": dg.MetadataValue.path(where),
            },
            check_results=[dg.AssetCheckResult(check_name="ledger_adds_up", passed=not wrong,
                                                metadata={"periods_not_adding_up": dg.MetadataValue.json(wrong)})],
        )

    return privacy_ledger


SPECS = list(release_specs().values())
RELEASE_ASSETS = [build_release_asset(spec) for spec in SPECS]
LEDGER_ASSET = build_ledger_asset(SPECS)
GRAIN_CHECKS = [
    build_grain_check([s for s in SPECS if (s.source, grain_check_name(s)) == grain])
    for grain in sorted({(s.source, grain_check_name(s)) for s in SPECS if s.contribution.source_grain is not None})
]
