"""National scale on one machine (issue 15, point 5): wall time per stage and peak memory, as a new user runs it.

    .venv/bin/python benchmarks/national_scale.py [--firms 1200000] [--debt-persons 2000000] [--baseline-share 0.1]

For a baseline size (a share of `--firms`, measured in the same run) and for the full size, each in an empty data folder
under data/benchmarks/: `mkbvm keygen`, `mkbvm generate`, `mkbvm run`, as separate processes; then one more wave
(`mkbvm generate --waves 1` for this month) and `mkbvm run` again, as the next month's run would be. A sampler adds up the
resident memory of each command's whole process tree five times a second (the peak of that sum is what the machine
must have); the Dagster run's step statistics give the time of every stage. Printed: per stage the seconds at both sizes
and their ratio per firm (1.0 is linear scaling; above it the stage grows faster than the data), and the peak memory of
each command against the target of 4 GB for the whole run on 2 cores.

At the full size this takes about 35 minutes and 10 GB of disk; the folders are removed afterwards unless `--keep`.
The peak per stage is the highest resident memory sampled while that step ran; the run's log in the Dagster UI also
says after every step what the process held (`pipelines/memory.py`).

Measured 2026-12-04 (1.2 million firms, 2 million debt persons; baseline 120,000): generate 252 s, peak 4.6 GB; the
first run 1,152 s, peak 3.88 GB (consultation_firm_words; debt_advice 244 s at 1.68 GB, SQLMesh 210 s at 3.2 GB). The
run after one more wave: 100 s, peak 2.49 GB: SQLMesh 9 s (that month restated), cgc_expectations 5 s (its rows),
debt_advice 0.8 s (no month changed), the theme steps 3-4 s each (no new comments), creditor files 0.7 s. Before
the debt months, theme periods, quotes and creditor files were made only where they changed (same day): first run
1,207 s at 4.04 GB (debt_advice), the next-wave run 199 s (theme catalogue 82 s, creditor files 24 s); on
2026-12-03 1,325 s at 4.88 GB and 827 s; session 22: 1,970 s, peak 17.2 GB (SQLMesh 15.9 GB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
MKBVM = str(Path(sys.executable).parent / "mkbvm")
TARGET_PEAK_GB = 4.0


@dataclass
class Measured:
    seconds: float
    peak_gb: float
    samples: list[tuple[float, int]] = field(default_factory=list)  # (epoch seconds, resident bytes of the tree)


@dataclass
class Size:
    firms: int
    debt_persons: int
    commands: dict[str, Measured] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    stage_peaks: dict[str, float] = field(default_factory=dict)  # GB: the highest resident memory while the stage ran
    next_stages: dict[str, float] = field(default_factory=dict)  # the run after one more wave (incremental)
    next_peaks: dict[str, float] = field(default_factory=dict)  # GB, per stage of that run


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def _measure(command: list[str], env: dict[str, str]) -> Measured:
    """Run `command`, sampling the resident memory of its process tree; its wall time and the peak of that sum."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, int]] = []
    watched, done = psutil.Process(process.pid), threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append((time.time(), _tree_rss(watched)))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed ({process.returncode}):\n{errors[-3000:]}")
    return Measured(time.perf_counter() - started, max((rss for _, rss in samples), default=0) / 1e9, samples)


def _stage_spans(dagster_home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) in epoch seconds per step of the last run in this Dagster instance (one step per stage)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        return {stats.step_key: (stats.start_time or 0, stats.end_time or 0) for stats in instance.get_run_step_stats(run.run_id)}


def _peak_within(samples: list[tuple[float, int]], start: float, end: float) -> float:
    return max((rss for at, rss in samples if start <= at <= end), default=0) / 1e9


def measure(size: Size, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "MKB_DATA_DIR": str(folder)}
    for variable in ("MKB_PSEUDONYM_KEY", "MKB_ACCOUNTS_KEY", "MKB_WAREHOUSE_KEY", "MKB_ARCHIVE_KEY"):
        env.pop(variable, None)  # a new user's installation: the key files keygen writes
    _measure([MKBVM, "keygen"], env)
    print(f"{size.firms:>9} firms: generating ...", flush=True)
    size.commands["generate"] = _measure([MKBVM, "generate", "--firms", str(size.firms), "--debt-persons", str(size.debt_persons)], env)
    print(f"{size.firms:>9} firms: running the pipeline ...", flush=True)
    size.commands["run"] = _measure([MKBVM, "run"], env)
    spans = _stage_spans(folder / "dagster")
    size.stages = {step: end - start for step, (start, end) in spans.items()}
    size.stage_peaks = {step: _peak_within(size.commands["run"].samples, start, end) for step, (start, end) in spans.items()}
    # The next month: one more CGC wave arrives (this month's), and the pipeline runs again. What is incremental
    # (ingestion, checks, SQLMesh's monthly marts, releases) should take a fraction of the first run.
    print(f"{size.firms:>9} firms: one more wave, running again ...", flush=True)
    size.commands["next wave"] = _measure([MKBVM, "generate", "--firms", str(size.firms), "--waves", "1", "--last-wave",
                                           date.today().strftime("%Y-%m"), "--debt-persons", "0", "--programme-firms", "0"], env)
    size.commands["rerun"] = _measure([MKBVM, "run"], env)
    spans = _stage_spans(folder / "dagster")
    size.next_stages = {step: end - start for step, (start, end) in spans.items()}
    size.next_peaks = {step: _peak_within(size.commands["rerun"].samples, start, end) for step, (start, end) in spans.items()}


def report(baseline: Size, full: Size) -> None:
    scale = full.firms / baseline.firms
    print(f"\nStages (seconds; ratio = seconds per firm at {full.firms} firms / at {baseline.firms}; 1.0 = linear)")
    print("('rerun': the full size again after one more wave; the first run built everything, this one only what is new)")
    print(f"{'stage':44} {'baseline':>9} {'full':>9} {'ratio':>6} {'peak GB':>8} {'rerun':>7} {'peak GB':>8}")
    for stage in sorted(full.stages, key=full.stages.get, reverse=True):
        before = baseline.stages.get(stage, 0.0)
        ratio = f"{full.stages[stage] / scale / before:6.2f}" if before > 0.05 else "     -"
        print(f"{stage[:44]:44} {before:9.1f} {full.stages[stage]:9.1f} {ratio} {full.stage_peaks.get(stage, 0.0):8.2f} "
              f"{full.next_stages.get(stage, 0.0):7.1f} {full.next_peaks.get(stage, 0.0):8.2f}")
    print(f"\n{'command':10} {'baseline s':>10} {'full s':>9} {'ratio':>6} {'peak GB':>8} {'target':>7}")
    for command, measured in full.commands.items():
        before = baseline.commands[command]
        verdict = ("ok" if measured.peak_gb <= TARGET_PEAK_GB else "OVER") if command in ("run", "rerun") else ""
        print(f"{command:10} {before.seconds:10.1f} {measured.seconds:9.1f} {measured.seconds / scale / before.seconds:6.2f} "
              f"{measured.peak_gb:8.2f} {verdict:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=1_200_000)
    parser.add_argument("--debt-persons", type=int, default=2_000_000, help="about 2.5 claims each: 5 million claims")
    parser.add_argument("--baseline-share", type=float, default=0.1)
    parser.add_argument("--keep", action="store_true", help="keep the data folders (to load the pages at this size: page_load.py)")
    arguments = parser.parse_args()
    share = arguments.baseline_share
    baseline = Size(max(100, int(arguments.firms * share)), int(arguments.debt_persons * share))
    full = Size(arguments.firms, arguments.debt_persons)
    folders = {id(baseline): ROOT / "data" / "benchmarks" / "national-baseline", id(full): ROOT / "data" / "benchmarks" / "national-full"}
    try:
        for size in (baseline, full):
            measure(size, folders[id(size)])
        report(baseline, full)
    finally:
        if not arguments.keep:
            for folder in folders.values():
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
