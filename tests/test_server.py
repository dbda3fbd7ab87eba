"""`make run`'s server (gunicorn.conf.py) stays available while clients stall on purpose."""

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from gunicorn import util as gunicorn_util

from service.config import PROJECT_DIR
from service.server_errors import answer_server_errors_as_problems
from tests.server import connect, exchange, free_port, gunicorn_server, wait_for_port

STALLED_CLIENTS = 4


def test_clients_that_stall_their_body_do_not_block_other_requests(database_url, tmp_path):
    """With sync workers, two such clients held both workers until their 30 s timeout."""
    with gunicorn_server(database_url, tmp_path / "server.log", RATELIMIT_ENABLED="false") as port:
        stalled = []
        for _ in range(STALLED_CLIENTS):
            sock = connect(port)
            sock.sendall(
                b"POST /api/v1/auth/register HTTP/1.1\r\nHost: vigie\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                b'{"username": '
            )
            stalled.append(sock)
        time.sleep(1)  # let the workers take them
        started = time.monotonic()
        answer = exchange(
            port, b"GET /api/v1/kinds HTTP/1.1\r\nHost: vigie\r\nConnection: close\r\n\r\n"
        )
        elapsed = time.monotonic() - started
        for sock in stalled:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert elapsed < 5, f"a simple read waited {elapsed:.1f} s behind stalled clients"


def test_a_body_refused_before_it_is_read_holds_no_thread(database_url, tmp_path):
    """A request refused before its body would be used (no token where an account is needed,
    a method the route does not take) is answered without waiting for a body a slow or
    hostile client does not send: two threads answer four such clients, and others after."""
    server = gunicorn_server(
        database_url,
        tmp_path / "server.log",
        RATELIMIT_ENABLED="false",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    with server as port:
        waiting = []
        for path, status in [("/api/v1/devices", b"401"), ("/api/v1/kinds", b"405")] * 2:
            sock = connect(port)  # no answer within its timeout fails the test
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: vigie\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
            )
            waiting.append((sock, status))
        answers = [(sock.recv(4096), status) for sock, status in waiting]
        after = exchange(
            port, b"GET /api/v1/kinds HTTP/1.1\r\nHost: vigie\r\nConnection: close\r\n\r\n"
        )
        for sock, _status in waiting:
            sock.close()
    for head, status in answers:
        assert head.startswith(b"HTTP/1.1 " + status), head[:100]
    assert after.startswith(b"HTTP/1.1 200"), after[:200]


def test_requests_gunicorn_refuses_itself_get_problem_json(database_url, tmp_path):
    """An over-long request line or header, or a malformed one, never reaches the app."""
    refused = {
        b"GET /api/v1/kinds?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: vigie\r\n\r\n": 414,
        b"GET /api/v1/kinds HTTP/1.1\r\nHost: vigie\r\nX-Long: " + b"b" * 9000 + b"\r\n\r\n": 431,
        b"NOT A REQUEST\r\n\r\n": 400,
    }
    # An OGC API filter of a 300-vertex polygon (7 KB once URL-encoded) reaches the app.
    ring = [(2.3 + 0.01 * math.cos(a / 50), 48.85 + 0.01 * math.sin(a / 50)) for a in range(315)]
    polygon = ", ".join(f"{lon:.7f} {lat:.7f}" for lon, lat in [*ring, ring[0]])
    query = urlencode({"filter": f"S_INTERSECTS(geometry, POLYGON(({polygon})))"})
    assert 7000 < len(query) < 8100
    long_filter = f"GET /ogc/collections/devices/items?{query} HTTP/1.1\r\nHost: vigie\r\n"
    with gunicorn_server(database_url, tmp_path / "server.log") as port:
        answers = {raw: exchange(port, raw) for raw in refused}
        filtered = exchange(port, long_filter.encode() + b"Connection: close\r\n\r\n")
    assert filtered.startswith(b"HTTP/1.1 200"), filtered[:300]
    for raw, status in refused.items():
        head, _, body = answers[raw].partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status}".encode()), head
        assert b"Content-Type: application/problem+json" in head
        # Readable from a map page on another site (CORS_ORIGINS *, the default).
        assert b"Access-Control-Allow-Origin: *" in head
        problem = json.loads(body)
        assert problem["status"] == status and b"a" * 100 not in body and b"b" * 100 not in body


@pytest.mark.parametrize(
    ("origins", "readable"), [(" * ", True), ("*,", True), ("https://a.example", False)]
)
def test_gunicorn_refusals_are_readable_from_other_sites_as_the_setting_says(
    monkeypatch, origins, readable
):
    """CORS_ORIGINS as the application reads it: `*` opens them, a list of origins does not."""
    monkeypatch.setattr(gunicorn_util, "write_error", gunicorn_util.write_error)
    answer_server_errors_as_problems(origins)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        gunicorn_util.write_error(ours, 414, "Request-URI Too Long", "ignored")
        head = theirs.recv(4096).partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 414") and b"application/problem+json" in head
    assert (b"Access-Control-Allow-Origin: *" in head) is readable


def test_nodes_on_one_machine_share_no_control_socket_and_trust_proxies_as_told(
    database_url, tmp_path
):
    """Two gunicorn 27 servers on one machine shared one control socket, which the first to
    stop removed. Links follow X-Forwarded-Proto only with TRUSTED_PROXIES set, and then only
    to http or https; never X-Forwarded-Host, which a proxy lets through from the client while
    the Host it passes keys every cache's copies."""

    def request(proto: bytes) -> bytes:
        return (
            b"GET /api/v1/devices?limit=1 HTTP/1.1\r\nHost: vigie\r\nX-Forwarded-Proto: "
            + proto
            + b"\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
        )

    for proxies, proto, scheme in (
        ("0", b"https", b"http://vigie/"),
        ("1", b"https", b"https://vigie/"),
        ("1", b"javascript", b"http://vigie/"),
    ):
        log = tmp_path / f"server-{proxies}.log"
        with gunicorn_server(database_url, log, TRUSTED_PROXIES=proxies) as port:
            answer = exchange(port, request(proto))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert scheme + b"api/v1/devices" in answer, answer[-400:]
        assert b"evil.example" not in answer and b"javascript:" not in answer
        assert "Control socket" not in log.read_text()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("RATE_LIMIT_LOGIN_FAILURES", "3 per hourr"),  # would not apply: no limit at all
        ("DB_POOL_SIZE", "abc"),
        ("DUPLICATE_DISTANCE_M", "abc"),
        ("VIEW_RADII", "garbage"),  # read per request: every view cone would fail
        ("MALLOC_ARENA_MAX", "abc"),  # read by each worker as it starts
        # gunicorn's, read by gunicorn.conf.py (WEB_CONCURRENCY is read by gunicorn itself).
        ("GUNICORN_THREADS", "abc"),
        ("PORT", "http"),
        ("SECRET_KEY", "x"),  # anyone could guess it, and recompute what it keys
    ],
)
def test_a_wrong_setting_stops_the_start_naming_it(database_url, setting, value):
    """Not workers started again and again, each stopping on it, while nothing answers."""
    started = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "PORT": str(free_port()), setting: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = started.stderr + started.stdout
    assert started.returncode != 0
    assert setting in said and "Traceback" not in said, said
    assert "Booting worker" not in said


def test_ctrl_c_stops_make_run_at_once_and_cleanly(database_url, tmp_path):
    """A terminal's Ctrl-C signals every process of its group: `make run`'s script stops
    gunicorn gracefully, and no worker, signalled twice, is left for the master to kill."""
    port, log = free_port(), tmp_path / "run.log"
    environment = {**os.environ, "DATABASE_URL": database_url, "PORT": str(port)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=PROJECT_DIR,
            env={**environment, "WEB_CONCURRENCY": "2", "DEFAULT_DISTRICTS": ""},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's process group, standing for the test's
            # As from a terminal: a suite started in the background has SIGINT ignored, which
            # its children would inherit (and a shell cannot trap a signal ignored at entry).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    masters = []  # gunicorn runs in a session of its own: the script's group misses it
    try:
        wait_for_port(port, process, log, "make run", seconds=180)
        for _ in range(4):  # both workers busy once
            assert exchange(
                port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            ).startswith(b"HTTP/1.1 200")
        # The group a terminal signals holds the script, not gunicorn: its workers get one
        # signal, from their master, which the script's trap stops gracefully.
        masters.extend(children(process.pid, "gunicorn"))
        [master] = masters
        assert os.getpgid(master) != process.pid
        os.killpg(process.pid, signal.SIGINT)
        # A worker still importing the app (seconds on a loaded machine) ends once it has.
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for master in masters:  # none left serving the next tests, whatever failed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(master, signal.SIGKILL)
    output = log.read_text()
    assert "SIGKILL" not in output and "Traceback" not in output, output
    with pytest.raises(OSError):  # nothing listens any more
        connect(port).close()


def children(pid: int, name: str) -> list[int]:
    """The processes PID started whose command line begins with NAME's program."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and any(Path(part.decode()).name == name for part in command[:2]):
            found.append(int(entry.name))
    return found
