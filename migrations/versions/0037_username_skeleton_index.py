"""An index of the pseudonyms' skeletons: their letters and digits in lower case.

Registration refuses a name that differs from a held one only by its dots, dashes and
underscores (`bob.rev` beside `bob_rev`): this index finds such a name by a probe, not by a
read of every account.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | Sequence[str] | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX users_username_skeleton_idx "
        "ON users (regexp_replace(lower(username), '[._-]', '', 'g'))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX users_username_skeleton_idx")
