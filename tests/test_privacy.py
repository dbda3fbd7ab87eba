"""A test run's logs and database hold no client IP address, user agent or secret."""

import http.client
import json
import logging
import secrets

from sqlalchemy import text

from tests.server import CLIENT_ADDRESS, connect, exchange, gunicorn_server

ADDRESS = "203.0.113.77"
AGENT = "HostilePhone/9.1 (build 4242)"


def dump_database(connection) -> str:
    """Every row of every table of ours, as text."""
    tables = (
        connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename NOT IN ('spatial_ref_sys')"
            )
        )
        .scalars()
        .all()
    )
    return "\n".join(
        str(row)
        for table in tables
        for row in connection.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
    )


def test_no_ip_address_in_logs_or_database(app, client, isolated, caplog):
    caplog.set_level(logging.DEBUG)
    environ = {
        "REMOTE_ADDR": ADDRESS,
        "HTTP_X_FORWARDED_FOR": ADDRESS,
        "HTTP_USER_AGENT": "Phone/1.0",
    }
    client.post(
        "/api/v1/auth/register",
        environ_base=environ,
        json={"username": "activist", "password": "a long passphrase"},
    )
    token = client.post(
        "/api/v1/auth/tokens",
        environ_base=environ,
        json={"username": "activist", "password": "a long passphrase"},
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"}
    created = client.post(
        "/api/v1/devices",
        environ_base=environ,
        headers=headers,
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
            "properties": {"kind": "camera"},
        },
    ).get_json()
    client.get(f"/api/v1/devices/{created['id']}", environ_base=environ)
    client.get("/api/v1/devices?bbox=bad", environ_base=environ)
    client.get("/api/v1/me/export", environ_base=environ, headers=headers)

    assert ADDRESS not in caplog.text
    stored = dump_database(isolated)
    assert "activist" in stored  # the dump does see what was written
    assert ADDRESS not in stored
    assert "Phone/1.0" not in stored


def test_access_logs_leave_out_addresses_and_user_agents():
    from service.config import PROJECT_DIR

    settings = {}
    exec((PROJECT_DIR / "gunicorn.conf.py").read_text(), settings)
    log_format = settings["access_log_format"]
    assert "%(s)s" in log_format
    for leak in ("%(h)s", "%(a)s", "%(r)s", "}i)s"):
        assert leak not in log_format


class HostileClient:
    """HTTP from CLIENT_ADDRESS, with a user agent and a forged X-Forwarded-For on every request."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body=None, token: str | None = None) -> tuple:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(CLIENT_ADDRESS, 0)
        )
        headers = {"User-Agent": AGENT, "X-Forwarded-For": ADDRESS}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, json.dumps(body) if body else None, headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def malformed_requests(token: str) -> list[bytes]:
    """Requests gunicorn itself refuses, or that end before they are whole."""
    agent = AGENT.encode()
    bearer = f"Authorization: Bearer {token}\r\n".encode()
    post_a_pin = (
        b"POST /api/v1/devices HTTP/1.1\r\nHost: vigie\r\nUser-Agent: "
        + agent
        + b"\r\nContent-Type: application/geo+json\r\n"
        + bearer
    )
    return [
        # A query string over gunicorn's request line limit (414), carrying the token.
        b"GET /api/v1/kinds?q=" + token.encode() + b"x" * 9000 + b" HTTP/1.1\r\n\r\n",
        # A request line that is not one.
        b"GET /api/v1/kinds " + agent + b" " + token.encode() + b"\r\n\r\n",
        # A header line without a colon, then one with a forbidden name.
        b"GET /api/v1/me HTTP/1.1\r\nHost: vigie\r\n" + bearer.replace(b":", b"") + b"\r\n",
        b"GET /api/v1/me HTTP/1.1\r\nHost: vigie\r\n" + agent + b"{}: x\r\n\r\n",
        # Too many headers (431).
        b"GET /api/v1/me HTTP/1.1\r\n"
        + b"".join(b"X-%d: %s\r\n" % (n, agent) for n in range(120))
        + b"\r\n",
        # A bad chunked body, read by the app.
        post_a_pin + b"Transfer-Encoding: chunked\r\n\r\nzz" + agent + b"\r\n",
        # Headers, then the client leaves; a body shorter than announced.
        b"GET /api/v1/me HTTP/1.1\r\nHost: vigie\r\nUser-Agent: " + agent + b"\r\n" + bearer,
        post_a_pin + b'Content-Length: 900\r\n\r\n{"type": ',
    ]


def test_no_address_agent_or_secret_in_any_log_or_table_after_a_hostile_session(
    committed, app, database_url, tmp_path
):
    """The real server, with gunicorn's debug lines on: every line every process wrote."""
    log_path = tmp_path / "server.log"
    secret_key = app.config["SECRET_KEY"]  # every node of a database has the same
    password = "hostile session " + secrets.token_hex(4)
    with gunicorn_server(
        database_url,
        log_path,
        SECRET_KEY=secret_key,
        GUNICORN_CMD_ARGS="--log-level debug",
        RATELIMIT_KEY_PREFIX=f"vigie-privacy-{secrets.token_hex(4)}",
    ) as port:
        client = HostileClient(port)
        account = {"username": "activist", "password": password}
        assert client.request("POST", "/api/v1/auth/register", account)[0] == 201
        assert client.request("POST", "/api/v1/auth/register", account)[0] == 409
        status, body = client.request("POST", "/api/v1/auth/tokens", account)
        assert status == 201
        token = json.loads(body)["token"]
        wrong = {"username": "activist", "password": password + "!"}
        assert client.request("POST", "/api/v1/auth/tokens", wrong)[0] == 401
        pin = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
            "properties": {"kind": "camera", "notes": "seen from the bus stop"},
        }
        assert client.request("POST", "/api/v1/devices", pin, token)[0] == 201
        assert client.request("GET", "/api/v1/devices?bbox=bad", token=token)[0] == 400
        assert client.request("GET", "/api/v1/me", token="vigie_" + "forged" * 6)[0] == 401
        # A newline in the path (%0A), to forge a line of another client's request.
        forged = "/api/v1/nothing%0A203.0.113.7%20-%20-%20GET%20/admin%20200%0D%00"
        assert client.request("GET", forged)[0] == 404
        assert client.request("GET", "/api/v1/me/export", token=token)[0] == 200
        # The token pasted into a path, where a query string would not be logged but a path is.
        assert client.request("GET", f"/api/v1/devices/{token}")[0] == 404
        assert client.request("GET", f"/{token}/x")[0] == 404
        # Its secret alone, pasted without the prefix: a token all the same, once it is put back.
        assert client.request("GET", f"/api/v1/photos/{token.removeprefix('vigie_')}")[0] == 404
        # Slow clients: headers that never end, a body that never comes, held while the
        # other requests go on.
        slow = [connect(port), connect(port)]
        slow[0].sendall(b"GET /api/v1/me HTTP/1.1\r\nUser-Agent: " + AGENT.encode())
        slow[1].sendall(
            b"POST /api/v1/devices HTTP/1.1\r\nHost: vigie\r\n"
            + b"Content-Type: application/geo+json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 500\r\n\r\n{{".encode()
        )
        for raw in malformed_requests(token):
            exchange(port, raw)
        for sock in slow:
            sock.close()
        assert client.request("DELETE", "/api/v1/me", {"password": password}, token=token)[0] == 204

    logs = log_path.read_text(errors="replace")
    with committed.connect() as connection:
        stored = dump_database(connection)
    secret = token.removeprefix("vigie_")
    for leak in (CLIENT_ADDRESS, ADDRESS, AGENT, "HostilePhone", secret, password, secret_key):
        assert leak not in logs, f"{leak!r} in a log line"
        assert leak not in stored, f"{leak!r} in the database"
    assert "GET /api/v1/me/export 200" in logs  # the capture does hold every access line
    assert "GET /api/v1/devices/vigie_[token] 404" in logs
    assert "GET /api/v1/photos/vigie_[token] 404" in logs
    assert not any(line.startswith("203.0.113.7") for line in logs.splitlines())
    assert "GET /api/v1/nothing\\u000a203.0.113.7 - - GET /admin 200\\u000d\\u0000 404" in logs
    assert "Invalid request refused (LimitRequestLine)" in logs
    assert "seen from the bus stop" in stored  # the dump does see what was written
    assert "activist" not in stored  # the account is gone, its pseudonym kept only as a hash
