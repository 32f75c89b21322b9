"""The production files in deploy/: the systemd units and the nginx template's settings.

tests/test_tls_proxy.py runs the nginx configuration in a real nginx and
tests/test_serve.py stops `mkbvm serve` as these units stop it; here the units
are checked by systemd's own parser and against what `mkbvm serve` needs.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.processes import KILLED_WITHIN_SECONDS, STOP_GRACE_SECONDS
from pipelines.deploy import ProxySettings, render_nginx

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
CHECKOUT, VENV = "/opt/mkbvm", "/opt/mkbvm/.venv"  # where the units expect the repository and its .venv


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_the_units_are_the_two_services_of_the_production_setup():
    assert [unit.name for unit in UNITS] == ["mkbvm-pipeline.service", "mkbvm-web.service"]
    pipeline, web = (_unit(unit)["Service"] for unit in UNITS)
    assert pipeline["User"] == "mkbvm-pipeline" and web["User"] == "mkbvm-web"  # README: two system users
    assert pipeline["ExecStart"].split()[1:] == ["serve", "--no-dashboards", "--dagster-port", "3000"]
    assert "MKB_PSEUDONYM_KEY" not in web.get("Environment", "")  # the web app never gets the pseudonym key


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_a_unit_stops_its_service_with_sigterm_and_gives_it_time(unit):
    service = _unit(unit)["Service"]
    assert service["Type"] == "simple"
    assert service["KillSignal"] == "SIGTERM"
    # mixed: SIGTERM to the main process only, which stops its servers in order; SIGKILL to all that is left at the end
    assert service["KillMode"] == "mixed"
    timeout = int(service["TimeoutStopSec"])
    assert timeout > STOP_GRACE_SECONDS + KILLED_WITHIN_SECONDS  # serve's own SIGTERM-then-SIGKILL fits inside it
    assert service["UMask"] == "0077"
    assert service["WorkingDirectory"] == CHECKOUT  # Streamlit reads .streamlit/config.toml from there
    assert service["EnvironmentFile"].startswith("/etc/mkbvm/")  # keys come from outside the repository


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (Debian: package systemd)")
def test_systemd_reads_the_units_without_a_complaint(tmp_path):
    venv = Path(sys.executable).parent.parent  # the programs must exist for `verify`: this checkout's .venv
    for unit in UNITS:
        text = unit.read_text().replace(VENV, str(venv)).replace("EnvironmentFile=/", "EnvironmentFile=-/")
        (tmp_path / unit.name).write_text(text)
    verified = subprocess.run(["systemd-analyze", "verify", *sorted(str(path) for path in tmp_path.iterdir())],
                              capture_output=True, text=True, check=False)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


SETTINGS = {"app_host": "monitor.example.nl", "dagster_host": "dagster.example.nl", "certificate": Path("/etc/ssl/mkbvm/fullchain.pem"),
            "certificate_key": Path("/etc/ssl/mkbvm/privkey.pem"), "htpasswd": Path("/etc/nginx/mkbvm-dagster.htpasswd")}


def test_the_nginx_configuration_of_a_standard_installation():
    text = render_nginx(ProxySettings(**SETTINGS))
    assert "return 301 https://$host$request_uri;" in text  # on 443 the redirect names no port
    assert "listen 443 ssl;" in text and "listen 80;" in text
    assert "proxy_pass http://127.0.0.1:8501;" in text and "proxy_pass http://127.0.0.1:3000;" in text
    assert re.findall(r"@[A-Z_]+@", text) == []  # every placeholder filled in


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("app_host", "Monitor.example.nl", "host name"),
    ("dagster_host", "dagster.example.nl:8443", "no port"),
    ("dagster_host", "monitor.example.nl", "must differ"),
    ("https_port", 0, "from 1 to 65535"),
    ("certificate", Path("fullchain.pem"), "absolute path"),
    ("htpasswd", Path("/etc/nginx/a;b"), "without spaces"),
])
def test_a_setting_nginx_would_misread_is_refused_by_name(field, value, rule):
    with pytest.raises(ValueError, match=rule) as refused:
        ProxySettings(**{**SETTINGS, field: value})
    assert field in str(refused.value)


def test_the_readme_shows_the_pipelines_unit_as_it_is():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("```ini\n", 1)[1].split("```", 1)[0]
    settings = [line for line in (ROOT / "deploy" / "systemd" / "mkbvm-pipeline.service").read_text().splitlines()
                if line and not line.startswith("#")]
    assert [line for line in shown.splitlines() if line and not line.startswith("#")] == settings
