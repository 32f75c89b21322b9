"""Released files are read once per set of files: a rerun of a page reads nothing again until a new file is exported."""

from __future__ import annotations

import os

import polars as pl

from dashboards import released


def test_a_new_or_changed_export_is_read_and_an_unchanged_set_is_served_from_memory(tmp_path, monkeypatch):
    folder = tmp_path / "exports" / "demo"
    folder.mkdir(parents=True)
    pl.DataFrame({"period": ["2026-01"], "value": [1.0]}).write_parquet(folder / "demo_1.parquet")
    opened = []
    real = released.released_connection
    monkeypatch.setattr(released, "released_connection", lambda exports=None: opened.append(exports) or real(exports))
    sql = "SELECT * FROM {files} ORDER BY period"

    first = released.released_files("demo/demo_*.parquet", sql, tmp_path / "exports")
    again = released.released_files("demo/demo_*.parquet", sql, tmp_path / "exports")
    assert first.equals(again) and first["value"].to_list() == [1.0] and len(opened) == 1  # the second read came from memory

    pl.DataFrame({"period": ["2026-02"], "value": [2.0]}).write_parquet(folder / "demo_2.parquet")  # a new release
    assert released.released_files("demo/demo_*.parquet", sql, tmp_path / "exports")["value"].to_list() == [1.0, 2.0]
    pl.DataFrame({"period": ["2026-02"], "value": [3.0]}).write_parquet(folder / "demo_2.parquet")
    os.utime(folder / "demo_2.parquet", ns=(1, 1))  # other bytes and another time: another set of files
    assert released.released_files("demo/demo_*.parquet", sql, tmp_path / "exports")["value"].to_list() == [1.0, 3.0]
    assert len(opened) == 3
