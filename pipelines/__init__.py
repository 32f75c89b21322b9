"""The wiring: one Dagster `Definitions`, resources, sensors, schedules and the `mkbvm` command line."""
