"""Operator commands: `flask db ...` (and the commands of each feature)."""

import click
from flask import current_app
from flask.cli import AppGroup

from . import migrate
from .osm.cli import osm_cli

db_cli = AppGroup("db", help="Database schema migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Revert migrations down to REVISION (`base` empties the schema)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)


def init_app(app) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(osm_cli)
