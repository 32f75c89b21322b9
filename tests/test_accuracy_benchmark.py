"""The accuracy benchmark runs end to end on a small population and prints its table (benchmarks/accuracy.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "accuracy.py"
LEVELS = ("nation", "province", "sector", "size_class")


@pytest.mark.slow
def test_benchmark_prints_every_level_and_engine(capsys):
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    module.main(["--firms", "3000", "--waves", "1", "--repeats", "4"])
    printed = capsys.readouterr().out
    table = [
        line.split() for line in printed.splitlines() if line.split()[:1] and line.split()[0] in LEVELS and "weighted" not in line
    ]
    rows = [(words[0], " ".join(words[1:-7]), words[-7:]) for words in table]  # level, engine, its 7 numbers
    assert {"today", "engine zCDP", "engine nominal", "nominal", "gls", "split", "zcdp", "zcdp@wave+split"} <= {engine for _, engine, _ in rows}
    today, zcdp, engine, laplace = ({level: float(numbers[0]) for level, name, numbers in rows if name == wanted}
                                    for wanted in ("today", "zcdp", "engine zCDP", "engine nominal"))
    assert set(today) == set(LEVELS) == set(engine)
    assert all(zcdp[level] < today[level] for level in LEVELS)  # at the same annual loss zCDP's noise is smaller
    # the engine as configured (zCDP at the same loss per wave) against the Laplace engines; the tiny test's small cells
    # can all hit the +-100 ceiling, so strictly narrower only where the cells are large: the nation
    assert all(engine[level] <= today[level] for level in LEVELS)  # about 0.3 x the first engine: safe even at 4 draws
    assert engine["nation"] < laplace["nation"] < today["nation"]  # the levels between, from 4 unseeded draws on tiny cells, may swap  # the engine as configured: zCDP at the same loss per wave
    assert "zCDP at the same annual loss" in printed and "best possible DP half-width" in printed
