"""The Dagster UI behind a guard: Dagster's own webserver app inside one process, on one port of 127.0.0.1.

Dagster's webserver has no login, and it runs GraphQL mutations sent in a GET
query string or a form post without looking at Host or Origin. So any web page
open in a browser on this machine (cross-site request forgery, DNS rebinding)
and any other local user could start runs there, among them a new release
version that spends privacy budget. Here Dagster's app only runs inside `Guard`,
which lets a request through only when

1. its Host header names this server (127.0.0.1:PORT, localhost:PORT, or the
   public host name of a reverse proxy, `MKB_DAGSTER_PUBLIC_HOST`): stops DNS
   rebinding;
2. its Origin header, when there is one (browsers always send it on websockets
   and on cross-origin posts), is this server: stops cross-site requests;
3. it is no GraphQL in a GET query string and no GraphQL post other than JSON,
   and no change sent as a form (what an HTML form or a fetch without preflight
   can send);
4. it carries the login cookie. `mkbvm serve` writes a new random token per
   start to data/secrets/dagster_ui.token (owner-only) and prints the link
   http://127.0.0.1:PORT/?toegang=<token>; opening it sets an HttpOnly,
   SameSite=Strict cookie derived from the token. Other local users cannot
   read the token, and a cross-site request does not carry the cookie.

Only `/server_info` (Dagster's version, the health check) is open without the
cookie, on an allowed Host.

    python -m pipelines.dagster_ui --port 3000      (what `mkbvm serve` starts)
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import typer
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketClose

from core.settings import PROJECT_ROOT, paths

TOKEN_PARAMETER = "toegang"
PUBLIC_HOST_ENV = "MKB_DAGSTER_PUBLIC_HOST"
DEFINITIONS_MODULE = "pipelines.definitions"
OPEN_PATHS = frozenset({"/server_info"})  # Dagster's versions only: the health check of `mkbvm serve`
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The content types a page on another site may post without a CORS preflight.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")


def token_file() -> Path:
    """Where `mkbvm serve` keeps the login token of the running Dagster UI (owner-only)."""
    return paths().secrets / "dagster_ui.token"


def new_login_token(target: Path | None = None) -> str:
    """A new random login token, written owner-only to `target` (default `token_file()`); old cookies stop working."""
    from accounts.crypto import write_secret_file

    token = secrets.token_urlsafe(32)
    write_secret_file(target or token_file(), token)
    return token


def login_link(base_url: str, token: str) -> str:
    """The link that logs a browser in to the Dagster UI at `base_url`."""
    return f"{base_url.rstrip('/')}/?{urlencode({TOKEN_PARAMETER: token})}"


@dataclass(frozen=True)
class Policy:
    """Who may use the Dagster UI on one port: the allowed Host and Origin values, and the login token."""

    port: int
    token: str
    public_host: str | None = None  # host name (and port) a TLS reverse proxy forwards, e.g. dagster.example.nl

    def __post_init__(self) -> None:
        if len(self.token) < 32:
            raise ValueError("the login token must be at least 32 characters")
        if self.public_host is not None and not _HOST_NAME.fullmatch(self.public_host.lower()):
            raise ValueError(f"{PUBLIC_HOST_ENV} must be a host name such as dagster.example.nl, not {self.public_host!r}")

    @property
    def local_hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def hosts(self) -> frozenset[str]:
        return self.local_hosts | ({self.public_host.lower()} if self.public_host else set())

    @property
    def origins(self) -> frozenset[str]:
        # The public host is reached through the TLS proxy, so only over https.
        local = {f"http://{host}" for host in self.local_hosts}
        return frozenset(local | ({f"https://{self.public_host.lower()}"} if self.public_host else set()))

    @property
    def cookie_name(self) -> str:
        return f"mkbvm_dagster_ui_{self.port}"  # cookies ignore ports: one name per UI

    @property
    def cookie_value(self) -> str:
        # Derived, so the cookie jar never holds the token itself.
        return hmac.new(self.token.encode(), b"mkbvm dagster ui login cookie", hashlib.sha256).hexdigest()

    def is_token(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def has_cookie(self, cookies: dict[str, str]) -> bool:
        return hmac.compare_digest(cookies.get(self.cookie_name, "").encode(), self.cookie_value.encode())


@dataclass(frozen=True)
class Refusal:
    """A request the guard answers itself, with a status and a short Dutch message."""

    status: int
    message: str


@dataclass(frozen=True)
class Login:
    """A valid login link: set the cookie and send the browser to `location` (the same address without the token)."""

    location: str


def no_login_message(policy: Policy) -> str:
    """The answer to a request without the login cookie: how to get in."""
    return (f"Geen toegang. Open de link die `mkbvm serve` liet zien (http://127.0.0.1:{policy.port}/?{TOKEN_PARAMETER}=...). "
            "Na een nieuwe start van `mkbvm serve` is er een nieuwe link nodig.")


FOREIGN_HOST = "Geweigerd: dit adres hoort niet bij de Dagster UI."
FOREIGN_ORIGIN = "Geweigerd: dit verzoek komt van een andere website dan de Dagster UI."
FORM_POST = "Geweigerd: de Dagster UI neemt geen formulieren aan, alleen JSON."
GRAPHQL_NOT_JSON = "Geweigerd: GraphQL gaat alleen als POST met JSON (Content-Type: application/json)."
GRAPHQL_IN_URL = "Geweigerd: GraphQL in de adresregel (GET met query=) wordt niet uitgevoerd."


def _shape_refusal(method: str, path: str, connection: HTTPConnection) -> Refusal | None:
    """Refuse the request forms a page on another site can send without a preflight, and GraphQL outside a JSON post."""
    content_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if method not in SAFE_METHODS and content_type in FORM_TYPES:
        return Refusal(415, FORM_POST)
    if path.rstrip("/") == "/graphql" and connection.scope["type"] == "http":
        if method == "POST" and content_type != "application/json":
            return Refusal(415, GRAPHQL_NOT_JSON)
        if method != "POST" and "query" in connection.query_params:
            return Refusal(405, GRAPHQL_IN_URL)
    return None


def decide(policy: Policy, connection: HTTPConnection) -> Refusal | Login | None:
    """What the guard does with one http or websocket request: refuse it, log the browser in, or pass it to Dagster (None)."""
    if connection.headers.get("host", "").lower() not in policy.hosts:
        return Refusal(400, FOREIGN_HOST)
    origin = connection.headers.get("origin")
    if origin is not None and origin.lower() not in policy.origins:
        return Refusal(403, FOREIGN_ORIGIN)
    method = connection.scope.get("method", "GET")  # a websocket handshake is a GET
    path = connection.scope["path"]
    refusal = _shape_refusal(method, path, connection)
    if refusal is not None:
        return refusal
    if TOKEN_PARAMETER in connection.query_params:
        if method == "GET" and connection.scope["type"] == "http" and policy.is_token(connection.query_params[TOKEN_PARAMETER]):
            rest = urlencode([(k, v) for k, v in connection.query_params.multi_items() if k != TOKEN_PARAMETER])
            return Login(path + (f"?{rest}" if rest else ""))
        return Refusal(401, no_login_message(policy))
    if path in OPEN_PATHS and method in {"GET", "HEAD"} and connection.scope["type"] == "http":
        return None
    if not policy.has_cookie(connection.cookies):
        return Refusal(401, no_login_message(policy))
    return None


def _response(policy: Policy, decision: Refusal | Login, connection: HTTPConnection) -> Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    if isinstance(decision, Login):
        response = RedirectResponse(decision.location, status_code=303, headers=headers)
        secure = connection.headers.get("host", "").lower() not in policy.local_hosts  # came through the TLS proxy
        response.set_cookie(policy.cookie_name, policy.cookie_value, path="/", httponly=True, samesite="strict", secure=secure)
        return response
    if "text/html" in connection.headers.get("accept", ""):
        page = (f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Dagster UI: geen toegang</title></head>'
                f"<body><p>{html.escape(decision.message)}</p></body></html>")
        return HTMLResponse(page, status_code=decision.status, headers=headers)
    return PlainTextResponse(decision.message + "\n", status_code=decision.status, headers=headers)


class Guard:
    """Pure ASGI middleware in front of Dagster's webserver app: `decide` on every http request and websocket handshake."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:  # lifespan
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        decision = decide(self.policy, connection)
        if decision is None:
            await self.app(scope, receive, send)
            return
        response = _response(self.policy, decision, connection)
        if scope["type"] == "http":
            await response(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            await WebSocket(scope, receive, send).send_denial_response(response)
        else:  # a server without the denial extension answers a close before accept with 403
            await WebSocketClose()(scope, receive, send)


class _DenialNoise(logging.Filter):
    """Drops the error uvicorn's websockets-sansio logs after every websocket denial response, though the client got it.

    An open Dagster tab from before a restart retries its websocket and would fill the log
    (https://github.com/Kludex/uvicorn/pull/3138, open in uvicorn 0.54).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def serve(policy: Policy) -> None:
    """What `dagster-webserver -m pipelines.definitions -h 127.0.0.1` does, with the app wrapped in `Guard`."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster._cli.workspace.cli_target import workspace_opts_to_load_target
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._utils.log import configure_loggers
    from dagster_shared.cli import WorkspaceOpts
    from dagster_webserver import cli as webserver_cli
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    configure_loggers()
    target = workspace_opts_to_load_target(WorkspaceOpts(module_name=[DEFINITIONS_MODULE], working_directory=str(PROJECT_ROOT)))
    with DagsterInstance.get() as instance:  # DAGSTER_HOME must be set: no silent temporary instance
        instance.optimize_for_webserver(webserver_cli.DEFAULT_DB_STATEMENT_TIMEOUT, webserver_cli.DEFAULT_POOL_RECYCLE,
                                        webserver_cli.DEFAULT_POOL_MAX_OVERFLOW)
        with WorkspaceProcessContext(instance, version=__version__, read_only=False, workspace_load_target=target) as context:
            # dagster-webserver's own lifespan: it keeps Ctrl-C from ending in a CancelledError traceback.
            app = create_app_from_workspace_process_context(context, "", 2000, lifespan=webserver_cli._lifespan)
            config = uvicorn.Config(Guard(app, policy), host="127.0.0.1", port=policy.port, log_level="warning")
            logging.getLogger("uvicorn.error").addFilter(_DenialNoise())  # after Config: it sets up uvicorn's loggers
            uvicorn.Server(config).run()


def main(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 3000,
    token_path: Annotated[Path | None, typer.Option("--token-file", help="Default: data/secrets/dagster_ui.token.")] = None,
    public_host: Annotated[str | None, typer.Option(envvar=PUBLIC_HOST_ENV, help="Host name a TLS reverse proxy forwards.")] = None,
) -> None:
    """Serve the Dagster UI on 127.0.0.1:PORT, only to browsers that opened the login link of `mkbvm serve`."""
    # A background shell may start us with SIGINT/SIGTERM ignored; Dagster's code server inherits that and would outlive us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    source = token_path or token_file()
    if not source.exists():
        typer.echo(f"No login token in {source}: start the Dagster UI with `mkbvm serve`.", err=True)
        raise typer.Exit(2)
    try:
        policy = Policy(port, source.read_text().strip(), public_host or None)
    except ValueError as error:
        typer.echo(f"Not started: {error}.", err=True)
        raise typer.Exit(2) from None
    serve(policy)


if __name__ == "__main__":
    typer.run(main)
