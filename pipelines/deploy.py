"""The nginx configuration of a production installation, from `deploy/nginx/mkbvm.conf.template`.

nginx serves the web app and the Dagster UI only over TLS, each on its own
host name, and forwards them to the servers on 127.0.0.1 (README.md,
"Production deployment"). `mkbvm nginx-config` prints it; tests/test_tls_proxy.py
runs it in a real nginx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_ROOT

NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "mkbvm.conf.template"
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass(frozen=True)
class ProxySettings:
    """What differs per installation: the two public host names, the certificate, the Dagster UI's password file, ports."""

    app_host: str  # the web app, e.g. monitor.example.nl
    dagster_host: str  # the Dagster UI, e.g. dagster.example.nl
    certificate: Path  # PEM, the full chain, valid for both names
    certificate_key: Path
    htpasswd: Path  # the Dagster UI's users (htpasswd -B, or any format nginx's auth_basic reads)
    app_port: int = 8501  # Streamlit on 127.0.0.1
    dagster_port: int = 3000  # the guarded Dagster UI on 127.0.0.1
    https_port: int = 443
    http_port: int = 80
    listen_address: str | None = None  # None: every address; e.g. 127.0.0.1

    def __post_init__(self) -> None:
        for field in ("app_host", "dagster_host"):
            if not _HOST_NAME.fullmatch(getattr(self, field)):
                raise ValueError(f"{field} must be a host name such as monitor.example.nl (lower case, no port), "
                                 f"not {getattr(self, field)!r}")
        if self.app_host == self.dagster_host:
            raise ValueError(f"app_host and dagster_host must differ (each has its own server block), both are {self.app_host!r}")
        for field in ("app_port", "dagster_port", "https_port", "http_port"):
            if not 1 <= getattr(self, field) <= 65535:
                raise ValueError(f"{field} must be a port from 1 to 65535, not {getattr(self, field)}")
        for field in ("certificate", "certificate_key", "htpasswd"):
            if not getattr(self, field).is_absolute() or any(c in str(getattr(self, field)) for c in " ;{}'\""):
                raise ValueError(f"{field} must be an absolute path without spaces, quotes, ';' or braces, "
                                 f"not {str(getattr(self, field))!r}")
        if self.listen_address is not None and not re.fullmatch(r"[0-9.]+|\[[0-9a-fA-F:]+\]", self.listen_address):
            raise ValueError(f"listen_address must be an IP address (IPv6 in brackets), not {self.listen_address!r}")

    def _listen(self, port: int) -> str:
        return f"{self.listen_address}:{port}" if self.listen_address else str(port)

    def values(self) -> dict[str, str]:
        return {
            "APP_HOST": self.app_host,
            "DAGSTER_HOST": self.dagster_host,
            "CERTIFICATE": str(self.certificate),
            "CERTIFICATE_KEY": str(self.certificate_key),
            "HTPASSWD": str(self.htpasswd),
            "APP_UPSTREAM": f"127.0.0.1:{self.app_port}",
            "DAGSTER_UPSTREAM": f"127.0.0.1:{self.dagster_port}",
            "HTTP_LISTEN": self._listen(self.http_port),
            "HTTPS_LISTEN": self._listen(self.https_port),
            "HTTPS_PORT_SUFFIX": "" if self.https_port == 443 else f":{self.https_port}",  # in the redirect's address
        }


def render_nginx(settings: ProxySettings, template: Path = NGINX_TEMPLATE) -> str:
    """The template with every @NAME@ filled in; refuses a template with a placeholder it does not know."""
    text = template.read_text()
    for name, value in settings.values().items():
        text = text.replace(f"@{name}@", value)
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        raise ValueError(f"{template}: placeholders without a value: {', '.join(left)}")
    return text
