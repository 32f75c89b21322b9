"""`mkbvm backup` and `mkbvm restore`: encrypted, restored into an empty folder exactly, a changed backup refused."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.backup import MANIFEST, BackupError, backup, digest_of_tree, restore
from core.settings import Paths
from core.warehouse import connect, table_fingerprints
from tests.encryption_support import readable_in, secrets_of


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _fingerprints(warehouse: Path) -> dict:
    with connect(warehouse, read_only=True) as connection:
        return table_fingerprints(connection, "warehouse")


def test_a_backup_restores_into_an_empty_folder_as_it_was_and_holds_nothing_readable(pipeline, tmp_path):
    installation, copy = Paths(pipeline.data_dir), tmp_path / "backup"

    manifest = backup(installation, copy)
    restored = Paths(tmp_path / "restored")
    restore(copy, restored)

    assert _fingerprints(restored.warehouse) == _fingerprints(installation.warehouse)
    assert len(manifest["warehouse"]) > 30 and set(manifest["stores"]) == {"ledger", "accounts"}
    for relative in ("ledger/ledger.sqlite", "accounts/accounts.sqlite"):
        assert _dump(restored.data_dir / relative) == _dump(installation.data_dir / relative), relative
    for folder in ("uploads", "archive"):
        assert digest_of_tree(restored.data_dir / folder) == digest_of_tree(installation.data_dir / folder) != {}, folder
    secrets = secrets_of(installation.warehouse)
    secrets["amount"] = [value for value in secrets["amount"] if b"." in value]  # as text: 8 bytes of a number occur anywhere
    assert {name: kinds for name in manifest["files"] if (kinds := readable_in(copy / name, secrets))} == {}
    texts = {text for line in _dump(installation.data_dir / "accounts" / "accounts.sqlite") if line.startswith("INSERT")
             for text in re.findall(r"'([^']{16,})'", line)}  # proposal texts, audit entries, upload metadata
    sealed = (copy / "accounts.sqlite.age").read_bytes()
    assert len(texts) > 20 and not any(text.encode() in sealed for text in texts)


@pytest.fixture()
def small(tmp_path) -> Paths:
    installation = Paths(tmp_path / "data")
    with connect(installation.warehouse) as connection:
        connection.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT range AS i, 'antwoord ' || range AS s FROM range(300)")
    (installation.landing / "cgc").mkdir(parents=True)
    (installation.landing / "cgc" / "form_1.jsonl").write_text('{"kvk_number": "12345678", "free_text": "nog niet ingelezen"}\n')
    (installation.data_dir / "accounts").mkdir()
    with sqlite3.connect(installation.data_dir / "accounts" / "accounts.sqlite") as store:
        store.execute("CREATE TABLE accounts (email TEXT)")
        store.execute("INSERT INTO accounts VALUES ('jan@voorbeeld.nl')")
    return installation


def test_a_waiting_landing_file_is_sealed_in_the_backup_and_comes_back(small, tmp_path):
    backup(small, tmp_path / "backup")
    assert not any(b"nog niet ingelezen" in p.read_bytes() or b"jan@voorbeeld" in p.read_bytes()
                   for p in (tmp_path / "backup").rglob("*") if p.is_file())
    restored = Paths(tmp_path / "restored")
    restore(tmp_path / "backup", restored)
    assert (restored.landing / "cgc" / "form_1.jsonl").read_bytes() == (small.landing / "cgc" / "form_1.jsonl").read_bytes()
    assert _dump(restored.data_dir / "accounts" / "accounts.sqlite") == _dump(small.data_dir / "accounts" / "accounts.sqlite")


def test_a_changed_or_incomplete_backup_is_refused_before_anything_is_written(small, tmp_path):
    copy = tmp_path / "backup"
    backup(small, copy)
    sealed = copy / "accounts.sqlite.age"
    original = sealed.read_bytes()
    sealed.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    target = Paths(tmp_path / "restored")
    with pytest.raises(BackupError, match="was changed after the backup"):
        restore(copy, target)
    assert not target.data_dir.exists()
    sealed.write_bytes(original)
    (copy / "landing" / "cgc" / "form_1.jsonl.age").unlink()
    with pytest.raises(BackupError, match="files missing"):
        restore(copy, target)
    assert not target.data_dir.exists()


def test_a_restore_never_overwrites_an_installation_and_a_backup_needs_a_new_folder(small, tmp_path):
    copy = tmp_path / "backup"
    backup(small, copy)
    with pytest.raises(BackupError, match="already holds an installation"):
        restore(copy, small)
    with pytest.raises(BackupError, match="is not empty"):
        backup(small, copy)
    assert (copy / MANIFEST).exists()


def test_the_commands_back_up_and_restore(small, tmp_path, monkeypatch):
    from pipelines.cli import app

    runner = CliRunner()
    monkeypatch.setenv("MKB_DATA_DIR", str(small.data_dir))
    made = runner.invoke(app, ["backup", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path / "restored"))
    done = runner.invoke(app, ["restore", str(tmp_path / "backup")])
    assert done.exit_code == 0, done.output
    assert _fingerprints(tmp_path / "restored" / "warehouse.duckdb") == _fingerprints(small.warehouse)
    again = runner.invoke(app, ["restore", str(tmp_path / "backup")])
    assert again.exit_code == 1 and "already holds an installation" in " ".join(again.output.split())
