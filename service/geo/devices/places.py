"""Where devices stand, as HTTP caches name it: their tile_key and the districts around them.

Read before and after a change of devices (service/caching.py), so that a cache in front can
drop exactly the answers that showed them: the tiles of both positions at every zoom, and the
statistics of the districts (and their parents) holding either.
"""

from sqlalchemy import ARRAY, Select, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import UUID

from ...models import Device, District


def _device_places() -> Select:
    around = (
        select(
            func.array_agg(District.code).label("codes"),
            func.array_agg(District.parent_code).label("parents"),
        )
        .where(func.ST_Covers(District.geom, Device.geom))
        .lateral("around")
    )
    ids = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
    return (
        select(Device.id, Device.tile_key, around.c.codes, around.c.parents)
        .join(around, true())
        .where(Device.id == func.any(ids))
    )


# Built once: it runs twice in every write of devices (its parameter `ids` is a list of ids).
DEVICE_PLACES = _device_places()


def select_device_places() -> Select:
    """(id, tile_key, codes, parents) of the devices whose ids are the parameter `ids`."""
    return DEVICE_PLACES
