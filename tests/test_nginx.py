"""Debian's nginx with the site docs/security.md gives operators, in front of gunicorn: HTTPS with
HSTS, plain HTTP redirected, the scheme and host forwarded (TRUSTED_PROXIES=1), neither the
client's address nor the query in the access log, and bodies over the photo limit refused
before they reach Vigie."""

import http.client
import os
import re
import signal
import ssl
import subprocess
import textwrap
from contextlib import contextmanager
from pathlib import Path

import orjson

from tests.server import free_port, gunicorn_server, wait_for_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "vigie.example.org"


def documented_site() -> str:
    """The nginx block of docs/security.md, as an operator copies it."""
    text = (PROJECT_DIR / "docs" / "security.md").read_text()
    return textwrap.dedent(re.search(r"```nginx\n(.*?)```", text, re.S).group(1))


def local_site(folder: Path, https_port: int, http_port: int, backend_port: int) -> str:
    """The documented site, with this test's ports, certificate and log folder."""
    site = documented_site()
    for documented, local in (
        ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        (f"/etc/letsencrypt/live/{HOST}/", f"{folder}/"),
        ("/var/log/nginx/", f"{folder}/"),
        ("http://127.0.0.1:5000", f"http://127.0.0.1:{backend_port}"),
    ):
        assert documented in site, f"docs/security.md no longer says {documented!r}"
        site = site.replace(documented, local)
    return site


@contextmanager
def nginx(folder: Path, site: str):
    """nginx in the foreground with SITE in its http block (and the zone its limit_conn names,
    as the documentation's comment says), everything it writes in FOLDER."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={HOST}", "-keyout", folder / "privkey.pem",
         "-out", folder / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    temporary = " ".join(
        f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    (folder / "nginx.conf").write_text(f"""
        daemon off;
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes 1;
        pid {folder}/nginx.pid;
        error_log {folder}/error.log;
        events {{}}
        http {{
            access_log off;
            {temporary} uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;
            limit_conn_zone $binary_remote_addr zone=perip:10m;
            {site}
        }}
    """)
    log_path = folder / "nginx.out"
    arguments = ["nginx", "-p", str(folder), "-e", str(folder / "error.log")]
    checked = subprocess.run(
        [*arguments, "-t", "-c", str(folder / "nginx.conf")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*arguments, "-c", str(folder / "nginx.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def request(connection, method: str, path: str, body: bytes | None = None, **headers):
    connection.request(method, path, body=body, headers={"Host": HOST, **headers})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_the_documented_nginx_site_in_front_of_vigie(database_url, tmp_path, committed):
    https_port, http_port = free_port(), free_port()
    settings = {"RATELIMIT_ENABLED": "false", "TRUSTED_PROXIES": "1"}
    with gunicorn_server(database_url, tmp_path / "gunicorn.log", **settings) as backend:
        site = local_site(tmp_path, https_port, http_port, backend)
        with nginx(tmp_path, site) as process:
            wait_for_port(https_port, process, tmp_path / "error.log", "nginx")
            unverified = ssl._create_unverified_context()  # the test's self-signed certificate
            secure = http.client.HTTPSConnection("127.0.0.1", https_port, context=unverified)

            status, headers, body = request(secure, "GET", "/ogc")
            assert status == 200 and "max-age" in headers["Strict-Transport-Security"]
            # The scheme and host the client used, as nginx forwards them, not the backend's.
            assert orjson.loads(body)["links"][0]["href"] == f"https://{HOST}/ogc"

            listing = "/api/v1/devices?bbox=2.3,48.8,2.4,48.9&kind=microphone"
            assert request(secure, "GET", listing)[0] == 200

            too_big = b"x" * (27 * 1024 * 1024)  # over client_max_body_size (26m)
            status, headers, _ = request(
                secure, "POST", "/api/v1/devices", too_big, **{"Content-Type": "image/jpeg"}
            )
            assert status == 413 and headers["Server"].startswith("nginx")
            secure.close()

            plain = http.client.HTTPConnection("127.0.0.1", http_port)
            status, headers, _ = request(plain, "GET", "/ogc?f=json")
            assert status == 301 and headers["Location"] == f"https://{HOST}/ogc?f=json"
            plain.close()

    logged = (tmp_path / "vigie.log").read_text()
    assert "GET /ogc 200" in logged and "GET /api/v1/devices 200" in logged
    assert "127.0.0.1" not in logged and "microphone" not in logged and "?" not in logged
    served = (tmp_path / "gunicorn.log").read_text()  # gunicorn's access log
    assert "GET /ogc 200" in served and "POST /api/v1/devices" not in served
