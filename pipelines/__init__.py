"""The wiring: one Dagster `Definitions`, resources, sensors, schedules and the `mkbvm` command line."""

import os

# Set before polars is first loaded (this package is imported first by `mkbvm`, the Dagster code location and its
# run workers; child processes inherit it). polars' allocator (jemalloc) otherwise keeps every page a step freed, so
# one run's resident memory only grows: at 300,000 firms the debt step left 2.3 GB behind, with this 0.4 GB (read
# by jemalloc when it starts; pipelines/memory.py says the rest).
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0")
