"""SQLMesh project configuration (the repository root is the SQLMesh project).

The warehouse path comes from `core.settings`, so SQLMesh, Dagster and the
tests always agree on which DuckDB file they mean. To grow past one machine,
add a gateway here (PostgreSQL, Trino, ...) and select it; the models stay.
"""

from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

from core.settings import paths

config = Config(
    gateways={"local": GatewayConfig(connection=DuckDBConnectionConfig(database=str(paths().warehouse)))},
    default_gateway="local",
    model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2024-01-01", cron="@daily"),
)
