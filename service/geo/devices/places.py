"""Where devices stand, as HTTP caches name it: their tile_key and the districts around them.

Read before and after a change of devices (service/caching.py), so that a cache in front can
drop exactly the answers that showed them: the tiles of both positions at every zoom, and the
statistics of the districts (and their parents) holding either, or holding a position that a
device which moved had before (dated statistics count it there).
"""

from sqlalchemy import ARRAY, Select, bindparam, func, select, true, union
from sqlalchemy.dialects.postgresql import UUID

from ...models import Device, DeviceRevision, District
from ..statistics.selection import is_a_move, json_point


def codes_and_parents() -> tuple:
    """The codes and the parent codes of the districts a query reads, as two arrays."""
    return (
        func.array_agg(District.code).label("codes"),
        func.array_agg(District.parent_code).label("parents"),
    )


def _device_places() -> Select:
    around = (
        select(*codes_and_parents())
        .where(func.ST_Covers(District.geom, Device.geom))
        .lateral("around")
    )
    # A device that moved also counted, at past dates (at=, timelines), where it stood before:
    # a change of it (a deletion, an approval...) changes those answers too. Its moves say
    # where it came from and went, its first place included (a row loaded in bulk has no
    # other record of it).
    move = DeviceRevision
    moved = [move.device_id == Device.id, is_a_move(move)]
    earlier = union(
        *(
            select(json_point(move.changes["geometry"][side]).label("position"))
            .where(*moved)
            .correlate(Device)
            for side in (0, 1)  # before and after
        )
    ).subquery("earlier")
    around_then = (
        select(*codes_and_parents())
        .select_from(earlier.join(District, func.ST_Covers(District.geom, earlier.c.position)))
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
