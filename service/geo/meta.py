"""Statements describing the database itself."""

from sqlalchemy import func, select


def select_versions():
    return select(func.version().label("database"), func.postgis_lib_version().label("postgis"))
