"""The sync feed: devices created, changed or deleted since a cursor, in commit-safe order."""

import uuid

from sqlalchemy import BigInteger, Select, Text, and_, case, cast, func, or_, true

from ...models import Device
from ...visibility import Viewer, visible_clause
from ..paging import select_feature_page
from .features import SYNC_PROPERTIES, device_feature_text, withdrawal_text
from .filter import within_bboxes


def select_device_changes(
    after: tuple[int, uuid.UUID], bboxes, viewer: Viewer, limit: int
) -> Select:
    """Devices created, changed or deleted after the cursor, in commit-safe order.

    Rows are ordered by the id of the transaction that last wrote them. Only transactions older
    than every one still running are served, so a slow writer can never commit "behind" a
    cursor that a client already holds: a change shows up late, never lost. Parameter
    `photo_base`.
    """
    oldest_running = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    # Tombstones too, but only of pins the caller could see: a pending pin deleted by its
    # author was never public and must not surface here. A pin that was public once and is no
    # longer (rejected on a second review) comes as a withdrawal, without its content, and
    # whatever the box: it may have been moved since phones got it, and its position is not
    # public any more.
    visible = visible_clause(viewer)
    shown = and_(visible, within_bboxes(Device.geom, bboxes)) if bboxes else visible
    # IS NOT TRUE: for a pin without an author, `visible` is NULL rather than false.
    withdrawn = and_(visible.is_not(true()), Device.published_at.is_not(None))
    clauses = [Device.change_txid < oldest_running, or_(shown, withdrawn)]
    feature = case((visible, device_feature_text(SYNC_PROPERTIES)), else_=withdrawal_text())
    return select_feature_page(
        (Device.change_txid, Device.id), feature, clauses, limit, after=after
    )
