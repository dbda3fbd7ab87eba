"""Statistics at a date: a pin's drafts no longer count, an observation ahead waits no more.

A pin awaiting review could be moved and edited by its author; the maps at a date and the
timelines replayed those drafts, so a hexagon of 10 m at a past date showed where a pin first
stood (often where its author was) although its public history starts at its publication.
Statistics now replay public revisions only (service/visibility.py, is_public_revision). And
a device observed at most a day after its pin (a phone's clock ahead) now appears when it was
pinned, as the statistics of now count it (appeared_at in service/geo/statistics/selection.py).

The timelines kept by the former rule are forgotten (the next request keeps them again), and
the statistics' data version moves, so that no cached answer of the former rule is served.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORGET_REPLAYS = """
DELETE FROM timeline_districts;
INSERT INTO statistics_changes DEFAULT VALUES;
"""


def upgrade() -> None:
    op.execute(FORGET_REPLAYS)


def downgrade() -> None:
    op.execute(FORGET_REPLAYS)
