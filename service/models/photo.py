"""A photo of a device: three clean JPEG renditions, stored by content address."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.base import content_key
from . import Base

RENDITIONS = ("full", "large", "thumbnail")


def sha256_column() -> Mapped[str]:
    return mapped_column(String(64), nullable=False)


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (
        # Device Features list their photos through this index, in the order they were listed.
        Index("photos_device_idx", "device_id", "listed_at", "id"),
        # Deleting a photo asks whether another photo still uses its files.
        *(Index(f"photos_{name}_sha256_idx", f"{name}_sha256") for name in RENDITIONS),
        CheckConstraint("width > 0 AND height > 0", name="photo_size_positive"),
        CheckConstraint("review_status IN ('approved', 'pending')", name="photo_review_status"),
        # The moderators' queue of photos, oldest first.
        Index(
            "photos_pending_idx",
            "created_at",
            "id",
            postgresql_where=text("review_status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # Null until the contributor attaches the upload to a device.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("devices.id", ondelete="CASCADE")
    )
    # Who uploaded it: they alone (and moderators) may attach or delete it. Null once the
    # account is deleted.
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    full_sha256: Mapped[str] = sha256_column()
    large_sha256: Mapped[str] = sha256_column()
    thumbnail_sha256: Mapped[str] = sha256_column()
    # Size of the full rendition, upright.
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # "pending" until a moderator approves it: a new contributor's photo of a public pin
    # (service/visibility.py). Device Features list approved photos only.
    review_status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="approved"
    )
    # When its device's Feature first listed it (attached approved, or approved later): the
    # order of a device's photos, which says nothing of when one awaiting review was taken.
    listed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def sha256_of(self, rendition: str) -> str:
        return getattr(self, f"{rendition}_sha256")

    def storage_keys(self) -> list[str]:
        """Storage keys of the renditions."""
        return [content_key(self.sha256_of(name)) for name in RENDITIONS]
