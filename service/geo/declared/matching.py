"""Which devices a declared site can match, and the status a site has from its matches.

The same rule runs in the trigger that keeps one device's matches current (migration 0014):
a change here needs a migration that rewrites `vigie_declared_match_device`.
"""

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ...models import DeclaredMatch, DeclaredSite, Device
from ...visibility import ANONYMOUS, visible_clause
from ..sql import sql_string

DEFAULT_MATCH_DISTANCE_M = 50.0
MAX_MATCH_DISTANCE_M = 1000.0
SITE_STATUSES = ("verified", "partially_verified", "unverified")


def observed_clauses(device=Device) -> list[ColumnElement]:
    """A device found on the ground: public, not deleted, merged or reported removed."""
    return [
        visible_clause(ANONYMOUS),
        device.deleted_at.is_(None),
        device.merged_into.is_(None),
        device.status != sql_string("removed"),
        device.verification != sql_string("removed"),
    ]


def reach(geom: ColumnElement, metres) -> ColumnElement:
    """A box around GEOM holding every point within METRES (the GiST indexes answer it)."""
    return func.vigie_declared_reach(geom, metres)


def matched_count(site=DeclaredSite) -> ColumnElement:
    """How many observed devices match the site (each counts once, however close)."""
    return (
        select(cast(func.count(), Integer))
        .where(DeclaredMatch.site_id == site.id)
        .correlate(site)
        .scalar_subquery()
    )


def matched_devices(site=DeclaredSite) -> ColumnElement:
    """The ids of the devices matching the site, in id order."""
    return func.coalesce(
        select(func.array_agg(aggregate_order_by(DeclaredMatch.device_id, DeclaredMatch.device_id)))
        .where(DeclaredMatch.site_id == site.id)
        .correlate(site)
        .scalar_subquery(),
        cast(sql_string("{}"), ARRAY(UUID(as_uuid=True))),
    )


def site_status(matched: ColumnElement, declared: ColumnElement) -> ColumnElement:
    """verified when as many devices as declared were found, partially when fewer, else not."""
    return case(
        (matched >= declared, sql_string("verified")),
        (matched > 0, sql_string("partially_verified")),
        else_=sql_string("unverified"),
    )
