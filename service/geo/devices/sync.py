"""The sync feed: devices created, changed or deleted since a cursor, in commit-safe order."""

import uuid

from sqlalchemy import BigInteger, Select, Text, and_, case, cast, func, or_, select, true, update
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device, DeviceRevision
from ...visibility import Viewer, is_public_revision, visible_clause
from ..paging import select_feature_page
from ..statistics.selection import json_point, moved_after_pinned
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
    oldest_running = txid(func.pg_snapshot_xmin(func.pg_current_snapshot()))
    # Tombstones too, but only of pins the caller could see: a pending pin deleted by its
    # author was never public and must not surface here. A pin that was public once and is no
    # longer (rejected on a second review) comes as a withdrawal, without its content, and
    # whatever the box: it may have been moved since phones got it, and its position is not
    # public any more.
    visible = visible_clause(viewer)
    shown = and_(visible, in_or_moved_out_of(bboxes, viewer)) if bboxes else visible
    # IS NOT TRUE: for a pin without an author, `visible` is NULL rather than false.
    withdrawn = and_(visible.is_not(true()), Device.published_at.is_not(None))
    clauses = [Device.change_txid < oldest_running, or_(shown, withdrawn)]
    feature = case((visible, device_feature_text(SYNC_PROPERTIES)), else_=withdrawal_text())
    return select_feature_page(
        (Device.change_txid, Device.id), feature, clauses, limit, after=after
    )


def in_or_moved_out_of(bboxes, viewer: Viewer) -> ColumnElement:
    """Devices in the boxes, and those a move VIEWER could see took out of them: a phone that
    synced the box holds them at their old place until it learns where they went. A public
    move for anyone; any move of a pin VIEWER sees awaiting review (its author, moderators),
    whose place then was theirs to see. (A device moved out once comes with each of its later
    changes too: a few extra devices, never one lost.)"""
    old_position = json_point(DeviceRevision.changes["geometry"][0])
    moves = select(DeviceRevision.device_id).where(
        moved_after_pinned(), within_bboxes(old_position, bboxes)
    )
    public_moves = moves.where(is_public_revision(DeviceRevision))
    if viewer.sees_every_pin:
        moved_out = Device.id.in_(moves)
    elif viewer.id is not None:
        moved_out = or_(
            Device.id.in_(public_moves), and_(Device.created_by == viewer.id, Device.id.in_(moves))
        )
    else:
        moved_out = Device.id.in_(public_moves)
    return or_(within_bboxes(Device.geom, bboxes), moved_out)


def txid(expression) -> ColumnElement:
    """A transaction id (xid8) as the bigint the feed orders by."""
    return cast(cast(expression, Text), BigInteger)


def select_next_txid() -> Select:
    """The id the next transaction will get: no cursor of this database's history is beyond it
    (one is after a restore on another server, whose counter started again)."""
    return select(txid(func.pg_snapshot_xmax(func.pg_current_snapshot())))


def restamp_changes_from_another_history():
    """Stamp anew the devices written under transaction ids this server has not reached yet
    (restored from another server, whose counter ran further): the feed serves a row only once
    every older transaction has ended, so these would stay out of it until the counter caught
    up. The stamp trigger gives them this transaction's id."""
    return (
        update(Device)
        .where(Device.change_txid >= txid(func.pg_current_xact_id()))
        .values(change_txid=Device.change_txid)
    )
