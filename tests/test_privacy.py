"""A test run's logs and database hold no client IP address."""

import logging

from sqlalchemy import text

ADDRESS = "203.0.113.77"


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
