"""Memory handed back between the steps of a run (issue 15, point 5: the whole run within 4 GB on 2 cores).

A run executes its steps one after another in one process (`pipelines.definitions`). What a step frees, the C
allocators may keep for a next allocation that never comes from them: each library has its own. polars' jemalloc
gives pages back on its own once `pipelines/__init__.py` has set its decay (it kept everything before: 2.3 GB after
the debt step at 300,000 firms); DuckDB gives back what a closed connection held. glibc's malloc (pandas, numpy,
Python's own objects) and pyarrow's mimalloc keep freed pages until asked. After every step this hook collects
Python's cycles, asks pyarrow's pool and glibc to return free memory, and logs the resident memory before and after
(the run's log in the Dagster UI: where memory stays, and after which step).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import dagster as dg
import psutil
import pyarrow as pa


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return library if library is not None and hasattr(library, "malloc_trim") else None


_LIBC = _glibc()


def release_memory() -> tuple[int, int]:
    """Hand free memory back to the system; (resident bytes before, after)."""
    process = psutil.Process()
    before = process.memory_info().rss
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:  # glibc only (not musl): give back the free pages of every arena
        _LIBC.malloc_trim(0)
    return before, process.memory_info().rss


def _after_step(context: dg.HookContext) -> None:
    before, after = release_memory()
    context.log.info(f"memory after step {context.step_key}: {before / 1e9:.2f} GB resident, {after / 1e9:.2f} GB after handing back")


@dg.success_hook(name="release_memory_after_success")
def release_memory_after_success(context: dg.HookContext) -> None:
    _after_step(context)


@dg.failure_hook(name="release_memory_after_failure")
def release_memory_after_failure(context: dg.HookContext) -> None:
    _after_step(context)


RELEASE_MEMORY_HOOKS = {release_memory_after_success, release_memory_after_failure}
