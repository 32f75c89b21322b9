"""The production proxy serves the web app and the Dagster UI only over TLS (issue 15, point 3).

`deploy/nginx/mkbvm.conf.template`, rendered by `pipelines.deploy` as
`mkbvm nginx-config` does, runs in a real nginx (Debian's `nginx-light`) as
the current user on free ports of 127.0.0.1, with a self-signed certificate
made here, in front of a real Streamlit server of the app and the real guarded
Dagster UI. Every request goes over real TLS, with that certificate as the
only trusted CA. A control server in the same nginx still allows TLS 1.1, so
the refusal of TLS 1.1 is the template's doing and not the client's.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, log_in, streamlit_server

from core.processes import stop_process_groups
from pipelines.dagster_ui import PUBLIC_HOST_ENV, TOKEN_PARAMETER, new_login_token
from pipelines.deploy import ProxySettings, render_nginx

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APP_HOST, DAGSTER_HOST, CONTROL_HOST = "monitor.mkbvm.test", "dagster.mkbvm.test", "control.mkbvm.test"  # RFC 6761: never real
ENGINEER, PASSWORD = "engineer", "een wachtwoord voor de test"
SECURITY_HEADERS = ("strict-transport-security", "x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy")


@dataclass(frozen=True)
class Certificate:
    certificate: Path
    key: Path

    def client_context(self, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        """A client that trusts only this certificate; with `version`, one that speaks only that TLS version."""
        context = ssl.create_default_context(cafile=str(self.certificate))
        if version is not None:
            if version < ssl.TLSVersion.TLSv1_2:
                context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.1 at its default level
            context.minimum_version = context.maximum_version = version
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for the app's and the Dagster UI's names (its own CA), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MKB Vitaliteitsmonitor test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName(host) for host in (APP_HOST, DAGSTER_HOST, CONTROL_HOST)]
    issued = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([*names, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                           key_encipherment=False, data_encipherment=False, key_agreement=False,
                                           encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .sign(key, hashes.SHA256()))
    certificate_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    certificate_path.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    return Certificate(certificate_path, key_path)


@dataclass(frozen=True)
class Ports:
    https: int
    http: int
    control: int
    dagster: int


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(https=free_port(), http=free_port(), control=free_port(), dagster=free_port())


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[int]:
    """The web app: `streamlit run dashboards/app.py` on 127.0.0.1, told the public name as production tells it; its port."""
    with streamlit_server(tmp_path_factory.mktemp("app") / "data", STREAMLIT_SERVER_ALLOWED_HOSTS=f"{APP_HOST} localhost") as url:
        yield int(url.rsplit(":", 1)[1])


def _nginx_main_config(prefix: Path, site: Path, certificate: Certificate, ports: Ports) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site (the http context), with every path in `prefix`, plus the control."""
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""  # as root nginx's workers would be nobody
    temp = " ".join(f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
{user}
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} notice;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / 'access.log'};
    {temp}
    include {site};
    # The control: TLS 1.1 still allowed, so a client that cannot get in above does get in here.
    server {{
        listen 127.0.0.1:{ports.control} ssl;
        server_name {CONTROL_HOST};
        ssl_certificate {certificate.certificate};
        ssl_certificate_key {certificate.key};
        ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;
        ssl_ciphers DEFAULT:@SECLEVEL=0;
        return 200 "control\\n";
    }}
}}
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, certificate, ports, app) -> Iterator[Ports]:
    """nginx with the rendered template, in the foreground, its pid, logs and temporary files in a folder of its own."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: `bash run.sh test` installs it (apt-get install nginx-light)")
    prefix = tmp_path_factory.mktemp("nginx")
    htpasswd = prefix / "dagster.htpasswd"  # as the README makes it: openssl passwd -6 (SHA-512 crypt)
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=PASSWORD, capture_output=True, text=True, check=True).stdout
    htpasswd.write_text(f"{ENGINEER}:{hashed.strip()}\n")
    site = prefix / "mkbvm.conf"
    site.write_text(render_nginx(ProxySettings(
        app_host=APP_HOST, dagster_host=DAGSTER_HOST, certificate=certificate.certificate, certificate_key=certificate.key,
        htpasswd=htpasswd, app_port=app, dagster_port=ports.dagster, https_port=ports.https, http_port=ports.http,
        listen_address="127.0.0.1")))
    main = prefix / "nginx.conf"
    main.write_text(_nginx_main_config(prefix, site, certificate, ports))
    checked = subprocess.run([NGINX, "-t", "-q", "-c", str(main), "-p", str(prefix)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    log = open(prefix / "stderr.log", "wb")  # noqa: SIM115 - closed in finally
    nginx = subprocess.Popen([NGINX, "-c", str(main), "-p", str(prefix), "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _listening(ports.https):
            assert nginx.poll() is None and time.monotonic() < deadline, (prefix / "stderr.log").read_text() + (prefix / "error.log").read_text()
            time.sleep(0.1)
        yield ports
    finally:
        stop_process_groups([nginx])
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def cookie(self, name: str) -> str:
        """The Set-Cookie line of `name`, as sent."""
        (line,) = [line for line in self.headers.get_all("Set-Cookie") or [] if line.startswith(f"{name}=")]
        return line


def https(certificate: Certificate, port: int, host: str, path: str, headers: dict[str, str] | None = None) -> Answer:
    """A GET to https://host:port/path, connected to 127.0.0.1, the name in SNI and Host as a browser sends them."""
    tls = certificate.client_context().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname=host)
    connection = http.client.HTTPSConnection(host, port, timeout=60)
    connection.sock = tls  # already connected: http.client only speaks over it
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode(errors="replace"))
    finally:
        connection.close()


def plain_http(port: int, host: str, path: str) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode(errors="replace"))
    finally:
        connection.close()


def handshake(context: ssl.SSLContext, port: int, host: str) -> str:
    """The TLS version a handshake agreed on; raises ssl.SSLError when the server refuses."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        return tls.version()


def websocket(certificate: Certificate, port: int, host: str, path: str, headers: dict[str, str] | None = None,
              subprotocols: list[str] | None = None):
    """A websocket handshake through the proxy (wss://host:port/path, from the page https://host:port); the open connection."""
    from websockets.sync.client import connect

    return connect(f"wss://{host}:{port}{path}", sock=socket.create_connection(("127.0.0.1", port), timeout=30),
                   ssl=certificate.client_context(), origin=f"https://{host}:{port}", additional_headers=headers or {},
                   subprotocols=subprotocols, open_timeout=60)


def assert_security_headers(answer: Answer, frames: str) -> None:
    assert "max-age=31536000" in answer.headers["Strict-Transport-Security"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == frames
    assert answer.headers["Content-Security-Policy"] == ("frame-ancestors 'self'" if frames == "SAMEORIGIN" else "frame-ancestors 'none'")
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    for name in SECURITY_HEADERS:  # once: nginx's, not also the server's own
        assert len(answer.headers.get_all(name)) == 1, (name, answer.headers.get_all(name))
    assert "nginx/" not in answer.headers.get("Server", "")  # no version for scanners


# --- the web app -----------------------------------------------------------------------------------

def test_the_app_answers_over_https_with_the_security_headers_and_a_secure_cookie(certificate, proxy, app):
    health = https(certificate, proxy.https, APP_HOST, "/_stcore/health")
    assert (health.status, health.body) == (200, "ok")
    assert_security_headers(health, frames="SAMEORIGIN")
    cookie = health.cookie("_streamlit_xsrf")  # Streamlit's only cookie; the login lives in the websocket's session
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "secure" in attributes and "samesite=lax" in attributes, cookie
    direct = http.client.HTTPConnection("127.0.0.1", app, timeout=30)  # the control: Streamlit alone sends it without Secure
    direct.request("GET", "/_stcore/health")
    (own,) = [line for line in direct.getresponse().headers.get_all("Set-Cookie") if line.startswith("_streamlit_xsrf=")]
    assert "secure" not in own.lower(), own
    page = https(certificate, proxy.https, APP_HOST, "/")
    assert page.status == 200 and "<html" in page.body.lower()


def test_plain_http_only_redirects_to_https(proxy):
    for host in (APP_HOST, DAGSTER_HOST):
        answer = plain_http(proxy.http, host, "/_stcore/health?x=1")
        assert answer.status == 301
        assert answer.headers["Location"] == f"https://{host}:{proxy.https}/_stcore/health?x=1"
        assert "ok" not in answer.body


def test_only_tls_1_2_and_1_3_are_spoken(certificate, proxy):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert handshake(certificate.client_context(version), proxy.https, APP_HOST) == version.name.replace("_", ".")
    old = certificate.client_context(ssl.TLSVersion.TLSv1_1)
    assert handshake(old, proxy.control, CONTROL_HOST) == "TLSv1.1"  # this client can speak TLS 1.1 ...
    for host in (APP_HOST, DAGSTER_HOST):
        with pytest.raises(ssl.SSLError):  # ... and gets no TLS 1.1 from the proxy
            handshake(old, proxy.https, host)


def test_another_name_gets_no_certificate_and_no_page(certificate, proxy):
    context = certificate.client_context()
    context.check_hostname = False  # even a client that would accept any name gets nothing
    with pytest.raises(ssl.SSLError):
        handshake(context, proxy.https, "evil.example")
    with pytest.raises(http.client.RemoteDisconnected):  # 444: nginx closes the connection without an answer
        plain_http(proxy.http, "127.0.0.1", "/")


def test_the_apps_websocket_upgrades_through_the_proxy(certificate, proxy):
    with websocket(certificate, proxy.https, APP_HOST, "/_stcore/stream", subprotocols=["streamlit"]) as connection:
        assert connection.response.status_code == 101
        assert connection.response.headers["Upgrade"].lower() == "websocket"


@pytest.mark.browser
def test_the_app_works_through_the_proxy_in_chromium(certificate, proxy):
    """The app over TLS in a real browser: the login page comes over the websocket, and a login attempt goes to the
    server and back (a refused one: it needs no account, and a right one takes the same road)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from playwright.sync_api import expect, sync_playwright

    from accounts.service import DENIED

    public_key = x509.load_pem_x509_certificate(certificate.certificate.read_bytes()).public_key()
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    trusted = base64.b64encode(digest.finalize()).decode()  # Chromium trusts this one key, as if its CA were installed
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *CHROMIUM_ARGS, f"--host-resolver-rules=MAP {APP_HOST} 127.0.0.1", f"--ignore-certificate-errors-spki-list={trusted}"])
        try:
            page = browser.new_page()
            page.goto(f"https://{APP_HOST}:{proxy.https}/")
            log_in(page, "niemand@example.nl", "geen goed wachtwoord 42")
            expect(page.get_by_text(DENIED)).to_be_visible(timeout=30_000)
            assert page.evaluate("window.isSecureContext")
            assert page.url.startswith(f"https://{APP_HOST}:{proxy.https}/")
        finally:
            browser.close()


# --- the Dagster UI --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory, proxy) -> Iterator[str]:
    """The guarded Dagster UI on 127.0.0.1 behind the proxy, told the proxy's name as `mkbvm serve` would be; its login token."""
    root = tmp_path_factory.mktemp("dagster_ui")
    (root / "dagster").mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", root / "dagster" / "dagster.yaml")
    token_path = root / "secrets" / "dagster_ui.token"
    token = new_login_token(token_path)
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster"), "MKB_DATA_DIR": str(root), PUBLIC_HOST_ENV: f"{DAGSTER_HOST}:{proxy.https}"}
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen([sys.executable, "-m", "pipelines.dagster_ui", "--port", str(proxy.dagster), "--token-file", str(token_path)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _listening(proxy.dagster):
            assert process.poll() is None and time.monotonic() < deadline, (root / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        yield token
    finally:
        stop_process_groups([process])
        log.close()


def _password() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{ENGINEER}:{PASSWORD}".encode()).decode()}


def test_the_dagster_ui_needs_the_password_then_the_login_link_and_its_cookie_is_secure(certificate, proxy, dagster_ui):
    no_password = https(certificate, proxy.https, DAGSTER_HOST, "/server_info")
    assert no_password.status == 401 and no_password.headers["WWW-Authenticate"].startswith("Basic")
    assert_security_headers(no_password, frames="DENY")
    health = https(certificate, proxy.https, DAGSTER_HOST, "/server_info", _password())
    assert health.status == 200 and "dagster_webserver_version" in health.body
    assert_security_headers(health, frames="DENY")
    without_login = https(certificate, proxy.https, DAGSTER_HOST, "/", _password())
    assert without_login.status == 401 and "Geen toegang" in without_login.body  # the guard's refusal, behind the password
    assert_security_headers(without_login, frames="DENY")  # the guard's own two headers not twice

    login = https(certificate, proxy.https, DAGSTER_HOST, f"/?{TOKEN_PARAMETER}={dagster_ui}", _password())
    assert login.status == 303 and TOKEN_PARAMETER not in login.headers["Location"]
    (morsel,) = SimpleCookie(login.headers["Set-Cookie"]).values()
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"].lower() == "strict", login.headers["Set-Cookie"]
    logged_in = {**_password(), "Cookie": f"{morsel.key}={morsel.value}"}
    page = https(certificate, proxy.https, DAGSTER_HOST, "/", logged_in)
    assert page.status == 200 and "<html" in page.body.lower()
    with websocket(certificate, proxy.https, DAGSTER_HOST, "/graphql", logged_in, subprotocols=["graphql-ws"]) as connection:
        assert connection.response.status_code == 101  # the UI's live updates reach it through the proxy
        connection.send('{"type": "connection_init", "payload": {}}')
        assert "connection_ack" in connection.recv(timeout=30)
