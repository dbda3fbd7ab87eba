"""How pg_dump and pg_restore are reached: the libpq target of a SQLAlchemy URL, the tools."""

import subprocess

from service.backups.database import libpq_target, pg_tool


def test_the_password_travels_in_the_environment_not_on_the_command_line():
    conninfo, env = libpq_target("postgresql+psycopg://vigie:s3cret@db.example:5433/vigie")
    assert "s3cret" not in conninfo
    assert env["PGPASSWORD"] == "s3cret"
    assert sorted(conninfo.split()) == [
        "dbname=vigie",
        "host=db.example",
        "port=5433",
        "user=vigie",
    ]


def test_a_unix_socket_url_keeps_its_host_and_options(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    conninfo, env = libpq_target("postgresql+psycopg://vigie@/vigie?host=/run/pg&sslmode=disable")
    assert sorted(conninfo.split()) == [
        "dbname=vigie",
        "host=/run/pg",
        "sslmode=disable",
        "user=vigie",
    ]
    assert "PGPASSWORD" not in env


def test_the_client_tools_are_found():
    for name in ("pg_dump", "pg_restore"):
        version = subprocess.run(
            [pg_tool(name), "--version"], capture_output=True, text=True, check=True
        ).stdout
        assert version.startswith(f"{name} (PostgreSQL)")
