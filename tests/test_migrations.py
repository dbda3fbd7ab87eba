"""Migrations are reversible: upgrade, downgrade to nothing, and upgrade again."""

import uuid

from sqlalchemy import create_engine, inspect

from service import migrate
from tests.conftest import create_database, drop_database


def table_names(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade():
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    try:
        migrate.upgrade(url)
        tables = table_names(url)
        assert "devices" in tables
        migrate.downgrade(url, "base")
        assert table_names(url) == {"alembic_version"}
        migrate.upgrade(url)
        assert table_names(url) == tables
    finally:
        drop_database(name)
