"""Listings of devices in id order (GET /api/v1/devices)."""

import uuid

from sqlalchemy import Integer
from sqlalchemy.dialects.postgresql import UUID

from ...models import Device
from ..paging import select_feature_page
from ..statements import STATEMENTS, BoundStatement, parameter
from .features import PUBLIC_FEATURE
from .filter import DeviceFilter


def select_device_page(flt: DeviceFilter, limit: int, after: uuid.UUID | None) -> BoundStatement:
    """One page of devices as Feature texts in id order, plus the key to continue from.

    Its values lack `photo_base`. Planned for its values, never prepared: the best plan of a
    box depends on how many devices it holds.
    """
    values = flt.values() | {"page_limit": limit}
    if after is not None:
        values["page_after"] = after

    def build():
        return select_feature_page(
            Device.id,
            PUBLIC_FEATURE,
            flt.clauses(kept=True),
            parameter("page_limit", Integer),
            after=parameter("page_after", UUID(as_uuid=True)) if after is not None else None,
        )

    shape = flt.shape(values)
    key = None if shape is None else ("device_page", shape)
    return BoundStatement(STATEMENTS.get(key, build), values)
