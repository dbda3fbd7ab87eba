"""Statements describing the database itself."""

from sqlalchemy import DateTime, Select, String, Text, column, func, select, table
from sqlalchemy.dialects.postgresql import insert

SHARED_SETTINGS = table(
    "shared_settings",
    column("name", String),
    column("value", Text),
    column("set_at", DateTime(timezone=True)),
)
DATA_LINEAGE = "data_lineage"


def select_versions():
    return select(func.version().label("database"), func.postgis_lib_version().label("postgis"))


def select_data_lineage() -> Select:
    """The token of this database's data history (migration 0040): its name and that token
    tell its downloads from those of another database, or of the history a restore replaced."""
    lineage = (
        select(SHARED_SETTINGS.c.value)
        .where(SHARED_SETTINGS.c.name == DATA_LINEAGE)
        .scalar_subquery()
    )
    return select(func.concat(func.current_database(), " ", lineage))


def renew_data_lineage():
    """A restored database starts another history: its versions count again from the dump's.
    (A dump of before migration 0040 holds no token: it gets one.)"""
    statement = insert(SHARED_SETTINGS).values(
        name=DATA_LINEAGE, value=func.gen_random_uuid().cast(Text)
    )
    return statement.on_conflict_do_update(
        index_elements=[SHARED_SETTINGS.c.name],
        set_={"value": statement.excluded.value, "set_at": func.now()},
    )
