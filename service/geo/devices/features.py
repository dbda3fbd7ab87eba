"""A device as one RFC 7946 Feature, written as JSON text by PostgreSQL."""

from sqlalchemy import Select, Text, bindparam, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device
from ...visibility import DAY_PROPERTIES, public_day
from ..photos import device_photos_json
from ..sql import feature_text, geojson_geometry, sql_string, uuid_json
from ..statements import STATEMENTS, parameter

# Properties served for every device, in this order; the column of the same name holds each.
PUBLIC_PROPERTIES = (
    "kind", "camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
    "operator", "operator_type", "status", "observed_at", "accuracy_m", "notes", "source",
    "tags", "review_status", "review_reason", "verification", "last_confirmed_at",
    "created_at", "updated_at", "osm_id",
)  # fmt: skip
# Sync clients also learn about tombstones.
SYNC_PROPERTIES = (*PUBLIC_PROPERTIES, "deleted_at", "merged_into")
FEATURE_START = '{"type":"Feature","id":"'  # how every stored Feature begins (migration 0008)

# Where photo URLs start, as a parameter whose value ends with "/" (service/api/geojson.py,
# photo_base): statements that carry it are built once, whatever the host serving the API.
PHOTO_BASE = bindparam("photo_base", type_=Text)


def public_column(name: str) -> ColumnElement:
    """The column of a property as others read it: times as days (service/visibility.py)."""
    column = getattr(Device, name)
    return public_day(column).label(name) if name in DAY_PROPERTIES else column


def device_properties_json(names) -> ColumnElement:
    """The properties NAMES of the row at hand, then its photos, as one JSON object.

    row_to_json of a correlated row is cheaper than json_build_object and writes no spaces.
    """
    row = select(
        *(public_column(name) for name in names),
        device_photos_json(PHOTO_BASE).label("photos"),
    ).correlate(Device)
    return (
        select(func.row_to_json(literal_column("p")))
        .select_from(row.subquery("p"))
        .scalar_subquery()
    )


def device_feature_text(names) -> ColumnElement:
    """One Feature with the properties NAMES, computed from the row (not the stored text).

    Public Features are read from what the trigger stored instead (PUBLIC_FEATURE).
    """
    return feature_text(
        uuid_json(Device.id), geojson_geometry(Device.geom), device_properties_json(names)
    )


NO_PHOTOS = sql_string(',"photos":[]}}')


def stored_feature_text(row) -> ColumnElement:
    """A stored Feature head closed with the photos of its device.

    ROW has the columns feature_head, id and has_photos (Device, or a subquery of them).
    Photos are looked up only for devices that have some (migration 0011).
    """
    with_photos = func.concat(
        row.feature_head,
        sql_string(',"photos":'),
        device_photos_json(PHOTO_BASE, row.id),
        sql_string("}}"),
    )
    # Most devices have none: one plain text concatenation then.
    return case((row.has_photos, with_photos), else_=row.feature_head + NO_PHOTOS)


# A device's public Feature (PUBLIC_PROPERTIES, then its photos) as JSON text. The trigger of
# migration 0008 keeps the Feature up to its last property in feature_head on every change;
# only the photos, one index probe, are added here. Built once: building it costs more than
# running a by-id query.
PUBLIC_FEATURE = stored_feature_text(Device)


def select_device_feature() -> Select:
    """The Feature text of one device, with what a client needs for caching and tombstones.

    Parameters: `device_id`, and `photo_base`. Kept in the registry.
    """

    def build() -> Select:
        return select(
            PUBLIC_FEATURE.label("feature"),
            Device.version,
            Device.deleted_at,
            Device.merged_into,
            Device.review_status,
            Device.created_by,
            Device.osm_id.is_not(None).label("from_openstreetmap"),
        ).where(Device.id == parameter("device_id", UUID(as_uuid=True)))

    return STATEMENTS.get(("device_feature",), build)


def select_user_device_features(user_id) -> Select:
    """Every pin a user created, deleted ones included, for their data export."""
    return (
        select(device_feature_text(SYNC_PROPERTIES))
        .where(Device.created_by == user_id)
        .order_by(Device.created_at)
    )


def withdrawal_text() -> ColumnElement:
    """A tombstone for a pin no longer public: no position, no content, the day it was
    withdrawn."""
    return func.concat(
        sql_string(FEATURE_START),
        cast(Device.id, Text),
        sql_string('","geometry":null,"properties":{"deleted_at":'),
        cast(func.to_json(public_day(Device.updated_at)), Text),
        sql_string(',"merged_into":null,"withdrawn":true}}'),
    )
