"""The guard in front of the Dagster UI (pipelines/dagster_ui.py): its decisions, and a real server process.

The server tests start `python -m pipelines.dagster_ui` on a free port for a
temporary DAGSTER_HOME and data folder and send the requests a hostile web
page, a DNS-rebinding page or another local user could send. With
DAGSTER_UI_UNDER_TEST=plain the same tests run against plain
`dagster-webserver` instead; there every server test fails, which shows they
test the guard and not Dagster.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import HTTPConnection

from pipelines.dagster_ui import PUBLIC_HOST_ENV, TOKEN_PARAMETER, Login, Policy, Refusal, decide, login_link, new_login_token
from tests.browser_support import ROOT, free_port, launch

PLAIN = os.environ.get("DAGSTER_UI_UNDER_TEST") == "plain"
EVIL = "http://evil.example"
REFUSED_WITHOUT_LOGIN = "Open de link die `mkbvm serve` liet zien"
TOKEN = "t" * 43
LAUNCH_RUN = ("mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename } }",
              json.dumps({"p": {"selector": {"repositoryLocationName": "pipelines.definitions", "repositoryName": "__repository__",
                                             "jobName": "pipeline"}}}))


# --- the decisions, as plain functions ---------------------------------------------------------

def connection(path: str = "/", *, host: str = "127.0.0.1:3000", method: str = "GET", headers: dict[str, str] | None = None,
               query: str = "", kind: str = "http") -> HTTPConnection:
    """A request as uvicorn hands it to the guard (an http or websocket ASGI scope)."""
    raw = [(b"host", host.encode("latin-1")), *((k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items())]
    scope = {"type": kind, "path": path, "query_string": query.encode(), "headers": raw}
    if kind == "http":
        scope["method"] = method
    return HTTPConnection(scope)


POLICY = Policy(3000, TOKEN)
LOGGED_IN = {"Cookie": f"{POLICY.cookie_name}={POLICY.cookie_value}"}
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


near_misses = st.sampled_from(["127.0.0.1:3000", "LocalHost:3000", "localhost:3000 ", "127.0.0.1:30000", "127.0.0.1", "",
                                "localhost:3000.evil.example", "evil.example:3000", "127.0.0.1:3000@evil.example", "[::1]:3000"])


@given(st.one_of(near_misses, header_text))
def test_only_this_servers_own_host_names_pass(host):
    decision = decide(POLICY, connection("/server_info", host=host))
    if host.lower() in {"127.0.0.1:3000", "localhost:3000"}:
        assert decision is None
    else:
        assert isinstance(decision, Refusal) and decision.status == 400


def post(path: str, content_type: str | None, origin: str = "http://127.0.0.1:3000", query: str = "") -> Refusal | Login | None:
    """The guard's decision on a logged-in POST from `origin` with this content type."""
    headers = {**LOGGED_IN, "Origin": origin, **({"Content-Type": content_type} if content_type else {})}
    return decide(POLICY, connection(path, method="POST", headers=headers, query=query))


origins = st.sampled_from(["http://127.0.0.1:3000", "HTTP://LOCALHOST:3000", "https://127.0.0.1:3000", "null", "http://127.0.0.1",
                           "http://127.0.0.1:3000/", "http://evil.example"])


@given(st.one_of(origins, header_text))
def test_an_origin_other_than_this_server_is_refused(origin):
    decision = post("/graphql", "application/json", origin)
    assert (decision is None) == (origin.lower() in {"http://127.0.0.1:3000", "http://localhost:3000"})


def test_without_the_cookie_only_server_info_passes():
    assert decide(POLICY, connection("/server_info")) is None
    for refused in (connection("/"), connection("/server_info", method="POST"), connection("/graphql", kind="websocket"),
                    connection("/", headers={"Cookie": f"{POLICY.cookie_name}={TOKEN}"}),  # the token itself is no cookie
                    connection("/", headers={"Cookie": f"{Policy(3001, TOKEN).cookie_name}={POLICY.cookie_value}"})):
        assert decide(POLICY, refused).status == 401
    assert decide(POLICY, connection("/", headers=LOGGED_IN)) is None


def test_the_login_link_logs_in_and_is_dropped_from_the_address():
    assert decide(POLICY, connection("/", query=f"{TOKEN_PARAMETER}={TOKEN}")) == Login("/")
    assert decide(POLICY, connection("/runs", query=f"tab=1&{TOKEN_PARAMETER}={TOKEN}")) == Login("/runs?tab=1")
    assert decide(POLICY, connection("/", query=f"{TOKEN_PARAMETER}={TOKEN}x")).status == 401
    assert decide(POLICY, connection("/graphql", query=f"{TOKEN_PARAMETER}={TOKEN}", kind="websocket")).status == 401


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "text/plain;charset=UTF-8"])
def test_forms_and_graphql_outside_a_json_post_are_refused_even_when_logged_in(content_type):
    assert post("/graphql", content_type).status == 415
    assert post("/report_asset_materialization/a", content_type).status == 415
    assert post("/graphql", "application/graphql").status == 415
    assert post("/graphql", None).status == 415  # Dagster would run the query string
    assert decide(POLICY, connection("/graphql", headers=LOGGED_IN, query="query=mutation%7BsetNuxSeen%7D")).status == 405
    assert decide(POLICY, connection("/graphql", headers={**LOGGED_IN, "Accept": "text/html"})) is None  # GraphiQL page
    assert post("/graphql", "application/json", query="op=X") is None  # what the Dagster UI sends


def test_a_public_host_behind_a_tls_proxy_is_allowed_over_https_only():
    policy = Policy(3000, TOKEN, "Dagster.Example.nl")
    cookie = {"Cookie": f"{policy.cookie_name}={policy.cookie_value}"}
    assert decide(policy, connection("/", host="dagster.example.nl", headers=cookie)) is None
    via_proxy = {**cookie, "Content-Type": "application/json"}
    assert decide(policy, connection("/graphql", host="dagster.example.nl", method="POST",
                                     headers={**via_proxy, "Origin": "https://dagster.example.nl"})) is None
    assert decide(policy, connection("/graphql", host="dagster.example.nl", method="POST",
                                     headers={**via_proxy, "Origin": "http://dagster.example.nl"})).status == 403
    for wrong in ("https://dagster.example.nl", "dagster.example.nl/x", "a b"):
        with pytest.raises(ValueError):
            Policy(3000, TOKEN, wrong)
    with pytest.raises(ValueError):
        Policy(3000, "short")


def test_the_login_token_is_new_per_start_and_owner_only(tmp_path):
    target = tmp_path / "secrets" / "dagster_ui.token"
    first, second = new_login_token(target), new_login_token(target)
    assert first != second and len(second) >= 32 and target.read_text() == second
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_serve_writes_a_token_and_prints_the_login_link(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines import cli

    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(PUBLIC_HOST_ENV, raising=False)

    class Stopped:
        pid = -1

        def poll(self):
            return 0

    monkeypatch.setattr(cli, "start_servers", lambda *ports: [Stopped()])
    monkeypatch.setattr(cli, "stop_servers", lambda processes: None)
    monkeypatch.setattr(cli, "_wait_for", lambda url, timeout: True)
    result = CliRunner().invoke(cli.app, ["serve", "--dagster-port", str(free_port()), "--streamlit-port", str(free_port())])
    token = (tmp_path / "secrets" / "dagster_ui.token").read_text()
    assert f"/?{TOKEN_PARAMETER}={token}" in result.output.replace("\n", "")


# --- a real server -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    port: int
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """The guarded Dagster UI (or plain dagster-webserver: module docstring) on a free port; stopped by its process group."""
    root = tmp_path_factory.mktemp("dagster_ui")
    (root / "dagster").mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", root / "dagster" / "dagster.yaml")
    port, token_path = free_port(), root / "secrets" / "dagster_ui.token"
    token = new_login_token(token_path)
    command = [sys.executable, "-m", "pipelines.dagster_ui", "--port", str(port), "--token-file", str(token_path)]
    if PLAIN:
        webserver = str(Path(sys.executable).parent / "dagster-webserver")
        command = [webserver, "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)]
    env = {key: value for key, value in os.environ.items() if key != PUBLIC_HOST_ENV}
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, cwd=ROOT, env={**env, "DAGSTER_HOME": str(root / "dagster"), "MKB_DATA_DIR": str(root)},
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while send(port, "GET", "/server_info")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dagster UI did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(port, token)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group, e.g. Dagster's code server
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def send(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None) -> tuple[int, dict, str]:
    """One request to 127.0.0.1:port as given (no redirects followed); (status, headers, body); status 0 if nobody answers."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        client.request(method, path, body=body, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
        response = client.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode(errors="replace")
    except ConnectionError:
        return 0, {}, ""
    finally:
        client.close()


def graphql(server: Server, query: str, headers: dict[str, str]) -> tuple[int, str]:
    status, _, body = send(server.port, "POST", "/graphql", {"Content-Type": "application/json", "Origin": server.base, **headers},
                           json.dumps({"query": query}).encode())
    return status, body


def open_login_link(server: Server) -> tuple[int, dict, str]:
    return send(server.port, "GET", f"/?{TOKEN_PARAMETER}={server.token}")


@pytest.fixture(scope="module")
def cookie(server) -> str:
    """The cookie a browser keeps after opening the login link: `name=value` from the real Set-Cookie."""
    if PLAIN:  # plain dagster-webserver has no login: send the requests without one, so each test fails at its own check
        return "no_login=1"
    (morsel,) = SimpleCookie(open_login_link(server)[1]["set-cookie"]).values()
    return f"{morsel.key}={morsel.value}"


def run_count(server: Server, cookie: str) -> int:
    status, body = graphql(server, "{ runsOrError { ... on Runs { results { runId } } } }", {"Cookie": cookie})
    assert status == 200, body
    return len(json.loads(body)["data"]["runsOrError"]["results"])


@pytest.mark.slow
def test_the_login_link_sets_a_strict_http_only_cookie_and_leaves_the_token_out_of_the_address(server):
    status, headers, _ = open_login_link(server)
    assert status == 303 and headers["location"] == "/", (status, headers)
    (morsel,) = SimpleCookie(headers["set-cookie"]).values()
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict" and morsel["path"] == "/"
    assert server.token not in morsel.value


@pytest.mark.slow
def test_with_the_login_cookie_a_same_origin_json_query_answers_and_without_it_is_refused(server, cookie):
    import dagster

    status, body = graphql(server, "{ version }", {"Cookie": cookie})
    assert status == 200 and json.loads(body)["data"]["version"] == dagster.__version__
    status, body = graphql(server, "{ version }", {})
    assert status == 401 and REFUSED_WITHOUT_LOGIN in body


@pytest.mark.slow
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_a_cross_origin_form_post_is_refused_and_starts_no_run(server, cookie, content_type):
    runs = run_count(server, cookie)
    query = urllib.parse.urlencode({"query": LAUNCH_RUN[0], "variables": LAUNCH_RUN[1]})
    # With the cookie too: the worst case, should a browser ever send it along.
    headers = {"Content-Type": content_type, "Origin": EVIL, "Cookie": cookie}
    status, _, body = send(server.port, "POST", f"/graphql?{query}", headers, b"a=b")
    assert status == 403 and "andere website" in body
    assert run_count(server, cookie) == runs


@pytest.mark.slow
def test_a_foreign_host_is_refused_dns_rebinding(server, cookie):
    for path in ("/server_info", "/"):
        status, _, body = send(server.port, "GET", path, {"Host": f"evil.example:{server.port}", "Cookie": cookie})
        assert status == 400 and "hoort niet bij de Dagster UI" in body
    status, _, _ = send(server.port, "GET", "/server_info", {"Host": f"localhost:{server.port}"})
    assert status == 200


@pytest.mark.slow
def test_a_graphql_mutation_in_a_get_query_string_is_refused(server, cookie):
    runs = run_count(server, cookie)
    query = urllib.parse.urlencode({"query": LAUNCH_RUN[0], "variables": LAUNCH_RUN[1]})
    status, _, body = send(server.port, "GET", f"/graphql?{query}", {"Cookie": cookie})
    assert status == 405 and "adresregel" in body
    assert run_count(server, cookie) == runs


@pytest.mark.slow
def test_a_websocket_needs_this_origin_and_the_cookie(server, cookie):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/graphql"
    for origin, headers, status in ((EVIL, {"Cookie": cookie}, 403), (server.base, {}, 401)):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin=origin, additional_headers=headers, subprotocols=["graphql-ws"], open_timeout=30)
        assert refused.value.response.status_code == status
    with connect(url, origin=server.base, additional_headers={"Cookie": cookie}, subprotocols=["graphql-ws"]) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(socket.recv(timeout=30)) == {"type": "connection_ack"}  # the UI's own websocket still works


@pytest.mark.slow
@pytest.mark.browser
def test_the_login_link_opens_the_dagster_ui_and_another_site_cannot_use_it(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context()
            page = context.new_page()
            received = []  # frames on the UI's own websocket: it got past the guard
            page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: received.append(frame)))
            page.goto(login_link(server.base, server.token))
            expect(page.get_by_role("link", name="Overview")).to_be_visible(timeout=60_000)
            for _ in range(60):
                if received:
                    break
                page.wait_for_timeout(500)
            assert received, "the Dagster UI's websocket received nothing"
            assert server.token not in page.url
            page.goto(f"{server.base}/jobs")  # the job list comes through GraphQL, past the guard
            expect(page.get_by_role("link", name="pipeline").first).to_be_visible(timeout=60_000)
            (kept,) = context.cookies()
            assert kept["httpOnly"] and kept["sameSite"] == "Strict" and kept["value"] != server.token
            cookie = f"{kept['name']}={kept['value']}"
            runs = run_count(server, cookie)

            # A page on another site, in the same logged-in browser, posts a form that would launch a run.
            action = f"{server.base}/graphql?{urllib.parse.urlencode({'query': LAUNCH_RUN[0], 'variables': LAUNCH_RUN[1]})}"
            form = (f'<form id="f" method="post" enctype="text/plain" action="{action}"><input name="a" value="b"></form>'
                    '<script>document.getElementById("f").submit()</script>')
            hostile = context.new_page()
            hostile.route(f"{EVIL}/**", lambda route: route.fulfill(body=form, content_type="text/html"))
            hostile.goto(f"{EVIL}/")
            expect(hostile.get_by_text("andere website")).to_be_visible(timeout=30_000)
            assert run_count(server, cookie) == runs

            stranger = browser.new_context().new_page()
            stranger.goto(server.base + "/")
            expect(stranger.get_by_text(REFUSED_WITHOUT_LOGIN)).to_be_visible(timeout=30_000)
        finally:
            browser.close()
