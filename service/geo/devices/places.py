"""Where devices stand, as HTTP caches name it: their tile_key and the districts around them.

Read before and after a change of devices (service/caching.py), so that a cache in front can
drop exactly the answers that showed them: the tiles of both positions at every zoom, and the
statistics of the districts (and their parents) holding either.
"""

import uuid

from sqlalchemy import Select, func, select, true

from ...models import Device, District


def select_device_places(ids: list[uuid.UUID]) -> Select:
    """(id, tile_key, codes, parents): each device's key and the districts covering it."""
    around = (
        select(
            func.array_agg(District.code).label("codes"),
            func.array_agg(District.parent_code).label("parents"),
        )
        .where(func.ST_Covers(District.geom, Device.geom))
        .lateral("around")
    )
    return (
        select(Device.id, Device.tile_key, around.c.codes, around.c.parents)
        .join(around, true())
        .where(Device.id.in_(ids))
    )
