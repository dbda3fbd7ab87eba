"""Statements for the OpenStreetMap exchange: upsert imported nodes, select devices to export."""

from sqlalchemy import (
    BigInteger,
    Numeric,
    Select,
    Text,
    Update,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device, DeviceRevision
from ..osm.tags import MAPPED_COLUMNS
from .devices.filter import DeviceFilter
from .devices.proximity import candidate_clauses, distance_to
from .sql import COORDINATE_DECIMALS

# A new node this close to a device of its kind that no node holds yet is taken for that device:
# Vigie's export gives positions to the centimetre, which an upload keeps, and an editor's nudge
# stays within it; two devices of one kind closer than this are rarely both real.
SAME_DEVICE_M = 2.0


def edited_in_vigie() -> ColumnElement:
    """Whether a device was changed through Vigie (a revision: an edit, a review, a merge):
    what its contributors and moderators made of it wins over what OpenStreetMap says since."""
    # The device named by its column's text: an upsert's WHERE has no FROM that SQLAlchemy
    # would correlate Device.id to, and would select every device's revisions.
    return exists().where(DeviceRevision.device_id == literal_column("devices.id"))


def select_kept_osm_devices(osm_ids: list[int]) -> Select:
    """How many of the devices of these OSM ids a re-import leaves as deleted in Vigie, and as
    edited there."""
    deleted = Device.deleted_at.is_not(None)
    return select(
        func.count().filter(deleted), func.count().filter(~deleted, edited_in_vigie())
    ).where(Device.osm_id.in_(osm_ids))


def select_node_twins(rows: list[dict]) -> Select:
    """Pairs (osm_id, device id) of a node whose OSM id no device holds and a device that came
    from no node, of the same kind, within SAME_DEVICE_M metres (candidate_clauses: neither
    deleted nor rejected), nearest first.

    Each row has osm_id, kind and geom (EWKT), as upsert_osm_devices takes them. These are
    the pins a contributor exported, reviewed in an editor and uploaded to OpenStreetMap: the
    node is the device, not a second one.
    """
    nodes = values(
        column("osm_id", BigInteger), column("kind", Text), column("geom", Text), name="nodes"
    ).data([(row["osm_id"], row["kind"], row["geom"]) for row in rows])
    point = func.ST_GeomFromEWKT(nodes.c.geom)
    holder = aliased(Device, name="holder")
    return (
        select(nodes.c.osm_id, Device.id)
        .select_from(nodes)
        .join(
            Device,
            and_(Device.osm_id.is_(None), *candidate_clauses(nodes.c.kind, point, SAME_DEVICE_M)),
        )
        .where(~exists().where(holder.osm_id == nodes.c.osm_id))
        .order_by(distance_to(point), nodes.c.osm_id, Device.id)
    )


def touched(table) -> dict:
    """The columns a write of a device in SQL sets, as Device.touch does: a new version, and
    the status (which OSM writes never set) keeps its date."""
    return {
        "version": table.c.version + 1,
        "bulk_changed_at": func.coalesce(table.c.bulk_changed_at, table.c.updated_at),
        "updated_at": func.now(),
    }


def link_devices_to_nodes() -> Update:
    """Give a device the OSM id and version of the node that is it (parameters device_id,
    osm_id, osm_version), as a write of the device: its version and date move on."""
    table = Device.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("device_id"), table.c.osm_id.is_(None))
        .values(
            osm_id=bindparam("osm_id"),
            osm_version=bindparam("osm_version"),
            **touched(table),
        )
    )


def upsert_osm_devices(rows: list[dict]):
    """Insert nodes as devices, or update the device of the same OSM id when it changed.

    Each row has id, geom, osm_id, osm_version and every one of MAPPED_COLUMNS. A stored device
    is left alone when it was deleted or edited in Vigie (its history and the statistics at a
    date replay its revisions, which an update would bypass), when the file holds an older OSM
    version, or when nothing differs. Returns one row per device written, with `inserted`.
    """
    statement = insert(Device).values(rows)
    new = statement.excluded
    compared = ("geom", "osm_version", *MAPPED_COLUMNS)
    changed = tuple_(*(getattr(Device, c) for c in compared)).is_distinct_from(
        tuple_(*(getattr(new, c) for c in compared))
    )
    not_older = or_(
        new.osm_version.is_(None),
        Device.osm_version.is_(None),
        new.osm_version >= Device.osm_version,
    )
    return statement.on_conflict_do_update(
        constraint="devices_osm_id_key",
        set_={
            **{c: getattr(new, c) for c in compared},
            **touched(Device.__table__),
        },
        where=and_(Device.deleted_at.is_(None), ~edited_in_vigie(), not_older, changed),
    ).returning(Device.id, literal_column("xmax = 0").label("inserted"))


def select_osm_export(flt: DeviceFilter, limit: int, after=None) -> Select:
    """Devices not taken from OSM, in the listing's spatial order (tile_key, then id; AFTER
    is such a position), with their position and mapped columns."""
    clauses = [*flt.clauses(), Device.osm_id.is_(None)]
    if after is not None:
        clauses.append(tuple_(Device.tile_key, Device.id) > tuple_(*after))
    return (
        select(
            Device.tile_key,
            Device.id,
            func.round(func.ST_X(Device.geom).cast(Numeric), COORDINATE_DECIMALS).label("lon"),
            func.round(func.ST_Y(Device.geom).cast(Numeric), COORDINATE_DECIMALS).label("lat"),
            *(getattr(Device, c) for c in MAPPED_COLUMNS),
        )
        .where(and_(*clauses))
        .order_by(Device.tile_key, Device.id)
        .limit(limit + 1)
    )


def select_has_openstreetmap_devices() -> Select:
    """Whether any public device came from OpenStreetMap (a probe of devices_osm_id_key)."""
    public = DeviceFilter().clauses()
    return select(exists().where(Device.osm_id.is_not(None), *public))
