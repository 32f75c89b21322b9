"""The warehouse is encrypted at rest: without its key the file does not open and holds no answer, pseudonym or amount.

Also: a new key (`mkbvm rotate-key`) re-encrypts the file, after which the old key
no longer opens it and SQLMesh still plans on it; a rotation stopped between
its two renames is finished by the next connection; a warehouse made before
encryption is encrypted by `mkbvm keygen`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyrage
import pytest
from typer.testing import CliRunner

from core.archive import ARCHIVE_KEY_ENV, archive_key_file, archive_of, delivered_files, next_archive_key_file, read_sealed, seal
from core.settings import WAREHOUSE_KEY_ENV
from core.warehouse import (
    WarehouseKeyError,
    connect,
    is_encrypted,
    next_key_file,
    reencrypt,
    table_fingerprints,
    warehouse_key,
    warehouse_key_file,
)
from tests.conftest import WAREHOUSE_TEST_KEY, data_dir
from tests.encryption_support import readable_in, secrets_of


def test_the_warehouse_does_not_open_without_its_key_and_shows_nothing_in_its_bytes(pipeline, tmp_path):
    secrets = secrets_of(pipeline.warehouse)
    files = [p for p in pipeline.data_dir.glob("warehouse.duckdb*") if p.is_file()]
    assert pipeline.warehouse in files
    for path in files:
        assert readable_in(path, secrets) == [], path.name
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(pipeline.warehouse, copy)
    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(copy), read_only=True)
    with data_dir(tmp_path), pytest.MonkeyPatch.context() as patch:
        patch.setenv(WAREHOUSE_KEY_ENV, "another-key-" + "x" * 40)
        with pytest.raises(WarehouseKeyError, match="another key"):
            connect(copy, read_only=True).__enter__()


def _small_warehouse(path: Path) -> None:
    with connect(path) as connection:  # a table, a view naming the catalog (as SQLMesh's do), a sequence in use
        connection.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT range AS i, 'antwoord ' || range AS s FROM range(5000)")
        connection.execute("CREATE SCHEMA marts; CREATE VIEW marts.v AS SELECT count(*) AS n FROM warehouse.raw.t")
        connection.execute("CREATE SEQUENCE raw.s; SELECT nextval('raw.s'), nextval('raw.s')")


def test_new_keys_re_encrypt_the_warehouse_and_the_archive_and_the_old_keys_no_longer_open_them(tmp_path, monkeypatch):
    monkeypatch.delenv(WAREHOUSE_KEY_ENV)
    monkeypatch.delenv(ARCHIVE_KEY_ENV)
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    from pipelines.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["keygen"]).exit_code == 0
    old_key, old_identity = warehouse_key(), archive_key_file().read_text().strip()
    warehouse = tmp_path / "warehouse.duckdb"
    _small_warehouse(warehouse)
    with connect(warehouse, read_only=True) as connection:
        before = table_fingerprints(connection, "warehouse")
    delivery = b"kvk_number;answer\n12345678;geheim antwoord\n"
    (tmp_path / "landing" / "cgc").mkdir(parents=True)
    (tmp_path / "landing" / "cgc" / "export.csv").write_bytes(delivery)
    sealed = seal(tmp_path / "landing" / "cgc" / "export.csv", archive_of(tmp_path / "landing"), "cgc")
    assert b"geheim" not in sealed.read_bytes() and not (tmp_path / "landing" / "cgc" / "export.csv").exists()

    result = runner.invoke(app, ["rotate-key"])

    assert result.exit_code == 0, result.output
    assert warehouse_key() != old_key and not next_key_file().exists() and not next_archive_key_file().exists()
    assert archive_key_file().read_text().strip() != old_identity
    assert read_sealed(sealed) == delivery and delivered_files(tmp_path / "landing", "cgc") == {"export.csv": delivery}
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed.read_bytes(), [pyrage.x25519.Identity.from_str(old_identity)])
    assert runner.invoke(app, ["keygen", "--force"]).exit_code == 0 and warehouse_key_file().read_text().strip() == warehouse_key()
    with connect(warehouse) as connection:
        assert table_fingerprints(connection, "warehouse") == before
        assert connection.execute("SELECT n FROM marts.v").fetchone() == (5000,)
        assert connection.execute("SELECT nextval('raw.s')").fetchone() == (3,)
    monkeypatch.setenv(WAREHOUSE_KEY_ENV, old_key)
    with pytest.raises(WarehouseKeyError):
        connect(warehouse, read_only=True).__enter__()


def test_a_rotation_stopped_after_the_swap_is_finished_by_the_next_connection(tmp_path, monkeypatch):
    monkeypatch.delenv(WAREHOUSE_KEY_ENV)
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    warehouse_key_file().parent.mkdir(parents=True)
    warehouse_key_file().write_text("old-key-" + "o" * 40)
    warehouse = tmp_path / "warehouse.duckdb"
    _small_warehouse(warehouse)
    new_key = "new-key-" + "n" * 40
    next_key_file().write_text(new_key)
    reencrypt(warehouse, new_key, warehouse_key())  # ... and the process stopped before renaming the key file

    with connect(warehouse, read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM raw.t").fetchone() == (5000,)
    assert warehouse_key() == new_key and not next_key_file().exists()


def test_keygen_encrypts_a_warehouse_made_before_encryption(tmp_path, monkeypatch):
    monkeypatch.delenv(WAREHOUSE_KEY_ENV)
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as plain:
        plain.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT range AS i, 'geheim antwoord ' || range AS s FROM range(2000)")
        before = table_fingerprints(plain, "warehouse")
    assert not is_encrypted(warehouse)
    with pytest.raises(WarehouseKeyError, match="not encrypted yet"), pytest.MonkeyPatch.context() as patch:
        patch.setenv(WAREHOUSE_KEY_ENV, WAREHOUSE_TEST_KEY)
        connect(warehouse).__enter__()
    from pipelines.cli import app

    result = CliRunner().invoke(app, ["keygen"])

    assert result.exit_code == 0, result.output
    assert is_encrypted(warehouse) and b"geheim antwoord" not in warehouse.read_bytes()
    with connect(warehouse, read_only=True) as connection:
        assert table_fingerprints(connection, "warehouse") == before


def test_sqlmesh_plans_on_a_re_encrypted_copy_of_the_warehouse(pipeline, tmp_path, monkeypatch):
    """SQLMesh's views name the catalog: after a copy under a new key they still bind, and a plan finds nothing to change."""
    from core.sqlmesh_project import sqlmesh_context

    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(pipeline.warehouse, copy)
    new_key = "rotated-key-" + "r" * 40
    reencrypt(copy, new_key, WAREHOUSE_TEST_KEY)
    monkeypatch.setenv(WAREHOUSE_KEY_ENV, new_key)
    with connect(copy, read_only=True) as connection:
        marts = connection.execute("SELECT count(*) FROM marts.cgc_firm_wave").fetchone()[0]
    assert marts > 1000
    context = sqlmesh_context(copy)
    try:
        plan = context.plan(auto_apply=False, no_prompts=True)
        assert not plan.has_changes
    finally:
        context.close()
