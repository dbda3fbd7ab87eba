"""Commands end an expected failure with one line saying it, not a traceback cron would mail."""

import socket

from service import create_app
from service.config import Config


def test_a_file_that_cannot_be_written_is_one_line(app, tmp_path):
    target = tmp_path / "missing" / "folder" / "x.backup"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(target)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: ") and str(target.parent) in result.output
    assert "Traceback" not in result.output


def test_a_migration_that_does_not_exist_is_one_line(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "9999"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Error: Can't locate revision identified by '9999'" in result.output


def test_a_database_out_of_reach_is_one_line():
    closed = create_app(
        Config(DATABASE_URL="postgresql+psycopg://vigie@127.0.0.1:1/vigie", TESTING=True)
    )
    result = closed.test_cli_runner().invoke(args=["community", "expire-disputes"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Error: the database refused: connection failed" in result.output
    closed.extensions["engine"].dispose()


def test_an_object_store_out_of_reach_is_one_line(database_url):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = {"S3_BUCKET": "vigie-photos", "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    store = create_app(Config(DATABASE_URL=database_url, TESTING=True, **settings))
    result = store.test_cli_runner().invoke(args=["photos", "clean-orphans", "--files"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Error: the photo store refused: " in result.output
    store.extensions["engine"].dispose()


def test_reverting_migrations_asks_first(app, db):
    """A downgrade drops tables and their data: nothing happens unless the operator says so."""
    result = app.test_cli_runner().invoke(args=["db", "downgrade", "base"], input="n\n")
    assert result.exit_code == 1 and "data included. Go on?" in result.output
    assert db("SELECT count(*) FROM devices").scalar_one() == 0  # the table is still there
