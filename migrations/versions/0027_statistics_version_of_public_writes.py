"""Statistics: only a write others can see moves the statistics' data version.

Every write on devices moved the data version, the key of the statistics cache: a pin awaiting
review, its author's edits of it or its withdrawal left every figure as it was, yet made the
next statistics answer a miss with a new `Last-Modified`. Anyone polling a statistics URL
learnt, to the second, when a new contributor pinned something, which no other answer tells.

Statistics count public devices only (approved, not deleted: migration 0013's PUBLIC, which
the declared matches follow too), so the version now moves only when a row the statement wrote
was public before or after it. The rest of devices_keep_statistics() (migration 0021) is
unchanged: its text is 0021's, with each of its version parts made conditional.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 07:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def earlier(filename: str) -> ModuleType:
    """The module of an earlier migration, whose function this one rewrites and restores."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BOOKKEEPING = earlier("0021_one_bookkeeping_trigger.py")
PUBLIC = BOOKKEEPING.MEMBERSHIPS.PUBLIC

ALWAYS_PART = "version AS (INSERT INTO statistics_changes DEFAULT VALUES)"
ALWAYS_STATEMENT = "INSERT INTO statistics_changes DEFAULT VALUES;"
# The transition tables each version part of 0021's function may read, in the order the parts
# come in its text: an INSERT's (bulk, then one by one), a DELETE's, an UPDATE's; then the
# statement of an UPDATE that changed nothing counted.
PARTS_READ = (("new_rows",), ("new_rows",), ("old_rows",), ("new_rows", "old_rows"))
STATEMENT_READS = ("new_rows", "old_rows")


def version_if_public(tables: Sequence[str]) -> str:
    """An INSERT moving the version when a row of TABLES is public."""
    seen = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} r WHERE {PUBLIC.format(t='r')})" for table in tables
    )
    return f"INSERT INTO statistics_changes SELECT WHERE {seen}"


def conditional_function() -> str:
    text = BOOKKEEPING.KEEP_STATISTICS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    assert text.count(ALWAYS_PART) == len(PARTS_READ) and text.count(ALWAYS_STATEMENT) == 1
    for tables in PARTS_READ:
        text = text.replace(ALWAYS_PART, f"version AS ({version_if_public(tables)})", 1)
    return text.replace(ALWAYS_STATEMENT, f"{version_if_public(STATEMENT_READS)};")


def upgrade() -> None:
    op.execute(conditional_function())


def downgrade() -> None:
    op.execute(BOOKKEEPING.KEEP_STATISTICS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
