"""pytest plugin: SIGTERM stops a test run as Ctrl-C does, so the servers the tests started stop with it.

CI cancels a job with SIGTERM. pytest would die at once, and a Streamlit or Dagster server a test started in its own
session would run on; as a KeyboardInterrupt, every `finally` and fixture teardown runs (tests/test_serve.py checks).
conftest.py loads it.
"""

from __future__ import annotations

from core.processes import sigterm_as_ctrl_c


def pytest_configure(config) -> None:
    sigterm_as_ctrl_c()
