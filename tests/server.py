"""The real server: gunicorn with the project's gunicorn.conf.py, its logs captured to a file."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from service.config import PROJECT_DIR
from service.varnish import varnish_vcl

# Clients of these tests connect from this loopback address, so that finding it in a log line
# can only mean that the line names the client (the server itself listens on 127.0.0.1).
CLIENT_ADDRESS = "127.0.0.77"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(port: int, timeout: float = 10) -> socket.socket:
    """A TCP connection to the server from CLIENT_ADDRESS."""
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((CLIENT_ADDRESS, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def exchange(port: int, raw: bytes) -> bytes:
    """Send RAW bytes, then read the answer until the server closes or stops sending."""
    with connect(port) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def wait_for_port(
    port: int, process: subprocess.Popen, log_path: Path, name: str, seconds: float = 60
) -> None:
    """Until PROCESS listens on PORT; its log in the error when it exits or takes SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {log_path.read_text()}") from None
            time.sleep(0.1)


@contextmanager
def gunicorn_server(database_url: str, log_path: Path, **env: str):
    """Serve wsgi:app as `make run` does (gunicorn.conf.py) on a free port; yield the port.

    Everything every process writes (gunicorn's master, its workers, the app) goes to LOG_PATH.
    """
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "DEFAULT_DISTRICTS": "",
        **env,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "wsgi:app",
            ],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, log_path, "gunicorn")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


class Client:
    """HTTP to a server on loopback (a cache in front of nodes), as a map or a phone sends it."""

    def __init__(self, port: int, token: str | None = None):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def send(self, path: str, method: str = "GET", body=None, headers=None):
        """(status, headers, body) of a request; BODY is JSON, or (bytes, media type)."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if isinstance(body, tuple):
            data, headers["Content-Type"] = body
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def hit(self, path: str):
        """(served from Varnish's cache, status, body)"""
        status, headers, body = self.send(path)
        return int(headers["X-Cache-Hits"]) > 0, status, body


@contextmanager
def varnish(tmp_path, port: int, backends: list[str], host: str | None = None):
    """varnishd in the foreground on PORT, balancing BACKENDS with the VCL of `flask cache vcl`
    (naming HOST to them, when given)."""
    vcl = tmp_path / "vigie.vcl"
    vcl.write_text(varnish_vcl(backends, ["127.0.0.1"], host))
    workdir = tmp_path / "varnish"
    log_path = tmp_path / "varnish.log"
    address = f"127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                "varnishd",
                # As root, varnishd would read the test's private files as its own user.
                *(["-j", "none"] if os.geteuid() == 0 else []),
                "-F",
                "-f",
                str(vcl),
                "-n",
                str(workdir),
                "-s",
                "malloc,64m",
                "-a",
                address,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, log_path, "varnishd")
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
