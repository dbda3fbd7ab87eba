"""Load generation shared by the HTTP benchmarks: wrk over a list of paths, pgbench, and a
signed-in client for write rounds."""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from service import auth
from service.db import session
from service.models import User

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"errors":%%d,"non2xx":%%d,' ..
    '"p50_us":%%d,"p95_us":%%d,"bytes":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), summary.bytes))
end
"""


def save_results(path: Path, payload: dict) -> None:
    """Write a benchmark's figures as JSON beside the others (benchmarks/results/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(command: list[str], port: int, env: dict | None = None):
    """Run an HTTP server COMMAND listening on PORT (loopback); yield its base URL."""
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}") from None
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


# One load generator stands for many clients: the per-client rate limits would refuse it.
UNLIMITED = {"RATELIMIT_ENABLED": "false"}


@contextmanager
def gunicorn(
    app: str,
    workers: int,
    env: dict | None = None,
    bindir: Path | None = None,
    directory: Path | None = None,
):
    """Serve APP with gunicorn (of BINDIR, default this venv) on a free loopback port, its code
    imported from DIRECTORY (default the current one: this checkout)."""
    port = free_port()
    command = [
        str((bindir or Path(sys.executable).parent) / "gunicorn"),
        *(["--chdir", str(directory)] if directory else []),
        # Not the project's gunicorn.conf.py (no access log to write on every request), but its
        # worker hook: workers keep freed memory as they do in production.
        "--config",
        "python:service.memory",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]
    if directory:  # its modules first, the config module included
        env = {**(env or {}), "PYTHONPATH": str(directory)}
    with serve(command, port, env) as base:
        yield base


def wrk(base: str, paths: list[str], seconds: int, connections: int, timeout: int = 2) -> dict:
    """Requests per second and latency percentiles over PATHS, round-robin.

    A request slower than TIMEOUT seconds counts as an error, not as a request served.
    """
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_SCRIPT % {"paths": paths_file})
        # Warm every worker's connection pool and PostgreSQL's caches first.
        subprocess.run(
            ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", str(script), base],
            capture_output=True,
            check=True,
        )
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                f"--timeout={timeout}s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result = json.loads(re.search(r"RESULT (\{.*\})", out).group(1))
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "errors": result["errors"] + result["non2xx"],
        "bytes_per_request": result["bytes"] / max(result["requests"], 1),
    }


def pgbench(libpq_url: str, script: str | list[str], seconds: int, clients: int) -> dict:
    """Transactions per second and latency percentiles of SCRIPT run inside PostgreSQL (or of
    a list of scripts, each transaction running one of them chosen at random)."""
    pgbench_bin = shutil.which("pgbench") or "/usr/bin/pgbench"
    scripts = [script] if isinstance(script, str) else script
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for number, text in enumerate(scripts):
            script_file = Path(tmp) / f"bench{number}.sql"
            script_file.write_text(text)
            files += ["-f", str(script_file)]
        command = [
            pgbench_bin,
            "-n",
            *files,
            "-c",
            str(clients),
            "-j",
            str(clients),
            libpq_url,
        ]
        subprocess.run([*command, "-T", "2"], capture_output=True, check=True)  # warm-up
        subprocess.run(
            [*command, "-T", str(seconds), "--log", f"--log-prefix={tmp}/log"],
            capture_output=True,
            text=True,
            check=True,
        )
        latencies = sorted(
            int(line.split()[2]) for log in Path(tmp).glob("log*") for line in log.open()
        )
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": quantiles[49] / 1000,
        "p95_ms": quantiles[94] / 1000,
        "errors": 0,
    }


def summarize(rounds: list[dict]) -> dict:
    """Per scenario and server: mean pages/s, median latencies, and Vigie's ratio per round."""
    results: dict = {}
    for scenario, servers in rounds[0].items():
        results[scenario] = {}
        for name in servers:
            runs = [measured[scenario][name] for measured in rounds]
            summary = {
                "rps": statistics.fmean(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p95_ms": statistics.median(r["p95_ms"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "vigie_ratios": [
                    measured[scenario]["vigie"]["rps"] / r["rps"] if r["rps"] else float("inf")
                    for measured, r in zip(rounds, runs, strict=True)
                ],
            }
            if all("bytes_per_request" in r for r in runs):  # wrk's figures, not pgbench's
                summary["bytes_per_request"] = statistics.fmean(
                    r["bytes_per_request"] for r in runs
                )
            results[scenario][name] = summary
    return results


def moderator_client(app):
    """A test client signed in as a moderator, whose pins are published (hence counted)."""
    with app.app_context():
        user = User(username=f"bench_{uuid.uuid4().hex[:8]}", role="moderator", password_hash="-")
        session.add(user)
        session.flush()
        _, token = auth.issue_token(user, "bench")
        session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client
