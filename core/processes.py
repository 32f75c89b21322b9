"""Servers started in their own process groups, and stopped together with everything they started.

Each server runs in a new session, so a Ctrl-C in the terminal or a closed
terminal reaches only the command that started it, which then stops them in
order. Stopping waits for the server's whole process group, not only for the
server: Dagster's daemon and webserver each start a code server
(`dagster api grpc`) that outlives them while it still loads the definitions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Self

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a process manager or `kill`, a closed terminal
STOP_GRACE_SECONDS = 10.0  # from SIGTERM until SIGKILL; a Dagster run needs a few seconds to record that it was stopped
KILLED_WITHIN_SECONDS = 5.0  # after SIGKILL, how long to wait for the kernel to remove the processes


class Stopped(Exception):
    """A stop signal arrived: Ctrl-C (SIGINT), a process manager or `kill` (SIGTERM), a closed terminal (SIGHUP)."""


class StopSignals:
    """While active, the first stop signal raises `Stopped` in the main thread, except inside `held()`, which keeps it
    until the block ends. Later ones are left to `stop_process_groups`, which is then stopping everything.

    Around starting servers: a stop that arrives while a server starts would otherwise interrupt `subprocess.Popen`
    after the fork, and that server would run on, unknown to anyone who could stop it.
    """

    def __init__(self) -> None:
        self._held = False
        self._pending: int | None = None
        self._raised = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Self:
        self._previous = {stop_signal: signal.signal(stop_signal, self._arrived) for stop_signal in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for stop_signal, handler in self._previous.items():
            signal.signal(stop_signal, handler)

    def _arrived(self, signum: int, frame) -> None:
        if self._held:
            self._pending = signum
        else:
            self._raise(signum)

    def _raise(self, signum: int) -> None:
        if not self._raised:
            self._raised = True
            raise Stopped(signal.Signals(signum).name)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._held = True
        try:
            yield
        finally:
            self._held = False
            if self._pending is not None:
                self._raise(self._pending)


def default_stop_signals() -> None:
    """In a new server, before it runs (`preexec_fn`): the stop signals not ignored.

    A shell that starts a command in the background starts it with SIGINT ignored (and `nohup` with SIGHUP ignored);
    a server must stop on each of them all the same.
    """
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_DFL)


def _group_exists(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader: until then it counts as a member of its group
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # its PID was reused by a process not ours: our group is gone
        return False
    return True


def _signal_groups(processes: list[subprocess.Popen], stop_signal: int) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, stop_signal)


def stop_process_groups(processes: list[subprocess.Popen], grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop servers started with `start_new_session=True`, with everything they started: SIGTERM to each process
    group, wait until every group is empty, SIGKILL what is left after `grace` seconds.

    A second stop signal while waiting (Ctrl-C again) does not interrupt this; it kills what is left at once.
    """
    hurry: list[int] = []  # a plain list: a handler that took a lock could wait on the code it interrupted
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {stop_signal: signal.signal(stop_signal, lambda signum, frame: hurry.append(signum)) for stop_signal in STOP_SIGNALS}
    try:
        _signal_groups(processes, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (alive := [process for process in processes if _group_exists(process)]) and time.monotonic() < deadline and not hurry:
            time.sleep(0.05)
        if alive:
            _signal_groups(alive, signal.SIGKILL)
            deadline = time.monotonic() + KILLED_WITHIN_SECONDS
            while any(_group_exists(process) for process in alive) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)


def sigterm_as_ctrl_c() -> None:
    """From now on SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, once, as Ctrl-C does.

    For a program that starts servers in `with` blocks or fixtures (pytest, a benchmark): their default is to die at
    once, and the servers, each in its own session, would run on. Later ones are ignored while it stops.
    """
    raised = []

    def interrupt(signum: int, frame) -> None:
        if not raised:
            raised.append(signum)
            raise KeyboardInterrupt(signal.Signals(signum).name)

    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, interrupt)
