"""Accounts: pseudonymous users, their bearer tokens (only a hash of each is stored), and the
pseudonyms of deleted accounts, kept from reuse for a while (only a keyed hash of each)."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from .. import vocabulary as vocab
from . import Base
from .device import one_of

# A pseudonym's letters and digits in lower case (auth.name_skeleton), as SQL: the index's
# expression, which a query must write alike to use it.
USERNAME_SKELETON_SQL = "regexp_replace(lower(username), '[._-]', '', 'g')"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        one_of("role", vocab.ROLES),
        Index("users_username_lower_key", text("lower(username)"), unique=True),
        # Not unique: names held before the rule may share one (auth.username_taken).
        Index("users_username_skeleton_idx", text(f"({USERNAME_SKELETON_SQL})")),
        CheckConstraint("length(username) BETWEEN 3 AND 32", name="username_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(32), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="contributor")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReservedUsername(Base):
    """A deleted account's pseudonym, nobody else's until `reserved_until`."""

    __tablename__ = "reserved_usernames"

    # HMAC-SHA256 of the lowercased name with SECRET_KEY, in hex: never the name itself.
    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reserved_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
