"""What the community adds to a device: revisions, confirmations, and replayable writes."""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from .. import vocabulary as vocab
from . import Base
from .device import one_of

# Revisions that moved a device after it was pinned.
MOVES = "action <> 'create' AND changes ? 'geometry'"


class DeviceRevision(Base):
    """One change of a device: who, when, what, and the full state it left behind."""

    __tablename__ = "device_revisions"
    __table_args__ = (
        Index("device_revisions_device_idx", "device_id", "id"),
        # The few moves (service/geo/statistics/selection.py, is_a_move), which sync and the
        # statistics at a date look for among every revision.
        Index("device_revisions_moves_idx", "device_id", postgresql_where=text(MOVES)),
        Index(
            "device_revisions_other_device_idx",
            "other_device_id",
            postgresql_where=text("other_device_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("devices.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    # {field: [before, after]} for each field that changed.
    changes: Mapped[dict] = mapped_column(JSONB, nullable=False)
    # Every editable field after the change, so that a moderator can revert to it.
    snapshot: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # The revisions of a row loaded in bulk (not created through the API) up to its first
    # public one: when its status was set before them, the moment a removal that one found was
    # made (Device.status_dated_at, migration 0031).
    found_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The other device of a merge or of its undoing: the duplicate, on the device kept's
    # revision; the device kept, on the duplicate's (migration 0033).
    other_device_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("devices.id", ondelete="SET NULL")
    )
    # What giving the device back its own state needs (migration 0033): on a duplicate's merge
    # revision, the ids of the votes and photos it moved and of the photos it held for review,
    # and whether it made the device kept confirmed ({"confirmations", "photos", "held_photos",
    # "confirmed"}); on an approval with a photo, that it confirmed the device ({"confirmed"});
    # on a revert, the revision it restored ({"revision"}), whose own first observation it took
    # (service/community.py).
    undoing: Mapped[dict | None] = mapped_column(JSONB)


class Confirmation(Base):
    """A contributor's vote on whether a device is still there."""

    __tablename__ = "confirmations"
    __table_args__ = (
        one_of("verdict", vocab.VERDICTS),
        Index("confirmations_device_idx", "device_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    device_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("devices.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str | None] = mapped_column(String(1000))
    photo_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The moment of the vote itself, so that votes of one transaction keep their order.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
    )


class IdempotentRequest(Base):
    """The first answer to a write sent with an Idempotency-Key, replayed to retries."""

    __tablename__ = "idempotent_requests"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
