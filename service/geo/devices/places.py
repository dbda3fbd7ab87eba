"""Where devices stand, as HTTP caches name it: their tile_key and the districts around them.

Read before and after a change of devices (service/caching.py), so that a cache in front can
drop exactly the answers that showed them: the tiles of both positions at every zoom, and the
statistics of the districts (and their parents) holding either, or holding a position that a
device which moved had before (dated statistics count it there).
"""

from sqlalchemy import ARRAY, Select, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import aliased

from ...models import Device, DeviceRevision, District
from ..statistics.selection import snapshot_position


def districts_around(position) -> tuple:
    """The codes and parent codes of the districts covering POSITION, as two arrays."""
    return (
        func.array_agg(District.code).label("codes"),
        func.array_agg(District.parent_code).label("parents"),
    ), func.ST_Covers(District.geom, position)


def _device_places() -> Select:
    columns, covering = districts_around(Device.geom)
    around = select(*columns).where(covering).lateral("around")
    # A device that moved also counted, at past dates (at=, timelines), in the districts of its
    # earlier positions: a change of it (a deletion, an approval...) changes those answers too.
    move = aliased(DeviceRevision)
    moved = (
        select(move.id)
        .where(
            move.device_id == DeviceRevision.device_id,
            move.action != "create",
            move.changes.has_key("geometry"),
        )
        .exists()
    )
    earlier = (
        select(snapshot_position(DeviceRevision.snapshot).label("position"))
        .where(DeviceRevision.device_id == Device.id, moved)
        .correlate(Device)
        .subquery("earlier")
    )
    past_columns, past_covering = districts_around(earlier.c.position)
    around_then = (
        select(*past_columns)
        .select_from(earlier.join(District, past_covering))
        .lateral("around_then")
    )
    ids = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
    return (
        select(
            Device.id,
            Device.tile_key,
            func.array_cat(around.c.codes, around_then.c.codes).label("codes"),
            func.array_cat(around.c.parents, around_then.c.parents).label("parents"),
        )
        .join(around, true())
        .join(around_then, true())
        .where(Device.id == func.any(ids))
    )


# Built once: it runs twice in every write of devices (its parameter `ids` is a list of ids).
DEVICE_PLACES = _device_places()


def select_device_places() -> Select:
    """(id, tile_key, codes, parents) of the devices whose ids are the parameter `ids`."""
    return DEVICE_PLACES
