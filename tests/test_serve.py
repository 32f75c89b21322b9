"""Every server the project starts stops with it (issue 15, point 6).

`mkbvm serve` runs as a real process on free ports of an empty installation
(its own MKB_DATA_DIR, DAGSTER_HOME under it), as a process manager runs a
service. A watcher records every process of its tree while it runs: the
Dagster daemon, the guarded Dagster UI, Streamlit, and what those start
(Dagster's code servers), also after they are orphaned. The signal goes to
the `mkbvm serve` process only, as systemd sends it (KillMode=mixed) and as
`kill PID` does. Then serve must have exited and no process of that tree may
remain. The same holds for a Streamlit server a test starts itself
(`browser_support.streamlit_server`) when pytest is stopped with SIGTERM, as
CI cancels a job; and for a server whose child ignores SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from browser_support import free_port

from core.processes import stop_process_groups

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
MKBVM = str(Path(sys.executable).parent / "mkbvm")
STOPPED_WITHIN = 30  # seconds from the signal until everything is gone (serve waits 10 s before it kills what is left)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _running(process: psutil.Process) -> bool:
    try:  # is_running() compares the start time too, so a reused PID does not count
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid}: {' '.join(process.cmdline())[:160]}"
    except psutil.Error:
        return f"{process.pid}: (gone)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


class Watched:
    """A command started as a service is (its own session, output read all along: a full pipe would block it), and every
    process that ever belonged to its tree or to the process group of one of its children (an orphan keeps its group)."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.seen: dict[int, psutil.Process] = {}
        self.groups: set[int] = set()
        self.output: list[str] = []
        self._done = threading.Event()
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        last_group_scan = 0.0
        while not self._done.is_set():
            scan_groups = time.monotonic() - last_group_scan > 0.5  # all processes: heavier, so twice a second
            self._look(scan_groups)
            last_group_scan = time.monotonic() if scan_groups else last_group_scan
            time.sleep(0.05 if self.seen else 0.002)  # quick until the first child: a test signals at that moment

    def _look(self, scan_groups: bool) -> None:
        try:
            root = psutil.Process(self.process.pid)
            self.groups.update(child.pid for child in root.children() if _pgid(child.pid) == child.pid)  # a server's own group
            found = root.children(recursive=True)
        except psutil.Error:
            found = []
        if scan_groups and self.groups:
            found += [process for process in psutil.process_iter() if _pgid(process.pid) in self.groups]
        for process in found:
            self.seen.setdefault(process.pid, process)

    def names(self) -> str:
        return " ".join(_describe(process) for process in self.seen.values())

    def text(self) -> str:
        return "".join(self.output)

    def wait_for_output(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(marker in line for line in self.output):
            assert self.process.poll() is None, f"ended early:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s:\n{self.text()}"
            time.sleep(0.1)

    def wait_for(self, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"ended early:\n{self.text()}"
            assert time.monotonic() < deadline, f"not within {timeout} s:\n{self.text()}"
            time.sleep(0.002)

    def assert_everything_stopped(self) -> int:
        """The command exits and, within STOPPED_WITHIN seconds of the signal, no process of its tree is left; its exit code."""
        deadline = time.monotonic() + STOPPED_WITHIN
        try:
            self.process.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            pass
        self._done.set()
        self._watcher.join()
        while self.remaining() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.process.returncode is not None, f"still runs {STOPPED_WITHIN} s after the signal:\n{self.text()}"
        left = [_describe(process) for process in self.remaining()]
        assert left == [], f"left running after it stopped: {left}\n{self.text()}"
        return self.process.returncode

    def remaining(self) -> list[psutil.Process]:
        return [process for process in self.seen.values() if _running(process)]

    def kill_everything(self) -> None:
        """Whatever a failed test left behind (the test has reported it; the machine is shared)."""
        self._done.set()
        self._watcher.join()
        for process in [*self.remaining(), *([psutil.Process(self.process.pid)] if self.process.poll() is None else [])]:
            try:
                process.kill()
            except psutil.Error:
                pass


class Serve(Watched):
    """`mkbvm serve` on free ports of an empty installation in `data_dir`."""

    def __init__(self, data_dir: Path, *arguments: str) -> None:
        self.dagster_port, self.streamlit_port = free_port(), free_port()
        self.data_dir = data_dir
        env = {**os.environ, "MKB_DATA_DIR": str(data_dir)}
        env.pop("MKB_DAGSTER_PUBLIC_HOST", None)
        super().__init__([MKBVM, "serve", "--dagster-port", str(self.dagster_port), "--streamlit-port", str(self.streamlit_port),
                          *arguments], env)

    def logs(self) -> str:
        """What the servers wrote to their log files (data/logs/), for a failure message."""
        return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-4000:]}" for log in sorted((self.data_dir / "logs").glob("*.log")))

    def assert_stopped_cleanly(self) -> None:
        returncode = self.assert_everything_stopped()
        assert returncode == 0, self.text()  # a stop asked for is a clean stop (systemd: "Deactivated successfully")
        assert "Stopped." in self.text(), self.text()


@pytest.mark.parametrize(("stop_signal", "arguments"), [(signal.SIGTERM, ()), (signal.SIGINT, ("--no-dashboards",))],
                         ids=["SIGTERM, with dashboards", "SIGINT, Dagster only"])
def test_a_signal_to_serve_stops_every_server_it_started(tmp_path, stop_signal, arguments):
    serve = Serve(tmp_path / "data", *arguments)
    try:
        serve.wait_for_output("Press Ctrl-C", timeout=240)
        dashboards = "--no-dashboards" not in arguments
        assert _answers(f"http://127.0.0.1:{serve.dagster_port}/server_info")
        assert _answers(f"http://127.0.0.1:{serve.streamlit_port}/_stcore/health") == dashboards
        for server in ("dagster-daemon", "pipelines.dagster_ui", "dagster api grpc", *(["streamlit run"] if dashboards else [])):
            # the watcher saw the whole tree, the UI's code server included, and each server still runs
            assert server in serve.names(), f"{serve.names()}\n{serve.text()}\n{serve.logs()}"
        os.kill(serve.process.pid, stop_signal)
        serve.assert_stopped_cleanly()
    finally:
        serve.kill_everything()


def _first_server_started(serve: Serve) -> None:
    serve.wait_for(lambda: serve.seen, timeout=60)  # serve is still starting the others


def _servers_loading(serve: Serve) -> None:
    serve.wait_for(lambda: len(serve.groups) == 3, timeout=60)  # the daemon, the Dagster UI and Streamlit; none answers yet
    time.sleep(3)


@pytest.mark.parametrize(("moment", "signals"), [
    (_first_server_started, [signal.SIGTERM]),
    (_servers_loading, [signal.SIGHUP]),  # the terminal closed (an ssh session ended): the servers have no terminal of their own
    (_servers_loading, [signal.SIGINT, signal.SIGINT]),  # Ctrl-C, and again while serve waits for the servers to stop
], ids=["SIGTERM as the first server starts", "SIGHUP while the servers load", "Ctrl-C twice while the servers load"])
def test_a_signal_while_serve_starts_stops_what_it_started(tmp_path, moment, signals):
    serve = Serve(tmp_path / "data")
    try:
        moment(serve)
        for number, stop_signal in enumerate(signals):
            if number:
                time.sleep(1)
            os.kill(serve.process.pid, stop_signal)
        serve.assert_stopped_cleanly()
    finally:
        serve.kill_everything()


HOLDS_A_SERVER = '''
import os
import time
from pathlib import Path

from browser_support import streamlit_server


def test_holds_a_streamlit_server(tmp_path):
    with streamlit_server(tmp_path / "data") as url:
        Path(os.environ["SERVER_ADDRESS_FILE"]).write_text(url)
        time.sleep(600)
'''


def test_sigterm_to_pytest_stops_the_servers_its_tests_started(tmp_path):
    handler = signal.getsignal(signal.SIGTERM)
    # conftest.py loads stop_on_sigterm in every run; a Dagster run in this process (execute_in_process) leaves SIGTERM
    # on Python's Ctrl-C handler when it ends (dagster._utils.interrupts), which raises KeyboardInterrupt as well
    assert getattr(handler, "__module__", None) == "core.processes" or handler is signal.default_int_handler, handler
    (tmp_path / "test_holds.py").write_text(HOLDS_A_SERVER)
    address = tmp_path / "address"
    env = {**os.environ, "SERVER_ADDRESS_FILE": str(address),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # the plugin alone, not the whole conftest (it would run nothing more here, and takes long to import)
    run = Watched([sys.executable, "-m", "pytest", "-p", "stop_on_sigterm", "-p", "no:cacheprovider", "-q", "test_holds.py"], env,
                  cwd=tmp_path)
    try:
        run.wait_for(address.exists, timeout=120)
        assert _answers(f"{address.read_text()}/_stcore/health")
        assert "streamlit run" in run.names(), run.names()
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.assert_everything_stopped() == pytest.ExitCode.INTERRUPTED, run.text()
    finally:
        run.kill_everything()


SERVER_WITH_A_STUBBORN_CHILD = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child', flush=True); time.sleep(600)"])
time.sleep(600)
"""  # the server stops on SIGTERM; its child, like a Dagster code server still loading the definitions, does not


def _server_with_a_stubborn_child() -> tuple[subprocess.Popen, psutil.Process]:
    server = subprocess.Popen([sys.executable, "-c", SERVER_WITH_A_STUBBORN_CHILD], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert server.stdout.readline() == "child\n"  # it ignores SIGTERM from here on
    (child,) = psutil.Process(server.pid).children()
    return server, child


def test_stopping_a_server_waits_for_its_whole_group_and_kills_what_ignores_sigterm():
    server, child = _server_with_a_stubborn_child()
    started = time.monotonic()
    stop_process_groups([server], grace=2)
    took = time.monotonic() - started
    assert server.returncode == -signal.SIGTERM  # the server itself stopped at once ...
    assert not _running(child)  # ... its child only when killed, after the grace period
    assert 2 <= took < 2 + 5, took


def test_a_second_stop_signal_while_stopping_kills_at_once():
    server, child = _server_with_a_stubborn_child()
    ctrl_c = signal.getsignal(signal.SIGINT)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C again, here: stopping holds the signal
    started = time.monotonic()
    stop_process_groups([server], grace=60)
    assert time.monotonic() - started < 5
    assert not _running(child)
    assert signal.getsignal(signal.SIGINT) is ctrl_c  # and gives Ctrl-C back afterwards
