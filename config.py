"""SQLMesh project configuration for the `sqlmesh` command line (the repository root is the project).

The warehouse path comes from `core.settings`, so SQLMesh, Dagster and the
tests agree on the DuckDB file. To grow past one machine, add a gateway in
`core/sqlmesh_project.py` (PostgreSQL, Trino, ...) and select it.
"""

from core.settings import paths
from core.sqlmesh_project import sqlmesh_config

config = sqlmesh_config(paths().warehouse)
